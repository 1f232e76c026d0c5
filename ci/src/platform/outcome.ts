/**
 * One outcome vocabulary for everything that runs and reports: runner steps, and the verdicts of checklist items,
 * scan checks (a verdict or skipped: verify/scan/check.ts) and the latency gate. It imports only the verdict's types.
 *
 * - passed: it ran here and succeeded.
 * - cached: it succeeded earlier on exactly the same inputs and its result was replayed (a success).
 * - failed / timedOut: it ran and did not succeed.
 * - skipped: it did not run because something it needs did not succeed (or the run was interrupted first).
 * - cancelled: it was running when the run was interrupted.
 * - inconclusive: it could not measure or decide; never a success (fail closed).
 *
 * A verdict's outcomes are the ones of ci/src/definitions/verdict.ts, the one verdict shape.
 */
import type { VerdictOutcome } from '../definitions/verdict.js';

export const OUTCOMES = ['passed', 'cached', 'failed', 'timedOut', 'skipped', 'cancelled', 'inconclusive'] as const;
type Outcome = (typeof OUTCOMES)[number];

/** A checklist item or a gate verdict: passed, failed, or could not be decided (which never passes). */
export type CheckOutcome = Extract<Outcome, VerdictOutcome>;

/** What the host runner reports per step. */
export type StepOutcome = Exclude<Outcome, 'inconclusive'>;

/** Outcomes that count as success for whatever depends on them (dependents, checklists, exit codes). */
const SUCCESS_OUTCOMES: readonly Outcome[] = ['passed', 'cached'];

export function isSuccess(outcome: unknown): boolean {
  return typeof outcome === 'string' && (SUCCESS_OUTCOMES as readonly string[]).includes(outcome);
}
