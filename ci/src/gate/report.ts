/**
 * The latency gate's markdown summary: the verdict and why, per route the baseline and candidate
 * percentiles side by side with the ratio and its interval, late sends, and a chart of both
 * distributions. Pure.
 */
import { table, xyChart } from '../report/markdown.js';
import type { LatencyGateReport, RouteReport } from './latency.js';
import type { RouteMeasurement } from './verdict.js';

const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(n < 10 ? 2 : 1));
const pctLabel = (p: number) => (p === 100 ? 'max' : `p${p}`);
const WORD = { passed: 'pass', failed: 'FAIL', inconclusive: 'INCONCLUSIVE' } as const;
const TITLE = { passed: 'passed', failed: 'FAILED', inconclusive: 'INCONCLUSIVE' } as const;

const measured = (b: RouteReport['baseline']): RouteMeasurement | undefined => (b && 'scenario' in b ? b : undefined);
const ratio = (r: { estimate: number; low: number; high: number } | undefined) =>
  r && Number.isFinite(r.estimate) ? `${r.estimate.toFixed(2)}x [${r.low.toFixed(2)}-${r.high.toFixed(2)}]` : '–';
const late = (m: RouteMeasurement | undefined) =>
  m ? `${m.lateSends}${m.capWaits > 0 ? ` (+${m.capWaits} at cap)` : ''}` : '–';
const errors = (m: RouteMeasurement | undefined) => (m ? `${m.non2xx + m.socketErrors + m.timeouts}/${m.sent}` : '–');

export function gateMarkdown(r: LatencyGateReport): string {
  const verdicts = new Map(r.routes.map((v) => [v.scenario, v]));
  const hasBaseline = r.baseline !== undefined;
  const c = r.config;
  const t = c.thresholds;
  const parts = [`## Latency gate: ${r.environment} ${TITLE[r.outcome]}`];
  const baseLine =
    r.baseline === undefined
      ? 'no baseline (absolute limits only)'
      : 'unavailable' in r.baseline
        ? `baseline unavailable: ${r.baseline.unavailable}`
        : `baseline ${r.baseline.url}${r.baseline.served ? ` (${r.baseline.served})` : ''}`;
  parts.push(
    `Candidate ${r.candidate.url}${r.candidate.served ? ` (${r.candidate.served})` : ''}; ${baseLine}. ` +
      `Open model: ${c.requestsPerSecond} req/s on a fixed schedule, latency from each request's intended send time, ` +
      `${c.durationSeconds}s per route and side${hasBaseline ? ` in ${c.regression.rounds} alternating rounds` : ''} after a ${c.warmupSeconds}s warm-up, ` +
      `up to ${c.maxConcurrency} in flight. Limits: p50 < ${t.apiP50Ms}ms on every route, p95 < ${t.graphP95Ms}ms on graph routes, error rate < ${t.maxErrorRate * 100}%` +
      (hasBaseline
        ? `; allowed regression p50 +${c.regression.p50 * 100}%, p95 +${c.regression.p95 * 100}% (fail when the ${c.regression.confidence * 100}% interval's lower end is above)`
        : '') +
      '.',
  );
  const rows = r.measurements.map((m) => {
    const b = measured(m.baseline);
    const cand = m.candidate;
    const v = verdicts.get(cand.scenario)!;
    const row = [cand.scenario, `${cand.conditions.method} ${cand.path}`, v.achievedRate.toFixed(1), errors(cand)];
    if (!hasBaseline)
      return [
        ...row,
        ms(cand.latency?.p50),
        ms(cand.latency?.p95),
        ms(cand.latency?.p99),
        ms(cand.latency?.max),
        late(cand),
        WORD[v.outcome],
      ];
    return [
      ...row,
      `${ms(b?.latency?.p50)} / ${ms(cand.latency?.p50)}`,
      ratio(m.comparison?.p50),
      `${ms(b?.latency?.p95)} / ${ms(cand.latency?.p95)}`,
      ratio(m.comparison?.p95),
      `${ms(b?.latency?.p99)} / ${ms(cand.latency?.p99)}`,
      `${late(b)} / ${late(cand)}`,
      WORD[v.outcome],
    ];
  });
  const headers = hasBaseline
    ? [
        'route',
        'request',
        'req/s achieved',
        'errors',
        'p50 ms base / cand',
        'p50 ratio [CI]',
        'p95 ms base / cand',
        'p95 ratio [CI]',
        'p99 ms base / cand',
        'late sends base / cand',
        'verdict',
      ]
    : ['route', 'request', 'req/s achieved', 'errors', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'late sends', 'verdict'];
  parts.push(table(headers, rows));
  parts.push(
    r.outcome === 'passed'
      ? '**Why it passed**'
      : r.outcome === 'failed'
        ? '**Why it failed**'
        : '**Why it is inconclusive (this does not promote)**',
  );
  parts.push(r.reasons.map((x) => `- ${x}`).join('\n'));
  for (const m of r.measurements) {
    const cand = m.candidate;
    if (cand.percentiles.length === 0) continue;
    const b = measured(m.baseline);
    const labels = cand.percentiles.map(([p]) => pctLabel(p));
    const series = [];
    if (b && b.percentiles.length === cand.percentiles.length)
      series.push({ kind: 'bar' as const, values: b.percentiles.map(([, v]) => v) });
    series.push({ kind: 'line' as const, values: cand.percentiles.map(([, v]) => v) });
    parts.push(
      xyChart({
        title: `${cand.scenario}: latency by percentile (ms); ${series.length === 2 ? 'bars = baseline, line = candidate' : 'line = candidate'}`,
        xLabels: labels,
        yLabel: 'ms',
        series,
      }),
    );
  }
  return parts.join('\n\n');
}
