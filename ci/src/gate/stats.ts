/**
 * Percentiles of raw latency samples and a block-bootstrap confidence interval for the ratio of two
 * routes' percentiles (candidate / baseline). Pure and deterministic (seeded), so a report can be
 * recomputed from its inputs.
 */
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
  readonly mean: number;
}

/** Nearest-rank q-quantile (0 < q <= 1) of ascending values: the smallest value with at least q of them at or below it. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

export const CHART_PERCENTILES = [50, 75, 90, 95, 99, 99.9, 100] as const;

export function summarize(values: ArrayLike<number>): LatencySummary | undefined {
  if (values.length === 0) return undefined;
  const s = sortedCopy(values);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    p50: quantileSorted(s, 0.5),
    p90: quantileSorted(s, 0.9),
    p95: quantileSorted(s, 0.95),
    p99: quantileSorted(s, 0.99),
    max: s[s.length - 1]!,
    min: s[0]!,
    mean: sum / s.length,
  };
}

export function chartPercentiles(values: ArrayLike<number>): [number, number][] {
  if (values.length === 0) return [];
  const s = sortedCopy(values);
  return CHART_PERCENTILES.map((p) => [p, quantileSorted(s, p / 100)]);
}

/** Samples needed so that at least `tail` of them lie above the q-quantile. */
export function samplesNeeded(q: number, tail: number): number {
  return Math.ceil(tail / (1 - q));
}

/** Seeded uniform numbers in [0, 1) from pure-rand (xoroshiro128+): same seed, same bootstrap. */
export function seededRandom(seed: number): () => number {
  const rng = xoroshiro128plus(seed);
  return () => uniformFloat64(rng);
}

/**
 * Splits samples into consecutive blocks of `blockMs` of intended send time. Latencies of requests
 * close in time are correlated (a stall hits a run of them), so the bootstrap resamples whole blocks.
 */
export function blocksOf(
  latenciesMs: ArrayLike<number>,
  intendedMs: ArrayLike<number>,
  blockMs: number,
): Float64Array[] {
  const blocks: number[][] = [];
  for (let i = 0; i < latenciesMs.length; i++) {
    const b = Math.floor(intendedMs[i]! / blockMs);
    (blocks[b] ??= []).push(latenciesMs[i]!);
  }
  return blocks.filter((b) => b !== undefined && b.length > 0).map((b) => Float64Array.from(b));
}

export interface RatioInterval {
  /** Candidate percentile / baseline percentile over all samples. */
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  readonly confidence: number;
}

function resampledQuantiles(
  blocks: readonly Float64Array[],
  qs: readonly number[],
  random: () => number,
  buf: Float64Array,
): number[] {
  let n = 0;
  for (let k = 0; k < blocks.length; k++) {
    const b = blocks[Math.floor(random() * blocks.length)]!;
    buf.set(b, n);
    n += b.length;
  }
  const s = buf.subarray(0, n).sort();
  return qs.map((q) => quantileSorted(s, q));
}

/**
 * For each q: the ratio candidate/baseline of the q-quantiles with a two-sided `confidence` interval
 * from a block bootstrap (percentile method), each side's blocks resampled with replacement.
 */
export function bootstrapRatios(
  baseline: readonly Float64Array[],
  candidate: readonly Float64Array[],
  qs: readonly number[],
  opts: { readonly replicates?: number; readonly confidence?: number; readonly seed?: number } = {},
): RatioInterval[] {
  const replicates = opts.replicates ?? 1000;
  const confidence = opts.confidence ?? 0.95;
  const all = (bs: readonly Float64Array[]) => sortedCopy(bs.flatMap((b) => [...b]));
  const base = all(baseline);
  const cand = all(candidate);
  if (base.length === 0 || cand.length === 0)
    return qs.map(() => ({ estimate: Number.NaN, low: Number.NaN, high: Number.NaN, confidence }));
  const random = seededRandom(opts.seed ?? 1);
  const maxLen = (bs: readonly Float64Array[]) => Math.max(...bs.map((b) => b.length)) * bs.length;
  const bufB = new Float64Array(maxLen(baseline));
  const bufC = new Float64Array(maxLen(candidate));
  const ratios = qs.map(() => new Float64Array(replicates));
  for (let r = 0; r < replicates; r++) {
    const qb = resampledQuantiles(baseline, qs, random, bufB);
    const qc = resampledQuantiles(candidate, qs, random, bufC);
    for (let j = 0; j < qs.length; j++) ratios[j]![r] = qc[j]! / Math.max(qb[j]!, 1e-9);
  }
  const alpha = (1 - confidence) / 2;
  return qs.map((q, j) => {
    const rs = ratios[j]!.sort();
    return {
      estimate: quantileSorted(cand, q) / Math.max(quantileSorted(base, q), 1e-9),
      low: quantileSorted(rs, alpha),
      high: quantileSorted(rs, 1 - alpha),
      confidence,
    };
  });
}
