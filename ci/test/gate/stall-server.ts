/**
 * A server of known behaviour for gate tests and benchmarks: answers at once (a small JSON body,
 * like the service's routes, on every path and method) but freezes its event loop for `stallMs` every
 * `periodMs`, as a GC pause or a synchronous hot spot would. It runs in a worker thread so the freeze
 * never touches the caller's event loop (the load client's). Every freeze it made is reported back with
 * its real start and end (epoch ms), so a test can check the server did what it claims.
 *
 * Analytic truth at a fixed arrival rate over whole periods: a request arriving a uniform time into a
 * freeze waits for its end, so a share stallMs / periodMs of requests take U(0, stallMs] and the rest
 * ~0; for q above 1 - stallMs / periodMs the q-quantile is stallMs - periodMs * (1 - q).
 */
import { Worker } from 'node:worker_threads';

export interface StallPattern {
  readonly periodMs: number;
  readonly stallMs: number;
}

export interface StallServer {
  readonly url: string;
  /** Freezes so far: [start, end] in epoch ms. */
  stalls(): Promise<[number, number][]>;
  close(): Promise<void>;
}

/**
 * Latency each arrival would see from the freezes alone (ms): arriving inside [start, end) it waits
 * until end. The truth for the freezes that really happened, whatever a loaded machine did to the timer.
 */
export function truthFromStalls(arrivalsEpochMs: ArrayLike<number>, stalls: readonly [number, number][]): Float64Array {
  const out = new Float64Array(arrivalsEpochMs.length);
  for (let i = 0; i < arrivalsEpochMs.length; i++) {
    const t = arrivalsEpochMs[i]!;
    const hit = stalls.find(([a, b]) => t >= a && t < b);
    out[i] = hit ? hit[1] - t : 0;
  }
  return out;
}

/** The pattern's q-quantile of latency (ms) for open-model arrivals, above the base service time. */
export function analyticQuantile(p: StallPattern, q: number): number {
  const share = p.stallMs / p.periodMs;
  if (q <= 1 - share) return 0;
  return p.stallMs - p.periodMs * (1 - q);
}

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const { periodMs, stallMs } = workerData;
const now = () => performance.timeOrigin + performance.now();
const stalls = [];
const body = Buffer.from(JSON.stringify({ items: [{ id: 'tool-1', slug: 'tool-1' }], ok: true }));
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => { res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }); res.end(body); });
});
server.keepAliveTimeout = 60000;
let timer;
const first = now() + 50;
const at = (k) => first + k * periodMs;
let k = 0;
const plan = () => {
  timer = setTimeout(() => {
    // The freeze: a synchronous busy wait of stallMs from whenever the timer fired.
    const start = now();
    const end = start + stallMs;
    while (now() < end) {}
    stalls.push([start, now()]);
    k++;
    while (at(k) < now()) k++;
    plan();
  }, Math.max(0, at(k) - now()));
};
parentPort.on('message', (m) => {
  if (m === 'stalls') parentPort.postMessage({ stalls });
  if (m === 'close') { clearTimeout(timer); server.closeAllConnections(); server.close(() => parentPort.postMessage({ closed: true })); }
});
server.listen(0, '127.0.0.1', () => { plan(); parentPort.postMessage({ port: server.address().port }); });
`;

export async function startStallServer(pattern: StallPattern): Promise<StallServer> {
  const worker = new Worker(WORKER, { eval: true, workerData: pattern });
  const ask = <T>(msg: string, key: string): Promise<T> =>
    new Promise((resolve) => {
      const on = (m: Record<string, unknown>) => {
        if (key in m) {
          worker.off('message', on);
          resolve(m[key] as T);
        }
      };
      worker.on('message', on);
      if (msg) worker.postMessage(msg);
    });
  const port = await ask<number>('', 'port');
  return {
    url: `http://127.0.0.1:${port}`,
    stalls: () => ask<[number, number][]>('stalls', 'stalls'),
    close: async () => {
      await ask('close', 'closed');
      await worker.terminate();
    },
  };
}
