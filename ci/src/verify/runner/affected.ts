/**
 * `run --affected`: the base commit (given, or the merge base with develop), the paths changed since
 * it (committed, staged, unstaged, untracked), and the selected steps those changes reach.
 */
import { UsageError } from '../../definitions/errors.js';
import { changedFilesSince, mergeBase, resolveCommit } from '../policy/git.js';
import type { RunnableStep } from './graph.js';
import { affectedSteps, type Affected } from './cache/key.js';
import { describeEntry, passedForCommit, type HistoryEntry } from './history.js';

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

export interface AffectedChoice<S extends RunnableStep> {
  readonly run: S[];
  /** Affected steps left out, each with why and how to run it anyway. */
  readonly left: readonly { readonly name: string; readonly why: string }[];
}

/**
 * From the affected steps, what runs: a step that only measures the world (nothing it reads changed, no
 * affected dependency) runs when asked (`--with-world`); a step whose last result at this very commit, on a
 * clean tree, is a pass (from `run` or `npm test`, the run history) does not run again.
 */
export function chooseAffected<S extends RunnableStep>(
  plan: AffectedPlan<S>,
  opts: {
    readonly withWorld: boolean;
    readonly tree: 'clean' | 'dirty' | undefined;
    readonly history: ReadonlyMap<string, HistoryEntry>;
  },
): AffectedChoice<S> {
  const run: S[] = [];
  const left: { name: string; why: string }[] = [];
  for (const s of plan.steps) {
    const a = plan.why.get(s.name)!;
    const worldOnly = a.world !== undefined && a.changed.length === 0 && a.because.length === 0;
    const last = opts.history.get(s.name);
    if (worldOnly && !opts.withWorld)
      left.push({
        name: s.name,
        why: `nothing it reads changed; it measures the world (${a.world}): --with-world runs it`,
      });
    else if (opts.tree === 'clean' && last && passedForCommit(last))
      left.push({ name: s.name, why: `already ${describeEntry(last)}: run it by name to run it again` });
    else run.push(s);
  }
  return { run, left };
}
