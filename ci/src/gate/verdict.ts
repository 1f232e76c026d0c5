/**
 * The latency gate's decision, pure: a scenario's measurement against the environment's thresholds,
 * each check with its actual value, its limit and a sentence saying why it passed or failed.
 * Fail closed: no responses, or less than the required share of the requested rate, is a failure.
 */
import type { LatencyGateConfig, LatencyScenario } from '../environments.js';

export interface LatencySummary {
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
  readonly mean: number;
}

export interface ScenarioMeasurement {
  readonly scenario: LatencyScenario['name'];
  readonly class: LatencyScenario['class'];
  readonly method: LatencyScenario['method'];
  readonly path: string;
  readonly requestedRate: number;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Wall time of the measured phase (warm-up excluded). */
  readonly elapsedSeconds: number;
  /** Responses of any status. */
  readonly responses: number;
  readonly non2xx: number;
  readonly socketErrors: number;
  readonly timeouts: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** Milliseconds, from every response; undefined when there were none. */
  readonly latency?: LatencySummary;
  /** Latency per percentile for charts: [percentile, ms]. */
  readonly percentiles: readonly (readonly [number, number])[];
  /** A problem that stopped the measurement (e.g. no tool id to get). */
  readonly setupError?: string;
}

export interface Check {
  readonly name: 'responses' | 'achievedRate' | 'errorRate' | 'p50' | 'p95';
  readonly passed: boolean;
  readonly actual: number;
  readonly limit: number;
  readonly detail: string;
}

export interface ScenarioVerdict {
  readonly scenario: LatencyScenario['name'];
  readonly passed: boolean;
  readonly checks: readonly Check[];
  readonly reasons: readonly string[];
  readonly achievedRate: number;
  readonly errorRate: number;
}

const fmt = (n: number, digits = 1) => (Math.round(n * 10 ** digits) / 10 ** digits).toString();
const pct = (r: number) => `${fmt(r * 100, 3)}%`;

export function attempts(m: ScenarioMeasurement): number {
  return m.responses + m.socketErrors + m.timeouts;
}

export function judgeScenario(m: ScenarioMeasurement, config: LatencyGateConfig): ScenarioVerdict {
  const t = config.thresholds;
  const tried = attempts(m);
  const failed = m.non2xx + m.socketErrors + m.timeouts;
  const achievedRate = m.elapsedSeconds > 0 ? m.responses / m.elapsedSeconds : 0;
  const errorRate = tried > 0 ? failed / tried : 1;
  const checks: Check[] = [];
  const name = m.scenario;
  if (m.setupError) {
    const detail = `${name}: could not run: ${m.setupError}`;
    return { scenario: name, passed: false, checks: [{ name: 'responses', passed: false, actual: 0, limit: 1, detail }], reasons: [detail], achievedRate, errorRate };
  }
  if (m.responses === 0 || !m.latency) {
    checks.push({ name: 'responses', passed: false, actual: 0, limit: 1, detail: `${name}: no responses in ${fmt(m.elapsedSeconds)}s (${m.socketErrors} socket errors, ${m.timeouts} timeouts): cannot measure, so it does not pass` });
  } else {
    checks.push({ name: 'responses', passed: true, actual: m.responses, limit: 1, detail: `${name}: ${m.responses} responses` });
  }
  const minRate = config.minAchievedRateRatio * m.requestedRate;
  const rateOk = achievedRate >= minRate;
  checks.push({
    name: 'achievedRate',
    passed: rateOk,
    actual: achievedRate,
    limit: minRate,
    detail: `${name}: achieved ${fmt(achievedRate)} of ${m.requestedRate} req/s requested (${pct(m.requestedRate > 0 ? achievedRate / m.requestedRate : 0)}) ${rateOk ? '>=' : '<'} the ${pct(config.minAchievedRateRatio)} needed${rateOk ? '' : ': the load was not applied, so the latencies do not show what the service does at this rate'}`,
  });
  const errOk = tried > 0 && errorRate < t.maxErrorRate;
  checks.push({
    name: 'errorRate',
    passed: errOk,
    actual: errorRate,
    limit: t.maxErrorRate,
    detail: `${name}: error rate ${pct(errorRate)} (${m.non2xx} non-2xx, ${m.socketErrors} socket errors, ${m.timeouts} timeouts of ${tried}) ${errOk ? '<' : '>='} ${pct(t.maxErrorRate)}`,
  });
  if (m.latency) {
    const p50Ok = m.latency.p50 < t.apiP50Ms;
    checks.push({ name: 'p50', passed: p50Ok, actual: m.latency.p50, limit: t.apiP50Ms, detail: `${name}: p50 ${fmt(m.latency.p50, 2)}ms ${p50Ok ? '<' : '>='} ${t.apiP50Ms}ms` });
    if (m.class === 'graph') {
      const p95Ok = m.latency.p95 < t.graphP95Ms;
      checks.push({ name: 'p95', passed: p95Ok, actual: m.latency.p95, limit: t.graphP95Ms, detail: `${name}: p95 ${fmt(m.latency.p95, 2)}ms ${p95Ok ? '<' : '>='} ${t.graphP95Ms}ms (graph route)` });
    }
  }
  const passed = checks.every((c) => c.passed);
  return { scenario: name, passed, checks, reasons: checks.filter((c) => !c.passed).map((c) => c.detail), achievedRate, errorRate };
}

export interface GateVerdict {
  readonly passed: boolean;
  /** Why it failed (every failed check), or one line per scenario saying why it passed. */
  readonly reasons: readonly string[];
  readonly scenarios: readonly ScenarioVerdict[];
}

export function judgeGate(measurements: readonly ScenarioMeasurement[], config: LatencyGateConfig): GateVerdict {
  const scenarios = measurements.map((m) => judgeScenario(m, config));
  // No scenario measured is not a pass either.
  if (scenarios.length === 0) return { passed: false, reasons: ['no scenarios were measured'], scenarios };
  const passed = scenarios.every((s) => s.passed);
  const reasons = passed
    ? scenarios.map((s) => `${s.scenario} passed: ${s.checks.filter((c) => c.name !== 'responses').map((c) => c.detail.replace(`${s.scenario}: `, '')).join('; ')}`)
    : scenarios.flatMap((s) => s.reasons);
  return { passed, reasons, scenarios };
}
