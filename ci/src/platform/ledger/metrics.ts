/**
 * Delivery metrics from the ledger's events, against the plan's targets: deploys finish in under 5
 * minutes (p95), 99.9% succeed, under 1% are rolled back; plus lead time from merge to a production
 * environment and the change failure rate there. Pure over events; no events = no verdict.
 */
import { table, xyChart } from '../report/markdown.js';
import type { DeliveryEvent } from './entry.js';

export const TARGETS = { maxDurationMs: 5 * 60_000, minSuccessRate: 0.999, maxRollbackRate: 0.01 } as const;

export interface EnvironmentMetrics {
  readonly environment: string;
  readonly deploys: number;
  readonly successes: number;
  /** Automatic rollbacks after a failed deploy plus manual ones. */
  readonly rollbacks: number;
  readonly successRate: number;
  readonly rollbackRate: number;
  readonly p50DurationMs: number;
  readonly p95DurationMs: number;
}

export interface DeliveryMetrics {
  readonly since?: string;
  readonly source: string;
  readonly perEnvironment: readonly EnvironmentMetrics[];
  readonly overall: EnvironmentMetrics;
  /** Merge → running in a production environment, over successful production deploys that know their merge time. */
  readonly leadTime: { readonly samples: number; readonly p50Ms: number; readonly p95Ms: number };
  /** Production deploys that failed or were rolled back before the next one, over production deploys. */
  readonly changeFailure: { readonly deploys: number; readonly failed: number; readonly rate: number };
  /** Absent when there is no data: nothing was measured, so nothing is met or missed. */
  readonly meetsTargets?: { readonly duration: boolean; readonly successRate: boolean; readonly rollbackRate: boolean };
}

/** Nearest-rank percentile; NaN for no data (callers show "no data", never 0). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const isDeploy = (e: DeliveryEvent) => e.operation === 'deploy' || e.operation === 'promotion';

function metricsOf(environment: string, events: readonly DeliveryEvent[]): EnvironmentMetrics {
  const deploys = events.filter(isDeploy);
  const successes = deploys.filter((e) => e.state === 'success').length;
  const rollbacks = events.filter((e) => e.operation === 'rollback').length;
  // Duration counts successful deploys: a failed one's time says nothing about how long shipping takes.
  const durations = deploys.filter((e) => e.state === 'success').map((e) => e.durationMs);
  return {
    environment,
    deploys: deploys.length,
    successes,
    rollbacks,
    successRate: deploys.length ? successes / deploys.length : Number.NaN,
    rollbackRate: deploys.length ? rollbacks / deploys.length : Number.NaN,
    p50DurationMs: percentile(durations, 50),
    p95DurationMs: percentile(durations, 95),
  };
}

/** `production(env)` says which environments count for lead time and change failure (policy data). */
export function computeDeliveryMetrics(
  events: readonly DeliveryEvent[],
  opts: { production: (env: string) => boolean; source: string; since?: string },
): DeliveryMetrics {
  const envs = [...new Set(events.map((e) => e.environment))].sort();
  const overall = metricsOf('all', events);
  const prod = events.filter((e) => opts.production(e.environment));
  const leadTimes = prod
    .filter((e) => isDeploy(e) && e.state === 'success' && e.mergedAt)
    .map((e) => Date.parse(e.finishedAt) - Date.parse(e.mergedAt!))
    .filter((ms) => Number.isFinite(ms) && ms >= 0);
  const prodDeploys = prod.filter(isDeploy);
  let failed = 0;
  for (const d of prodDeploys) {
    if (d.state !== 'success') {
      failed++;
      continue;
    }
    // Rolled back by hand before the next deploy of that environment: the change failed in production.
    const next = prodDeploys.find((n) => n.environment === d.environment && n.startedAt > d.startedAt);
    if (
      prod.some(
        (r) =>
          r.operation === 'rollback' &&
          !r.automatic &&
          r.environment === d.environment &&
          r.startedAt > d.startedAt &&
          (!next || r.startedAt < next.startedAt),
      )
    )
      failed++;
  }
  return {
    ...(opts.since ? { since: opts.since } : {}),
    source: opts.source,
    perEnvironment: envs.map((e) =>
      metricsOf(
        e,
        events.filter((x) => x.environment === e),
      ),
    ),
    overall,
    leadTime: { samples: leadTimes.length, p50Ms: percentile(leadTimes, 50), p95Ms: percentile(leadTimes, 95) },
    changeFailure: {
      deploys: prodDeploys.length,
      failed,
      rate: prodDeploys.length ? failed / prodDeploys.length : Number.NaN,
    },
    ...(overall.deploys > 0
      ? {
          meetsTargets: {
            duration: overall.successes > 0 && overall.p95DurationMs < TARGETS.maxDurationMs,
            successRate: overall.successRate >= TARGETS.minSuccessRate,
            rollbackRate: overall.rollbackRate < TARGETS.maxRollbackRate,
          },
        }
      : {}),
  };
}

export const NO_DEPLOYMENTS = 'no deployments recorded';

const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : 'no data');
const mins = (ms: number) => (Number.isFinite(ms) ? `${(ms / 60_000).toFixed(2)} min` : 'no data');
const hours = (ms: number) => (Number.isFinite(ms) ? `${(ms / 3_600_000).toFixed(1)} h` : 'no data');
const mark = (ok: boolean | undefined) => (ok === undefined ? '—' : ok ? '✅' : '❌');

/** The overall figures against the targets, with lead time and change failure rate in production. */
function targetsTable(m: DeliveryMetrics): string {
  const t = m.meetsTargets;
  return table(
    ['metric', 'value', 'target', 'met'],
    [
      ['deploy duration p50 (successful)', mins(m.overall.p50DurationMs), '', ''],
      ['deploy duration p95 (successful)', mins(m.overall.p95DurationMs), '< 5 min', mark(t?.duration)],
      [
        'success rate',
        `${pct(m.overall.successRate)} (${m.overall.successes}/${m.overall.deploys})`,
        '≥ 99.9%',
        mark(t?.successRate),
      ],
      [
        'rollback rate',
        `${pct(m.overall.rollbackRate)} (${m.overall.rollbacks}/${m.overall.deploys})`,
        '< 1%',
        mark(t?.rollbackRate),
      ],
      [
        'lead time merge → production p50 / p95',
        m.leadTime.samples
          ? `${hours(m.leadTime.p50Ms)} / ${hours(m.leadTime.p95Ms)} (${m.leadTime.samples} deploys)`
          : 'no data',
        '',
        '',
      ],
      [
        'change failure rate (production)',
        `${pct(m.changeFailure.rate)} (${m.changeFailure.failed}/${m.changeFailure.deploys})`,
        '',
        '',
      ],
    ],
  );
}

function environmentsTable(m: DeliveryMetrics): string {
  return table(
    ['environment', 'deploys', 'successes', 'rollbacks', 'success rate', 'rollback rate', 'p50', 'p95'],
    m.perEnvironment.map((e) => [
      e.environment,
      e.deploys,
      e.successes,
      e.rollbacks,
      pct(e.successRate),
      pct(e.rollbackRate),
      mins(e.p50DurationMs),
      mins(e.p95DurationMs),
    ]),
  );
}

/** The last 20 deploys' durations as bars, the 5-minute target as a line; failed deploys marked ✗. */
function durationChart(events: readonly DeliveryEvent[]): string {
  const recent = events.filter(isDeploy).slice(-20);
  return xyChart({
    title: `Deploy duration, last ${recent.length} deploys (minutes; line = 5 min target)`,
    xLabels: recent.map((e, i) => `${i + 1} ${e.environment} ${e.version}${e.state === 'success' ? '' : ' ✗'}`),
    yLabel: 'minutes',
    series: [
      { kind: 'bar', values: recent.map((e) => e.durationMs / 60_000) },
      { kind: 'line', values: recent.map(() => TARGETS.maxDurationMs / 60_000) },
    ],
  });
}

export function deliveryMarkdown(m: DeliveryMetrics, events: readonly DeliveryEvent[]): string {
  const head = `## Delivery metrics${m.since ? ` (since ${m.since})` : ''}\n\nSource: ${m.source}`;
  if (m.overall.deploys === 0)
    return `${head}\n\n${NO_DEPLOYMENTS}${m.overall.rollbacks ? ` (only ${m.overall.rollbacks} rollback(s))` : ''}.`;
  return [head, targetsTable(m), environmentsTable(m), durationChart(events)].join('\n\n');
}
