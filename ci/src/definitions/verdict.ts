/**
 * The one shape of a verdict: every judge of the pipeline (a release rule, the latency gate, a checklist item,
 * the backup judge, the image size budget, a branch rule...) answers with an outcome and the reasons for it.
 * Judges with more to say extend this shape; none answers with a boolean of its own, so "may it go" is asked
 * one way everywhere (`isPass`). A leaf module: it imports nothing.
 *
 * - passed: judged, and it may go.
 * - failed: judged, and it may not.
 * - inconclusive: could not judge (a fact was missing or unreadable); never a pass (fail closed).
 */
export const VERDICT_OUTCOMES = ['passed', 'failed', 'inconclusive'] as const;
export type VerdictOutcome = (typeof VERDICT_OUTCOMES)[number];

/** Whether a value read from outside (a JSON report) is one of the outcomes. */
export const isVerdictOutcome = (v: unknown): v is VerdictOutcome =>
  (VERDICT_OUTCOMES as readonly unknown[]).includes(v);

export interface Verdict {
  readonly outcome: VerdictOutcome;
  /** Why: for a pass, what it rests on; otherwise what is wrong or could not be told, most important first. */
  readonly reasons: readonly string[];
}

export const passed = (...reasons: string[]): Verdict => ({ outcome: 'passed', reasons });
export const failed = (...reasons: string[]): Verdict => ({ outcome: 'failed', reasons });
export const inconclusive = (...reasons: string[]): Verdict => ({ outcome: 'inconclusive', reasons });

/** The one way to ask "may it go": only a pass does. */
export const isPass = (v: { readonly outcome: VerdictOutcome }): boolean => v.outcome === 'passed';

// Worst wins: a failure beats not knowing, which beats a pass.
const SEVERITY: Readonly<Record<VerdictOutcome, number>> = { passed: 0, inconclusive: 1, failed: 2 };

/** The worst of some outcomes; nothing judged at all cannot tell (fail closed). */
export function worstOutcome(outcomes: readonly VerdictOutcome[]): VerdictOutcome {
  if (outcomes.length === 0) return 'inconclusive';
  return outcomes.reduce((w, o) => (SEVERITY[o] > SEVERITY[w] ? o : w), 'passed');
}

/**
 * Several verdicts as one: the worst outcome, with the reasons of the verdicts that have it (a pass gives the
 * reasons of every pass). Nothing judged cannot tell.
 */
export function combine(verdicts: readonly Verdict[], nothingJudged = 'nothing was judged'): Verdict {
  if (verdicts.length === 0) return inconclusive(nothingJudged);
  const outcome = worstOutcome(verdicts.map((v) => v.outcome));
  return { outcome, reasons: verdicts.filter((v) => v.outcome === outcome).flatMap((v) => v.reasons) };
}
