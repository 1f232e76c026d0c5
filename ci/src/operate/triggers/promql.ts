/**
 * PromQL for the rollback triggers, built from the environment definition. The alert rules and the
 * watcher's Prometheus source both use these, so in-cluster alerting and the watcher cannot disagree.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';

/** Traffic the triggers judge: the API, not health checks or scrapes of /metrics. */
const API_ROUTE_PATTERN = '/api/.*';
export const isApiRoute = (route: string | undefined): boolean =>
  route !== undefined && new RegExp(`^(?:${API_ROUTE_PATTERN})$`).test(route);
const SERVER_ERROR_PATTERN = '5..';
export const isServerError = (status: string | undefined): boolean =>
  status !== undefined && new RegExp(`^(?:${SERVER_ERROR_PATTERN})$`).test(status);
/** The blackbox-exporter job that probes /healthz in the cluster (the watcher probes it itself). */
const HEALTH_PROBE_JOB = 'kgraph-mcp-healthz';

/** Seconds as a Prometheus duration (`5m`, `90s`, `250ms`). */
export function promDuration(seconds: number): string {
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw new RangeError(`duration must be positive, got ${seconds}`);
  const ms = Math.round(seconds * 1000);
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

export interface TriggerQueries {
  readonly requests: string;
  readonly errors: string;
  /** `sum by (le)` of bucket increases: one series per bound. */
  readonly buckets: string;
  readonly errorRateAlert: string;
  readonly p95Alert: string;
  readonly healthAlert: string;
  readonly noDataAlert: string;
}

export function triggerQueries(env: Pick<EnvironmentDefinition, 'namespace' | 'rollback'>): TriggerQueries {
  const t = env.rollback;
  const w = promDuration(t.rateWindowSeconds);
  const sel = (extra = '') => `{namespace="${env.namespace}",route=~"${API_ROUTE_PATTERN}"${extra}}`;
  const requests = `sum(increase(http_requests_total${sel()}[${w}]))`;
  // A service that never answered a 5xx has no 5xx series at all: zero errors when there is traffic, so
  // that an absent answer can only mean no data (the watcher reads it so), never "no errors".
  const errors = `(sum(increase(http_requests_total${sel(`,status_code=~"${SERVER_ERROR_PATTERN}"`)}[${w}])) or on() (0 * ${requests}))`;
  const buckets = `sum by (le) (increase(http_request_duration_seconds_bucket${sel()}[${w}]))`;
  const enough = `on() (${requests} >= ${t.minRequestsPerWindow})`;
  // N probes one poll apart span (N-1) polls; half a poll more takes in jitter but never an N+1th probe,
  // whether the range includes its left edge (Prometheus 2) or not (3): [45s] at 15s held 4 probes in 2.42.
  const healthRange = promDuration((t.consecutiveHealthFailures - 0.5) * t.pollSeconds);
  const probe = `probe_success{namespace="${env.namespace}",job="${HEALTH_PROBE_JOB}"}`;
  return {
    requests,
    errors,
    buckets,
    errorRateAlert: `(${errors} / ${requests}) > ${t.errorRate.above} and ${enough}`,
    p95Alert: `histogram_quantile(0.95, ${buckets}) > ${t.p95.aboveMs / 1000} and ${enough}`,
    // N probes in the range, none of them successful: N consecutive failures at one probe per poll.
    healthAlert: `sum_over_time(${probe}[${healthRange}]) == 0 and count_over_time(${probe}[${healthRange}]) >= ${t.consecutiveHealthFailures}`,
    noDataAlert: `(${requests} < ${t.minRequestsPerWindow}) or on() absent(http_requests_total${sel()})`,
  };
}
