/**
 * `run --affected`: the base commit (given, or the merge base with develop), the paths changed since
 * it (committed, staged, unstaged, untracked), and the selected steps those changes reach.
 */
import { UsageError } from '../errors.js';
import { changedFilesSince, mergeBase, resolveCommit } from '../policy/git.js';
import type { RunnableStep } from './graph.js';
import { affectedSteps, type Affected } from './cache/key.js';

export interface AffectedPlan<S extends RunnableStep> {
  readonly base: { readonly ref: string; readonly commit: string };
  readonly changed: readonly string[];
  readonly steps: S[];
  readonly why: ReadonlyMap<string, Affected>;
}

/** The commit to compare with; a ref that names no commit, or no develop to default to, is bad usage. */
export async function resolveBase(cwd: string, ref: string | undefined): Promise<{ ref: string; commit: string }> {
  if (ref !== undefined) {
    const commit = await resolveCommit(cwd, ref);
    if (!commit) throw new UsageError(`--base ${JSON.stringify(ref)} names no commit in this repository`);
    return { ref, commit };
  }
  for (const develop of ['develop', 'origin/develop']) {
    if (!(await resolveCommit(cwd, develop))) continue;
    const commit = await mergeBase(cwd, 'HEAD', develop);
    if (!commit) throw new UsageError(`--affected: HEAD and ${develop} have no merge base; pass --base REF`);
    return { ref: `merge-base(HEAD, ${develop})`, commit };
  }
  throw new UsageError(
    '--affected: there is no develop or origin/develop branch to take the merge base with; pass --base REF',
  );
}

export async function planAffected<S extends RunnableStep>(
  cwd: string,
  table: readonly RunnableStep[],
  selected: readonly S[],
  baseRef: string | undefined,
): Promise<AffectedPlan<S>> {
  const base = await resolveBase(cwd, baseRef);
  const changed = await changedFilesSince(cwd, base.commit);
  if (!changed) throw new UsageError(`--affected: git could not list the changes since ${base.commit.slice(0, 12)}`);
  const why = affectedSteps(table, selected, changed);
  return { base, changed, steps: selected.filter((s) => why.has(s.name)), why };
}

/** One line per selected step: why it runs (changed inputs, an affected dependency, the world) or that it does not. */
export function describeAffected(
  plan: AffectedPlan<RunnableStep>,
  selected: readonly RunnableStep[],
  maxPaths = 5,
): string[] {
  const lines = [
    `affected since ${plan.base.ref} (${plan.base.commit.slice(0, 12)}): ${plan.changed.length} changed path(s)`,
  ];
  for (const s of selected) {
    const a = plan.why.get(s.name);
    if (!a) {
      lines.push(`  ${s.name}: not affected, skipped`);
      continue;
    }
    const parts: string[] = [];
    if (a.changed.length > 0) {
      const shown = a.changed.slice(0, maxPaths).join(', ');
      parts.push(
        `inputs changed: ${shown}${a.changed.length > maxPaths ? ` and ${a.changed.length - maxPaths} more` : ''}`,
      );
    }
    if (a.because.length > 0) parts.push(`depends on affected ${a.because.join(', ')}`);
    if (a.world !== undefined) parts.push(`always runs: ${a.world}`);
    lines.push(`  ${s.name}: ${parts.join('; ')}`);
  }
  return lines;
}
