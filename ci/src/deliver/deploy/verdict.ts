/**
 * What a finished deploy or rollback says: one verdict line, the job summary's step table, and the exit
 * (an exception for exit 1, or the verdict on stdout). Pure except `conclude`, which only prints or throws.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { table } from '../../platform/report/markdown.js';
import type { ExecutionResult } from './execute.js';
import type { Plan } from './plan.js';

export function verdictOf(plan: Plan, env: EnvironmentDefinition, result: ExecutionResult, durationMs: number): string {
  const what = `${plan.operation} of ${plan.version} to ${env.name}`;
  if (isPass(result)) return `${what} succeeded in ${(durationMs / 1000).toFixed(1)}s`;
  const rollback = result.rollback
    ? `; rolled back to the previous revision${isPass(result.rollback) ? '' : ' BUT THE ROLLBACK FAILED'}`
    : '';
  return `${what} failed at ${result.failedStep}: ${result.reasons.join('; ')}${rollback}`;
}

export function summaryOf(plan: Plan, env: EnvironmentDefinition, result: ExecutionResult): string {
  return [
    `## ${plan.operation} ${plan.version} → ${env.name}: ${isPass(result) ? '✅' : '❌'}`,
    table(
      ['step', 'ok', 'seconds', 'detail'],
      result.steps.map((s) => [
        s.name,
        isPass(s) ? '✅' : '❌',
        (s.durationMs / 1000).toFixed(1),
        s.reasons.join('; '),
      ]),
    ),
  ].join('\n\n');
}

/**
 * Exit: a failed run is exit 1 with the verdict and what could not be recorded. A healthy rollout whose
 * required record failed is exit 1 too, said loudly; undoing it for a bookkeeping failure would be worse.
 */
export function conclude(
  verdict: string,
  result: ExecutionResult,
  problems: readonly string[],
  recordRequired: boolean,
  localWhere: string,
  io: { out: (line: string) => void; err: (line: string) => void },
): void {
  if (!isPass(result)) throw new FailedError([verdict, ...problems].join('; '));
  if (problems.length && recordRequired)
    throw new FailedError(
      `${verdict}, but it is NOT recorded: ${problems.join('; ')}; the local record is in ${localWhere}`,
    );
  for (const p of problems) io.err(`warning: ${p}`);
  io.out(verdict);
}
