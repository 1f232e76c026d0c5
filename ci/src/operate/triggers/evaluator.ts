/**
 * The rollback triggers as a pure state machine over timed observations. The watcher feeds it one
 * observation per poll; tests feed it a fake clock. Limits and windows come from the environment's
 * `rollback` definition. States per trigger: ok, noData (too little traffic or history — reported,
 * never read as healthy), pending (limit breached, not yet for long enough), firing.
 */
import type { RollbackTriggers } from '../../definitions/environments.js';
import { histogramQuantile } from '../../platform/metrics/histogram.js';
import type { WindowTraffic } from './window.js';

const TRIGGER_NAMES = ['health', 'errorRate', 'p95'] as const;
export type TriggerName = (typeof TRIGGER_NAMES)[number];
type TriggerState = 'ok' | 'noData' | 'pending' | 'firing';

export interface Observation {
  /** Epoch milliseconds. */
  readonly at: number;
  /** The health check's result; undefined when none was made this poll. */
  readonly health?: boolean | undefined;
  /** Traffic in the trailing rate window; undefined when it could not be measured. */
  readonly traffic?: WindowTraffic | undefined;
  /** Why traffic is missing (scrape failed, …), for the noData detail. */
  readonly trafficProblem?: string | undefined;
}

export interface TriggerStatus {
  readonly trigger: TriggerName;
  readonly state: TriggerState;
  /** Consecutive failures (health), ratio (errorRate) or milliseconds (p95). */
  readonly value?: number;
  /** When the current breach began (epoch ms). */
  readonly since?: number;
  readonly detail: string;
}

export interface Firing {
  readonly trigger: TriggerName;
  readonly at: number;
  readonly reason: string;
}

interface Streak {
  readonly since: number;
  /** The last poll that saw the breach. */
  readonly lastAt: number;
  /** Breach time backed by data: the intervals that end on a breaching poll and start on a poll with data. */
  readonly heldMs: number;
  /** The last poll without data since lastAt: the interval up to it is not evidence. */
  readonly silentAt?: number;
}

export interface EvaluatorState {
  readonly healthFailures: number;
  readonly errorRate?: Streak | undefined;
  readonly p95?: Streak | undefined;
  /** Latched: once a trigger fires the release is bad, whatever later polls say. */
  readonly fired: readonly Firing[];
}

export interface Evaluation {
  readonly state: EvaluatorState;
  readonly statuses: Readonly<Record<TriggerName, TriggerStatus>>;
  /** Triggers that fired on this observation (empty on every other). */
  readonly firing: readonly Firing[];
}

export const initialState = (): EvaluatorState => ({ healthFailures: 0, fired: [] });

/** "Above" is strict: a value equal to the limit (up to float noise, 5/100 vs 0.05) does not breach. */
export function above(value: number, limit: number): boolean {
  return value > limit && Math.abs(value - limit) > 1e-9 * Math.max(1, Math.abs(limit));
}

const pct = (r: number) => `${(Math.round(r * 10000) / 100).toString()}%`;
const secs = (ms: number) => `${Math.round(ms / 100) / 10}s`;

type TrafficCheck =
  { kind: 'noData'; detail: string } | { kind: 'value'; value: number; breach: boolean; detail: string };

const finite = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n);

/** Numbers no source can honestly produce: NaN, ±Inf, negative counts, more errors than requests. */
export function malformedTraffic(tr: WindowTraffic): string | undefined {
  if (!finite(tr.requests) || tr.requests < 0) return `request count ${String(tr.requests)} is not a count`;
  if (!finite(tr.errors) || tr.errors < 0) return `error count ${String(tr.errors)} is not a count`;
  if (tr.errors > tr.requests * (1 + 1e-9) + 1e-9) return `${tr.errors} errors out of ${tr.requests} requests`;
  if (!finite(tr.spanSeconds)) return `window span ${String(tr.spanSeconds)} is not a duration`;
  const bad = tr.buckets.find((b) => Number.isNaN(b.le) || !finite(b.count) || b.count < 0);
  if (bad) return `latency bucket le=${String(bad.le)} holds ${String(bad.count)}`;
  return undefined;
}

function trafficProblem(t: RollbackTriggers, obs: Observation): string | undefined {
  const tr = obs.traffic;
  if (!tr) return obs.trafficProblem ?? 'no traffic window yet (needs two scrapes)';
  const malformed = malformedTraffic(tr);
  if (malformed) return `no data: ${malformed}`;
  if (tr.spanSeconds < t.rateWindowSeconds / 2)
    return `only ${tr.spanSeconds}s of the ${t.rateWindowSeconds}s window observed`;
  if (tr.requests < t.minRequestsPerWindow)
    return `${tr.requests} requests in the window, fewer than the ${t.minRequestsPerWindow} needed to judge`;
  return undefined;
}

function checkErrorRate(t: RollbackTriggers, obs: Observation): TrafficCheck {
  const problem = trafficProblem(t, obs);
  if (problem) return { kind: 'noData', detail: problem };
  const tr = obs.traffic!;
  const rate = tr.errors / tr.requests;
  const breach = above(rate, t.errorRate.above);
  return {
    kind: 'value',
    value: rate,
    breach,
    detail: `error rate ${pct(rate)} (${tr.errors}/${tr.requests}) ${breach ? '>' : '<='} ${pct(t.errorRate.above)}`,
  };
}

function checkP95(t: RollbackTriggers, obs: Observation): TrafficCheck {
  const problem = trafficProblem(t, obs);
  if (problem) return { kind: 'noData', detail: problem };
  const q = histogramQuantile(0.95, obs.traffic!.buckets);
  if (q === undefined || Number.isNaN(q)) return { kind: 'noData', detail: 'no latency histogram in the window' };
  const ms = q * 1000;
  const breach = above(ms, t.p95.aboveMs);
  return {
    kind: 'value',
    value: ms,
    breach,
    detail: `p95 ${Math.round(ms)}ms ${breach ? '>' : '<='} ${t.p95.aboveMs}ms`,
  };
}

function sustained(
  name: 'errorRate' | 'p95',
  check: TrafficCheck,
  prev: Streak | undefined,
  at: number,
  sustainedSeconds: number,
  maxGapMs: number,
): { status: TriggerStatus; streak?: Streak | undefined } {
  if (check.kind === 'noData') {
    // No data is not a recovery and not evidence: a running breach is held (not advanced, not reset).
    // If the silence outlasts the window, the gap rule below starts the breach over.
    const held = prev ? `; breach since ${new Date(prev.since).toISOString()} held` : '';
    return {
      status: { trigger: name, state: 'noData', detail: `${check.detail}${held}` },
      streak: prev ? { ...prev, silentAt: at } : undefined,
    };
  }
  if (!check.breach) return { status: { trigger: name, state: 'ok', value: check.value, detail: check.detail } };
  // A gap longer than the window means nothing was observed for a while: the breach starts over.
  const goesOn = prev !== undefined && at - prev.lastAt <= maxGapMs;
  const since = goesOn ? prev.since : at;
  // The interval that ended on a poll without data does not count towards "sustained".
  const heldMs = goesOn ? prev.heldMs + at - (prev.silentAt ?? prev.lastAt) : 0;
  const firing = heldMs >= sustainedSeconds * 1000;
  const detail = `${check.detail} for ${secs(heldMs)} (limit: sustained ${sustainedSeconds}s)`;
  return {
    status: { trigger: name, state: firing ? 'firing' : 'pending', value: check.value, since, detail },
    streak: { since, lastAt: at, heldMs },
  };
}

export function evaluate(t: RollbackTriggers, state: EvaluatorState, obs: Observation): Evaluation {
  let healthFailures = state.healthFailures;
  let health: TriggerStatus;
  if (obs.health === undefined) {
    health = { trigger: 'health', state: 'noData', value: healthFailures, detail: 'no health check this poll' };
  } else if (obs.health) {
    healthFailures = 0;
    health = { trigger: 'health', state: 'ok', value: 0, detail: 'health check passed' };
  } else {
    healthFailures++;
    const firing = healthFailures >= t.consecutiveHealthFailures;
    health = {
      trigger: 'health',
      state: firing ? 'firing' : 'pending',
      value: healthFailures,
      detail: `${healthFailures} consecutive failed health checks (limit: ${t.consecutiveHealthFailures})`,
    };
  }
  const maxGapMs = t.rateWindowSeconds * 1000;
  const err = sustained(
    'errorRate',
    checkErrorRate(t, obs),
    state.errorRate,
    obs.at,
    t.errorRate.sustainedSeconds,
    maxGapMs,
  );
  const p95 = sustained('p95', checkP95(t, obs), state.p95, obs.at, t.p95.sustainedSeconds, maxGapMs);
  const statuses = { health, errorRate: err.status, p95: p95.status };
  const already = new Set(state.fired.map((f) => f.trigger));
  const firing = TRIGGER_NAMES.filter((n) => statuses[n].state === 'firing' && !already.has(n)).map((n) => ({
    trigger: n,
    at: obs.at,
    reason: `${n}: ${statuses[n].detail}`,
  }));
  return {
    state: { healthFailures, errorRate: err.streak, p95: p95.streak, fired: [...state.fired, ...firing] },
    statuses,
    firing,
  };
}

/** One line per trigger whose state changed, for the watcher's log. */
export function stateChanges(
  prev: Readonly<Record<TriggerName, TriggerStatus>> | undefined,
  next: Readonly<Record<TriggerName, TriggerStatus>>,
): string[] {
  return TRIGGER_NAMES.filter((n) => prev?.[n].state !== next[n].state).map(
    (n) => `${n}: ${prev ? `${prev[n].state} -> ` : ''}${next[n].state} (${next[n].detail})`,
  );
}

/**
 * The same triggers on a shorter clock: every duration multiplied by `factor` (1/60 turns minutes into
 * seconds), for tests and demos. Limits stay as defined. A compressed window sees proportionally fewer
 * requests, so `minRequestsPerWindow` may be overridden, and so may the rate window (a 1 s window is
 * fragile on a loaded machine where one poll can take longer than that).
 */
export function compressTriggers(
  t: RollbackTriggers,
  factor: number,
  over: { minRequestsPerWindow?: number | undefined; rateWindowSeconds?: number | undefined } = {},
): RollbackTriggers {
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`time scale must be within (0, 1], got ${factor}`);
  const minRequestsPerWindow = over.minRequestsPerWindow ?? t.minRequestsPerWindow;
  if (!(Number.isInteger(minRequestsPerWindow) && minRequestsPerWindow >= 1)) {
    throw new RangeError(`minimum requests per window must be a positive integer, got ${minRequestsPerWindow}`);
  }
  const rateWindowSeconds = over.rateWindowSeconds ?? t.rateWindowSeconds * factor;
  if (!(rateWindowSeconds > 0)) throw new RangeError(`rate window must be positive, got ${rateWindowSeconds}`);
  return {
    ...t,
    errorRate: { ...t.errorRate, sustainedSeconds: t.errorRate.sustainedSeconds * factor },
    p95: { ...t.p95, sustainedSeconds: t.p95.sustainedSeconds * factor },
    pollSeconds: t.pollSeconds * factor,
    rateWindowSeconds,
    minRequestsPerWindow,
  };
}
