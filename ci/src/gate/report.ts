/** The latency gate's markdown summary: a verdict, a table, the reasons and a chart per route. Pure. */
import { table, xyChart } from '../report/markdown.js';
import type { LatencyGateReport } from './latency.js';

const ms = (n: number | undefined) => (n === undefined ? '–' : n.toFixed(n < 10 ? 2 : 1));
const pctLabel = (p: number) => (p === 100 ? 'max' : `p${p}`);

export function gateMarkdown(r: LatencyGateReport): string {
  const verdicts = new Map(r.scenarios.map((s) => [s.scenario, s]));
  const rows = r.measurements.map((m) => {
    const v = verdicts.get(m.scenario)!;
    return [
      m.scenario,
      `${m.method} ${m.path}`,
      m.requestedRate,
      v.achievedRate.toFixed(1),
      m.responses,
      `${(v.errorRate * 100).toFixed(3)}%`,
      ms(m.latency?.p50),
      ms(m.latency?.p90),
      ms(m.latency?.p95),
      ms(m.latency?.p99),
      ms(m.latency?.max),
      v.passed ? 'pass' : 'FAIL',
    ];
  });
  const t = r.config.thresholds;
  const parts = [
    `## Latency gate: ${r.environment} ${r.passed ? 'passed' : 'FAILED'}`,
    `${r.baseUrl}, ${r.config.durationSeconds}s per route after a ${r.config.warmupSeconds}s warm-up, ${r.config.connections} connections. ` +
      `Thresholds: p50 < ${t.apiP50Ms}ms on every route, p95 < ${t.graphP95Ms}ms on graph routes, error rate < ${t.maxErrorRate * 100}%, ` +
      `achieved rate >= ${r.config.minAchievedRateRatio * 100}% of requested.`,
    table(['route', 'request', 'req/s asked', 'req/s achieved', 'responses', 'errors', 'p50 ms', 'p90 ms', 'p95 ms', 'p99 ms', 'max ms', 'verdict'], rows),
    r.passed ? '**Why it passed**' : '**Why it failed**',
    r.reasons.map((x) => `- ${x}`).join('\n'),
  ];
  for (const m of r.measurements) {
    if (m.percentiles.length === 0) continue;
    const limit = m.class === 'graph' ? t.graphP95Ms : t.apiP50Ms;
    parts.push(
      xyChart({
        title: `${m.scenario}: latency by percentile (ms); line = ${m.class === 'graph' ? 'p95' : 'p50'} limit`,
        xLabels: m.percentiles.map(([p]) => pctLabel(p)),
        yLabel: 'ms',
        series: [
          { kind: 'bar', values: m.percentiles.map(([, v]) => v) },
          { kind: 'line', values: m.percentiles.map(() => limit) },
        ],
      }),
    );
  }
  return parts.join('\n\n');
}
