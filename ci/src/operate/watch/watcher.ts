/**
 * The rollback watcher: poll on a fixed schedule, feed the evaluator, log state changes, and on the
 * first trigger run the rollback action exactly once and stop. Clock, sources and action are injected.
 * An abort (SIGTERM) ends a sleep or a poll at once; a rollback action already started is never cut short.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { RollbackTriggers } from '../../definitions/environments.js';
import type { Firing, TriggerName, TriggerStatus } from '../triggers/evaluator.js';
import {
  initialMonitor,
  monitorStep,
  type MonitorState,
  type MonitorStep,
  type PollResult,
} from '../triggers/monitor.js';

export interface Clock {
  now(): number;
  /** Resolves after ms, or as soon as the signal aborts (never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(Math.max(0, ms), undefined, signal ? { signal } : {}).catch(() => undefined),
};

export interface WatchOptions {
  readonly triggers: RollbackTriggers;
  readonly durationSeconds: number;
  /** One observation; gets the poll's timestamp and the abort signal. Must not throw (sources report problems in the result). */
  readonly poll: (at: number, signal?: AbortSignal) => Promise<PollResult>;
  /** Runs once, on the first trigger. */
  readonly rollback: (firing: readonly Firing[]) => Promise<void>;
  readonly log: (line: string) => void;
  readonly clock?: Clock;
  /** A status line every this many polls, so a long watch shows it is alive (0 = never). */
  readonly heartbeatPolls?: number;
  readonly signal?: AbortSignal;
}

export interface WatchResult {
  /** noData: no poll could judge error rate or latency, so the watch says nothing about the release. */
  readonly outcome: 'healthy' | 'triggered' | 'aborted' | 'noData';
  readonly firing: readonly Firing[];
  readonly polls: number;
  /** Polls where neither error rate nor latency could be judged (non-finite, missing or malformed data, too little traffic). */
  readonly noDataPolls?: number;
  readonly statuses?: Readonly<Record<TriggerName, TriggerStatus>> | undefined;
  /** Set when the rollback action itself failed. */
  readonly rollbackError?: string;
  readonly reason: string;
}

const summary = (s: Readonly<Record<TriggerName, TriggerStatus>>) =>
  Object.values(s)
    .map((x) => `${x.trigger}=${x.state}`)
    .join(' ');

/** What the watch has seen so far. */
interface Tally {
  state: MonitorState;
  polls: number;
  /** Polls where neither error rate nor latency could be judged, and the last one's reason. */
  noDataPolls: number;
  lastNoData: string;
}

/** Counts one poll's step and logs its state changes, and a heartbeat every heartbeatPolls polls. */
function tallyStep(t: Tally, step: MonitorStep, at: number, o: WatchOptions): void {
  t.state = step.state;
  t.polls++;
  const { errorRate, p95 } = step.evaluation.statuses;
  if (errorRate.state === 'noData' && p95.state === 'noData') {
    t.noDataPolls++;
    t.lastNoData = errorRate.detail;
  }
  const stamp = new Date(at).toISOString();
  for (const c of step.changes) o.log(`${stamp} ${c}`);
  if (o.heartbeatPolls && t.polls % o.heartbeatPolls === 0)
    o.log(`${stamp} poll ${t.polls}: ${summary(step.evaluation.statuses)}`);
}

/** The rollback action, run once: triggered either way, with the action's error when it failed. */
async function rollBack(
  o: WatchOptions,
  clock: Clock,
  step: MonitorStep,
  at: number,
  polls: number,
): Promise<WatchResult> {
  const firing = step.evaluation.firing;
  const statuses = step.evaluation.statuses;
  const reason = firing.map((f) => f.reason).join('; ');
  o.log(`${new Date(at).toISOString()} TRIGGER ${reason}; running the rollback action`);
  try {
    await o.rollback(firing);
    o.log(`${new Date(clock.now()).toISOString()} rollback action finished`);
    return { outcome: 'triggered', firing, polls, statuses, reason };
  } catch (err) {
    const rollbackError = err instanceof Error ? err.message : String(err);
    o.log(`${new Date(clock.now()).toISOString()} rollback action FAILED: ${rollbackError}`);
    return { outcome: 'triggered', firing, polls, statuses, reason, rollbackError };
  }
}

/** The duration ended without a trigger: healthy, unless no poll could judge error rate or latency. */
function endOfWatch(t: Tally, durationSeconds: number): WatchResult {
  const { polls, noDataPolls } = t;
  if (noDataPolls === polls)
    return {
      outcome: 'noData',
      firing: [],
      polls,
      noDataPolls,
      statuses: t.state.statuses,
      reason: `no data in any of ${polls} polls over ${durationSeconds}s (last: ${t.lastNoData}): error rate and latency were never judged, so this watch cannot call the release healthy`,
    };
  const partly = noDataPolls > 0 ? `; ${noDataPolls} of them without data` : '';
  return {
    outcome: 'healthy',
    firing: [],
    polls,
    noDataPolls,
    statuses: t.state.statuses,
    reason: `no trigger fired in ${durationSeconds}s (${polls} polls${partly})`,
  };
}

export async function watch(o: WatchOptions): Promise<WatchResult> {
  const clock = o.clock ?? systemClock;
  const pollMs = o.triggers.pollSeconds * 1000;
  const start = clock.now();
  const end = start + o.durationSeconds * 1000;
  const t: Tally = { state: initialMonitor(), polls: 0, noDataPolls: 0, lastNoData: '' };
  const aborted = (): WatchResult => ({
    outcome: 'aborted',
    firing: [],
    polls: t.polls,
    statuses: t.state.statuses,
    reason: 'watch aborted',
  });
  for (;;) {
    if (o.signal?.aborted) return aborted();
    const at = clock.now();
    const observation = await o.poll(at, o.signal);
    // A poll cut short by the abort says nothing about the service: it must not fire a trigger.
    if (o.signal?.aborted) return aborted();
    const step = monitorStep(o.triggers, t.state, observation);
    tallyStep(t, step, at, o);
    if (step.evaluation.firing.length > 0) return rollBack(o, clock, step, at, t.polls);
    if (at >= end) break;
    // Fixed schedule from the start: a slow poll does not push every later poll back.
    const next = start + Math.ceil((clock.now() - start + 1) / pollMs) * pollMs;
    await clock.sleep(Math.min(next, end) - clock.now(), o.signal);
  }
  return endOfWatch(t, o.durationSeconds);
}
