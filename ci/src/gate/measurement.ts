/**
 * One side's measurement of one route, pure: a route's rounds summed into what the verdict reads (the
 * counts, the latency summary, the chart's percentiles, the bootstrap's blocks), or a route that could
 * not be measured at all.
 */
import type { LatencyGateConfig, LatencyScenario } from '../definitions/environments.js';
import { blocksOf, chartPercentiles, summarize } from './stats.js';
import { TRANSPORT_FAILURES, type LoadCounts, type RouteMeasurement, type TransportFailure } from './verdict.js';

/** What a round hands over: its counts and its latency samples with their intended send times. */
export interface RoundResult extends LoadCounts {
  readonly scheduledSeconds: number;
  readonly latenciesMs: Float64Array;
  readonly intendedMs: Float64Array;
}

const ZERO: LoadCounts = {
  scheduled: 0,
  sent: 0,
  responses: 0,
  non2xx: 0,
  rateLimited: 0,
  serverErrors: 0,
  socketErrors: 0,
  transportFailures: { refused: 0, reset: 0, closed: 0, malformed: 0, other: 0 },
  timeouts: 0,
  retries: 0,
  statusCodes: {},
  lateSends: 0,
  maxLateMs: 0,
  capWaits: 0,
  maxInFlight: 0,
};

const SUMMED = [
  'scheduled',
  'sent',
  'responses',
  'non2xx',
  'rateLimited',
  'serverErrors',
  'socketErrors',
  'timeouts',
  'retries',
  'lateSends',
  'capWaits',
] as const;

/** Counts of several runs as one: sums, and the worst of the maxima. */
export function sumCounts(runs: readonly LoadCounts[]): LoadCounts {
  return runs.reduce<LoadCounts>((a, r) => {
    const sums = Object.fromEntries(SUMMED.map((k) => [k, a[k] + r[k]])) as Record<(typeof SUMMED)[number], number>;
    const statusCodes: Record<string, number> = { ...a.statusCodes };
    for (const [k, v] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v;
    const transportFailures = Object.fromEntries(
      TRANSPORT_FAILURES.map((k) => [k, a.transportFailures[k] + r.transportFailures[k]]),
    ) as Record<TransportFailure, number>;
    return {
      ...sums,
      statusCodes,
      transportFailures,
      maxLateMs: Math.max(a.maxLateMs, r.maxLateMs),
      maxInFlight: Math.max(a.maxInFlight, r.maxInFlight),
    };
  }, ZERO);
}

function conditionsOf(s: LatencyScenario, config: LatencyGateConfig, seconds: number, rounds: number, served?: string) {
  return {
    method: s.method,
    pathTemplate: s.path,
    requestedRate: config.requestsPerSecond,
    scheduledSeconds: seconds,
    rounds,
    maxConcurrency: config.maxConcurrency,
    ...(served === undefined ? {} : { served }),
  };
}

/** One side's rounds of one route, accumulated. */
export class RouteRounds {
  private readonly results: RoundResult[] = [];
  readonly blocks: Float64Array[] = [];

  constructor(
    readonly s: LatencyScenario,
    readonly path: string,
  ) {}

  add(r: RoundResult, blockMs: number): void {
    this.results.push(r);
    this.blocks.push(...blocksOf(r.latenciesMs, r.intendedMs, blockMs));
  }

  measurement(config: LatencyGateConfig, rounds: number, served: string | undefined): RouteMeasurement {
    const all = new Float64Array(this.results.reduce((a, r) => a + r.latenciesMs.length, 0));
    let n = 0;
    for (const r of this.results) {
      all.set(r.latenciesMs, n);
      n += r.latenciesMs.length;
    }
    const latency = summarize(all);
    const seconds = this.results.reduce((a, r) => a + r.scheduledSeconds, 0);
    return {
      scenario: this.s.name,
      class: this.s.class,
      path: this.path,
      conditions: conditionsOf(this.s, config, seconds, rounds, served),
      ...sumCounts(this.results),
      samples: all.length,
      ...(latency ? { latency } : {}),
      percentiles: chartPercentiles(all),
    };
  }
}

/** A route that could not be measured (unreachable, no tool id): nothing sent, and why. */
export function unmeasured(
  s: LatencyScenario,
  config: LatencyGateConfig,
  setupError: string,
  served: string | undefined,
): RouteMeasurement {
  return {
    scenario: s.name,
    class: s.class,
    path: s.path,
    conditions: conditionsOf(s, config, 0, 0, served),
    ...ZERO,
    samples: 0,
    percentiles: [],
    setupError,
  };
}
