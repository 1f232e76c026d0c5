/**
 * The baseline release for `gate latency --serve`: which git ref (given, or the last v* tag), checked
 * before any load is sent, and a detached git worktree of it to serve from, with this repository's
 * dependencies when its lockfile is the same (else its own `npm ci`), built like the candidate. The
 * worktree is removed afterwards, also on failure. Git runs through one helper, swappable in tests.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../definitions/errors.js';
import { runProcess } from '../platform/process/run.js';
import { GIT_OBJECT_ID } from '../definitions/release-policy.js';

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}
export type Run = (cmd: string, args: readonly string[], cwd: string) => Promise<RunResult>;

/** git and npm through the pipeline's one process edge; a process that could not start or was killed is code 1. */
export const run: Run = async (cmd, args, cwd) => {
  const r = await runProcess({ argv: [cmd, ...args], cwd });
  return { code: r.exitCode ?? 1, stdout: r.stdout, stderr: r.stderr };
};

export type BaselineRef = { readonly ref: string; readonly sha: string } | { readonly none: string };

/** Refs like `-x` would be read by git as options: refused up front. */
const SAFE_REF = /^[A-Za-z0-9][A-Za-z0-9._/@{}~^-]{0,199}$/;

/**
 * The commit to compare with: `ref` when given (exit 2 when git does not know it), else the highest
 * v* tag by version; `none` (with why) when there is no tag or no git history to find one in.
 */
export async function resolveBaselineRef(
  ref: string | undefined,
  repoRoot: string,
  git: Run = run,
): Promise<BaselineRef> {
  // A name that is no ref name is bad usage wherever it is given, checkout or not.
  if (ref !== undefined && !SAFE_REF.test(ref)) throw new UsageError(`--baseline-ref "${ref}": not a git ref name`);
  const inRepo = await git('git', ['rev-parse', '--is-inside-work-tree'], repoRoot);
  if (inRepo.code !== 0 || inRepo.stdout.trim() !== 'true') {
    if (ref !== undefined)
      throw new UsageError(`--baseline-ref ${ref}: ${repoRoot} is not a git checkout, so there is no ref to serve`);
    return { none: 'not a git checkout: no v* tag to compare with' };
  }
  let name = ref;
  if (name === undefined) {
    const tags = await git('git', ['tag', '--list', 'v*', '--sort=-v:refname'], repoRoot);
    name = tags.stdout
      .split('\n')
      .map((t) => t.trim())
      .find((t) => t.length > 0);
    if (!name) return { none: 'no v* tag in this repository: nothing released to compare with' };
  }
  if (!SAFE_REF.test(name)) throw new UsageError(`--baseline-ref "${name}": not a git ref name`);
  const sha = await git('git', ['rev-parse', '--verify', '--quiet', '--end-of-options', `${name}^{commit}`], repoRoot);
  if (sha.code === 0 && /^[0-9a-f]{64}$/.test(sha.stdout.trim()))
    throw new UsageError(
      `--baseline-ref ${name}: its commit id is not a SHA-1 git object id (SHA-256 repositories are not supported)`,
    );
  if (sha.code !== 0 || !GIT_OBJECT_ID.test(sha.stdout.trim())) {
    throw new UsageError(
      `--baseline-ref ${name}: no such commit, tag or branch in ${repoRoot} (git rev-parse found nothing)`,
    );
  }
  return { ref: name, sha: sha.stdout.trim() };
}

export interface WorktreeOptions {
  readonly log?: (line: string) => void;
  /** Build app/dist in the worktree (when the candidate runs its build). */
  readonly build: boolean;
  readonly git?: Run;
}

/** A detached worktree of `sha` with dependencies (and the build) for as long as `fn` runs. */
export async function withRefWorktree<T>(
  repoRoot: string,
  sha: string,
  fn: (root: string) => Promise<T>,
  o: WorktreeOptions,
): Promise<T> {
  const git = o.git ?? run;
  const log = o.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'kgraph-baseline-'));
  const must = async (what: string, r: Promise<RunResult>) => {
    const res = await r;
    if (res.code !== 0)
      throw new Error(`${what} failed (exit ${res.code}): ${res.stderr.trim().split('\n').slice(-3).join(' / ')}`);
    return res;
  };
  log(`git worktree of ${sha.slice(0, 12)} at ${dir}`);
  await must('git worktree add', git('git', ['worktree', 'add', '--detach', dir, sha], repoRoot));
  try {
    const lock = async (root: string) => readFile(join(root, 'package-lock.json'), 'utf8').catch(() => '');
    if ((await lock(dir)) === (await lock(repoRoot)) && existsSync(join(repoRoot, 'node_modules'))) {
      // Same lockfile: the same dependency tree, so link it instead of installing it again.
      for (const nm of ['node_modules', 'app/node_modules', 'ci/node_modules']) {
        if (existsSync(join(repoRoot, nm)) && !existsSync(join(dir, nm)))
          await symlink(join(repoRoot, nm), join(dir, nm), 'dir');
      }
    } else {
      log('its lockfile differs from this checkout: npm ci in the worktree');
      await must('npm ci (baseline)', git('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], dir));
    }
    if (o.build) {
      log('building its app/dist');
      await must(
        'build (baseline)',
        git(process.execPath, [join(dir, 'node_modules/typescript/bin/tsc'), '-p', 'app/tsconfig.build.json'], dir),
      );
    }
    return await fn(dir);
  } finally {
    const removed = await git('git', ['worktree', 'remove', '--force', dir], repoRoot);
    if (removed.code !== 0) await rm(dir, { recursive: true, force: true });
    await git('git', ['worktree', 'prune'], repoRoot);
  }
}
