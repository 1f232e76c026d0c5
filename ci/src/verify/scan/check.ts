/**
 * What one check of the scan answers: a verdict (definitions/verdict.ts), or `skipped` where that is allowed
 * (an audit the advisory service did not answer with --allow-offline, no image to scan). A skip is no
 * verdict either way: whether it is acceptable is the checklist's call per environment.
 */
import type { Verdict } from '../../definitions/verdict.js';

export interface Skipped {
  readonly outcome: 'skipped';
  /** Why it was skipped. */
  readonly reasons: readonly string[];
}

export const skipped = (...reasons: string[]): Skipped => ({ outcome: 'skipped', reasons });

/** A check's answer: judged, or skipped. */
export type CheckAnswer = Verdict | Skipped;

/** One row of the scan report (.reports/scan.json): the check's name and its answer. */
export type ScanCheck = { readonly name: string } & CheckAnswer;

/** A check that holds the scan back: neither passed nor skipped (an inconclusive one too: fail closed). */
export const holdsBack = (c: { readonly outcome?: unknown }): boolean =>
  c.outcome !== 'passed' && c.outcome !== 'skipped';
