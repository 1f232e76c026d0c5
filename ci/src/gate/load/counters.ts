/**
 * What one run counts, pure: each scheduled request ends exactly once, as an answer (its status), a
 * transport failure (its kind) or a timeout, and everything the verdict reads is derived from those ends.
 * Latency samples are kept for answers other than 429 (a rate-limit refusal is not service latency) and
 * for timeouts at the moment they were given up (leaving those out would make a stalled service look
 * faster); a transport failure is an error of its request with no latency.
 */
import { TRANSPORT_FAILURES, type LoadCounts, type TransportFailure } from '../verdict.js';

const PENDING = 0;
const ENDED = 1;

export interface CountedRun extends LoadCounts {
  /** Latency samples (ms from intended send time), in schedule order. */
  readonly latenciesMs: Float64Array;
  /** Schedule index of each sample. */
  readonly sampleIndex: Uint32Array;
}

export class LoadCounters {
  sent = 0;
  inFlight = 0;
  maxInFlight = 0;
  capWaits = 0;
  retries = 0;
  responses = 0;
  ended = 0;
  private non2xx = 0;
  private rateLimited = 0;
  private serverErrors = 0;
  private timeouts = 0;
  private readonly failures: Record<TransportFailure, number> = {
    refused: 0,
    reset: 0,
    closed: 0,
    malformed: 0,
    other: 0,
  };
  private readonly byStatus = new Map<number, number>();
  private readonly latencies: Float64Array;
  private readonly state: Uint8Array;

  constructor(readonly total: number) {
    this.latencies = new Float64Array(total).fill(Number.NaN);
    this.state = new Uint8Array(total);
  }

  get complete(): boolean {
    return this.ended === this.total;
  }

  isPending(i: number): boolean {
    return this.state[i] === PENDING;
  }

  /** A request went to a connection (or the client's queue). */
  dispatched(): void {
    this.sent++;
    if (++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  private end(i: number): boolean {
    if (this.state[i] !== PENDING) return false;
    this.state[i] = ENDED;
    this.inFlight--;
    this.ended++;
    return true;
  }

  answered(i: number, status: number, latencyMs: number): void {
    if (!this.end(i)) return;
    this.responses++;
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    if (status >= 200 && status <= 299) this.latencies[i] = latencyMs;
    else {
      this.non2xx++;
      if (status === 429) this.rateLimited++;
      else this.latencies[i] = latencyMs;
      if (status >= 500) this.serverErrors++;
    }
  }

  failed(i: number, kind: TransportFailure): void {
    if (this.end(i)) this.failures[kind]++;
  }

  timedOut(i: number, latencyMs: number): void {
    if (!this.end(i)) return;
    this.timeouts++;
    this.latencies[i] = latencyMs;
  }

  result(timing: { readonly lateSends: number; readonly maxLateMs: number }): CountedRun {
    const keep: number[] = [];
    for (let i = 0; i < this.total; i++) if (!Number.isNaN(this.latencies[i]!)) keep.push(i);
    const statusCodes: Record<string, number> = {};
    for (const [k, v] of [...this.byStatus].sort((a, b) => a[0] - b[0])) statusCodes[k] = v;
    return {
      scheduled: this.total,
      sent: this.sent,
      responses: this.responses,
      non2xx: this.non2xx,
      rateLimited: this.rateLimited,
      serverErrors: this.serverErrors,
      socketErrors: TRANSPORT_FAILURES.reduce((a, k) => a + this.failures[k], 0),
      transportFailures: { ...this.failures },
      timeouts: this.timeouts,
      retries: this.retries,
      statusCodes,
      lateSends: timing.lateSends,
      maxLateMs: timing.maxLateMs,
      capWaits: this.capWaits,
      maxInFlight: this.maxInFlight,
      latenciesMs: Float64Array.from(keep, (i) => this.latencies[i]!),
      sampleIndex: Uint32Array.from(keep),
    };
  }
}
