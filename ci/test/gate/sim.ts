/**
 * A simulated clock and server for the load client (ci/src/gate/load): the real client, schedule,
 * counters and pool, on virtual time, against a server whose every answer time is known in advance.
 * Deterministic: what it measures can be compared with the truth exactly, on any machine, however busy.
 *
 * - SimClock runs its events in time order as soon as the caller yields (one setImmediate); `stalls`
 *   freeze the client: nothing it is due to do inside a stall happens before the stall ends, as when its
 *   event loop is blocked or starved of CPU.
 * - simServer answers each request at `answerAt(arrival)` (a stall pattern, a fixed service time, ...),
 *   or fails it as `fate` says; it records every arrival, so a test can check nothing was sent twice.
 */
import type { Clock } from '../../src/gate/load/clock.js';
import type { Connection, ConnectionEvents, Dial } from '../../src/gate/load/connection.js';
import type { TransportFailure } from '../../src/gate/verdict.js';

interface SimEvent {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  live: boolean;
}

export class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly queue: SimEvent[] = [];
  private scheduled = false;

  constructor(private readonly stalls: readonly (readonly [number, number])[] = []) {}

  now(): number {
    return this.t;
  }

  epochMs(t: number): number {
    return t;
  }

  after(ms: number, fn: () => void): SimEvent {
    // Like setTimeout: at least a millisecond, never in the past.
    const e: SimEvent = { at: this.t + Math.max(1, ms), seq: this.seq++, fn, live: true };
    this.push(e);
    return e;
  }

  /** An I/O completion `ms` from now (no timer minimum). */
  io(ms: number, fn: () => void): void {
    this.push({ at: this.t + Math.max(0, ms), seq: this.seq++, fn, live: true });
  }

  cancel(timer: unknown): void {
    (timer as SimEvent).live = false;
  }

  private push(e: SimEvent): void {
    // Sorted insert from the end: most events land near the end of the queue.
    let k = this.queue.length;
    while (k > 0 && this.before(e, this.queue[k - 1]!)) k--;
    this.queue.splice(k, 0, e);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.runAll());
    }
  }

  private before(a: SimEvent, b: SimEvent): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  /** When the client can act on something due at `at`: after any stall covering it. */
  private ready(at: number): number {
    const hit = this.stalls.find(([a, b]) => at >= a && at < b);
    return hit ? hit[1] : at;
  }

  private runAll(): void {
    this.scheduled = false;
    for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) {
      if (!e.live) continue;
      this.t = Math.max(this.t, this.ready(e.at));
      e.fn();
    }
  }
}

/** What the server does with one request. */
export type Fate = { readonly status: number } | { readonly fail: TransportFailure };

export interface SimServerOptions {
  /** When the answer to a request arriving at `arrival` is complete (ms). */
  readonly answerAt: (arrival: number, n: number) => number;
  /** Default: every request answered 200. */
  readonly fate?: (n: number) => Fate;
  /** Connect time; default 0.2 ms. A refused connect fails after it. */
  readonly connectMs?: number;
  readonly refuseConnect?: (k: number) => boolean;
  /** Keep-Alive timeout the server announces (ms); default 60 s. */
  readonly keepAliveMs?: number;
}

export interface SimServer {
  readonly dial: Dial;
  /** Arrival time of every request received, in order. */
  readonly arrivals: number[];
  readonly connections: { opened: number };
}

class SimConnection implements Connection {
  request = -1;
  sentAt = 0;
  reuseUntil = 0;
  private connected = false;
  private pending = false;
  private closed = false;

  constructor(
    private readonly clock: SimClock,
    private readonly server: SimServer & { readonly o: SimServerOptions },
    private readonly events: ConnectionEvents,
    k: number,
  ) {
    clock.io(server.o.connectMs ?? 0.2, () => {
      if (this.closed) return;
      if (server.o.refuseConnect?.(k)) return this.fail('refused', false);
      this.connected = true;
      if (this.pending) this.deliver();
    });
  }

  send(): void {
    if (this.connected) this.deliver();
    else this.pending = true;
  }

  close(): void {
    this.closed = true;
  }

  private deliver(): void {
    this.pending = false;
    const arrival = this.clock.now();
    const n = this.server.arrivals.push(arrival) - 1;
    const fate = this.server.o.fate?.(n) ?? { status: 200 };
    this.clock.io(this.server.o.answerAt(arrival, n) - arrival, () => {
      if (this.closed) return;
      if ('fail' in fate) this.fail(fate.fail, true);
      else this.events.answered(this, fate.status, this.server.o.keepAliveMs ?? 60_000);
    });
  }

  private fail(kind: TransportFailure, written: boolean): void {
    this.closed = true;
    this.events.failed(this, kind, written);
  }
}

export function simServer(clock: SimClock, o: SimServerOptions): SimServer {
  const server = { arrivals: [] as number[], connections: { opened: 0 }, o } as SimServer & { o: SimServerOptions };
  (server as { dial: Dial }).dial = (events) => new SimConnection(clock, server, events, server.connections.opened++);
  return server;
}

/** A server that answers in `serviceMs` but freezes for `stallMs` every `periodMs` (from `firstMs`). */
export function stallPattern(p: { periodMs: number; stallMs: number; serviceMs?: number; firstMs?: number }) {
  const first = p.firstMs ?? 0;
  return (arrival: number): number => {
    const into = (((arrival - first) % p.periodMs) + p.periodMs) % p.periodMs;
    const start = arrival >= first && into < p.stallMs ? arrival + (p.stallMs - into) : arrival;
    return start + (p.serviceMs ?? 1);
  };
}
