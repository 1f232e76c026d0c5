/**
 * The open model's fixed schedule, pure: request i is due at start + i / rate, whatever happened to
 * earlier requests. `takeDue(now)` hands out every request due by `now` in one batch (one timer wake
 * sends them all) and counts how late each went out: a send later than the tolerance means the client,
 * not the service, delayed it, and the verdict turns too many of those into "inconclusive".
 */

export interface ScheduleSpec {
  /** Requests per second. */
  readonly rate: number;
  readonly durationSeconds: number;
  /** A send later than this after its intended time counts as late. */
  readonly lateToleranceMs: number;
}

export class OpenSchedule {
  readonly total: number;
  readonly intervalMs: number;
  /** Next request not yet handed out. */
  next = 0;
  lateSends = 0;
  maxLateMs = 0;

  constructor(
    spec: ScheduleSpec,
    /** Clock time (ms) of request 0's intended send. */
    readonly startMs: number,
  ) {
    if (!(spec.rate > 0) || !(spec.durationSeconds > 0) || !Number.isFinite(spec.rate * spec.durationSeconds))
      throw new RangeError(`rate and duration must be positive, got ${spec.rate}/s for ${spec.durationSeconds}s`);
    this.total = Math.max(1, Math.round(spec.rate * spec.durationSeconds));
    this.intervalMs = 1000 / spec.rate;
    this.tolerance = spec.lateToleranceMs;
  }

  private readonly tolerance: number;

  /** Intended send time of request i (clock ms). */
  intendedAt(i: number): number {
    return this.startMs + i * this.intervalMs;
  }

  get done(): boolean {
    return this.next >= this.total;
  }

  /**
   * Requests due by `now`: [from, to), all sent at `now`; each one more than the tolerance after its
   * intended time is a late send.
   */
  takeDue(now: number): { readonly from: number; readonly to: number } {
    const from = this.next;
    let to = from;
    while (to < this.total && this.intendedAt(to) <= now) to++;
    // Lateness falls along the batch (later requests were intended later): count until the first on time.
    for (let i = from; i < to && now - this.intendedAt(i) > this.tolerance; i++) this.lateSends++;
    if (to > from) this.maxLateMs = Math.max(this.maxLateMs, now - this.intendedAt(from));
    this.next = to;
    return { from, to };
  }

  /** Clock ms until the next request is due (0 when it already is); undefined when all were handed out. */
  msUntilNext(now: number): number | undefined {
    return this.done ? undefined : Math.max(0, this.intendedAt(this.next) - now);
  }
}
