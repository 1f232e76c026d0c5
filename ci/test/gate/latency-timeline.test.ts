/** bench/latency-timeline: a row's latency grouped by the second of its intended send time. */
import { describe, expect, it } from 'vitest';
import { latencyBySecond } from '../../../bench/latency-timeline.js';

describe('latencyBySecond', () => {
  it('groups latencies by intended send second, so a start-up tail shows apart', () => {
    const intendedMs = Float64Array.from([0, 400, 999, 1000, 1500, 3200]);
    const latenciesMs = Float64Array.from([300, 200, 100, 2, 4, 8]);
    expect(latencyBySecond({ intendedMs, latenciesMs })).toEqual([
      { second: 0, requests: 3, p50: 200, p95: 300, p99: 300, max: 300 },
      { second: 1, requests: 2, p50: 2, p95: 4, p99: 4, max: 4 },
      // A second with no sends has no row.
      { second: 3, requests: 1, p50: 8, p95: 8, p99: 8, max: 8 },
    ]);
  });
});
