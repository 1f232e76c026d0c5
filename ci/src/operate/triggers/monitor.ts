/**
 * One poll's worth of bookkeeping, pure: keep the scrape history, cut the trailing window, evaluate,
 * and say which trigger states changed. The watcher is I/O around this; tests drive it with a fake clock.
 */
import type { RollbackTriggers } from '../../definitions/environments.js';
import {
  evaluate,
  initialState,
  stateChanges,
  type Evaluation,
  type EvaluatorState,
  type TriggerName,
  type TriggerStatus,
} from './evaluator.js';
import { pruneHistory, windowTraffic, type TrafficSnapshot, type WindowTraffic } from './window.js';

export interface MonitorState {
  readonly history: readonly TrafficSnapshot[];
  readonly evaluator: EvaluatorState;
  readonly statuses?: Readonly<Record<TriggerName, TriggerStatus>> | undefined;
}

/** What one poll saw. Traffic is either a cumulative snapshot (/metrics) or an already-windowed value (Prometheus). */
export interface PollResult {
  readonly at: number;
  readonly health?: boolean | undefined;
  readonly snapshot?: TrafficSnapshot | undefined;
  readonly window?: WindowTraffic;
  /** Why traffic could not be read this poll. */
  readonly problem?: string;
}

export interface MonitorStep {
  readonly state: MonitorState;
  readonly evaluation: Evaluation;
  readonly changes: readonly string[];
}

export const initialMonitor = (): MonitorState => ({ history: [], evaluator: initialState() });

export function monitorStep(t: RollbackTriggers, state: MonitorState, poll: PollResult): MonitorStep {
  // Half a poll of tolerance keeps jitter from dropping the window's left edge.
  const tolerance = t.pollSeconds / 2;
  let history = state.history;
  let traffic = poll.window;
  if (!poll.window) {
    // A missed scrape is a gap, not a verdict: the window is cut from what history still covers.
    history = pruneHistory(
      poll.snapshot ? [...history, poll.snapshot] : history,
      poll.at,
      t.rateWindowSeconds + tolerance,
    );
    traffic = windowTraffic(history, poll.at, t.rateWindowSeconds, tolerance);
  }
  const evaluation = evaluate(t, state.evaluator, {
    at: poll.at,
    health: poll.health,
    traffic,
    trafficProblem: poll.problem,
  });
  const changes = stateChanges(state.statuses, evaluation.statuses);
  return { state: { history, evaluator: evaluation.state, statuses: evaluation.statuses }, evaluation, changes };
}
