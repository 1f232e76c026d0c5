/** A fake service and a fake clock: cumulative counters advanced poll by poll, fed to the monitor. */
import type { RollbackTriggers } from '../../../src/definitions/environments.js';
import {
  initialMonitor,
  monitorStep,
  type MonitorState,
  type MonitorStep,
} from '../../../src/operate/triggers/monitor.js';
import type { TrafficSnapshot } from '../../../src/operate/triggers/window.js';

const BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10, Number.POSITIVE_INFINITY];

export interface Tick {
  /** Requests per second during this poll interval. */
  rps: number;
  /** Share of those requests answered 5xx. */
  errorRatio?: number;
  /** Every request in the interval takes this long (seconds). */
  latency?: number;
  /** Health check result; undefined = none made. */
  health?: boolean | undefined;
  /** The process restarted during this interval: counters start again from zero. */
  restart?: boolean;
  /** The scrape failed: no snapshot this poll. */
  scrapeFails?: boolean;
  /** Slow or fast latency mix: this share of requests take `slowLatency`. */
  slowShare?: number;
  slowLatency?: number;
}

export class FakeService {
  requests = 0;
  errors = 0;
  counts = BOUNDS.map(() => 0);
  start = 1_000;
  /** Fractional requests carried over, so 0.05 of 7 requests adds up exactly across polls. */
  private carry = { req: 0, err: 0, slow: 0 };

  advance(seconds: number, tick: Tick): void {
    if (tick.restart) {
      this.requests = 0;
      this.errors = 0;
      this.counts = BOUNDS.map(() => 0);
      this.start += 1;
      this.carry = { req: 0, err: 0, slow: 0 };
    }
    this.carry.req += tick.rps * seconds;
    const n = Math.floor(this.carry.req + 1e-9);
    this.carry.req -= n;
    this.carry.err += n * (tick.errorRatio ?? 0);
    const e = Math.floor(this.carry.err + 1e-9);
    this.carry.err -= e;
    this.carry.slow += n * (tick.slowShare ?? 0);
    const slow = Math.floor(this.carry.slow + 1e-9);
    this.carry.slow -= slow;
    this.requests += n;
    this.errors += e;
    this.observe(n - slow, tick.latency ?? 0.02);
    this.observe(slow, tick.slowLatency ?? 0.02);
  }

  private observe(n: number, latency: number): void {
    BOUNDS.forEach((le, i) => {
      if (latency <= le) this.counts[i]! += n;
    });
  }

  snapshot(at: number): TrafficSnapshot {
    return {
      at,
      processStart: this.start,
      requests: this.requests,
      errors: this.errors,
      buckets: BOUNDS.map((le, i) => ({ le, count: this.counts[i]! })),
    };
  }
}

export interface Run {
  steps: (MonitorStep & { at: number })[];
  /** Seconds (from the run start) at which each trigger fired. */
  firedAt: Partial<Record<string, number>>;
}

/** Runs `ticks(i)` for `polls` polls of `t.pollSeconds`, starting the clock at an arbitrary epoch. */
export function simulate(t: RollbackTriggers, polls: number, ticks: (second: number) => Tick): Run {
  const t0 = 1_700_000_000_000;
  const svc = new FakeService();
  let state: MonitorState = initialMonitor();
  const steps: Run['steps'] = [];
  const firedAt: Run['firedAt'] = {};
  for (let i = 0; i <= polls; i++) {
    const second = i * t.pollSeconds;
    const at = t0 + second * 1000;
    const tick = ticks(second);
    if (i > 0) svc.advance(t.pollSeconds, tick);
    const step = monitorStep(t, state, {
      at,
      health: tick.health,
      snapshot: tick.scrapeFails ? undefined : svc.snapshot(at),
    });
    state = step.state;
    for (const f of step.evaluation.firing) firedAt[f.trigger] = second;
    steps.push({ ...step, at: second });
  }
  return { steps, firedAt };
}
