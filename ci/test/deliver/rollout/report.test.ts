import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { staleness } from '../../../src/deliver/rollout/freshness.js';
import { judgeRehearsal, rehearsalMarkdown, type RehearsalInput } from '../../../src/deliver/rollout/report.js';

const T = 1_000_000;
const base = (over: Partial<RehearsalInput> = {}): RehearsalInput => ({
  phases: [
    { name: 'warm-up', detail: '3 previous', start: T, end: T + 1000, judged: false },
    { name: 'previous', detail: '3 previous', start: T + 1000, end: T + 2000 },
    { name: 'rollout', detail: 'surge 1', start: T + 2000, end: T + 3000 },
  ],
  instances: [{ id: 'previous-1', version: 'previous', from: T }],
  answers: [
    { at: T + 10, status: 502, version: 'previous' },
    { at: T + 1500, status: 200, version: 'previous' },
    { at: T + 1600, status: 429, version: 'previous' },
    { at: T + 2500, status: 200, version: 'candidate' },
  ],
  latencies: [
    { at: T + 1500, ms: 10 },
    { at: T + 2500, ms: 30 },
  ],
  clientErrors: [],
  stale: [],
  probeReads: 10,
  allowance: ENVIRONMENTS.prod.latencyGate.regression,
  maxStaleMs: 1000,
  ...over,
});

describe('staleness', () => {
  it('a read is stale only when a newer write had answered before it was sent', () => {
    const writes = [
      { seq: 0, ackedAt: 100 },
      { seq: 1, ackedAt: 200 },
    ];
    expect(
      staleness(writes, [
        { sentAt: 150, seq: 0 },
        { sentAt: 190, seq: -1 },
        { sentAt: 250, seq: 1 },
        { sentAt: 1300, seq: 0 },
      ]),
    ).toEqual([
      { at: 190, staleMs: 90 },
      { at: 1300, staleMs: 1100 },
    ]);
    // A write whose outcome is unknown may commit after a later one answered: a read of it is not judged.
    expect(staleness(writes, [{ sentAt: 1300, seq: 0 }], [0])).toEqual([]);
  });
});

describe('judging a rehearsal', () => {
  it('passes with 0 failures (429 is not one; the warm-up is shown, not judged) and no stale read over 1 s', () => {
    const r = judgeRehearsal(base());
    expect(r.outcome).toBe('passed');
    expect(r.phases.map((p) => [p.name, p.requests, p.failures, p.throttled])).toEqual([
      ['warm-up', 1, 1, 0],
      ['previous', 2, 0, 1],
      ['rollout', 1, 0, 0],
    ]);
    expect(r.phases[2]!.p95Ratio).toBeCloseTo(3);
    expect(r.phases[2]!.withinAllowance).toBe(false);
    const md = rehearsalMarkdown(r, base(), 'Rollout rehearsal');
    expect(md).toContain('```mermaid\ngantt');
    expect(md).toContain('warm-up (not judged)');
  });

  it('fails on a failed answer, a client-side error, a read staler than 1 s, or nothing measured', () => {
    const failed = judgeRehearsal(
      base({
        answers: [...base().answers, { at: T + 2100, status: 503, version: 'previous' }],
        clientErrors: [{ at: T + 1200, count: 2 }],
        stale: [{ at: T + 2200, staleMs: 1500 }],
      }),
    );
    expect(failed.outcome).toBe('failed');
    expect(failed.reasons).toEqual([
      'previous: 2 failed request(s) (2x client-side error)',
      'rollout: 1 failed request(s) (1x previous 503)',
      'rollout: a read 1500 ms stale (at most 1000 ms)',
    ]);
    const empty = judgeRehearsal(base({ answers: [], probeReads: 0 }));
    expect(empty.outcome).toBe('inconclusive');
    expect(empty.reasons).toEqual([
      'no request was answered: nothing was measured',
      'the freshness probe read nothing: staleness was not measured',
    ]);
  });
});
