/**
 * Where the watcher's observations come from: the service's /healthz and /metrics, or a Prometheus
 * query API. Thin I/O; what the numbers mean is decided in triggers/.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { bucketsOf, type Bucket } from '../../platform/metrics/histogram.js';
import { parsePromText, type PromSample } from '../../platform/metrics/prom-text.js';
import { isApiRoute, isServerError, triggerQueries } from '../triggers/promql.js';
import type { PollResult } from '../triggers/monitor.js';
import type { TrafficSnapshot, WindowTraffic } from '../triggers/window.js';

type Fetch = typeof fetch;

/** A request's signal: its own timeout, and the watch's abort when given. */
const requestSignal = (timeoutMs: number, abort?: AbortSignal): AbortSignal =>
  abort ? AbortSignal.any([AbortSignal.timeout(timeoutMs), abort]) : AbortSignal.timeout(timeoutMs);

/** The API's cumulative counters in one /metrics exposition (pure). */
export function snapshotFromSamples(samples: readonly PromSample[], at: number): TrafficSnapshot {
  let requests = 0;
  let errors = 0;
  let processStart: number | undefined;
  for (const s of samples) {
    if (s.name === 'http_requests_total' && isApiRoute(s.labels.route)) {
      requests += s.value;
      if (isServerError(s.labels.status_code)) errors += s.value;
    } else if (s.name === 'process_start_time_seconds') {
      processStart = s.value;
    }
  }
  const buckets = bucketsOf(samples, 'http_request_duration_seconds', (l) => isApiRoute(l.route));
  return { at, processStart, requests, errors, buckets };
}

type ErrLike = { name?: string; message?: string; code?: string; cause?: ErrLike; errors?: ErrLike[] };
/** fetch wraps the useful part (ECONNREFUSED, …) in `cause`, sometimes inside an AggregateError. */
const describe = (err: unknown): string => {
  const e = err as ErrLike;
  if (e.name === 'TimeoutError') return 'timed out';
  const c = e.cause;
  return c?.code ?? c?.errors?.[0]?.code ?? c?.message ?? e.message ?? String(err);
};

/** True only for a 2xx within the timeout; refused connections and timeouts are failures. */
async function checkHealth(
  fetchFn: Fetch,
  baseUrl: string,
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetchFn(new URL('/healthz', baseUrl), { signal: requestSignal(timeoutMs, abort) });
    await res.body?.cancel();
    return { ok: res.ok, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: describe(err) };
  }
}

async function scrapeMetrics(
  fetchFn: Fetch,
  baseUrl: string,
  timeoutMs: number,
  at: () => number,
  abort?: AbortSignal,
): Promise<TrafficSnapshot | { problem: string }> {
  try {
    const res = await fetchFn(new URL('/metrics', baseUrl), { signal: requestSignal(timeoutMs, abort) });
    const text = await res.text();
    if (!res.ok) return { problem: `/metrics answered HTTP ${res.status}` };
    const snapshot = snapshotFromSamples(parsePromText(text), at());
    const bad = [snapshot.requests, snapshot.errors, ...snapshot.buckets.map((b) => b.count)].find(
      (n) => !Number.isFinite(n),
    );
    if (bad !== undefined) return { problem: `no data: /metrics holds a non-finite counter (${bad})` };
    return snapshot;
  } catch (err) {
    return { problem: `/metrics: ${describe(err)}` };
  }
}

interface PromSeries {
  readonly metric: Record<string, string>;
  readonly value: number;
}

/** Prometheus' sample values are strings ("NaN", "+Inf" included): only a finite number is data. */
const sampleValue = (raw: unknown): number => {
  const v = Array.isArray(raw) && raw.length === 2 && typeof raw[1] === 'string' ? Number(raw[1]) : NaN;
  if (!Number.isFinite(v))
    throw new Error(`a sample value is ${JSON.stringify(Array.isArray(raw) ? raw[1] : raw)}, not a finite number`);
  return v;
};

/** One instant vector, checked field by field: a non-finite value or a malformed answer throws (no data). */
async function instantQuery(
  fetchFn: Fetch,
  promUrl: string,
  query: string,
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<PromSeries[]> {
  const url = new URL('/api/v1/query', promUrl);
  url.searchParams.set('query', query);
  const res = await fetchFn(url, { signal: requestSignal(timeoutMs, abort) });
  const body = (await res.json().catch(() => undefined)) as
    { status?: unknown; error?: unknown; data?: { resultType?: unknown; result?: unknown } } | undefined;
  if (!res.ok || body?.status !== 'success')
    throw new Error(`prometheus query failed: ${typeof body?.error === 'string' ? body.error : `HTTP ${res.status}`}`);
  if (body.data?.resultType !== 'vector')
    throw new Error(`prometheus answered a ${String(body.data?.resultType)}, expected a vector`);
  const result = body.data.result;
  if (!Array.isArray(result)) throw new Error('prometheus answered a vector without a result list');
  return result.map((r: { metric?: unknown; value?: unknown }) => {
    if (typeof r !== 'object' || r === null || typeof r.metric !== 'object' || r.metric === null)
      throw new Error('prometheus answered a series without labels');
    return { metric: r.metric as Record<string, string>, value: sampleValue(r.value) };
  });
}

/** A sum without `by`: exactly one series. None is a missing series (no data), not zero. */
const single = (what: string, series: readonly PromSeries[]): number => {
  if (series.length === 0) throw new Error(`no ${what} series in the window`);
  if (series.length > 1) throw new Error(`${series.length} ${what} series, expected one sum`);
  return series[0]!.value;
};

/** The trailing window straight from Prometheus (it already handles resets per series, across pods). */
async function queryPrometheusWindow(
  fetchFn: Fetch,
  promUrl: string,
  env: Pick<EnvironmentDefinition, 'namespace' | 'rollback'>,
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<WindowTraffic | { problem: string }> {
  const q = triggerQueries(env);
  try {
    const [req, err, bk] = await Promise.all(
      [q.requests, q.errors, q.buckets].map((x) => instantQuery(fetchFn, promUrl, x, timeoutMs, abort)),
    );
    const buckets: Bucket[] = bk!
      .map((r) => {
        const le = r.metric.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(r.metric.le);
        if (r.metric.le === undefined || Number.isNaN(le))
          throw new Error(`a latency bucket has le=${String(r.metric.le)}`);
        return { le, count: r.value };
      })
      .sort((a, b) => a.le - b.le);
    // Kept fractional (increase() extrapolates) so the comparisons match the alert rules exactly.
    return {
      requests: single('request', req!),
      errors: single('error', err!),
      buckets,
      spanSeconds: env.rollback.rateWindowSeconds,
      resets: 0,
    };
  } catch (err) {
    return { problem: `no data: ${describe(err)}` };
  }
}

export interface PollerOptions {
  readonly url: string;
  /** Read traffic from this Prometheus instead of the service's /metrics. */
  readonly prometheusUrl?: string | undefined;
  readonly env: Pick<EnvironmentDefinition, 'namespace' | 'rollback'>;
  readonly timeoutMs: number;
  readonly fetch?: Fetch;
  readonly now?: () => number;
  /** Health check failures are logged here with their cause (the evaluator only sees ok / not ok). */
  readonly onHealthFailure?: (detail: string) => void;
}

/** One poll: the health check and the traffic read, side by side. */
export function servicePoller(o: PollerOptions): (at: number, abort?: AbortSignal) => Promise<PollResult> {
  const f = o.fetch ?? fetch;
  const now = o.now ?? Date.now;
  return async (at, abort) => {
    const [health, traffic] = await Promise.all([
      checkHealth(f, o.url, o.timeoutMs, abort),
      o.prometheusUrl
        ? queryPrometheusWindow(f, o.prometheusUrl, o.env, o.timeoutMs, abort)
        : scrapeMetrics(f, o.url, o.timeoutMs, now, abort),
    ]);
    if (abort?.aborted) return { at, health: false, problem: 'aborted' };
    if (!health.ok) o.onHealthFailure?.(health.detail);
    if ('problem' in traffic) return { at, health: health.ok, problem: traffic.problem };
    return 'at' in traffic ? { at, health: health.ok, snapshot: traffic } : { at, health: health.ok, window: traffic };
  };
}
