/**
 * The rehearsal's judgement and report, pure: requests, failures (anything but 2xx and 429; a 404 only
 * where asked for on purpose, which the rehearsal never does), p50/p95 against the gate's allowance
 * (the environment's regression allowance, relative to the steady previous release), stale reads after
 * writes, per phase; a pass needs 0 failures and no read staler than `maxStaleMs`. Markdown with a
 * mermaid timeline for the job summary.
 */
import type { LatencyRegressionAllowance } from '../../definitions/environments.js';
import { quantileSorted, sortedCopy } from '../../gate/stats.js';
import { table, xyChart } from '../../platform/report/markdown.js';
import type { StaleRead } from './freshness.js';
import { isPass, type Verdict, type VerdictOutcome } from '../../definitions/verdict.js';

export interface PhaseSpan {
  readonly name: string;
  /** What runs during it, for people ("3 previous", "2 previous + 1 candidate"). */
  readonly detail: string;
  readonly start: number;
  readonly end: number;
  /** False for the warm-up (cold processes, first connections): reported, not judged. */
  readonly judged?: boolean;
}
export interface InstanceSpan {
  readonly id: string;
  readonly version: string;
  /** In rotation from/to (epoch ms); `to` undefined = until the end. */
  readonly from: number;
  readonly to?: number;
}
export interface Answer {
  readonly at: number;
  readonly status: number;
  /** Which release answered ("none": no instance in rotation). */
  readonly version: string;
}
export interface LatencySample {
  /** Intended send time, epoch ms. */
  readonly at: number;
  readonly ms: number;
}
/** Client-side errors (socket errors, timeouts) of one load window. */
export interface ClientErrors {
  readonly at: number;
  readonly count: number;
}

export interface RehearsalInput {
  readonly phases: readonly PhaseSpan[];
  readonly instances: readonly InstanceSpan[];
  readonly answers: readonly Answer[];
  readonly latencies: readonly LatencySample[];
  readonly clientErrors: readonly ClientErrors[];
  readonly stale: readonly StaleRead[];
  /** Fresh reads the probe made (to say how many reads the staleness verdict rests on). */
  readonly probeReads: number;
  readonly allowance: LatencyRegressionAllowance;
  readonly maxStaleMs: number;
}

export interface PhaseReport {
  readonly name: string;
  readonly judged: boolean;
  /** Failed answers by release and status, e.g. "previous 503". */
  readonly failedBy: Readonly<Record<string, number>>;
  readonly detail: string;
  readonly seconds: number;
  readonly requests: number;
  readonly failures: number;
  readonly throttled: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly p50?: number;
  readonly p95?: number;
  /** Against the first phase (the previous release at rest). */
  readonly p50Ratio?: number;
  readonly p95Ratio?: number;
  readonly withinAllowance?: boolean;
  readonly staleReads: number;
  readonly maxStaleMs: number;
}

/** Failed: a failed request or a stale read; inconclusive: nothing was measured; reasons: all of them. */
export interface RehearsalReport extends Verdict {
  readonly phases: readonly PhaseReport[];
  readonly seconds: number;
  readonly probeReads: number;
}

/** A client-visible failure: anything but 2xx and 429. */
export const isFailure = (status: number): boolean => !(status >= 200 && status < 300) && status !== 429;

const within = (at: number, p: PhaseSpan, last: boolean) => at >= p.start && (at < p.end || (last && at <= p.end));

function phaseReport(input: RehearsalInput, p: PhaseSpan, last: boolean, base?: PhaseReport): PhaseReport {
  const answers = input.answers.filter((a) => within(a.at, p, last));
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a.status] = (statuses[a.status] ?? 0) + 1;
  const clientErrors = input.clientErrors.filter((e) => within(e.at, p, last)).reduce((s, e) => s + e.count, 0);
  const sorted = sortedCopy(Float64Array.from(input.latencies.filter((l) => within(l.at, p, last)).map((l) => l.ms)));
  const p50 = sorted.length ? quantileSorted(sorted, 0.5) : undefined;
  const p95 = sorted.length ? quantileSorted(sorted, 0.95) : undefined;
  const stale = input.stale.filter((s) => within(s.at, p, last));
  const ratio = (x?: number, b?: number) => (x !== undefined && b ? x / b : undefined);
  const p50Ratio = ratio(p50, base?.p50);
  const p95Ratio = ratio(p95, base?.p95);
  const failedBy: Record<string, number> = {};
  for (const a of answers)
    if (isFailure(a.status)) failedBy[`${a.version} ${a.status}`] = (failedBy[`${a.version} ${a.status}`] ?? 0) + 1;
  if (clientErrors) failedBy['client-side error'] = clientErrors;
  return {
    name: p.name,
    judged: p.judged !== false,
    failedBy,
    detail: p.detail,
    seconds: (p.end - p.start) / 1000,
    requests: answers.length,
    failures: answers.filter((a) => isFailure(a.status)).length + clientErrors,
    throttled: statuses['429'] ?? 0,
    statuses,
    ...(p50 !== undefined ? { p50 } : {}),
    ...(p95 !== undefined ? { p95 } : {}),
    ...(p50Ratio !== undefined ? { p50Ratio } : {}),
    ...(p95Ratio !== undefined ? { p95Ratio } : {}),
    ...(p50Ratio !== undefined && p95Ratio !== undefined
      ? { withinAllowance: p50Ratio <= 1 + input.allowance.p50 && p95Ratio <= 1 + input.allowance.p95 }
      : {}),
    staleReads: stale.length,
    maxStaleMs: stale.reduce((m, s) => Math.max(m, s.staleMs), 0),
  };
}

export function judgeRehearsal(input: RehearsalInput): RehearsalReport {
  const phases: PhaseReport[] = [];
  input.phases.forEach((p, i) =>
    phases.push(
      phaseReport(
        input,
        p,
        i === input.phases.length - 1,
        phases.find((x) => x.judged),
      ),
    ),
  );
  const reasons: string[] = [];
  for (const p of phases.filter((x) => x.judged)) {
    if (p.failures > 0) reasons.push(`${p.name}: ${p.failures} failed request(s) (${failedText(p.failedBy)})`);
    if (p.maxStaleMs > input.maxStaleMs)
      reasons.push(`${p.name}: a read ${Math.round(p.maxStaleMs)} ms stale (at most ${input.maxStaleMs} ms)`);
  }
  const failed = reasons.length > 0;
  const measured = phases.filter((p) => p.judged).reduce((s, p) => s + p.requests, 0);
  // A rehearsal that measured nothing, or never read after a write, cannot tell (and so cannot pass).
  if (measured === 0) reasons.push('no request was answered: nothing was measured');
  if (input.probeReads === 0) reasons.push('the freshness probe read nothing: staleness was not measured');
  const outcome: VerdictOutcome = failed ? 'failed' : reasons.length ? 'inconclusive' : 'passed';
  const first = input.phases[0];
  const last = input.phases.at(-1);
  return {
    outcome,
    reasons,
    phases,
    seconds: first && last ? (last.end - first.start) / 1000 : 0,
    probeReads: input.probeReads,
  };
}

const failedText = (s: Readonly<Record<string, number>>) =>
  Object.entries(s)
    .map(([what, n]) => `${n}x ${what}`)
    .join(', ');

const ms = (x?: number) => (x === undefined ? '-' : x.toFixed(1));
const ratio = (x?: number) => (x === undefined ? '-' : `${x.toFixed(2)}x`);

/** A mermaid gantt of the phases and of each instance's time in rotation (epoch ms on the axis). */
export function timelineChart(phases: readonly PhaseSpan[], instances: readonly InstanceSpan[]): string {
  const end = phases.at(-1)?.end ?? 0;
  const clean = (s: string) => s.replace(/[:#;]/g, ' ');
  const lines = ['```mermaid', 'gantt', '  title Rollout rehearsal', '  dateFormat x', '  axisFormat %M:%S'];
  lines.push('  section phases');
  phases.forEach((p, i) => lines.push(`  ${clean(p.name)} (${clean(p.detail)}) :p${i}, ${p.start}, ${p.end}`));
  lines.push('  section instances');
  instances.forEach((s, i) =>
    lines.push(
      `  ${clean(s.id)} :${s.version === 'candidate' ? 'active, ' : ''}i${i}, ${s.from}, ${Math.max(s.to ?? end, s.from + 1)}`,
    ),
  );
  lines.push('```');
  return lines.join('\n');
}

export function rehearsalMarkdown(
  r: RehearsalReport,
  input: Pick<RehearsalInput, 'phases' | 'instances' | 'maxStaleMs'>,
  title: string,
): string {
  const rows = r.phases.map((p) => [
    p.judged ? p.name : `${p.name} (not judged)`,
    p.detail,
    p.seconds.toFixed(1),
    p.requests,
    p.failures,
    p.throttled,
    ms(p.p50),
    ms(p.p95),
    `${ratio(p.p50Ratio)} / ${ratio(p.p95Ratio)}${p.withinAllowance === false ? ' ⚠️' : ''}`,
    p.staleReads,
    Math.round(p.maxStaleMs),
  ]);
  return [
    `## ${title}: ${isPass(r) ? '✅ passed' : '❌ failed'}`,
    isPass(r)
      ? `0 failed requests, no read staler than ${input.maxStaleMs} ms (${r.probeReads} probe reads), ${r.seconds.toFixed(1)} s.`
      : `Refused: ${r.reasons.join('; ')}.`,
    table(
      [
        'phase',
        'instances',
        's',
        'requests',
        'failures',
        '429',
        'p50 ms',
        'p95 ms',
        'p50/p95 vs previous',
        'stale reads',
        'stalest ms',
      ],
      rows,
    ),
    timelineChart(input.phases, input.instances),
    xyChart({
      title: 'p95 latency per phase (ms)',
      xLabels: r.phases.map((p) => p.name),
      yLabel: 'ms',
      series: [{ kind: 'bar', values: r.phases.map((p) => p.p95 ?? 0) }],
    }),
  ].join('\n\n');
}
