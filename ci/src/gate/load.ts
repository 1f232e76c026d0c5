/**
 * Drives one route with autocannon at a fixed rate and records every response's latency itself in an
 * HDR histogram (autocannon's own summary has no p95 and skips non-2xx). Thin I/O edge of the gate.
 */
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from './verdict.js';

export interface LoadRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface LoadOptions extends LoadRequest {
  readonly rate: number;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly timeoutSeconds?: number;
  /** Called about once a second with responses so far. */
  readonly onTick?: (responses: number) => void;
}

export interface LoadResult {
  readonly elapsedSeconds: number;
  readonly responses: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly timeouts: number;
  readonly statusCodes: Record<string, number>;
  readonly latency?: LatencySummary;
  readonly percentiles: [number, number][];
}

export const CHART_PERCENTILES = [50, 75, 90, 95, 99, 99.9, 100] as const;

/**
 * autocannon spreads `overallRate` over connections as whole requests per second; a connection given 0
 * would run unthrottled, so never open more connections than requests per second.
 */
export function effectiveConnections(rate: number, connections: number): number {
  return Math.max(1, Math.min(connections, Math.floor(rate)));
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  if (!(o.rate >= 1)) throw new RangeError(`request rate must be at least 1 per second, got ${o.rate}`);
  // Microseconds, 3 significant digits: 1 µs .. 60 s with 0.1% precision.
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
  const statusCodes: Record<string, number> = {};
  let responses = 0;
  let non2xx = 0;
  let socketErrors = 0;
  let timeouts = 0;
  const started = performance.now();
  let finish!: (err: Error | null) => void;
  const done = new Promise<void>((resolve, reject) => {
    finish = (err) => (err ? reject(err) : resolve());
  });
  const instance = autocannon(
    {
      url: o.url,
      method: o.method,
      headers: { ...o.headers },
      body: o.body,
      overallRate: o.rate,
      connections: effectiveConnections(o.rate, o.connections),
      duration: o.durationSeconds,
      timeout: o.timeoutSeconds ?? 10,
      pipelining: 1,
    },
    (err) => finish(err ?? null),
  );
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    responses++;
    statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
    if (statusCode < 200 || statusCode > 299) non2xx++;
    histogram.recordValue(Math.max(1, Math.round(responseTimeMs * 1000)));
  });
  instance.on('reqError', (err: Error) => {
    if (/timed out/.test(err.message)) timeouts++;
    else socketErrors++;
  });
  let ticker: NodeJS.Timeout | undefined;
  if (o.onTick) ticker = setInterval(() => o.onTick!(responses), 1000);
  try {
    await done;
  } finally {
    if (ticker) clearInterval(ticker);
  }
  const elapsedSeconds = (performance.now() - started) / 1000;
  const ms = (p: number) => histogram.getValueAtPercentile(p) / 1000;
  const latency: LatencySummary | undefined =
    responses === 0
      ? undefined
      : { p50: ms(50), p90: ms(90), p95: ms(95), p99: ms(99), max: histogram.maxValue / 1000, min: histogram.minNonZeroValue / 1000, mean: histogram.mean / 1000 };
  const percentiles: [number, number][] = responses === 0 ? [] : CHART_PERCENTILES.map((p) => [p, ms(p)]);
  histogram.destroy();
  return { elapsedSeconds, responses, non2xx, socketErrors, timeouts, statusCodes, latency, percentiles };
}
