/**
 * The latency gate's markdown summary: the verdict and why, per route the baseline and candidate
 * percentiles side by side with the ratio and its interval, late sends, and a chart of both
 * distributions. Pure.
 */
import { table, xyChart } from '../platform/report/markdown.js';
import type { LatencyGateReport, RouteReport } from './latency.js';
import { errorCount, judgedRequests, TRANSPORT_FAILURES, type RouteMeasurement } from './verdict.js';

const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(n < 10 ? 2 : 1));
const pctLabel = (p: number) => (p === 100 ? 'max' : `p${p}`);
const WORD = { passed: 'pass', failed: 'FAIL', inconclusive: 'INCONCLUSIVE' } as const;
const TITLE = { passed: 'passed', failed: 'FAILED', inconclusive: 'INCONCLUSIVE' } as const;

const measured = (b: RouteReport['baseline']): RouteMeasurement | undefined => (b && 'scenario' in b ? b : undefined);
const ratio = (r: { estimate: number; low: number; high: number } | undefined) =>
  r && Number.isFinite(r.estimate) ? `${r.estimate.toFixed(2)}x [${r.low.toFixed(2)}-${r.high.toFixed(2)}]` : '–';
const late = (m: RouteMeasurement | undefined) =>
  m ? `${m.lateSends}${m.capWaits > 0 ? ` (+${m.capWaits} at cap)` : ''}` : '–';
const errors = (m: RouteMeasurement | undefined) => (m ? `${errorCount(m)}/${judgedRequests(m)}` : '–');

/** "200 ×1990, 503 ×3": every status the side got. */
const statuses = (m: RouteMeasurement) =>
  Object.entries(m.statusCodes)
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ') || '–';
const connectionErrors = (m: RouteMeasurement) =>
  m.socketErrors === 0
    ? '0'
    : `${m.socketErrors} (${TRANSPORT_FAILURES.filter((k) => m.transportFailures[k] > 0)
        .map((k) => `${m.transportFailures[k]} ${k}`)
        .join(', ')})`;

/** Per route and side: what came back, each kind apart (429s and connection errors are not server errors). */
function answersTable(r: LatencyGateReport): string {
  const rows = r.measurements.flatMap((m) => {
    const sides: [string, RouteMeasurement][] = [['candidate', m.candidate]];
    const b = measured(m.baseline);
    if (b) sides.unshift(['baseline', b]);
    return sides.map(([who, x]) => [
      x.scenario,
      who,
      String(x.sent),
      statuses(x),
      String(x.rateLimited),
      String(x.serverErrors),
      connectionErrors(x),
      String(x.timeouts),
      String(x.retries),
    ]);
  });
  return table(
    ['route', 'side', 'sent', 'status mix', '429 refused', '5xx', 'connection errors', 'timeouts', 'retries'],
    rows,
  );
}

const margin = (limit: number, value: number | undefined) =>
  value === undefined
    ? 'not measured'
    : value < limit
      ? `${ms(limit - value)} ms under`
      : `${ms(value - limit)} ms OVER`;

/** One chart per route: the distribution, the baseline's when there is one, and the limits as flat lines. */
function routeChart(r: LatencyGateReport, m: RouteReport): string | undefined {
  const cand = m.candidate;
  if (cand.percentiles.length === 0) return undefined;
  const t = r.config.thresholds;
  const b = measured(m.baseline);
  const flat = (v: number) => ({ kind: 'line' as const, values: cand.percentiles.map(() => v) });
  const series = [];
  if (b && b.percentiles.length === cand.percentiles.length)
    series.push({ kind: 'bar' as const, values: b.percentiles.map(([, v]) => v) });
  series.push({ kind: 'line' as const, values: cand.percentiles.map(([, v]) => v) });
  series.push(flat(t.apiP50Ms));
  const limits = [`p50 < ${t.apiP50Ms} ms (${margin(t.apiP50Ms, cand.latency?.p50)})`];
  if (cand.class === 'graph') {
    series.push(flat(t.graphP95Ms));
    limits.push(`p95 < ${t.graphP95Ms} ms (${margin(t.graphP95Ms, cand.latency?.p95)})`);
  }
  const sides = b ? 'bars = baseline, line = candidate' : 'line = candidate';
  return xyChart({
    title: `${cand.scenario}: latency by percentile (ms), 429s left out; ${sides}; flat lines = limits ${limits.join(', ')}`,
    xLabels: cand.percentiles.map(([p]) => pctLabel(p)),
    yLabel: 'ms',
    series,
  });
}

/** What was measured how, and the limits it was held to. */
function conditionsLine(r: LatencyGateReport): string {
  const c = r.config;
  const t = c.thresholds;
  const hasBaseline = r.baseline !== undefined;
  const baseLine =
    r.baseline === undefined
      ? 'no baseline (absolute limits only)'
      : 'unavailable' in r.baseline
        ? `baseline unavailable: ${r.baseline.unavailable}`
        : `baseline ${r.baseline.url}${r.baseline.served ? ` (${r.baseline.served})` : ''}`;
  return (
    `Candidate ${r.candidate.url}${r.candidate.served ? ` (${r.candidate.served})` : ''}; ${baseLine}. ` +
    `Open model: ${c.requestsPerSecond} req/s on a fixed schedule, latency from each request's intended send time, ` +
    `${c.durationSeconds}s per route and side${hasBaseline ? ` in ${c.regression.rounds} alternating rounds` : ''} after a ${c.warmupSeconds}s warm-up, ` +
    `up to ${c.maxConcurrency} in flight. Limits: p50 < ${t.apiP50Ms}ms on every route, p95 < ${t.graphP95Ms}ms on graph routes, error rate < ${t.maxErrorRate * 100}%` +
    (hasBaseline
      ? `; allowed regression p50 +${c.regression.p50 * 100}%, p95 +${c.regression.p95 * 100}% (fail when the ${c.regression.confidence * 100}% interval's lower end is above)`
      : '') +
    '.'
  );
}

const HEADERS_ALONE = [
  'route',
  'request',
  'req/s achieved',
  'errors',
  'p50 ms',
  'p95 ms',
  'p99 ms',
  'max ms',
  'late sends',
  'verdict',
];
const HEADERS_COMPARED = [
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
];

/** One row per route: the candidate alone, or baseline and candidate side by side with the ratios. */
function latencyTable(r: LatencyGateReport): string {
  const verdicts = new Map(r.routes.map((v) => [v.scenario, v]));
  const hasBaseline = r.baseline !== undefined;
  const rows = r.measurements.map((m) => {
    const b = measured(m.baseline);
    const cand = m.candidate;
    const v = verdicts.get(cand.scenario)!;
    const row = [cand.scenario, `${cand.conditions.method} ${cand.path}`, v.achievedRate.toFixed(1), errors(cand)];
    const l = cand.latency;
    if (!hasBaseline) return [...row, ms(l?.p50), ms(l?.p95), ms(l?.p99), ms(l?.max), late(cand), WORD[v.outcome]];
    return [
      ...row,
      `${ms(b?.latency?.p50)} / ${ms(l?.p50)}`,
      ratio(m.comparison?.p50),
      `${ms(b?.latency?.p95)} / ${ms(l?.p95)}`,
      ratio(m.comparison?.p95),
      `${ms(b?.latency?.p99)} / ${ms(l?.p99)}`,
      `${late(b)} / ${late(cand)}`,
      WORD[v.outcome],
    ];
  });
  return table(hasBaseline ? HEADERS_COMPARED : HEADERS_ALONE, rows);
}

const WHY = {
  passed: '**Why it passed**',
  failed: '**Why it failed**',
  inconclusive: '**Why it is inconclusive (this does not promote)**',
} as const;

export function gateMarkdown(r: LatencyGateReport): string {
  const charts = r.measurements.map((m) => routeChart(r, m)).filter((c): c is string => c !== undefined);
  return [
    `## Latency gate: ${r.environment} ${TITLE[r.outcome]}`,
    conditionsLine(r),
    latencyTable(r),
    WHY[r.outcome],
    r.reasons.map((x) => `- ${x}`).join('\n'),
    '**Answers per route**',
    answersTable(r),
    ...charts,
  ].join('\n\n');
}
