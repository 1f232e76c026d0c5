import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import {
  above,
  compressTriggers,
  evaluate,
  initialState,
  stateChanges,
} from '../../../src/operate/triggers/evaluator.js';
import { initialMonitor, monitorStep } from '../../../src/operate/triggers/monitor.js';
import { simulate } from './simulate.js';

// The real prod definition: the tests follow whatever windows and limits it holds.
const T = ENVIRONMENTS.prod.rollback;
const POLL = T.pollSeconds;
const FAULT = 40 * POLL; // well after the first full window
const polls = (seconds: number) => Math.ceil(seconds / POLL);
const RPS = 20; // enough requests per window to judge
const errorBound = FAULT + T.errorRate.sustainedSeconds + POLL;
const p95Bound = FAULT + T.p95.sustainedSeconds + POLL;

describe('error-rate trigger', () => {
  it('fires once the rate has been above the limit for the sustained window, within window + one poll of the fault', () => {
    const run = simulate(T, polls(FAULT + 2 * T.errorRate.sustainedSeconds), (s) => ({
      rps: RPS,
      errorRatio: s > FAULT ? 0.5 : 0,
      health: true,
    }));
    expect(run.firedAt.errorRate).toBeDefined();
    expect(run.firedAt.errorRate!).toBeLessThanOrEqual(errorBound);
    // …and not before it was sustained: the first breach was one poll after the fault began.
    expect(run.firedAt.errorRate!).toBeGreaterThanOrEqual(FAULT + T.errorRate.sustainedSeconds);
    expect(run.firedAt.p95).toBeUndefined();
    expect(run.firedAt.health).toBeUndefined();
    const pending = run.steps.find((s) => s.at === FAULT + POLL)!;
    expect(pending.evaluation.statuses.errorRate.state).toBe('pending');
  });

  it('does not fire at exactly the limit, and fires just above it', () => {
    const exact = simulate(T, polls(FAULT + 3 * T.errorRate.sustainedSeconds), () => ({
      rps: RPS,
      errorRatio: T.errorRate.above,
      health: true,
    }));
    expect(exact.firedAt).toEqual({});
    const last = exact.steps.at(-1)!.evaluation.statuses.errorRate;
    expect(last.state).toBe('ok');
    expect(last.value).toBeCloseTo(T.errorRate.above, 12);

    const over = simulate(T, polls(FAULT + 3 * T.errorRate.sustainedSeconds), () => ({
      rps: RPS,
      errorRatio: T.errorRate.above * 1.02,
      health: true,
    }));
    expect(over.firedAt.errorRate).toBeDefined();
  });

  it('a recovery inside the window resets the clock: the next breach needs the full window again', () => {
    const burst = T.errorRate.sustainedSeconds - T.rateWindowSeconds - 2 * POLL; // breach + trailing window < sustained
    const second = FAULT + 2 * T.errorRate.sustainedSeconds;
    const run = simulate(T, polls(second + 2 * T.errorRate.sustainedSeconds), (s) => ({
      rps: RPS,
      errorRatio: (s > FAULT && s <= FAULT + burst) || s > second ? 0.5 : 0,
      health: true,
    }));
    const recovered = run.steps.find((s) => s.at === second)!;
    expect(recovered.evaluation.statuses.errorRate.state).toBe('ok');
    expect(run.firedAt.errorRate).toBeGreaterThanOrEqual(second + T.errorRate.sustainedSeconds);
    expect(run.firedAt.errorRate).toBeLessThanOrEqual(second + T.errorRate.sustainedSeconds + POLL);
  });

  it('a missed scrape is a gap inside the window, not a reset; a gap longer than the window starts over', () => {
    const miss = FAULT + 5 * POLL;
    const one = simulate(T, polls(errorBound + POLL), (s) => ({
      rps: RPS,
      errorRatio: s > FAULT ? 0.5 : 0,
      health: true,
      scrapeFails: s === miss,
    }));
    expect(one.firedAt.errorRate).toBeLessThanOrEqual(errorBound);

    const gapEnd = miss + T.rateWindowSeconds + 2 * POLL;
    const long = simulate(T, polls(gapEnd + 2 * T.errorRate.sustainedSeconds), (s) => ({
      rps: RPS,
      errorRatio: s > FAULT ? 0.5 : 0,
      health: true,
      scrapeFails: s >= miss && s < gapEnd,
    }));
    const during = long.steps.find((s) => s.at === gapEnd - POLL)!;
    expect(during.evaluation.statuses.errorRate.state).toBe('noData');
    expect(during.evaluation.statuses.errorRate.detail).toMatch(/window observed|two scrapes/);
    expect(long.firedAt.errorRate).toBeGreaterThanOrEqual(gapEnd + T.errorRate.sustainedSeconds - POLL);
  });

  it('counter resets (a restart) neither invent nor hide errors', () => {
    const restarts = new Set([FAULT - 3 * POLL, FAULT + 7 * POLL, FAULT + 8 * POLL]);
    const healthy = simulate(T, polls(FAULT + 2 * T.errorRate.sustainedSeconds), (s) => ({
      rps: RPS,
      health: true,
      restart: restarts.has(s),
    }));
    expect(healthy.firedAt).toEqual({});
    const judged = healthy.steps.filter((s) => s.at > 2 * T.rateWindowSeconds);
    for (const s of judged) {
      expect(s.evaluation.statuses.errorRate.state).toBe('ok');
      expect(s.evaluation.statuses.p95.state).toBe('ok');
    }

    const faulty = simulate(T, polls(errorBound + POLL), (s) => ({
      rps: RPS,
      errorRatio: s > FAULT ? 0.5 : 0,
      health: true,
      restart: restarts.has(s),
    }));
    expect(faulty.firedAt.errorRate).toBeLessThanOrEqual(errorBound);
  });

  it('too little traffic is "no data", never healthy and never a trigger', () => {
    const rps = (T.minRequestsPerWindow / T.rateWindowSeconds) * 0.5;
    const run = simulate(T, polls(FAULT + 2 * T.p95.sustainedSeconds), () => ({
      rps,
      errorRatio: 1,
      latency: 5,
      health: true,
    }));
    expect(run.firedAt).toEqual({});
    const last = run.steps.at(-1)!.evaluation.statuses;
    expect(last.errorRate.state).toBe('noData');
    expect(last.p95.state).toBe('noData');
    expect(last.errorRate.detail).toMatch(/fewer than/);
  });
});

describe('p95 trigger', () => {
  it('fires after the sustained window when p95 is above the limit', () => {
    const run = simulate(T, polls(FAULT + T.p95.sustainedSeconds + 4 * POLL), (s) => ({
      rps: RPS,
      latency: s > FAULT ? 2.4 : 0.02,
      health: true,
    }));
    expect(run.firedAt.p95).toBeGreaterThanOrEqual(FAULT + T.p95.sustainedSeconds);
    expect(run.firedAt.p95).toBeLessThanOrEqual(p95Bound);
    expect(run.firedAt.errorRate).toBeUndefined();
  });

  it('does not fire when p95 is exactly the limit', () => {
    // 95% of requests at <= 2 s, 5% slower: the interpolated p95 is exactly the 2 s bucket bound.
    const limitS = T.p95.aboveMs / 1000;
    const run = simulate(T, polls(FAULT + 2 * T.p95.sustainedSeconds), () => ({
      rps: RPS,
      latency: limitS * 0.9,
      slowShare: 0.05,
      slowLatency: limitS * 1.2,
      health: true,
    }));
    expect(run.firedAt).toEqual({});
    const last = run.steps.at(-1)!.evaluation.statuses.p95;
    expect(last.state).toBe('ok');
    expect(last.value).toBeCloseTo(T.p95.aboveMs, 6);
  });
});

describe('health trigger', () => {
  it(`fires on ${T.consecutiveHealthFailures} consecutive failures only`, () => {
    const n = T.consecutiveHealthFailures;
    const pattern = [...Array<boolean>(n - 1).fill(false), true, ...Array<boolean>(n - 1).fill(false), true];
    const flapping = simulate(T, pattern.length + 2, (s) => ({ rps: RPS, health: pattern[s / POLL - 1] ?? true }));
    expect(flapping.firedAt).toEqual({});

    const down = simulate(T, 10, (s) => ({ rps: RPS, health: s < 4 * POLL }));
    expect(down.firedAt.health).toBe((4 + n - 1) * POLL);
  });

  // A streak of one has nothing to interrupt; every longer one (prod's own included) gets the gap inside it.
  it.each([...new Set([T.consecutiveHealthFailures, 2, 3, 5])].filter((n) => n >= 2))(
    'a poll without a health check neither counts nor resets the streak (%i failures to fire)',
    (n) => {
      const triggers = { ...T, consecutiveHealthFailures: n };
      // One failure, a poll without a check, then the n-1 failures that complete the streak.
      const seq: (boolean | undefined)[] = [true, false, undefined, ...Array<boolean>(n - 1).fill(false), true];
      const run = simulate(triggers, seq.length - 1, (s) => ({
        rps: RPS,
        ...(seq[s / POLL] === undefined ? {} : { health: seq[s / POLL] }),
      }));
      expect(run.steps[2]!.evaluation.statuses.health).toMatchObject({ state: 'noData', value: 1 });
      expect(run.steps[3]!.evaluation.statuses.health.value).toBe(2);
      // Counting the gap would fire one poll early; resetting on it would not fire at all.
      expect(run.firedAt.health).toBe((n + 1) * POLL);
    },
  );
});

describe('evaluator plumbing', () => {
  it('latches: a trigger fires once, later polls keep it in `fired` without firing again', () => {
    let state = initialState();
    const firings: string[] = [];
    for (let i = 0; i < T.consecutiveHealthFailures + 3; i++) {
      const r = evaluate(T, state, { at: i * 1000, health: false });
      state = r.state;
      firings.push(...r.firing.map((f) => f.trigger));
    }
    expect(firings).toEqual(['health']);
    expect(state.fired).toHaveLength(1);
  });

  it('takes an already-windowed traffic value (the Prometheus source) as well', () => {
    const w = {
      requests: 1000,
      errors: 200,
      spanSeconds: T.rateWindowSeconds,
      resets: 0,
      buckets: [
        { le: 0.1, count: 1000 },
        { le: Number.POSITIVE_INFINITY, count: 1000 },
      ],
    };
    const step = monitorStep(T, initialMonitor(), { at: 0, health: true, window: w });
    expect(step.evaluation.statuses.errorRate.state).toBe('pending');
    expect(step.evaluation.statuses.errorRate.value).toBeCloseTo(0.2);
    expect(step.changes).toHaveLength(3);
  });

  it('evaluations further apart than the window do not carry a breach across the gap', () => {
    const w = { requests: 1000, errors: 500, spanSeconds: T.rateWindowSeconds, resets: 0, buckets: [] };
    const first = evaluate(T, initialState(), { at: 0, traffic: w });
    const near = evaluate(T, first.state, { at: T.rateWindowSeconds * 1000, traffic: w });
    expect(near.statuses.errorRate.since).toBe(0);
    const far = evaluate(T, first.state, { at: (T.rateWindowSeconds + 1) * 1000, traffic: w });
    expect(far.statuses.errorRate.since).toBe((T.rateWindowSeconds + 1) * 1000);
  });

  it('a short no-data spell holds a running breach instead of resetting it', () => {
    const bad = { requests: 1000, errors: 500, spanSeconds: T.rateWindowSeconds, resets: 0, buckets: [] };
    const thin = { ...bad, requests: T.minRequestsPerWindow - 1, errors: 0 };
    const first = evaluate(T, initialState(), { at: 0, traffic: bad });
    const quiet = evaluate(T, first.state, { at: POLL * 1000, traffic: thin });
    expect(quiet.statuses.errorRate.state).toBe('noData');
    expect(quiet.statuses.errorRate.detail).toMatch(/held/);
    const again = evaluate(T, quiet.state, { at: 2 * POLL * 1000, traffic: bad });
    expect(again.statuses.errorRate.since).toBe(0);
    // …whereas a healthy reading does reset it.
    const ok = evaluate(T, first.state, { at: POLL * 1000, traffic: { ...bad, errors: 0 } });
    expect(evaluate(T, ok.state, { at: 2 * POLL * 1000, traffic: bad }).statuses.errorRate.since).toBe(2 * POLL * 1000);
  });

  it('reports state changes only', () => {
    const a = evaluate(T, initialState(), { at: 0, health: true }).statuses;
    const b = evaluate(T, initialState(), { at: 1, health: false }).statuses;
    expect(stateChanges(a, a)).toEqual([]);
    expect(stateChanges(a, b)).toEqual([expect.stringMatching(/^health: ok -> pending/)]);
  });

  it('compares strictly, ignoring float noise', () => {
    expect(above(5 / 100, 0.05)).toBe(false);
    expect(above(0.1 + 0.2, 0.3)).toBe(false);
    expect(above(0.0501, 0.05)).toBe(true);
  });

  it('compresses windows for tests and refuses nonsense scales', () => {
    const c = compressTriggers(T, 1 / 60, { minRequestsPerWindow: 10 });
    expect(c.errorRate.sustainedSeconds).toBeCloseTo(T.errorRate.sustainedSeconds / 60);
    expect(c.p95.aboveMs).toBe(T.p95.aboveMs);
    expect(c.minRequestsPerWindow).toBe(10);
    expect(() => compressTriggers(T, 0)).toThrow(/time scale/);
    expect(() => compressTriggers(T, 2)).toThrow(/time scale/);
    expect(() => compressTriggers(T, 0.5, { minRequestsPerWindow: 0 })).toThrow(/minimum requests/);
    expect(compressTriggers(T, 1 / 60, { rateWindowSeconds: 3 }).rateWindowSeconds).toBe(3);
    expect(() => compressTriggers(T, 0.5, { rateWindowSeconds: -1 })).toThrow(/rate window/);
  });
});
