/** The git edge of the policy: facts read from a repository through the process edge. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../../platform/process/run.js';

async function git(repoDir: string, args: string[]): Promise<{ ok: boolean; stdout: string }> {
  const r = await runProcess({ argv: ['git', ...args], cwd: repoDir });
  return r.exitCode === 0 ? { ok: true, stdout: r.stdout.trim() } : { ok: false, stdout: '' };
}

/** What git printed (trimmed), or undefined when it failed or printed nothing. */
export async function gitOutput(repoDir: string, args: string[]): Promise<string | undefined> {
  const r = await git(repoDir, args);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** origin/main when the remote branch is known (CI checkouts), else the local main; undefined when neither exists. */
export async function resolveMainRef(repoDir: string): Promise<string | undefined> {
  for (const ref of ['refs/remotes/origin/main', 'refs/heads/main']) {
    if ((await git(repoDir, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])).ok) return ref;
  }
  return undefined;
}

/**
 * Whether the commit a tag points at is an ancestor of (or equal to) main. Undefined when the tag or
 * main cannot be resolved, so callers fail closed. The tag name must already be validated as safe.
 */
export async function isTagReachableFromMain(repoDir: string, tag: string): Promise<boolean | undefined> {
  const mainRef = await resolveMainRef(repoDir);
  if (!mainRef) return undefined;
  const commit = await git(repoDir, ['rev-parse', '--verify', '--quiet', `refs/tags/${tag}^{commit}`]);
  if (!commit.ok || !commit.stdout) return undefined;
  return (await git(repoDir, ['merge-base', '--is-ancestor', commit.stdout, mainRef])).ok;
}

/** The commit HEAD points at, or undefined outside a repository. */
export async function headCommit(repoDir: string): Promise<string | undefined> {
  const r = await git(repoDir, ['rev-parse', 'HEAD']);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/** NUL-separated output of a git command, unmodified (paths may hold spaces or newlines). */
async function gitPaths(repoDir: string, args: string[]): Promise<string[] | undefined> {
  const r = await runProcess({ argv: ['git', ...args], cwd: repoDir });
  return r.exitCode === 0 ? r.stdout.split('\0').filter((p) => p !== '') : undefined;
}

/**
 * The files git tracks or would track (untracked and not ignored), relative to the repository root,
 * sorted; undefined outside a work tree. Deleted tracked files still appear: callers stat them.
 */
export async function listWorkTreeFiles(repoDir: string): Promise<{ root: string; files: string[] } | undefined> {
  const top = await git(repoDir, ['rev-parse', '--show-toplevel']);
  if (!top.ok || !top.stdout) return undefined;
  const files = await gitPaths(repoDir, [
    'ls-files',
    '-z',
    '--cached',
    '--others',
    '--exclude-standard',
    '--full-name',
    ':/',
  ]);
  return files && { root: top.stdout, files: [...new Set(files)].sort() };
}

/** The commit a ref names, or undefined when it names none. The ref is passed as data, never to a shell. */
export async function resolveCommit(repoDir: string, ref: string): Promise<string | undefined> {
  if (ref.startsWith('-')) return undefined;
  const r = await git(repoDir, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
  return r.ok && r.stdout ? r.stdout : undefined;
}

export async function mergeBase(repoDir: string, a: string, b: string): Promise<string | undefined> {
  const r = await git(repoDir, ['merge-base', a, b]);
  return r.ok && r.stdout ? r.stdout : undefined;
}

/**
 * Paths that differ between a commit and the work tree: committed, staged and unstaged changes (a rename
 * counts as both names, a mode change counts), plus untracked files that are not ignored.
 */
export async function changedFilesSince(repoDir: string, commit: string): Promise<string[] | undefined> {
  const diff = await gitPaths(repoDir, ['diff', '-z', '--name-only', '--no-renames', commit, '--', ':/']);
  const untracked = await gitPaths(repoDir, ['ls-files', '-z', '--others', '--exclude-standard', '--full-name', ':/']);
  if (!diff || !untracked) return undefined;
  return [...new Set([...diff, ...untracked])].sort();
}

/**
 * A fresh repository in dir with every file in it committed, except the `exclude` patterns (kept in
 * .git/info/exclude): a sandboxed tree that git-reading steps can use.
 */
export async function initRepoWithAllFiles(dir: string, exclude: readonly string[] = []): Promise<boolean> {
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: 'kgraph-ci',
    GIT_AUTHOR_EMAIL: 'kgraph-ci@localhost',
    GIT_COMMITTER_NAME: 'kgraph-ci',
    GIT_COMMITTER_EMAIL: 'kgraph-ci@localhost',
  };
  const step = async (args: string[]) => (await runProcess({ argv: ['git', ...args], cwd: dir, env })).exitCode === 0;
  if (!(await step(['init', '-q', '-b', 'main']))) return false;
  await writeFile(join(dir, '.git', 'info', 'exclude'), exclude.map((p) => `${p}\n`).join(''));
  return (await step(['add', '-A'])) && (await step(['commit', '-q', '--no-verify', '--allow-empty', '-m', 'sandbox']));
}
