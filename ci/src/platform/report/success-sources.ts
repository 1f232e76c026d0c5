/**
 * The I/O edges of the success metrics: the seed's latency targets read from Prometheus' HTTP API (the
 * queries the dashboards plot, over a window, worst route or query), and the rollout rehearsal's
 * report.json. Whatever cannot be read says why, and the judgement (success.ts) turns it into "cannot tell".
 */
import { readFile, stat } from 'node:fs/promises';
import { instantQuery, type InstantSample } from '../services/prometheus.js';
import { rehearsalVerdict, type LatencyFacts, type RehearsalFact } from './success.js';

export type QueryFn = (promUrl: string, query: string) => Promise<InstantSample[]>;

/** Pure: the PromQL for each target, in the namespace, over `window` (a Prometheus duration such as 1h). */
export function latencyQueries(namespace: string, window: string) {
  const ns = `namespace="${namespace}"`;
  const api = `${ns},route=~"/api/.*"`;
  return {
    apiP50Ms: `histogram_quantile(0.5, sum by (le, route) (rate(http_request_duration_seconds_bucket{${api}}[${window}]))) * 1000`,
    graphP95Ms: `histogram_quantile(0.95, sum by (le, query) (rate(graph_query_duration_seconds_bucket{${ns}}[${window}]))) * 1000`,
    errorRate: `(sum(rate(http_requests_total{${api},status_code=~"5.."}[${window}])) or vector(0)) / sum(rate(http_requests_total{${api}}[${window}]))`,
  } as const;
}

/** The worst finite value over the series; undefined when there is none (no data). */
const worstOf = (samples: readonly InstantSample[]) => {
  const values = samples.map((s) => s.value).filter(Number.isFinite);
  return values.length ? Math.max(...values) : undefined;
};

export async function readLatency(
  promUrl: string,
  namespace: string,
  window: string,
  query: QueryFn = (u, q) => instantQuery(u, q),
): Promise<LatencyFacts> {
  if (!/^\d{1,4}[smhd]$/.test(window)) return { unreadable: `window "${window}" is not a Prometheus duration` };
  const qs = latencyQueries(namespace, window);
  try {
    const [apiP50Ms, graphP95Ms, errorRate] = await Promise.all(
      [qs.apiP50Ms, qs.graphP95Ms, qs.errorRate].map(async (q) => worstOf(await query(promUrl, q))),
    );
    return {
      ...(apiP50Ms !== undefined ? { apiP50Ms } : {}),
      ...(graphP95Ms !== undefined ? { graphP95Ms } : {}),
      ...(errorRate !== undefined ? { errorRate } : {}),
      from: `Prometheus ${new URL(promUrl).origin}, namespace ${namespace}, last ${window}`,
    };
  } catch (err) {
    // Never the URL's credentials, only where it is.
    const where = URL.canParse(promUrl) ? new URL(promUrl).host : 'the given URL';
    return { unreadable: `Prometheus at ${where} could not be read: ${(err as Error).message.slice(0, 200)}` };
  }
}

export async function readRehearsal(path: string): Promise<RehearsalFact> {
  let text: string;
  let at: Date;
  try {
    [text, at] = await Promise.all([readFile(path, 'utf8'), stat(path).then((s) => s.mtime)]);
  } catch {
    return { unreadable: `no rollout rehearsal report at ${path}` };
  }
  const r = (() => {
    try {
      return JSON.parse(text) as { outcome?: unknown; passed?: unknown; reasons?: unknown };
    } catch {
      return undefined;
    }
  })();
  const verdict =
    r && Array.isArray(r.reasons) ? rehearsalVerdict(r.outcome, r.passed, r.reasons.map(String)) : undefined;
  if (!verdict) return { unreadable: `${path} is not a rollout rehearsal report (report.json)` };
  return { ...verdict, from: `${path}, ${at.toISOString()}` };
}
