/**
 * The previous release as a checkout to run: a detached git worktree of REF (given, else the newest v*
 * tag), with this checkout's dependencies linked when every package REF's lockfile pins is pinned here at
 * the same version (an older release's tree is usually a subset), else its own `npm ci`. Removed
 * afterwards, also on failure. Ref resolution is the gate baseline's (one rule for "the previous release").
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveBaselineRef, run, type Run, type RunResult } from '../../gate/baseline.js';

export { resolveBaselineRef as resolvePreviousRef };

type Lock = { packages?: Record<string, { version?: string }> };

/** Pure: the packages `older` pins that `newer` does not pin at the same version (empty = link is safe). */
export function lockfileGaps(older: Lock, newer: Lock): string[] {
  const have = newer.packages ?? {};
  return Object.entries(older.packages ?? {})
    .filter(([path, p]) => path !== '' && p.version !== undefined && have[path]?.version !== p.version)
    .map(([path, p]) => `${path.replace(/^node_modules\//, '')}@${p.version}`);
}

const readLock = async (root: string): Promise<Lock> =>
  JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8').catch(() => '{}')) as Lock;

async function must(what: string, r: Promise<RunResult>): Promise<RunResult> {
  const res = await r;
  if (res.code !== 0)
    throw new Error(`${what} failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' / ')}`);
  return res;
}

export async function withPreviousCheckout<T>(
  repoRoot: string,
  sha: string,
  fn: (root: string) => Promise<T>,
  log: (line: string) => void,
  git: Run = run,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kgraph-previous-'));
  log(`git worktree of ${sha.slice(0, 12)} at ${dir}`);
  await must('git worktree add', git('git', ['worktree', 'add', '--detach', dir, sha], repoRoot));
  try {
    const gaps = lockfileGaps(await readLock(dir), await readLock(repoRoot));
    if (gaps.length === 0 && existsSync(join(repoRoot, 'node_modules'))) {
      for (const nm of ['node_modules', 'app/node_modules', 'ci/node_modules'])
        if (existsSync(join(repoRoot, nm)) && !existsSync(join(dir, nm)))
          await symlink(join(repoRoot, nm), join(dir, nm), 'dir');
    } else {
      log(
        `its lockfile pins ${gaps.length} package(s) this checkout does not (${gaps.slice(0, 3).join(', ')}): npm ci`,
      );
      await must('npm ci (previous release)', git('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], dir));
    }
    return await fn(dir);
  } finally {
    const removed = await git('git', ['worktree', 'remove', '--force', dir], repoRoot);
    if (removed.code !== 0) await rm(dir, { recursive: true, force: true });
    await git('git', ['worktree', 'prune'], repoRoot);
  }
}
