/**
 * The open-model load client for one route: requests go out on the fixed schedule (schedule.ts) over
 * kept-alive connections (pool.ts, connection.ts), up to `maxConcurrency` in flight; a request due while
 * all of them are busy waits in the client's queue and that wait is part of its latency, since latency
 * runs from the intended send time (no coordinated omission). Every request ends once (counters.ts): an
 * answer, a transport failure or a timeout; none is sent twice unless request.ts allows it.
 *
 * Libraries looked at: autocannon (closed model: a fixed set of connections, each sends after the
 * previous response, its rate a per-second quota that lets a connection catch up after a stall);
 * loadtest 8 (open with --rps, but latency starts at the actual send, no concurrency cap or late-send
 * accounting); k6 and artillery (a Go binary download, or a heavy install with its own runtime). None
 * measures from an intended send time, so this is a small scheduler on raw sockets with autocannon's
 * parser. Time and connections are edges (`LoadEdges`): tests run the same client on a simulated clock
 * and server.
 */
import type { LoadCounts } from '../verdict.js';
import { realClock, type Clock } from './clock.js';
import { socketDialer, type Connection, type Dial } from './connection.js';
import { LoadCounters } from './counters.js';
import { ConnectionPool, type PoolListener } from './pool.js';
import { bytesSource, mayResend, type LoadRequest } from './request.js';
import { OpenSchedule, type ScheduleSpec } from './schedule.js';

export interface ScheduleOptions extends ScheduleSpec {
  /** Per request: its answer within this (from when it was handed to a connection); the run drains within it. */
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
   * Latency in ms (answer end, or the moment it was given up, minus intended send time) of every answer
   * but 429s and of every timeout, in schedule order.
   */
  readonly latenciesMs: Float64Array;
  /** Intended send time (ms from the start of the schedule) of each entry of `latenciesMs`. */
  readonly intendedMs: Float64Array;
  /** The schedule's start as epoch ms, to line samples up with other clocks. */
  readonly startEpochMs: number;
}

export interface LoadClient {
  run(o: ScheduleOptions): Promise<LoadResult>;
  close(): Promise<void>;
}

/** Time and connections; both default to the real ones. */
export interface LoadEdges {
  readonly clock?: Clock;
  readonly dial?: Dial;
}

/** Delay before request 0, so the first batch is not late for the setup of the run itself. */
const START_DELAY_MS = 5;
/**
 * The client wakes at most once per this many ms and sends everything due then. A wake costs far more
 * CPU than a send (about 100 µs on a busy 2-core machine), so above 1000 / SEND_QUANTUM_MS req/s sends go
 * in batches, each at most this late (inside its latency, erring slow, alike for baseline and candidate).
 * At the gate's own rates (50-100 req/s) every send still gets its own wake at its intended time.
 */
export const SEND_QUANTUM_MS = 4;

/** One run of the schedule on the client's pool; it listens to the pool while it lasts. */
class ActiveRun implements PoolListener {
  readonly schedule: OpenSchedule;
  readonly counters: LoadCounters;
  private readonly queue: Int32Array;
  private queueHead = 0;
  private queueTail = 0;
  private readonly resent: Uint8Array;
  private readonly timers = new Set<unknown>();
  private finished = false;
  private wokeAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly pool: ConnectionPool,
    private readonly o: ScheduleOptions,
    private readonly req: { readonly method: LoadRequest['method']; readonly bytes: (i: number) => Buffer },
    private readonly clock: Clock,
    private readonly done: (r: LoadResult) => void,
  ) {
    this.schedule = new OpenSchedule(o, clock.now() + START_DELAY_MS);
    this.counters = new LoadCounters(this.schedule.total);
    this.queue = new Int32Array(this.schedule.total);
    this.resent = new Uint8Array(this.schedule.total);
  }

  start(): void {
    this.pool.listener = this;
    this.arm(this.schedule.msUntilNext(this.clock.now())!, this.pump);
    this.arm(Math.min(250, this.o.timeoutMs / 4), this.sweep);
    if (this.o.onTick) this.arm(1000, this.tick);
  }

  private arm(ms: number, fn: () => void): void {
    const t = this.clock.after(ms, () => {
      this.timers.delete(t);
      fn();
    });
    this.timers.add(t);
  }

  /** Sends every request due now in one batch, then sleeps until the next one is due (a quantum at least). */
  private readonly pump = (): void => {
    const now = this.clock.now();
    this.wokeAt = now;
    const { from, to } = this.schedule.takeDue(now);
    for (let i = from; i < to; i++) this.dispatch(i, now);
    if (this.finished) return;
    const after = this.clock.now();
    const wait = this.schedule.msUntilNext(after);
    if (wait === undefined) this.arm(this.o.timeoutMs + 1000, this.giveUp);
    else this.arm(Math.max(wait, this.wokeAt + SEND_QUANTUM_MS - after), this.pump);
  };

  private dispatch(i: number, now: number): void {
    this.counters.dispatched();
    const c = this.pool.takeIdle();
    if (c) this.send(c, i, now);
    else if (this.pool.canOpen) this.send(this.pool.open(), i, now);
    else {
      // Every connection is busy: the request waits in the client, and that wait is in its latency.
      this.counters.capWaits++;
      this.queue[this.queueTail++] = i;
    }
  }

  private send(c: Connection, i: number, now: number): void {
    c.request = i;
    c.sentAt = now;
    c.send(this.req.bytes(i));
  }

  answered(i: number, status: number, free: Connection | undefined): void {
    const now = this.clock.now();
    this.counters.answered(i, status, now - this.schedule.intendedAt(i));
    this.next(free, now);
  }

  failed(i: number, kind: Parameters<PoolListener['failed']>[1], written: boolean): void {
    const now = this.clock.now();
    if (this.counters.isPending(i) && mayResend(this.req.method, written, this.resent[i] === 1) && this.pool.canOpen) {
      this.resent[i] = 1;
      this.counters.retries++;
      this.send(this.pool.open(), i, now);
      return;
    }
    this.counters.failed(i, kind);
    this.next(undefined, now);
  }

  /** A request ended: its connection (if still usable) or its freed slot takes the next queued request. */
  private next(free: Connection | undefined, now: number): void {
    if (this.queueHead < this.queueTail) {
      const c = free ?? (this.pool.canOpen ? this.pool.open() : undefined);
      if (c) this.send(c, this.queue[this.queueHead++]!, now);
    } else if (free) this.pool.release(free);
    if (this.schedule.done && this.counters.complete) this.finish();
  }

  /** One sweep for every request's timeout: a timer per request would cost more than the request. */
  private readonly sweep = (): void => {
    const now = this.clock.now();
    for (const c of [...this.pool.all]) {
      if (c.request < 0 || now - c.sentAt <= this.o.timeoutMs) continue;
      const i = c.request;
      this.pool.discard(c);
      this.counters.timedOut(i, now - this.schedule.intendedAt(i));
      this.next(undefined, now);
    }
    if (!this.finished) this.arm(Math.min(250, this.o.timeoutMs / 4), this.sweep);
  };

  private readonly tick = (): void => {
    this.o.onTick?.(this.counters.responses);
    this.arm(1000, this.tick);
  };

  /** Whatever has not ended a timeout after the last send is given up: a timeout at its age. */
  private readonly giveUp = (): void => {
    const now = this.clock.now();
    for (let i = 0; i < this.schedule.total; i++)
      if (this.counters.isPending(i)) this.counters.timedOut(i, now - this.schedule.intendedAt(i));
    for (const c of [...this.pool.all]) if (c.request >= 0) this.pool.discard(c);
    this.finish();
  };

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.timers) this.clock.cancel(t);
    this.timers.clear();
    if (this.pool.listener === this) this.pool.listener = undefined;
    const now = this.clock.now();
    const counted = this.counters.result(this.schedule);
    const { sampleIndex, ...counts } = counted;
    this.done({
      ...counts,
      scheduledSeconds: this.schedule.total / this.o.rate,
      elapsedSeconds: (now - this.schedule.startMs) / 1000,
      maxConcurrency: this.pool.max,
      intendedMs: Float64Array.from(sampleIndex, (i) => i * this.schedule.intervalMs),
      startEpochMs: this.clock.epochMs(this.schedule.startMs),
    });
  }
}

/**
 * One route's client: keeps its connections between runs, so alternating rounds (baseline, candidate,
 * ...) do not pay a fresh connect each time. One run at a time.
 */
export function createLoadClient(req: LoadRequest, maxConcurrency: number, edges: LoadEdges = {}): LoadClient {
  if (!(Number.isInteger(maxConcurrency) && maxConcurrency >= 1))
    throw new RangeError(`maxConcurrency must be a positive integer, got ${maxConcurrency}`);
  const bytes = bytesSource(req);
  const clock = edges.clock ?? realClock;
  const url = new URL(req.url);
  const tls = url.protocol === 'https:';
  const dial =
    edges.dial ??
    socketDialer({ host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || (tls ? 443 : 80)), tls });
  const pool = new ConnectionPool(dial, maxConcurrency, clock);
  return {
    run: (o) =>
      new Promise((resolve) => {
        if (pool.listener) throw new Error('the load client runs one schedule at a time');
        new ActiveRun(pool, o, { method: req.method, bytes }, clock, resolve).start();
      }),
    close: async () => pool.closeAll(),
  };
}

/** One run on a fresh client (warm-ups, benchmarks). */
export async function runLoad(
  req: LoadRequest & ScheduleOptions & { readonly maxConcurrency: number },
  edges: LoadEdges = {},
): Promise<LoadResult> {
  const client = createLoadClient(req, req.maxConcurrency, edges);
  try {
    return await client.run(req);
  } finally {
    await client.close();
  }
}
