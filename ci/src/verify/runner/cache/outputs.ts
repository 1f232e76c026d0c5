/**
 * A step's declared outputs on disk: captured after a pass, restored from a hit. A restore never
 * follows a link in the checkout: every directory it passes through, from the checkout down, is
 * checked to be a real directory (not a link, not a file) before it is entered, each root is removed
 * without following links, and files are created exclusively (an existing name, link or not, fails
 * the write). The entry itself is checked first (refuseEntry); this is the second line.
 */
import { lstat, mkdir, open, readdir, readFile, readlink, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isRestorablePath, type CacheEntry, type OutputFile } from './entry.js';

/** Everything under the declared output roots (relative to cwd), as the step left it. */
export async function captureOutputs(cwd: string, roots: readonly string[]): Promise<CacheEntry['outputs']> {
  const files: OutputFile[] = [];
  const walk = async (rel: string): Promise<void> => {
    const abs = join(cwd, rel);
    const st = await lstat(abs).catch(() => undefined);
    if (!st) return;
    if (st.isSymbolicLink()) files.push({ path: rel, kind: 'symlink', data: await readlink(abs) });
    else if (st.isFile())
      files.push({
        path: rel,
        kind: (st.mode & 0o111) !== 0 ? 'exec' : 'file',
        data: (await readFile(abs)).toString('base64'),
      });
    else if (st.isDirectory()) {
      files.push({ path: rel, kind: 'dir' });
      for (const n of (await readdir(abs)).sort()) await walk(`${rel}/${n}`);
    }
  };
  for (const r of roots) await walk(r);
  return { roots: [...roots], files };
}

/** Thrown when the checkout itself would make a restore leave the outputs. */
export class UnsafeRestoreError extends Error {}

/**
 * Makes each output root exactly what the entry holds: removed first (no stale files survive), then
 * written back. `roots` are the step's declared outputs; any path outside them is refused.
 */
export async function restoreOutputs(
  cwd: string,
  roots: readonly string[],
  files: readonly OutputFile[],
): Promise<number> {
  const inRoots = (p: string) => roots.some((r) => p === r || p.startsWith(`${r}/`));
  for (const r of roots)
    if (!isRestorablePath(r)) throw new UnsafeRestoreError(`refusing to restore ${r}: not a plain relative path`);
  for (const f of files)
    if (!isRestorablePath(f.path) || !inRoots(f.path))
      throw new UnsafeRestoreError(`refusing to restore ${f.path}: not under a declared output`);
  // Every parent of every root must be a real directory before anything is removed.
  for (const r of roots) await realDirs(cwd, r.split('/').slice(0, -1), false);
  for (const r of roots) await removeNoFollow(join(cwd, r));
  for (const f of files) {
    const p = f.path.split('/');
    await realDirs(cwd, p.slice(0, -1), true);
    const abs = join(cwd, f.path);
    if (f.kind === 'dir') await realDirs(cwd, p, true);
    else if (f.kind === 'symlink') await symlink(f.data ?? '', abs);
    else await writeNew(abs, Buffer.from(f.data ?? '', 'base64'), f.kind === 'exec' ? 0o755 : 0o644);
  }
  return files.filter((f) => f.kind !== 'dir').length;
}

/** Checks (and with create, makes) each directory of a relative path, one level at a time, never through a link. */
async function realDirs(cwd: string, parts: readonly string[], create: boolean): Promise<void> {
  let abs = cwd;
  for (const [i, part] of parts.entries()) {
    abs = join(abs, part);
    let st = await lstat(abs).catch(() => undefined);
    if (!st) {
      if (!create) return;
      await mkdir(abs).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      st = await lstat(abs);
    }
    if (!st.isDirectory() || st.isSymbolicLink()) {
      const what = st.isSymbolicLink() ? 'a symlink' : 'not a directory';
      throw new UnsafeRestoreError(
        `${parts.slice(0, i + 1).join('/')} is ${what} in the checkout; refusing to restore through it`,
      );
    }
  }
}

/** 'wx' is O_CREAT|O_EXCL: an existing name (a link planted meanwhile included) fails, never followed. */
async function writeNew(abs: string, data: Buffer, mode: number): Promise<void> {
  const fh = await open(abs, 'wx', mode);
  try {
    await fh.chmod(mode);
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
}

async function removeNoFollow(abs: string): Promise<void> {
  const st = await lstat(abs).catch(() => undefined);
  if (!st) return;
  // rm on a directory does not follow the links inside it; a root that is itself a link loses only the link.
  if (st.isDirectory()) await rm(abs, { recursive: true, force: true });
  else await unlink(abs);
}
