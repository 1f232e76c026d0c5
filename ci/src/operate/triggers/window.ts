/**
 * Turns cumulative counters scraped from /metrics into what happened inside a trailing window, the way
 * Prometheus' `increase()` does: per-interval increases summed, a counter that went down (or a new
 * process start time) is a restart, and after a restart the new value is the whole increase.
 */
import { subtractBuckets, type Bucket } from '../../platform/metrics/histogram.js';

/** Cumulative counters of one scrape. */
export interface TrafficSnapshot {
  /** Epoch milliseconds of the scrape. */
  readonly at: number;
  /** `process_start_time_seconds`; a change means the process restarted even if counters grew past the old values. */
  readonly processStart?: number | undefined;
  readonly requests: number;
  /** Server errors (5xx). */
  readonly errors: number;
  /** Cumulative latency buckets, seconds, ending with +Inf. */
  readonly buckets: readonly Bucket[];
}

/** Traffic inside a window, already de-accumulated. The Prometheus source produces this directly. */
export interface WindowTraffic {
  readonly requests: number;
  readonly errors: number;
  readonly buckets: readonly Bucket[];
  /** How much time the samples actually cover (less than the window early on or after gaps). */
  readonly spanSeconds: number;
  /** Counter resets seen inside the window. */
  readonly resets: number;
}

export function isReset(prev: TrafficSnapshot, cur: TrafficSnapshot): boolean {
  if (prev.processStart !== undefined && cur.processStart !== undefined && prev.processStart !== cur.processStart)
    return true;
  if (cur.requests < prev.requests || cur.errors < prev.errors) return true;
  const before = new Map(prev.buckets.map((b) => [b.le, b.count]));
  return cur.buckets.some((b) => b.count < (before.get(b.le) ?? 0));
}

/**
 * The traffic in (at - window, at], from the snapshots inside it (a snapshot up to `toleranceSeconds`
 * older than the window start still counts as its left edge, so poll jitter does not shrink the window).
 * Undefined with fewer than two snapshots: one scrape says nothing about a rate.
 */
export function windowTraffic(
  history: readonly TrafficSnapshot[],
  at: number,
  windowSeconds: number,
  toleranceSeconds = 0,
): WindowTraffic | undefined {
  const from = at - (windowSeconds + toleranceSeconds) * 1000;
  const inside = history.filter((s) => s.at >= from && s.at <= at).sort((a, b) => a.at - b.at);
  if (inside.length < 2) return undefined;
  let requests = 0;
  let errors = 0;
  let resets = 0;
  const bucketSum = new Map<number, number>();
  const add = (buckets: readonly Bucket[]) => {
    for (const b of buckets) bucketSum.set(b.le, (bucketSum.get(b.le) ?? 0) + b.count);
  };
  for (let i = 1; i < inside.length; i++) {
    const prev = inside[i - 1]!;
    const cur = inside[i]!;
    if (isReset(prev, cur)) {
      resets++;
      requests += cur.requests;
      errors += cur.errors;
      add(cur.buckets);
    } else {
      requests += cur.requests - prev.requests;
      errors += cur.errors - prev.errors;
      add(subtractBuckets(cur.buckets, prev.buckets));
    }
  }
  const buckets = [...bucketSum.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
  return { requests, errors, buckets, spanSeconds: (inside[inside.length - 1]!.at - inside[0]!.at) / 1000, resets };
}

/** Drops snapshots no window can reach any more, so a long watch keeps bounded memory. */
export function pruneHistory(history: readonly TrafficSnapshot[], at: number, keepSeconds: number): TrafficSnapshot[] {
  return history.filter((s) => s.at >= at - keepSeconds * 1000);
}
