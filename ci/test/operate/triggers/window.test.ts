import { describe, expect, it } from 'vitest';
import { isReset, pruneHistory, windowTraffic, type TrafficSnapshot } from '../../../src/operate/triggers/window.js';

const INF = Number.POSITIVE_INFINITY;
const snap = (at: number, requests: number, errors: number, processStart = 1): TrafficSnapshot => ({
  at: at * 1000,
  processStart,
  requests,
  errors,
  buckets: [
    { le: 0.1, count: requests },
    { le: INF, count: requests },
  ],
});

describe('windowTraffic', () => {
  it('sums increases over the window and reports the span covered', () => {
    const h = [snap(0, 100, 0), snap(10, 150, 5), snap(20, 230, 9), snap(30, 300, 10)];
    expect(windowTraffic(h, 30_000, 20)).toEqual({
      requests: 150,
      errors: 5,
      spanSeconds: 20,
      resets: 0,
      buckets: [
        { le: 0.1, count: 150 },
        { le: INF, count: 150 },
      ],
    });
    // Tolerance admits the snapshot just outside the window as its left edge.
    expect(windowTraffic(h, 30_500, 20)!.spanSeconds).toBe(10);
    expect(windowTraffic(h, 30_500, 20, 1)!.spanSeconds).toBe(20);
  });

  it('counts everything after a restart (counters went down) as increase', () => {
    const h = [snap(0, 1000, 10), snap(10, 1100, 20), snap(20, 40, 4, 2), snap(30, 90, 5, 2)];
    const w = windowTraffic(h, 30_000, 30)!;
    expect(w).toMatchObject({ requests: 100 + 40 + 50, errors: 10 + 4 + 1, resets: 1 });
  });

  it('sees a restart by the process start time even when the new counters are higher', () => {
    const prev = snap(0, 10, 1, 1);
    const cur = snap(60, 500, 2, 2);
    expect(isReset(prev, cur)).toBe(true);
    expect(windowTraffic([prev, cur], 60_000, 60)).toMatchObject({ requests: 500, errors: 2, resets: 1 });
    expect(isReset(snap(0, 10, 1), snap(1, 11, 1))).toBe(false);
    // A bucket going down alone is also a restart.
    expect(
      isReset(snap(0, 10, 1), {
        ...snap(1, 11, 1),
        buckets: [
          { le: 0.1, count: 5 },
          { le: INF, count: 11 },
        ],
      }),
    ).toBe(true);
  });

  it('needs two snapshots, and prunes what no window reaches', () => {
    expect(windowTraffic([snap(0, 1, 0)], 0, 60)).toBeUndefined();
    expect(windowTraffic([], 0, 60)).toBeUndefined();
    expect(pruneHistory([snap(0, 1, 0), snap(50, 2, 0), snap(100, 3, 0)], 100_000, 60).map((s) => s.at)).toEqual([
      50_000, 100_000,
    ]);
  });
});
