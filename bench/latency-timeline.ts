/**
 * A load row's latency second by second (by intended send time), so a tail can be told apart as a
 * start-up transient (the first seconds only) or a steady one (every second).
 */
import { summarize } from '../ci/src/gate/stats.js';
import type { LoadResult } from '../ci/src/gate/load/index.js';

export interface SecondRow {
  readonly second: number;
  readonly requests: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export function latencyBySecond(r: Pick<LoadResult, 'latenciesMs' | 'intendedMs'>): SecondRow[] {
  const buckets: number[][] = [];
  r.intendedMs.forEach((t, i) => (buckets[Math.floor(t / 1000)] ??= []).push(r.latenciesMs[i]!));
  const round = (v: number) => Math.round(v * 100) / 100;
  return buckets.flatMap((values, second) => {
    const s = values && summarize(values);
    return s
      ? [
          {
            second,
            requests: values.length,
            p50: round(s.p50),
            p95: round(s.p95),
            p99: round(s.p99),
            max: round(s.max),
          },
        ]
      : [];
  });
}
