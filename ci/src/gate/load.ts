/**
 * Open-model load on one route: request i has an intended send time start + i / rate, fixed before the
 * run and independent of when earlier responses come back; its latency is response end minus that
 * intended time, so a stall in the service shows up in every request scheduled during it (no
 * coordinated omission). Connections open as the schedule needs them, up to `maxConcurrency`; a request
 * due while all of them are busy waits in the client's queue, and that wait is part of its latency.
 * When the client itself cannot keep the schedule (a send later than `lateToleranceMs`, or the cap
 * reached), it is counted and reported: the verdict turns that into "inconclusive", never a pass.
 *
 * Thin I/O edge of the gate on undici's Pool (its dispatch API: no streams or promises per request).
 * Libraries looked at: autocannon (closed model: a fixed set of connections, each sends after the
 * previous response, its rate is a per-second quota that lets a connection catch up after a stall);
 * loadtest 8 (open with --rps, but latency starts at the actual send, no concurrency cap or late-send
 * accounting, only summary percentiles); k6 and artillery (a Go binary download, or a heavy install
 * with its own runtime). None measures from an intended send time, so this is a small scheduler.
 */
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';

export interface LoadRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface ScheduleOptions {
  /** Requests per second of the fixed schedule. */
  readonly rate: number;
  readonly durationSeconds: number;
  /** A send later than this after its intended time counts as late. */
  readonly lateToleranceMs: number;
  /** Per request: headers and body each within this, and the whole run drains within it. */
  readonly timeoutMs: number;
  /** Called about once a second with responses so far. */
  readonly onTick?: (responses: number) => void;
}

export interface LoadResult {
  /** Schedule length (rate x duration seconds' worth of intended sends). */
  readonly scheduledSeconds: number;
  /** Wall time from the first intended send to the last response or timeout. */
  readonly elapsedSeconds: number;
  readonly scheduled: number;
  readonly sent: number;
  /** Responses of any status. */
  readonly responses: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** Sends later than the tolerance, and the latest one (ms after its intended time). */
  readonly lateSends: number;
  readonly maxLateMs: number;
  /** Requests that were due while `maxConcurrency` were already in flight (they queued in the client). */
  readonly capWaits: number;
  readonly maxInFlight: number;
  readonly maxConcurrency: number;
  /**
   * Latency in ms (response end, or the moment it was given up, minus intended send time) of every
   * response and every timeout, in schedule order. Timeouts are in at the time they were given up:
   * leaving them out would make a stalled service look faster.
   */
  readonly latenciesMs: Float64Array;
  /** Intended send time (ms from the start of the schedule) of each entry of `latenciesMs`. */
  readonly intendedMs: Float64Array;
}

export interface LoadClient {
  run(o: ScheduleOptions): Promise<LoadResult>;
  close(): Promise<void>;
}

const isTimeout = (err: Error & { code?: string }) =>
  err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT' || err.code === 'UND_ERR_CONNECT_TIMEOUT' || err.name === 'TimeoutError';

/**
 * One route's client: keeps its connections between runs, so alternating rounds (baseline, candidate,
 * ...) do not pay a fresh connect each time.
 */
export function createLoadClient(req: LoadRequest, maxConcurrency: number): LoadClient {
  if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
  const url = new URL(req.url);
  const pool = new Pool(url.origin, { connections: maxConcurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  const path = url.pathname + url.search;
  const headers: Record<string, string> = { ...req.headers };
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  if (body) headers['content-length'] = String(body.length);

  const run = (o: ScheduleOptions): Promise<LoadResult> =>
    new Promise((resolve) => {
      if (!(o.rate > 0) || !(o.durationSeconds > 0)) throw new RangeError(`rate and duration must be positive, got ${o.rate}/s for ${o.durationSeconds}s`);
      const total = Math.max(1, Math.round(o.rate * o.durationSeconds));
      const intervalMs = 1000 / o.rate;
      const latencies = new Float64Array(total).fill(Number.NaN);
      const statusCodes: Record<string, number> = {};
      let sent = 0;
      let done = 0;
      let responses = 0;
      let non2xx = 0;
      let socketErrors = 0;
      let timeouts = 0;
      let lateSends = 0;
      let maxLateMs = 0;
      let capWaits = 0;
      let inFlight = 0;
      let maxInFlight = 0;
      let finished = false;
      const settled = new Uint8Array(total);
      const controllers: (Dispatcher.DispatchController | undefined)[] = new Array<Dispatcher.DispatchController | undefined>(total);
      const start = performance.now() + 5;
      const intendedOf = (i: number) => start + i * intervalMs;

      const settle = (i: number, kind: 'response' | 'socket' | 'timeout', status = 0) => {
        if (settled[i] || finished) return;
        settled[i] = 1;
        inFlight--;
        done++;
        const end = performance.now();
        if (kind === 'response') {
          responses++;
          statusCodes[status] = (statusCodes[status] ?? 0) + 1;
          if (status < 200 || status > 299) non2xx++;
          latencies[i] = end - intendedOf(i);
        } else if (kind === 'timeout') {
          timeouts++;
          latencies[i] = end - intendedOf(i);
        } else {
          socketErrors++;
        }
        if (done === total) finish();
      };

      const send = (i: number, now: number) => {
        const late = now - intendedOf(i);
        if (late > o.lateToleranceMs) lateSends++;
        if (late > maxLateMs) maxLateMs = late;
        if (inFlight >= maxConcurrency) capWaits++;
        inFlight++;
        if (inFlight > maxInFlight) maxInFlight = inFlight;
        sent++;
        let status = 0;
        const handler: Dispatcher.DispatchHandler = {
          onRequestStart: (controller) => {
            controllers[i] = controller;
          },
          onResponseStart: (_c, statusCode) => {
            status = statusCode;
          },
          onResponseData: () => undefined,
          onResponseEnd: () => settle(i, 'response', status),
          onResponseError: (_c, err) => settle(i, isTimeout(err) ? 'timeout' : 'socket'),
        };
        pool.dispatch({ path, method: req.method, headers, body, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs }, handler);
      };

      let next = 0;
      let timer: NodeJS.Timeout | undefined;
      const pump = () => {
        const now = performance.now();
        while (next < total && intendedOf(next) <= now) send(next++, now);
        if (next < total) timer = setTimeout(pump, Math.max(0, intendedOf(next) - performance.now()));
        else drain = setTimeout(giveUp, o.timeoutMs + 1_000);
      };
      let drain: NodeJS.Timeout | undefined;
      // Whatever has not answered a timeout after the last send is given up: a timeout at its age.
      const giveUp = () => {
        for (let i = 0; i < total; i++) {
          if (settled[i]) continue;
          settle(i, 'timeout');
          controllers[i]?.abort(new Error('gate: given up at the end of the run'));
        }
        finish();
      };
      let ticker: NodeJS.Timeout | undefined;
      if (o.onTick) ticker = setInterval(() => o.onTick!(responses), 1000);
      const finish = () => {
        if (finished) return;
        finished = true;
        if (timer) clearTimeout(timer);
        if (drain) clearTimeout(drain);
        if (ticker) clearInterval(ticker);
        const elapsedSeconds = (performance.now() - start) / 1000;
        const keep: number[] = [];
        for (let i = 0; i < total; i++) if (!Number.isNaN(latencies[i]!)) keep.push(i);
        resolve({
          scheduledSeconds: total / o.rate,
          elapsedSeconds,
          scheduled: total,
          sent,
          responses,
          non2xx,
          socketErrors,
          timeouts,
          statusCodes,
          lateSends,
          maxLateMs,
          capWaits,
          maxInFlight,
          maxConcurrency,
          latenciesMs: Float64Array.from(keep, (i) => latencies[i]!),
          intendedMs: Float64Array.from(keep, (i) => i * intervalMs),
        });
      };
      timer = setTimeout(pump, Math.max(0, start - performance.now()));
    });

  return { run, close: () => pool.destroy() };
}

/** One run on a fresh client (warm-ups, benchmarks). */
export async function runLoad(req: LoadRequest & ScheduleOptions & { readonly maxConcurrency: number }): Promise<LoadResult> {
  const client = createLoadClient(req, req.maxConcurrency);
  try {
    return await client.run(req);
  } finally {
    await client.close();
  }
}
