/**
 * Cumulative-bucket histograms as Prometheus exposes them, and `histogram_quantile` with the same
 * linear interpolation Prometheus uses, so the watcher and the alert rules compute the same p95.
 */
import type { PromSample } from './prom-text.js';

/** One cumulative bucket: observations <= `le` (seconds for latency). The last bucket is +Inf. */
export interface Bucket {
  readonly le: number;
  readonly count: number;
}

/** Sums buckets with equal bounds (as `sum by (le)` does) and sorts them by bound. */
export function mergeBuckets(lists: readonly (readonly Bucket[])[]): Bucket[] {
  const byLe = new Map<number, number>();
  for (const list of lists) for (const b of list) byLe.set(b.le, (byLe.get(b.le) ?? 0) + b.count);
  return [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count }));
}

/** Per-bucket difference `after - before` (bounds must match; missing bounds count as 0). */
export function subtractBuckets(after: readonly Bucket[], before: readonly Bucket[]): Bucket[] {
  const prev = new Map(before.map((b) => [b.le, b.count]));
  return after.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) }));
}

/**
 * The q-quantile (0..1) of a cumulative histogram, Prometheus' way: find the bucket holding the rank
 * and interpolate linearly inside it; a rank in the +Inf bucket answers the highest finite bound.
 * Undefined when there is nothing to measure (no observations, no +Inf bucket).
 */
export function histogramQuantile(q: number, buckets: readonly Bucket[]): number | undefined {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile must be within 0..1, got ${q}`);
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (sorted.length < 2 || sorted[sorted.length - 1]!.le !== Number.POSITIVE_INFINITY) return undefined;
  // Scrapes are not atomic: a later bucket can read lower than an earlier one. Prometheus evens them out.
  let running = 0;
  const mono = sorted.map((b) => (running = Math.max(running, b.count)));
  const total = mono[mono.length - 1]!;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let i = mono.findIndex((c) => c >= rank);
  if (i < 0) i = mono.length - 1;
  if (i === sorted.length - 1) return sorted[sorted.length - 2]!.le;
  if (i === 0 && sorted[0]!.le <= 0) return sorted[0]!.le;
  const start = i === 0 ? 0 : sorted[i - 1]!.le;
  const end = sorted[i]!.le;
  const below = i === 0 ? 0 : mono[i - 1]!;
  const inBucket = mono[i]! - below;
  return start + (end - start) * ((rank - below) / inBucket);
}

/** Buckets of `<name>_bucket` summed over the samples whose labels pass `keep`. */
export function bucketsOf(
  samples: readonly PromSample[],
  name: string,
  keep: (labels: Readonly<Record<string, string>>) => boolean,
): Bucket[] {
  const lists: Bucket[][] = [];
  const series = new Map<string, Bucket[]>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || !keep(s.labels)) continue;
    const le =
      s.labels.le === undefined ? Number.NaN : s.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(s.labels.le);
    if (Number.isNaN(le)) continue;
    const key = Object.entries(s.labels)
      .filter(([k]) => k !== 'le')
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    let list = series.get(key);
    if (!list) series.set(key, (list = []));
    list.push({ le, count: s.value });
  }
  lists.push(...series.values());
  return mergeBuckets(lists);
}
