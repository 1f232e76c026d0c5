/**
 * The latency gate's decision, pure over plain data: pass, fail or inconclusive per route and for the
 * gate. Every check carries its value, its limit and a sentence saying why.
 *
 * - validity checks (responses, client schedule, achieved rate, samples) say whether the measurement
 *   can support a decision; when one does not hold the route is inconclusive, never a pass;
 * - limit checks are the environment's absolute ceilings (error rate, p50, graph p95);
 * - regression checks compare the candidate with the baseline measured in the same run: fail when the
 *   lower end of the ratio's confidence interval is above the allowance.
 * A failed error-rate check stands even on an invalid measurement (errors are errors); a latency
 * failure stands only on a valid one. fail > inconclusive > pass, per route and over the routes.
 */
import type { LatencyGateConfig, LatencyScenario } from '../definitions/environments.js';
import { samplesNeeded, type LatencySummary, type RatioInterval } from './stats.js';
import { inconclusive, isPass, worstOutcome, type Verdict, type VerdictOutcome } from '../definitions/verdict.js';

export type { LatencySummary } from './stats.js';

/** What both sides of a comparison must share; compared field by field. */
export interface MeasurementConditions {
  readonly method: LatencyScenario['method'];
  /** The scenario's path before `{toolId}` is filled (ids differ between services). */
  readonly pathTemplate: string;
  readonly requestedRate: number;
  readonly scheduledSeconds: number;
  readonly rounds: number;
  readonly maxConcurrency: number;
  /** How the service was run (e.g. "local app/src, 200 tools seeded"); compared when both sides say. */
  readonly served?: string;
}

/** How a request failed without an HTTP answer (timeouts are counted on their own). */
export const TRANSPORT_FAILURES = ['refused', 'reset', 'closed', 'malformed', 'other'] as const;
export type TransportFailure = (typeof TRANSPORT_FAILURES)[number];

/** What the load client counts for one run: the same fields in a load result and in a route's measurement. */
export interface LoadCounts {
  readonly scheduled: number;
  readonly sent: number;
  /** Responses of any status. */
  readonly responses: number;
  readonly non2xx: number;
  /** 429 answers: the service's rate limiter refused the request. Neither a service error nor service latency. */
  readonly rateLimited: number;
  /** 5xx answers. */
  readonly serverErrors: number;
  /** Requests that got no HTTP answer (the sum of `transportFailures`); each is an error of its own request. */
  readonly socketErrors: number;
  /** connection refused, reset, closed before the answer, a malformed answer, anything else. */
  readonly transportFailures: Readonly<Record<TransportFailure, number>>;
  readonly timeouts: number;
  /** GETs sent again on a fresh connection because the first one failed before any byte was written. */
  readonly retries: number;
  readonly statusCodes: Readonly<Record<string, number>>;
  /** Sends later than the tolerance, and the latest one (ms after its intended time). */
  readonly lateSends: number;
  readonly maxLateMs: number;
  /** Requests that were due while `maxConcurrency` were already in flight (they queued in the client). */
  readonly capWaits: number;
  readonly maxInFlight: number;
}

/** One side (candidate or baseline) of one route, as measured. Milliseconds throughout. */
export interface RouteMeasurement extends LoadCounts {
  readonly scenario: LatencyScenario['name'];
  readonly class: LatencyScenario['class'];
  readonly path: string;
  readonly conditions: MeasurementConditions;
  /** Samples behind the percentiles: answers other than 429 (rate-limit refusals are not service latency) and timeouts. */
  readonly samples: number;
  readonly latency?: LatencySummary | undefined;
  /** [percentile, ms] for charts. */
  readonly percentiles: readonly (readonly [number, number])[];
  /** Why it could not be measured at all (unreachable, no tool id). */
  readonly setupError?: string;
}

export interface RouteComparison {
  readonly p50: RatioInterval;
  readonly p95: RatioInterval;
}

export interface RouteInput {
  readonly candidate: RouteMeasurement;
  /** Present when a regression check was asked for; `unavailable` when the baseline could not be measured. */
  readonly baseline?: RouteMeasurement | { readonly unavailable: string };
  readonly comparison?: RouteComparison;
}

export type CheckName =
  | 'rateLimit'
  | 'responses'
  | 'clientSchedule'
  | 'achievedRate'
  | 'samples'
  | 'errorRate'
  | 'p50'
  | 'p95'
  | 'baseline'
  | 'sameConditions'
  | 'statusMix'
  | 'p50Ratio'
  | 'p95Ratio';

/** One check's verdict (its reason: one sentence with the value and the limit), and the numbers behind it. */
export interface Check extends Verdict {
  readonly name: CheckName;
  readonly kind: 'validity' | 'limit' | 'regression';
  readonly actual: number;
  readonly limit: number;
}

const said = (c: Check) => c.reasons.join('; ');

/** One route's verdict; its reasons are the failed and inconclusive checks, or one line saying why it passed. */
export interface RouteVerdict extends Verdict {
  readonly scenario: LatencyScenario['name'];
  readonly checks: readonly Check[];
  readonly achievedRate: number;
  readonly errorRate: number;
}

/** The gate's verdict: the routes' verdicts combined (worst wins); "may it go" is `isPass`. */
export interface GateVerdict extends Verdict {
  readonly routes: readonly RouteVerdict[];
}

const fmt = (n: number, digits = 1) =>
  Number.isFinite(n) ? (Math.round(n * 10 ** digits) / 10 ** digits).toString() : String(n);
const pct = (r: number) => `${fmt(r * 100, 3)}%`;
const ms = (n: number) => `${fmt(n, 2)}ms`;

/** Errors of the service: non-2xx answers other than 429, transport failures and timeouts. */
export function errorCount(m: RouteMeasurement): number {
  return m.non2xx - m.rateLimited + m.socketErrors + m.timeouts;
}

/** The requests an error rate is judged over: those sent, less the ones the rate limiter refused. */
export function judgedRequests(m: RouteMeasurement): number {
  return m.sent - m.rateLimited;
}

/** Each kind of error apart: "3 HTTP 500", "2 connection errors (1 reset, 1 refused)", "1 timeouts". */
export function errorParts(m: RouteMeasurement): string[] {
  const parts = Object.entries(m.statusCodes)
    .filter(([k]) => !/^2\d\d$/.test(k) && k !== '429')
    .map(([k, v]) => `${v} HTTP ${k}`);
  if (m.socketErrors > 0) {
    const kinds = TRANSPORT_FAILURES.filter((k) => m.transportFailures[k] > 0);
    parts.push(
      `${m.socketErrors} connection errors (${kinds.map((k) => `${m.transportFailures[k]} ${k}`).join(', ')})`,
    );
  }
  if (m.timeouts > 0) parts.push(`${m.timeouts} timeouts`);
  return parts;
}

/** The error-rate check of one side (`who` "" or "baseline "); undefined when nothing was judged. */
function errorRateCheck(m: RouteMeasurement, config: LatencyGateConfig, who = ''): Check | undefined {
  const judged = judgedRequests(m);
  if (judged <= 0) return undefined;
  const limit = config.thresholds.maxErrorRate;
  const rate = errorCount(m) / judged;
  const ok = rate < limit;
  const parts = errorParts(m);
  return {
    name: 'errorRate',
    kind: 'limit',
    outcome: ok ? 'passed' : 'failed',
    actual: rate,
    limit,
    reasons: [
      `${m.scenario}: ${who}error rate ${pct(rate)} (${parts.length > 0 ? parts.join(', ') : 'no errors'} of ${judged} sent) ${ok ? '<' : '>='} ${pct(limit)}`,
    ],
  };
}

/** Validity of one side's measurement; `who` prefixes the sentences ("" or "baseline "). */
export function validityChecks(
  m: RouteMeasurement,
  config: LatencyGateConfig,
  percentilesJudged: readonly number[],
  who = '',
): Check[] {
  const name = m.scenario;
  const checks: Check[] = [];
  if (m.rateLimited > 0)
    checks.push({
      name: 'rateLimit',
      kind: 'validity',
      outcome: 'inconclusive',
      actual: m.rateLimited,
      limit: 0,
      reasons: [
        `${name}: ${who ? `${who.trim()}: ` : ''}the service's rate limit refused ${m.rateLimited} of ${m.sent}: raise RATE_LIMIT_MAX for the gate's key or lower the rate`,
      ],
    });
  if (m.responses - m.rateLimited === 0 || !m.latency) {
    checks.push({
      name: 'responses',
      kind: 'validity',
      outcome: 'inconclusive',
      actual: 0,
      limit: 1,
      reasons: [
        `${name}: ${who}no responses to ${m.sent} requests${m.rateLimited > 0 ? ` other than ${m.rateLimited} rate-limit refusals` : ''} (${m.socketErrors} connection errors, ${m.timeouts} timeouts): nothing to judge`,
      ],
    });
    return checks;
  }
  return [...checks, ...measuredValidity(m, config, percentilesJudged, who)];
}

function measuredValidity(
  m: RouteMeasurement,
  config: LatencyGateConfig,
  percentilesJudged: readonly number[],
  who: string,
): Check[] {
  const name = m.scenario;
  const checks: Check[] = [];
  checks.push({
    name: 'responses',
    kind: 'validity',
    outcome: 'passed',
    actual: m.responses,
    limit: 1,
    reasons: [`${name}: ${who}${m.responses} responses`],
  });
  const lateRatio = m.sent > 0 ? m.lateSends / m.sent : 0;
  const scheduleOk = lateRatio <= config.maxLateSendRatio && m.capWaits === 0;
  checks.push({
    name: 'clientSchedule',
    kind: 'validity',
    outcome: scheduleOk ? 'passed' : 'inconclusive',
    actual: lateRatio,
    limit: config.maxLateSendRatio,
    reasons: [
      scheduleOk
        ? `${name}: ${who}client kept the schedule (${m.lateSends} of ${m.sent} sends later than ${config.lateSendToleranceMs}ms, latest ${ms(m.maxLateMs)}; at most ${m.maxInFlight} of ${m.conditions.maxConcurrency} in flight)`
        : `${name}: ${who}client saturated: ${m.lateSends} of ${m.sent} sends (${pct(lateRatio)}, allowed ${pct(config.maxLateSendRatio)}) later than ${config.lateSendToleranceMs}ms (latest ${ms(m.maxLateMs)}), ${m.capWaits} requests held back at the cap of ${m.conditions.maxConcurrency} in flight: the latencies include the client's own delay`,
    ],
  });
  const achievedRate = m.responses / m.conditions.scheduledSeconds;
  const minRate = config.minAchievedRateRatio * m.conditions.requestedRate;
  const rateOk = achievedRate >= minRate;
  checks.push({
    name: 'achievedRate',
    kind: 'validity',
    outcome: rateOk ? 'passed' : 'inconclusive',
    actual: achievedRate,
    limit: minRate,
    reasons: [
      `${name}: ${who}achieved ${fmt(achievedRate)} of ${m.conditions.requestedRate} req/s requested (${pct(achievedRate / m.conditions.requestedRate)}) ${rateOk ? '>=' : '<'} the ${pct(config.minAchievedRateRatio)} needed${rateOk ? '' : ': the load was not applied, so the latencies do not show the service at this rate'}`,
    ],
  });
  const needed = Math.max(...percentilesJudged.map((q) => samplesNeeded(q / 100, config.minTailSamples)));
  const samplesOk = m.samples >= needed;
  checks.push({
    name: 'samples',
    kind: 'validity',
    outcome: samplesOk ? 'passed' : 'inconclusive',
    actual: m.samples,
    limit: needed,
    reasons: [
      `${name}: ${who}${m.samples} samples ${samplesOk ? '>=' : '<'} ${needed} needed for p${Math.max(...percentilesJudged)} (${config.minTailSamples} above it)`,
    ],
  });
  return checks;
}

function limitChecks(m: RouteMeasurement, config: LatencyGateConfig): Check[] {
  const t = config.thresholds;
  const name = m.scenario;
  const errors = errorRateCheck(m, config);
  const checks: Check[] = errors ? [errors] : [];
  if (m.latency) {
    const p50Ok = m.latency.p50 < t.apiP50Ms;
    checks.push({
      name: 'p50',
      kind: 'limit',
      outcome: p50Ok ? 'passed' : 'failed',
      actual: m.latency.p50,
      limit: t.apiP50Ms,
      reasons: [`${name}: p50 ${ms(m.latency.p50)} ${p50Ok ? '<' : '>='} ${t.apiP50Ms}ms`],
    });
    if (m.class === 'graph') {
      const p95Ok = m.latency.p95 < t.graphP95Ms;
      checks.push({
        name: 'p95',
        kind: 'limit',
        outcome: p95Ok ? 'passed' : 'failed',
        actual: m.latency.p95,
        limit: t.graphP95Ms,
        reasons: [`${name}: p95 ${ms(m.latency.p95)} ${p95Ok ? '<' : '>='} ${t.graphP95Ms}ms (graph route)`],
      });
    }
  }
  return checks;
}

/** Field-by-field differences between two sides' conditions; empty when they match. */
export function conditionDifferences(a: MeasurementConditions, b: MeasurementConditions): string[] {
  const keys: (keyof MeasurementConditions)[] = [
    'method',
    'pathTemplate',
    'requestedRate',
    'scheduledSeconds',
    'rounds',
    'maxConcurrency',
    'served',
  ];
  return keys
    .filter((k) => !(k === 'served' && (a.served === undefined || b.served === undefined)))
    .filter((k) => a[k] !== b[k])
    .map((k) => `${k} ${String(b[k])} (baseline) vs ${String(a[k])} (candidate)`);
}

/** HTTP statuses making up more than `minShare` of a side's requests, with their shares, by status. */
export function statusMix(m: RouteMeasurement, minShare: number): Map<string, number> {
  const mix = new Map<string, number>();
  for (const [k, v] of Object.entries(m.statusCodes)) if (m.sent > 0 && v / m.sent > minShare) mix.set(k, v / m.sent);
  return mix;
}

const mixText = (mix: Map<string, number>) =>
  mix.size === 0 ? 'nothing' : [...mix].map(([k, share]) => `${k} (${pct(share)})`).join(', ');

/** Both sides must answer alike (the same statuses, each above the error limit's share) to be compared. */
function statusMixCheck(c: RouteMeasurement, b: RouteMeasurement, config: LatencyGateConfig): Check {
  const share = config.thresholds.maxErrorRate;
  const cm = statusMix(c, share);
  const bm = statusMix(b, share);
  const same = cm.size === bm.size && [...cm.keys()].every((k) => bm.has(k));
  return {
    name: 'statusMix',
    kind: 'regression',
    outcome: same ? 'passed' : 'inconclusive',
    actual: same ? 0 : 1,
    limit: 0,
    reasons: [
      same
        ? `${c.scenario}: baseline and candidate answered alike (${mixText(cm)})`
        : `${c.scenario}: baseline and candidate answered differently: baseline ${mixText(bm)}, candidate ${mixText(cm)}: they do not serve the same thing, so their latencies do not compare`,
    ],
  };
}

/** The baseline judged on its own: invalid measurement, rate limited, or errors above the limit. */
function baselineChecks(b: RouteMeasurement, config: LatencyGateConfig): Check[] {
  const baseErrors = errorRateCheck(b, config, 'baseline ');
  return [
    ...validityChecks(b, config, [50, 95], 'baseline '),
    // A baseline that fails on its own is no yardstick: judged, and never compared with as if healthy.
    ...(baseErrors ? [{ ...baseErrors, reasons: [`${said(baseErrors)}: a failing baseline is no yardstick`] }] : []),
  ]
    .filter((x) => x.outcome !== 'passed')
    .map((x) => ({ ...x, outcome: 'inconclusive' as const, kind: 'regression' as const, name: 'baseline' as const }));
}

function sameConditionsCheck(c: RouteMeasurement, b: RouteMeasurement): Check {
  const diffs = conditionDifferences(c.conditions, b.conditions);
  return {
    name: 'sameConditions',
    kind: 'regression',
    outcome: diffs.length === 0 ? 'passed' : 'inconclusive',
    actual: diffs.length,
    limit: 0,
    reasons: [
      diffs.length === 0
        ? `${c.scenario}: baseline and candidate measured under the same conditions`
        : `${c.scenario}: baseline and candidate not measured under the same conditions: ${diffs.join('; ')}`,
    ],
  };
}

/** p50 or p95 ratio candidate / baseline: fails when the interval's lower end is above the allowance. */
function ratioCheck(q: 50 | 95, input: RouteInput, b: RouteMeasurement, config: LatencyGateConfig): Check {
  const c = input.candidate;
  const name = c.scenario;
  const key = q === 50 ? 'p50Ratio' : 'p95Ratio';
  const r = input.comparison?.[q === 50 ? 'p50' : 'p95'];
  const limit = 1 + (q === 50 ? config.regression.p50 : config.regression.p95);
  if (!r || !Number.isFinite(r.low))
    return {
      name: key,
      kind: 'regression',
      outcome: 'inconclusive',
      actual: Number.NaN,
      limit,
      reasons: [`${name}: no p${q} ratio could be computed`],
    };
  const slower = r.low > limit;
  const base = q === 50 ? b.latency?.p50 : b.latency?.p95;
  const cand = q === 50 ? c.latency?.p50 : c.latency?.p95;
  return {
    name: key,
    kind: 'regression',
    outcome: slower ? 'failed' : 'passed',
    actual: r.estimate,
    limit,
    reasons: [
      `${name}: p${q} ${ms(cand ?? Number.NaN)} vs baseline ${ms(base ?? Number.NaN)}, ratio ${fmt(r.estimate, 3)} (${fmt(r.confidence * 100, 0)}% CI ${fmt(r.low, 3)}-${fmt(r.high, 3)}) ${slower ? `slower than the allowed ${fmt(limit, 2)}x with confidence` : `not shown above the allowed ${fmt(limit, 2)}x`}`,
    ],
  };
}

function regressionChecks(input: RouteInput, config: LatencyGateConfig): Check[] {
  const c = input.candidate;
  const b = input.baseline;
  if (b === undefined) return [];
  if ('unavailable' in b || b.setupError) {
    const why = 'unavailable' in b ? b.unavailable : b.setupError!;
    const detail = `${c.scenario}: no baseline to compare with: ${why}`;
    return [{ name: 'baseline', kind: 'regression', ...inconclusive(detail), actual: 0, limit: 1 }];
  }
  return [
    ...baselineChecks(b, config),
    statusMixCheck(c, b, config),
    sameConditionsCheck(c, b),
    ratioCheck(50, input, b, config),
    ratioCheck(95, input, b, config),
  ];
}

export function judgeRoute(input: RouteInput, config: LatencyGateConfig): RouteVerdict {
  const m = input.candidate;
  const name = m.scenario;
  const achievedRate = m.responses / Math.max(1e-9, m.conditions.scheduledSeconds);
  const judgedN = judgedRequests(m);
  const errorRate = judgedN > 0 ? errorCount(m) / judgedN : m.sent > 0 ? 0 : 1;
  if (m.setupError) {
    const detail = `${name}: could not run: ${m.setupError}`;
    return {
      scenario: name,
      outcome: 'inconclusive',
      checks: [{ name: 'responses', kind: 'validity', ...inconclusive(detail), actual: 0, limit: 1 }],
      reasons: [detail],
      achievedRate: 0,
      errorRate: 1,
    };
  }
  const judged = m.class === 'graph' || input.baseline !== undefined ? [50, 95] : [50];
  const validity = validityChecks(m, config, judged);
  const limits = m.responses > 0 || m.sent > 0 ? limitChecks(m, config) : [];
  const regression = regressionChecks(input, config);
  const valid = validity.every((c) => c.outcome === 'passed');
  const regressionValid = regression
    .filter((c) => c.name === 'baseline' || c.name === 'sameConditions' || c.name === 'statusMix')
    .every((c) => c.outcome === 'passed');
  const trusted = (c: Check) => c.name === 'errorRate' || (valid && (c.kind === 'limit' || regressionValid));
  const checks = [...validity, ...limits, ...regression];
  const failures = checks.filter((c) => c.outcome === 'failed' && trusted(c));
  // A latency failure on an invalid measurement cannot be trusted either way: it is inconclusive.
  const doubts = checks.filter((c) => c.outcome === 'inconclusive' || (c.outcome === 'failed' && !trusted(c)));
  // A gate that cannot measure is inconclusive, never passed.
  const outcome: VerdictOutcome = failures.length > 0 ? 'failed' : doubts.length > 0 ? 'inconclusive' : 'passed';
  const reasons =
    outcome === 'passed'
      ? [
          `${name} passed: ${checks
            .filter((c) => c.name !== 'responses')
            .map((c) => said(c).replace(`${name}: `, ''))
            .join('; ')}`,
        ]
      : [...failures, ...doubts].map((c) =>
          c.outcome === 'failed' && !trusted(c) ? `${said(c)} (not trusted: the measurement is not valid)` : said(c),
        );
  return { scenario: name, outcome, checks, reasons, achievedRate, errorRate };
}

export function judgeGate(inputs: readonly RouteInput[], config: LatencyGateConfig): GateVerdict {
  const routes = inputs.map((i) => judgeRoute(i, config));
  if (routes.length === 0) return { ...inconclusive('no routes were measured: nothing to judge'), routes };
  const outcome = worstOutcome(routes.map((r) => r.outcome));
  // Unlike `combine`, a failure still lists the inconclusive routes: every route that did not pass says why.
  const said = outcome === 'passed' ? routes : routes.filter((r) => !isPass(r));
  return { outcome, reasons: said.flatMap((r) => r.reasons), routes };
}
