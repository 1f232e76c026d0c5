/**
 * The load client's connections to one service, kept between runs so alternating rounds do not pay a
 * fresh connect each time. An idle connection is reused only while the server still keeps it (its
 * `Keep-Alive: timeout` less a second, or 4 s when it does not say, as undici does): a request written
 * to a connection the server is closing would fail through no fault of the service, and it may not be
 * sent again (request.ts), so stale ones are closed instead of reused.
 */
import type { TransportFailure } from '../verdict.js';
import type { Connection, ConnectionEvents, Dial } from './connection.js';
import type { Clock } from './clock.js';

/** Reuse an idle connection for at most this long when the server gives no hint (undici's default). */
export const DEFAULT_KEEP_ALIVE_MS = 4000;
/** Stop reusing this long before the server's own keep-alive timeout. */
export const KEEP_ALIVE_MARGIN_MS = 1000;

/** What the run in progress hears from the pool. */
export interface PoolListener {
  /** Request i was answered; `free` is its connection when it can take the next request. */
  answered(i: number, status: number, free: Connection | undefined): void;
  /** Request i got no answer; its connection is gone. */
  failed(i: number, kind: TransportFailure, written: boolean): void;
}

export class ConnectionPool implements ConnectionEvents {
  readonly all = new Set<Connection>();
  private readonly idle: Connection[] = [];
  listener: PoolListener | undefined;

  constructor(
    private readonly dial: Dial,
    readonly max: number,
    private readonly clock: Clock,
  ) {}

  get canOpen(): boolean {
    return this.all.size < this.max;
  }

  open(): Connection {
    const c = this.dial(this);
    this.all.add(c);
    return c;
  }

  /** The most recently used idle connection the server still keeps; stale ones are closed on the way. */
  takeIdle(): Connection | undefined {
    const now = this.clock.now();
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      if (now < c.reuseUntil) return c;
      this.discard(c);
    }
    return undefined;
  }

  release(c: Connection): void {
    this.idle.push(c);
  }

  /** Closes it and forgets it, without a failure (a timeout, or the end of the client). */
  discard(c: Connection): void {
    this.forget(c);
    c.close();
  }

  closeAll(): void {
    for (const c of [...this.all]) this.discard(c);
  }

  answered(c: Connection, status: number, keepAliveMs: number | undefined): void {
    const i = c.request;
    c.request = -1;
    if (keepAliveMs === -1) this.discard(c);
    else
      c.reuseUntil =
        this.clock.now() + (keepAliveMs === undefined ? DEFAULT_KEEP_ALIVE_MS : keepAliveMs - KEEP_ALIVE_MARGIN_MS);
    if (i >= 0) this.listener?.answered(i, status, keepAliveMs === -1 ? undefined : c);
  }

  failed(c: Connection, kind: TransportFailure, written: boolean): void {
    const i = c.request;
    c.request = -1;
    this.forget(c);
    if (i >= 0) this.listener?.failed(i, kind, written);
  }

  private forget(c: Connection): void {
    this.all.delete(c);
    const at = this.idle.indexOf(c);
    if (at >= 0) this.idle.splice(at, 1);
  }
}
