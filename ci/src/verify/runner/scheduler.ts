/**
 * The pure scheduler: given what is pending, what finished and how much is running, which steps start
 * now and which are skipped (a dependency did not succeed, or the run was interrupted).
 */
import { isSuccess } from '../../platform/outcome.js';
import type { RunnableStep } from './graph.js';
import type { StepResult } from './types.js';

export type Decision<S> =
  | { readonly step: S; readonly action: 'start' }
  | { readonly step: S; readonly action: 'skip'; readonly reason: string };

export interface ScheduleState<S extends RunnableStep> {
  /** In preference order (see criticalPathOrder). */
  readonly pending: readonly S[];
  readonly results: ReadonlyMap<string, StepResult>;
  readonly running: number;
  readonly concurrency: number;
  /** The names of the steps in this run: dependencies outside it count as satisfied. */
  readonly selected: ReadonlySet<string>;
  /** Set once the run is interrupted: everything pending is skipped. */
  readonly interrupted?: string;
}

export function schedule<S extends RunnableStep>(state: ScheduleState<S>): Decision<S>[] {
  const decisions: Decision<S>[] = [];
  let running = state.running;
  for (const step of state.pending) {
    const deps = step.dependsOn.filter((d) => state.selected.has(d));
    const broken = deps.find((d) => state.results.has(d) && !isSuccess(state.results.get(d)!.status));
    if (state.interrupted !== undefined)
      decisions.push({ step, action: 'skip', reason: `interrupted (${state.interrupted})` });
    else if (broken) decisions.push({ step, action: 'skip', reason: `${broken} ${state.results.get(broken)!.status}` });
    else if (running < state.concurrency && deps.every((d) => isSuccess(state.results.get(d)?.status))) {
      decisions.push({ step, action: 'start' });
      running++;
    }
  }
  return decisions;
}
