/**
 * The facts a cache key is made of, read from the machine: the files of the work tree (content, the
 * executable bit, symlink targets; never mtimes or absolute paths), the Node version on PATH and the
 * installed packages. Only what git tracks or would track counts, so node_modules, dist and other
 * ignored junk never reach a key, and two clones of the same tree give the same facts.
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { listWorkTreeFiles } from '../../policy/git.js';
import { runProcess } from '../../../platform/process/run.js';

export type FileKind = 'file' | 'exec' | 'symlink';

export interface TreeFile {
  readonly kind: FileKind;
  /** sha256 of the content; for a symlink, of its target text and of what it points to. */
  readonly sha256: string;
}

/** Path (relative to the repository root, `/`-separated) → file. */
export type TreeSnapshot = ReadonlyMap<string, TreeFile>;

export const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/**
 * Hashes every file git lists in the work tree that holds dir. Paths under `excludeDirs` (for example
 * a cache directory inside the tree that is not ignored) are left out. Undefined outside a work tree.
 */
export async function snapshotTree(
  dir: string,
  excludeDirs: readonly string[] = [],
): Promise<TreeSnapshot | undefined> {
  const listed = await listWorkTreeFiles(dir);
  if (!listed) return undefined;
  const { root, files: paths } = listed;
  const excluded = excludeDirs
    .map((d) => relative(root, resolve(dir, d)).split(sep).join('/'))
    .filter((d) => d !== '' && !d.startsWith('..'));
  const wanted = paths.filter((p) => !excluded.some((d) => p === d || p.startsWith(`${d}/`)));
  const out = new Map<string, TreeFile>();
  // Bounded parallelism: enough to hide latency, few enough open files.
  for (let i = 0; i < wanted.length; i += 64) {
    const batch = wanted.slice(i, i + 64);
    const files = await Promise.all(batch.map((p) => hashFile(root, p)));
    batch.forEach((p, j) => {
      const f = files[j];
      if (f) out.set(p, f);
    });
  }
  return out;
}

/** One file's facts; undefined when it is gone (a deleted tracked file) or is not a file (a submodule). */
export async function hashFile(root: string, path: string): Promise<TreeFile | undefined> {
  const abs = join(root, path);
  const st = await lstat(abs).catch(() => undefined);
  if (!st) return undefined;
  if (st.isSymbolicLink()) {
    const target = await readlink(abs);
    // What the link points to counts too: a link out of the tree would otherwise hide a change.
    const pointee = await stat(abs).then(
      async (s) => (s.isFile() ? sha256(await readFile(abs)) : s.isDirectory() ? 'directory' : 'other'),
      () => 'dangling',
    );
    return { kind: 'symlink', sha256: sha256(`${target}\0${pointee}`) };
  }
  if (!st.isFile()) return undefined;
  return { kind: (st.mode & 0o111) !== 0 ? 'exec' : 'file', sha256: sha256(await readFile(abs)) };
}

/** `node --version` as the steps will see it (the first node on their PATH), or `unknown`. */
export async function nodeVersionOnPath(cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runProcess({ argv: ['node', '--version'], cwd, env, timeoutMs: 10_000 });
  const version = r.stdout.trim();
  return r.exitCode === 0 && version ? version : 'unknown';
}

/** npm's record of what is installed (node_modules/.package-lock.json), hashed; `none` when absent. */
export async function installedPackages(root: string): Promise<string> {
  return readFile(join(root, 'node_modules', '.package-lock.json')).then(sha256, () => 'none');
}
