/** The load client's time: the real one, or a simulated one in tests (ci/test/gate/sim.ts). */
export interface Clock {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  after(ms: number, fn: () => void): unknown;
  cancel(timer: unknown): void;
  /** Epoch milliseconds of a `now()` reading, to line samples up with other clocks. */
  epochMs(t: number): number;
}

export const realClock: Clock = {
  now: () => performance.now(),
  after: (ms, fn) => setTimeout(fn, ms),
  cancel: (timer) => clearTimeout(timer as NodeJS.Timeout),
  epochMs: (t) => performance.timeOrigin + t,
};
