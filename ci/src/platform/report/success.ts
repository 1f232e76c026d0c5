/**
 * The seed's success metrics that the delivery report adds to its tables, pure over plain facts:
 * zero-downtime deploys (the ledger's production deploys and the latest rollout rehearsal), deploy time
 * against < 5 min, and the latency targets (API p50, knowledge-graph query p95, error rate) as read from
 * Prometheus. Each row's outcome is the one verdict's (definitions/verdict.ts); the table says it in the
 * metrics' words (met, missed, cannot tell). Fail closed: a fact that could not be read is inconclusive
 * ("cannot tell"), never passed ("met").
 */
import type { LatencyThresholds } from '../../definitions/environments.js';
import {
  failed,
  isVerdictOutcome,
  passed,
  worstOutcome,
  type Verdict,
  type VerdictOutcome,
} from '../../definitions/verdict.js';
import { table } from './markdown.js';

/** How the success table says an outcome: a target is met, missed, or it cannot be told. */
export const SUCCESS_WORDS: Readonly<Record<VerdictOutcome, string>> = {
  passed: 'met',
  failed: 'missed',
  inconclusive: 'cannot tell',
};

export interface SuccessRow {
  readonly metric: string;
  readonly value: string;
  readonly target: string;
  readonly outcome: VerdictOutcome;
  /** Where the value came from, or why it could not be told. */
  readonly source: string;
}

/** A production deploy as the ledger tells it. */
export interface DeployFact {
  readonly state: 'success' | 'failure' | 'error' | 'unfinished';
  readonly durationMs: number;
  /** Undone by kgraph-ci after it failed (an automatic rollback followed it). */
  readonly rolledBack: boolean;
}

/** The latest rollout rehearsal's verdict (its report.json) and where it was read, or why it could not be. */
export type RehearsalFact = (Verdict & { readonly from: string }) | { readonly unreadable: string };

/** A rehearsal's reported answer as a verdict: its `outcome`, or the `passed` boolean of an older report. */
export function rehearsalVerdict(
  outcome: unknown,
  passedFlag: unknown,
  reasons: readonly string[],
): Verdict | undefined {
  if (isVerdictOutcome(outcome)) return { outcome, reasons };
  if (typeof passedFlag === 'boolean') return passedFlag ? passed(...reasons) : failed(...reasons);
  return undefined;
}

/** What Prometheus answered for each target (ms, ratio), or why not; undefined value = no data. */
export type LatencyFacts =
  | { readonly apiP50Ms?: number; readonly graphP95Ms?: number; readonly errorRate?: number; readonly from: string }
  | { readonly unreadable: string };

export interface SuccessFacts {
  readonly deploys: readonly DeployFact[];
  readonly maxDeployMs: number;
  readonly rehearsal: RehearsalFact;
  readonly latency: LatencyFacts;
  readonly thresholds: LatencyThresholds;
}

/** Nearest-rank p95; undefined for none. */
const p95 = (xs: readonly number[]) =>
  xs.length ? [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(0.95 * xs.length) - 1)] : undefined;

function zeroDowntime(f: SuccessFacts): SuccessRow {
  const done = f.deploys.filter((d) => d.state !== 'unfinished');
  const healthy = done.filter((d) => d.state === 'success' && !d.rolledBack).length;
  const ledger: VerdictOutcome = done.length === 0 ? 'inconclusive' : healthy === done.length ? 'passed' : 'failed';
  const r = f.rehearsal;
  const rehearsal: VerdictOutcome = 'unreadable' in r ? 'inconclusive' : r.outcome;
  const rehearsalText =
    'unreadable' in r
      ? `rehearsal: ${r.unreadable}`
      : `rehearsal ${r.outcome === 'passed' ? 'passed' : `${r.outcome} (${r.reasons.slice(0, 2).join('; ')})`} (${r.from})`;
  return {
    metric: 'zero-downtime deploys',
    value: `${healthy}/${done.length} production deploys ended healthy; ${rehearsalText}`,
    target: 'every deploy; rehearsal: 0 failed requests, no read staler than 1 s',
    // The ledger cannot see a failed request during a rollout: only the rehearsal measures that, so both count.
    // Worst wins: missed beats cannot tell beats met.
    outcome: worstOutcome([ledger, rehearsal]),
    source: 'ledger (production deploys) and the rollout rehearsal',
  };
}

function deployTime(f: SuccessFacts): SuccessRow {
  const p = p95(f.deploys.filter((d) => d.state === 'success').map((d) => d.durationMs));
  return {
    metric: 'deploy time p95 (successful production deploys)',
    value: p === undefined ? 'no data' : `${(p / 60_000).toFixed(2)} min`,
    target: `< ${f.maxDeployMs / 60_000} min`,
    outcome: p === undefined ? 'inconclusive' : p < f.maxDeployMs ? 'passed' : 'failed',
    source: 'ledger',
  };
}

function latencyRows(f: SuccessFacts): SuccessRow[] {
  const t = f.thresholds;
  const specs = [
    { key: 'apiP50Ms', metric: 'API latency p50 (worst route)', target: t.apiP50Ms, unit: 'ms' },
    { key: 'graphP95Ms', metric: 'knowledge-graph query p95 (worst query)', target: t.graphP95Ms, unit: 'ms' },
    { key: 'errorRate', metric: 'API error rate (5xx)', target: t.maxErrorRate, unit: '' },
  ] as const;
  const l = f.latency;
  return specs.map((s) => {
    const show = (x: number) => (s.unit ? `${x.toFixed(1)} ms` : `${(x * 100).toFixed(3)}%`);
    const target = `< ${s.unit ? `${s.target} ms` : `${(s.target * 100).toFixed(1)}%`}`;
    if ('unreadable' in l)
      return { metric: s.metric, value: 'cannot tell', target, outcome: 'inconclusive', source: l.unreadable };
    const v = l[s.key];
    if (v === undefined || !Number.isFinite(v))
      return { metric: s.metric, value: 'no data', target, outcome: 'inconclusive', source: l.from };
    return { metric: s.metric, value: show(v), target, outcome: v < s.target ? 'passed' : 'failed', source: l.from };
  });
}

export function judgeSuccess(f: SuccessFacts): SuccessRow[] {
  return [zeroDowntime(f), deployTime(f), ...latencyRows(f)];
}

const ICON: Readonly<Record<VerdictOutcome, string>> = { passed: '✅', failed: '❌', inconclusive: '❔' };

export function successMarkdown(rows: readonly SuccessRow[]): string {
  return [
    '### Success metrics (seed targets)',
    table(
      ['metric', 'value', 'target', 'verdict', 'source'],
      rows.map((r) => [r.metric, r.value, r.target, `${ICON[r.outcome]} ${SUCCESS_WORDS[r.outcome]}`, r.source]),
    ),
  ].join('\n\n');
}

/** A delivery event as the ledger reads back (structurally: this layer does not import the ledger). */
export interface EventLike {
  readonly environment: string;
  readonly operation: 'deploy' | 'promotion' | 'rollback';
  readonly state: DeployFact['state'];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly automatic?: boolean;
}

/** Pure: production deploys and promotions, each marked when an automatic rollback followed it before the next. */
export function deployFacts(events: readonly EventLike[], production: (env: string) => boolean): DeployFact[] {
  const prod = events.filter((e) => production(e.environment));
  const deploys = prod.filter((e) => e.operation !== 'rollback');
  return deploys.map((d) => {
    const next = deploys.find((n) => n.environment === d.environment && n.startedAt > d.startedAt);
    const rolledBack = prod.some(
      (r) =>
        r.operation === 'rollback' &&
        r.automatic === true &&
        r.environment === d.environment &&
        r.startedAt >= d.startedAt &&
        (!next || r.startedAt < next.startedAt),
    );
    return { state: d.state, durationMs: d.durationMs, rolledBack };
  });
}
