/**
 * The dashboard's panels as plain data, pure: one list per environment, from the same metric names the
 * service exports and the same thresholds the gate and the rollback triggers use. `[$__rate_interval]` is
 * Grafana's; `concreteQuery` puts a real window in its place to run a panel's query against Prometheus.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';

/** What the service exports on /metrics (app/src/metrics.ts and prom-client's defaults); a test checks a live /metrics. */
export const SERVICE_METRICS = [
  'http_request_duration_seconds_bucket',
  'http_requests_total',
  'graph_query_duration_seconds_bucket',
  'graph_query_duration_seconds_sum',
  'graph_query_duration_seconds_count',
  'cache_requests_total',
  'db_pool_connections',
  'http_active_connections',
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
] as const;

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly queries: readonly { readonly expr: string; readonly legend: string }[];
  /** A line at this value (the gate's or the trigger's limit), in the panel's unit. */
  readonly threshold?: number;
}

export interface AnnotationSpec {
  readonly name: string;
  readonly expr: string;
  readonly color: string;
}

const RATE = '[$__rate_interval]';
const API = '/api/.*';

// Over 60 lines: a flat table of panels, one entry each, with no decision between them.
export function dashboardPanels(env: EnvironmentDefinition): PanelSpec[] {
  const ns = `namespace="${env.namespace}"`;
  const api = `${ns},route=~"${API}"`;
  const th = env.latencyGate.thresholds;
  const quantile = (q: number) =>
    `histogram_quantile(${q}, sum by (le, route) (rate(http_request_duration_seconds_bucket{${api}}${RATE})))`;
  return [
    {
      title: 'API latency p50 per route',
      description: `Median per route; the latency gate wants every route below ${th.apiP50Ms} ms.`,
      unit: 's',
      queries: [{ expr: quantile(0.5), legend: '{{route}}' }],
      threshold: th.apiP50Ms / 1000,
    },
    {
      title: 'API latency p95 per route',
      description: `p95 per route; above ${env.rollback.p95.aboveMs} ms for ${env.rollback.p95.sustainedSeconds / 60} min rolls back.`,
      unit: 's',
      queries: [{ expr: quantile(0.95), legend: '{{route}}' }],
      threshold: env.rollback.p95.aboveMs / 1000,
    },
    {
      title: 'API error rate (5xx)',
      description: `Share of /api requests answered 5xx; above ${env.rollback.errorRate.above * 100}% for ${env.rollback.errorRate.sustainedSeconds / 60} min rolls back.`,
      unit: 'percentunit',
      queries: [
        {
          expr: `(sum(rate(http_requests_total{${api},status_code=~"5.."}${RATE})) or vector(0)) / sum(rate(http_requests_total{${api}}${RATE}))`,
          legend: 'error rate',
        },
      ],
      threshold: env.rollback.errorRate.above,
    },
    {
      title: 'API requests per second by status',
      description: 'Traffic the triggers judge; below the minimum per window they say "no data".',
      unit: 'reqps',
      queries: [{ expr: `sum by (status_code) (rate(http_requests_total{${api}}${RATE}))`, legend: '{{status_code}}' }],
    },
    {
      title: 'Knowledge-graph query p95',
      description: `p95 of search and graph queries against Postgres; graph routes must stay below ${th.graphP95Ms} ms end to end.`,
      unit: 's',
      queries: [
        {
          expr: `histogram_quantile(0.95, sum by (le, query) (rate(graph_query_duration_seconds_bucket{${ns}}${RATE})))`,
          legend: '{{query}}',
        },
      ],
      threshold: th.graphP95Ms / 1000,
    },
    {
      title: 'DB query time (mean)',
      description: 'Mean duration of the queries the service times, per query.',
      unit: 's',
      queries: [
        {
          expr: `sum by (query) (rate(graph_query_duration_seconds_sum{${ns}}${RATE})) / sum by (query) (rate(graph_query_duration_seconds_count{${ns}}${RATE}))`,
          legend: '{{query}}',
        },
      ],
    },
    {
      title: 'DB pool connections',
      description: 'Postgres pool: total, idle, active connections and waiting requests.',
      unit: 'short',
      queries: [{ expr: `sum by (state) (db_pool_connections{${ns}})`, legend: '{{state}}' }],
    },
    {
      title: 'Cache hit ratio',
      description: 'Read cache hits over lookups (misses and bypasses when Redis is down count against it).',
      unit: 'percentunit',
      queries: [
        {
          expr: `(sum(rate(cache_requests_total{${ns},outcome="hit"}${RATE})) or vector(0)) / sum(rate(cache_requests_total{${ns}}${RATE}))`,
          legend: 'hit ratio',
        },
      ],
    },
    {
      title: 'Memory (resident)',
      description: 'Resident memory per pod.',
      unit: 'bytes',
      queries: [{ expr: `sum by (pod) (process_resident_memory_bytes{${ns}})`, legend: '{{pod}}' }],
    },
    {
      title: 'CPU',
      description: 'CPU seconds per second per pod.',
      unit: 'short',
      queries: [{ expr: `sum by (pod) (rate(process_cpu_seconds_total{${ns}}${RATE}))`, legend: '{{pod}}' }],
    },
    {
      title: 'Active HTTP connections',
      description: 'Open client connections per pod.',
      unit: 'short',
      queries: [{ expr: `sum by (pod) (http_active_connections{${ns}})`, legend: '{{pod}}' }],
    },
  ];
}

/** Deploys and rollbacks on every panel: a pod started (a rollout), a rollback trigger fired. */
export function dashboardAnnotations(env: EnvironmentDefinition): AnnotationSpec[] {
  return [
    {
      name: 'Deploys (pods started)',
      expr: `changes(process_start_time_seconds{namespace="${env.namespace}"}[2m]) > 0`,
      color: 'blue',
    },
    {
      name: 'Rollback triggers',
      expr: `ALERTS{alertstate="firing",environment="${env.name}",rollback="true"}`,
      color: 'red',
    },
  ];
}

/** The metric names a PromQL expression reads (identifiers followed by `{`), for the export check. */
export function metricsIn(expr: string): string[] {
  return [...new Set([...expr.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map((m) => m[1]!))].filter(
    (n) => n !== 'ALERTS',
  );
}

/** Every panel query names only metrics the service exports, or a clear error naming panel and metric. */
export function checkPanelMetrics(panels: readonly PanelSpec[], exported: readonly string[] = SERVICE_METRICS): void {
  const problems = panels.flatMap((p) =>
    p.queries.flatMap((q) =>
      metricsIn(q.expr)
        .filter((m) => !exported.includes(m))
        .map((m) => `panel "${p.title}" queries ${m}, which the service does not export`),
    ),
  );
  if (problems.length) throw new RangeError(`dashboard: ${problems.join('; ')}`);
}

/** The query with Grafana's rate interval replaced, to run it against Prometheus itself. */
export const concreteQuery = (expr: string, rateWindow: string): string =>
  expr.replaceAll('$__rate_interval', rateWindow);
