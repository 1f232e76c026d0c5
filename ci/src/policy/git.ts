/** The git edge of the policy: facts read from a repository with execFile (never a shell). */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function git(repoDir: string, args: string[]): Promise<{ ok: boolean; stdout: string }> {
  try {
    const { stdout } = await run('git', args, { cwd: repoDir, maxBuffer: 1 << 20 });
    return { ok: true, stdout: stdout.trim() };
  } catch {
    return { ok: false, stdout: '' };
  }
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
