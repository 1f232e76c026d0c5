/**
 * Open-model load on one route: request i has an intended send time start + i / rate, fixed before the
 * run and independent of when earlier responses come back; its latency is response end minus that
 * intended time, so a stall in the service shows up in every request scheduled during it (no
 * coordinated omission). Connections open as the schedule needs them, up to `maxConcurrency`; a request
 * due while all of them are busy waits in the client's queue, and that wait is part of its latency.
 * When the client itself cannot keep the schedule (a send later than `lateToleranceMs`, or the cap
 * reached), it is counted and reported: the verdict turns that into "inconclusive", never a pass.
 *
 * Thin I/O edge of the gate: keep-alive HTTP/1.1 connections on net/tls sockets, one request at a
 * time each, responses parsed by http-parser-js (the parser autocannon uses), the request bytes built
 * once. Libraries looked at: autocannon (closed model: a fixed set of connections, each sends after
 * the previous response, its rate a per-second quota that lets a connection catch up after a stall);
 * loadtest 8 (open with --rps, but latency starts at the actual send, no concurrency cap or late-send
 * accounting, only summary percentiles); k6 and artillery (a Go binary download, or a heavy install
 * with its own runtime). None measures from an intended send time, so this is a small scheduler. It
 * first ran on undici's Pool (dispatch API), which cost 4-6x autocannon's CPU per request here
 * (bench/gate-cost.ts); raw sockets with the same parser as autocannon bring that down.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HTTPParser } from 'http-parser-js';
import type { LoadCounts } from './verdict.js';

export interface LoadRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** A different path (and query) per request, e.g. to miss every cache; default the URL's own. */
  readonly pathOf?: (i: number) => string;
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

export interface LoadResult extends LoadCounts {
  /** Schedule length (rate x duration seconds' worth of intended sends). */
  readonly scheduledSeconds: number;
  /** Wall time from the first intended send to the last response or timeout. */
  readonly elapsedSeconds: number;
  readonly maxConcurrency: number;
  /**
   * Latency in ms (response end, or the moment it was given up, minus intended send time) of every
   * response and every timeout, in schedule order. Timeouts are in at the time they were given up:
   * leaving them out would make a stalled service look faster.
   */
  readonly latenciesMs: Float64Array;
  /** Intended send time (ms from the start of the schedule) of each entry of `latenciesMs`. */
  readonly intendedMs: Float64Array;
  /** The schedule's start as epoch ms (performance.timeOrigin based), to line samples up with other clocks. */
  readonly startEpochMs: number;
}

export interface LoadClient {
  run(o: ScheduleOptions): Promise<LoadResult>;
  close(): Promise<void>;
}

/** Bytes of one request: request line, headers and body, built once per path. */
function requestBytes(req: LoadRequest, url: URL, path: string): Buffer {
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const lines = [`${req.method} ${path} HTTP/1.1`, `host: ${url.host}`, 'connection: keep-alive'];
  for (const [k, v] of Object.entries(req.headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new RangeError(`header ${k}: no line breaks allowed`);
    if (!/^(host|connection|content-length)$/i.test(k)) lines.push(`${k}: ${v}`);
  }
  if (body || req.method === 'POST') lines.push(`content-length: ${body?.length ?? 0}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

interface Conn {
  readonly socket: Socket;
  /** Schedule index of the request it is serving, -1 when free. */
  busy: number;
  /** When that request went onto the socket (for the timeout sweep). */
  sentAt: number;
  status: number;
  dead: boolean;
  /** Answered a request before: a close on reuse before any byte of the next answer is a stale keep-alive. */
  reused: boolean;
  gotBytes: boolean;
}

interface RunState {
  settle(i: number, kind: 'response' | 'socket' | 'timeout', status?: number): void;
}

/**
 * One route's client: keeps its connections between runs, so alternating rounds (baseline, candidate,
 * ...) do not pay a fresh connect each time.
 */
export function createLoadClient(req: LoadRequest, maxConcurrency: number): LoadClient {
  if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1))
    throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
  const url = new URL(req.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new RangeError(`expected an http(s) URL, got ${url.protocol}`);
  const tls = url.protocol === 'https:';
  const port = Number(url.port || (tls ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const fixed = requestBytes(req, url, url.pathname + url.search);
  const bytesOf = req.pathOf ? (i: number) => requestBytes(req, url, req.pathOf!(i)) : () => fixed;
  const conns = new Set<Conn>();
  const free: Conn[] = [];
  let queue: number[] = [];
  let state: RunState | undefined;

  const write = (c: Conn, i: number) => {
    c.busy = i;
    c.sentAt = performance.now();
    c.status = 0;
    c.gotBytes = false;
    c.socket.write(bytesOf(i));
  };
  const next = (c: Conn) => {
    const i = queue.shift();
    if (i === undefined) {
      c.busy = -1;
      free.push(c);
    } else write(c, i);
  };
  const drop = (c: Conn, kind: 'socket' | 'timeout') => {
    if (c.dead) return;
    c.dead = true;
    conns.delete(c);
    const at = free.indexOf(c);
    if (at >= 0) free.splice(at, 1);
    c.socket.destroy();
    const i = c.busy;
    c.busy = -1;
    // The server closed an idle keep-alive connection just as it was reused: send again, once, on a new one.
    if (i >= 0 && kind === 'socket' && c.reused && !c.gotBytes && state) {
      if (conns.size < maxConcurrency) open(i);
      else queue.unshift(i);
      return;
    }
    if (i >= 0) state?.settle(i, kind);
    // Whatever queued behind it is still owed a connection.
    if (queue.length > 0 && conns.size < maxConcurrency) open(queue.shift()!);
  };
  const open = (i: number) => {
    const socket = tls ? tlsConnect({ host, port, servername: host }) : netConnect({ host, port });
    socket.setNoDelay(true);
    const c: Conn = { socket, busy: -1, sentAt: 0, status: 0, dead: false, reused: false, gotBytes: false };
    conns.add(c);
    const parser = new HTTPParser(HTTPParser.RESPONSE);
    parser[HTTPParser.kOnHeadersComplete] = (info) => {
      c.status = info.statusCode;
    };
    parser[HTTPParser.kOnBody] = () => undefined;
    parser[HTTPParser.kOnMessageComplete] = () => {
      const done = c.busy;
      const status = c.status;
      if (done >= 0) state?.settle(done, 'response', status);
      c.busy = -1;
      c.reused = true;
      if (!c.dead) next(c);
    };
    socket.on('data', (chunk: Buffer) => {
      c.gotBytes = true;
      const r = parser.execute(chunk);
      if (r instanceof Error) drop(c, 'socket');
    });
    socket.on('error', () => drop(c, 'socket'));
    socket.on('close', () => drop(c, 'socket'));
    write(c, i);
  };

  const run = (o: ScheduleOptions): Promise<LoadResult> =>
    new Promise((resolve, reject) => {
      if (!(o.rate > 0) || !(o.durationSeconds > 0)) {
        reject(new RangeError(`rate and duration must be positive, got ${o.rate}/s for ${o.durationSeconds}s`));
        return;
      }
      const total = Math.max(1, Math.round(o.rate * o.durationSeconds));
      const intervalMs = 1000 / o.rate;
      const latencies = new Float64Array(total).fill(Number.NaN);
      const settled = new Uint8Array(total);
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
      queue = [];
      const start = performance.now() + 5;
      const intendedOf = (i: number) => start + i * intervalMs;

      state = {
        settle(i, kind, status = 0) {
          if (finished || settled[i]) return;
          settled[i] = 1;
          inFlight--;
          done++;
          if (kind === 'response') {
            responses++;
            statusCodes[status] = (statusCodes[status] ?? 0) + 1;
            if (status < 200 || status > 299) non2xx++;
            latencies[i] = performance.now() - intendedOf(i);
          } else if (kind === 'timeout') {
            timeouts++;
            latencies[i] = performance.now() - intendedOf(i);
          } else {
            socketErrors++;
          }
          if (done === total) finish();
        },
      };

      const send = (i: number, now: number) => {
        const late = now - intendedOf(i);
        if (late > o.lateToleranceMs) lateSends++;
        if (late > maxLateMs) maxLateMs = late;
        sent++;
        inFlight++;
        if (inFlight > maxInFlight) maxInFlight = inFlight;
        const c = free.pop();
        if (c) write(c, i);
        else if (conns.size < maxConcurrency) open(i);
        else {
          // Every connection is busy: the request waits in the client, and that wait is in its latency.
          capWaits++;
          queue.push(i);
        }
      };

      let nextIndex = 0;
      let timer: NodeJS.Timeout | undefined;
      let drain: NodeJS.Timeout | undefined;
      const pump = () => {
        const now = performance.now();
        while (nextIndex < total && intendedOf(nextIndex) <= now) send(nextIndex++, now);
        if (nextIndex < total) timer = setTimeout(pump, Math.max(0, intendedOf(nextIndex) - performance.now()));
        else drain = setTimeout(giveUp, o.timeoutMs + 1_000);
      };
      // One sweep for every request's timeout: a timer per request would cost more than the request.
      const sweep = setInterval(
        () => {
          const now = performance.now();
          for (const c of [...conns]) if (c.busy >= 0 && now - c.sentAt > o.timeoutMs) drop(c, 'timeout');
        },
        Math.min(250, o.timeoutMs / 4),
      );
      // Whatever has not answered a timeout after the last send is given up: a timeout at its age.
      const giveUp = () => {
        for (let i = 0; i < total; i++) if (!settled[i]) state?.settle(i, 'timeout');
        for (const c of [...conns]) if (c.busy >= 0) drop(c, 'timeout');
        finish();
      };
      let ticker: NodeJS.Timeout | undefined;
      if (o.onTick) ticker = setInterval(() => o.onTick!(responses), 1000);
      const finish = () => {
        if (finished) return;
        finished = true;
        state = undefined;
        queue = [];
        if (timer) clearTimeout(timer);
        if (drain) clearTimeout(drain);
        clearInterval(sweep);
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
          startEpochMs: performance.timeOrigin + start,
        });
      };
      timer = setTimeout(pump, Math.max(0, start - performance.now()));
    });

  const close = async () => {
    for (const c of [...conns]) {
      c.dead = true;
      c.socket.destroy();
    }
    conns.clear();
    free.length = 0;
  };
  return { run, close };
}

/** One run on a fresh client (warm-ups, benchmarks). */
export async function runLoad(
  req: LoadRequest & ScheduleOptions & { readonly maxConcurrency: number },
): Promise<LoadResult> {
  const client = createLoadClient(req, req.maxConcurrency);
  try {
    return await client.run(req);
  } finally {
    await client.close();
  }
}
