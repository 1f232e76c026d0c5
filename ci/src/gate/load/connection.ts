/**
 * One keep-alive HTTP/1.1 connection of the load client, one request at a time: a net/tls socket and
 * one response parser (http-parser-js, the parser autocannon uses) made once for the connection's life,
 * its handlers bound once, so a request costs a write and a parse, no allocation of callbacks. It tells
 * its owner two things: a complete answer (status, and how long the server keeps an idle connection),
 * or that it is gone (how, and whether any byte of the request in flight had been written, which is
 * what decides whether a request may be sent again: see request.ts).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { HTTPParser } from 'http-parser-js';
import type { TransportFailure } from '../verdict.js';

export interface ConnectionEvents {
  /**
   * The answer to the request in flight is complete. `keepAliveMs`: how long the server said it keeps
   * the connection idle (undefined when it did not say), or -1 when it will close it.
   */
  answered(c: Connection, status: number, keepAliveMs: number | undefined): void;
  /** The connection is gone; `written` says whether any byte of the request in flight went out. */
  failed(c: Connection, kind: TransportFailure, written: boolean): void;
}

export interface Connection {
  /** Schedule index of the request in flight, -1 when idle (the owner's bookkeeping). */
  request: number;
  /** Clock ms when that request was handed over (for the timeout sweep). */
  sentAt: number;
  /** Clock ms after which an idle connection is not reused (the server may be closing it). */
  reuseUntil: number;
  /** One request's bytes; they go out once the connection is established. */
  send(bytes: Buffer): void;
  /** Closes it without a `failed` event. */
  close(): void;
}

export type Dial = (events: ConnectionEvents) => Connection;

export interface SocketTarget {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
}

/** What a socket error means for the request on it. */
export function failureOf(err: { code?: string }): TransportFailure {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    default:
      return 'other';
  }
}

/** `Keep-Alive: timeout=N` in ms, from the parser's flat [name, value, ...] list; undefined when absent. */
export function keepAliveHintMs(headers: readonly string[]): number | undefined {
  for (let k = 0; k < headers.length; k += 2) {
    if (headers[k]!.length !== 10 || headers[k]!.toLowerCase() !== 'keep-alive') continue;
    const m = /(?:^|[\s,])timeout=(\d+)/i.exec(headers[k + 1]!);
    return m ? Number(m[1]) * 1000 : undefined;
  }
  return undefined;
}

class SocketConnection implements Connection {
  request = -1;
  sentAt = 0;
  reuseUntil = 0;
  private readonly socket: Socket;
  private readonly parser = new HTTPParser(HTTPParser.RESPONSE);
  private connected = false;
  private written = false;
  private pending: Buffer | undefined;
  private status = 0;
  private keepAliveMs: number | undefined;
  private gone = false;

  constructor(
    t: SocketTarget,
    private readonly events: ConnectionEvents,
  ) {
    this.socket = t.tls ? tlsConnect({ host: t.host, port: t.port, servername: t.host }) : netConnect(t);
    this.socket.setNoDelay(true);
    this.parser[HTTPParser.kOnHeadersComplete] = (info: {
      statusCode: number;
      shouldKeepAlive: boolean;
      headers: string[];
    }) => {
      this.status = info.statusCode;
      this.keepAliveMs = info.shouldKeepAlive ? keepAliveHintMs(info.headers) : -1;
    };
    this.parser[HTTPParser.kOnBody] = () => undefined;
    this.parser[HTTPParser.kOnMessageComplete] = () => this.events.answered(this, this.status, this.keepAliveMs);
    this.socket.on(t.tls ? 'secureConnect' : 'connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('end', () => this.onEnd());
    this.socket.on('error', (err: Error & { code?: string }) => this.fail(failureOf(err)));
    this.socket.on('close', () => this.fail('closed'));
  }

  send(bytes: Buffer): void {
    this.status = 0;
    if (!this.connected) {
      this.pending = bytes;
      return;
    }
    this.written = true;
    this.socket.write(bytes);
  }

  close(): void {
    this.gone = true;
    this.socket.destroy();
  }

  private onConnect(): void {
    this.connected = true;
    const bytes = this.pending;
    this.pending = undefined;
    if (bytes) this.send(bytes);
  }

  private onData(chunk: Buffer): void {
    if (this.parser.execute(chunk) instanceof Error) this.fail('malformed');
  }

  /** The server finished sending: an answer delimited by the close ends here, anything else was cut. */
  private onEnd(): void {
    if (this.request >= 0) this.parser.finish();
    this.fail('closed');
  }

  private fail(kind: TransportFailure): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.destroy();
    this.events.failed(this, kind, this.written);
  }
}

/** Dials `t`: a new connection per call. */
export function socketDialer(t: SocketTarget): Dial {
  return (events) => new SocketConnection(t, events);
}
