import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { compressTriggers, type Firing } from '../../../src/operate/triggers/evaluator.js';
import { watch, type Clock } from '../../../src/operate/watch/watcher.js';
import { parseDuration } from '../../../src/operate/watch/duration.js';
import { snapshotFromSamples } from '../../../src/operate/watch/sources.js';
import { parsePromText } from '../../../src/platform/metrics/prom-text.js';
import { FakeService } from '../triggers/simulate.js';

const T = ENVIRONMENTS.prod.rollback;

/** A clock that only moves when the watcher sleeps. */
function fakeClock(start = 1_700_000_000_000): Clock & { t: number } {
  const c = {
    t: start,
    now: () => c.t,
    sleep: async (ms: number) => {
      c.t += Math.max(0, ms);
    },
  };
  return c;
}

function harness(fault: (sinceStartS: number) => { errorRatio?: number; health?: boolean }, durationSeconds: number) {
  const clock = fakeClock();
  const start = clock.t;
  const svc = new FakeService();
  let last = start;
  const actions: Firing[][] = [];
  const lines: string[] = [];
  const run = watch({
    triggers: T,
    durationSeconds,
    clock,
    log: (l) => lines.push(l),
    heartbeatPolls: 0,
    poll: async (at) => {
      const f = fault((at - start) / 1000);
      svc.advance((at - last) / 1000, { rps: 20, errorRatio: f.errorRatio ?? 0 });
      last = at;
      return { at, health: f.health ?? true, snapshot: svc.snapshot(at) };
    },
    rollback: async (firing) => {
      actions.push([...firing]);
    },
  });
  return { run, actions, lines, clock, start };
}

describe('watch', () => {
  it('a healthy run of the whole duration fires nothing and runs no action', async () => {
    const h = harness(() => ({}), 30 * 60);
    const r = await h.run;
    expect(r.outcome).toBe('healthy');
    expect(h.actions).toEqual([]);
    expect(r.polls).toBe((30 * 60) / T.pollSeconds + 1);
    expect(h.lines.some((l) => /errorRate: .*ok/.test(l))).toBe(true);
  });

  it('on an error-rate fault runs the rollback action exactly once, within the window plus one poll, and stops', async () => {
    const faultAt = 10 * 60;
    const h = harness((s) => ({ errorRatio: s > faultAt ? 0.3 : 0 }), 60 * 60);
    const r = await h.run;
    expect(r.outcome).toBe('triggered');
    expect(h.actions).toHaveLength(1);
    expect(h.actions[0]!.map((f) => f.trigger)).toEqual(['errorRate']);
    const delay = (h.clock.t - h.start) / 1000 - faultAt;
    expect(delay).toBeGreaterThanOrEqual(T.errorRate.sustainedSeconds);
    expect(delay).toBeLessThanOrEqual(T.errorRate.sustainedSeconds + T.pollSeconds);
    expect(r.reason).toMatch(/^errorRate: error rate/);
    expect(h.lines.filter((l) => l.includes('TRIGGER'))).toHaveLength(1);
  });

  it('fires on consecutive health failures', async () => {
    const h = harness((s) => ({ health: s < 60 }), 10 * 60);
    const r = await h.run;
    expect(r.firing.map((f) => f.trigger)).toEqual(['health']);
    expect((h.clock.t - h.start) / 1000).toBe(60 + (T.consecutiveHealthFailures - 1) * T.pollSeconds);
  });

  it('reports a failed rollback action without running it twice', async () => {
    const clock = fakeClock();
    let calls = 0;
    const r = await watch({
      triggers: compressTriggers(T, 1 / 60, { minRequestsPerWindow: 1 }),
      durationSeconds: 60,
      clock,
      log: () => undefined,
      poll: async (at) => ({ at, health: false }),
      rollback: async () => {
        calls++;
        throw new Error('kubectl not found');
      },
    });
    expect(calls).toBe(1);
    expect(r.rollbackError).toBe('kubectl not found');
  });
});

describe('sources and durations', () => {
  it('turns a /metrics exposition into API-only counters', () => {
    const text = [
      'http_requests_total{route="/api/v1/tools",method="GET",status_code="200"} 90',
      'http_requests_total{route="/api/v1/plan",method="POST",status_code="503"} 10',
      'http_requests_total{route="/healthz",method="GET",status_code="503"} 1000',
      'http_request_duration_seconds_bucket{le="0.1",route="/api/v1/tools",method="GET",status_code="200"} 90',
      'http_request_duration_seconds_bucket{le="+Inf",route="/api/v1/tools",method="GET",status_code="200"} 90',
      'http_request_duration_seconds_bucket{le="+Inf",route="/healthz",method="GET",status_code="200"} 1000',
      'process_start_time_seconds 123',
    ].join('\n');
    expect(snapshotFromSamples(parsePromText(text), 5)).toEqual({
      at: 5,
      processStart: 123,
      requests: 100,
      errors: 10,
      buckets: [
        { le: 0.1, count: 90 },
        { le: Number.POSITIVE_INFINITY, count: 90 },
      ],
    });
  });

  it('parses durations and rejects nonsense with the input named', () => {
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('250ms')).toBe(0.25);
    expect(() => parseDuration('soon')).toThrow(/invalid duration "soon"/);
    expect(() => parseDuration('0')).toThrow(/invalid/);
    expect(() => parseDuration('-5m')).toThrow(/invalid/);
  });
});

describe('watch aborted', () => {
  it('a poll cut short by the abort is not judged: no trigger, no rollback, even on the poll that would fire', async () => {
    const clock = fakeClock();
    const ac = new AbortController();
    const actions: Firing[][] = [];
    let polls = 0;
    const result = await watch({
      triggers: T,
      durationSeconds: 600,
      clock,
      log: () => undefined,
      signal: ac.signal,
      poll: async (at) => {
        polls++;
        // The poll that would complete the health streak is the one the abort cuts.
        if (polls === T.consecutiveHealthFailures) ac.abort();
        return { at, health: false, problem: 'aborted' };
      },
      rollback: async (firing) => {
        actions.push([...firing]);
      },
    });
    expect(result.outcome).toBe('aborted');
    expect(actions).toEqual([]);
    expect(polls).toBe(T.consecutiveHealthFailures);
  });

  it('the sleep between polls gets the abort signal', async () => {
    const ac = new AbortController();
    const signals: (AbortSignal | undefined)[] = [];
    let t = 0;
    const clock: Clock = {
      now: () => t,
      sleep: async (ms, signal) => {
        signals.push(signal);
        t += ms;
      },
    };
    await watch({
      triggers: T,
      durationSeconds: T.pollSeconds,
      clock,
      log: () => undefined,
      signal: ac.signal,
      poll: async (at) => ({ at, health: true, problem: 'x' }),
      rollback: async () => undefined,
    });
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s === ac.signal)).toBe(true);
  });
});
