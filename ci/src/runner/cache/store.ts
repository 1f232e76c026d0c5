/**
 * The on-disk result cache: one file per entry, named by its key, holding the step's output lines
 * and its output files. Writes go to a temporary file and are renamed into place, so a reader (or a
 * second run sharing the directory) sees a whole entry or none. Every entry starts with the sha256 of
 * the rest and is checked on read: a damaged entry is a miss, reported and removed. The directory is
 * bounded in size; the least recently used entries (by mtime, touched on every hit) go first.
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isInsidePath } from '../graph.js';
import { sha256 } from './tree.js';

export const DEFAULT_CACHE_DIR = '.cache/kgraph-ci';
export const DEFAULT_CACHE_MAX_BYTES = 512 * 1024 * 1024;
const MAGIC = 'kgraph-ci-cache v1';

export type CachedLine = readonly ['stdout' | 'stderr', string];

export interface OutputFile {
  /** Relative to the repository, inside one of the step's declared outputs. */
  readonly path: string;
  readonly kind: 'file' | 'exec' | 'symlink' | 'dir';
  /** base64 content of a file, or the target of a symlink. */
  readonly data?: string;
}

export interface CacheEntry {
  readonly key: string;
  readonly step: string;
  readonly createdAt: string;
  /** How long the step took when it ran: what a hit saves. */
  readonly durationMs: number;
  readonly lines: readonly CachedLine[];
  /** The declared output roots and everything under them when the step passed (absent roots: none). */
  readonly outputs: { readonly roots: readonly string[]; readonly files: readonly OutputFile[] };
  /** What the step reported through $KGRAPH_STEP_FACTS, replayed with the result. */
  readonly facts?: Readonly<Record<string, string>>;
}

export type Lookup =
  { readonly hit: true; readonly entry: CacheEntry } | { readonly hit: false; readonly damaged?: string };

export interface ResultStore {
  readonly dir: string;
  get(key: string): Promise<Lookup>;
  put(entry: CacheEntry): Promise<void>;
  /** Removes least recently used entries until the directory fits; returns how many went. */
  evict(): Promise<number>;
}

const KEY_RE = /^[0-9a-f]{64}$/;

export function openStore(dir: string, opts: { maxBytes?: number; now?: () => Date } = {}): ResultStore {
  const maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  const now = opts.now ?? (() => new Date());
  const entries = join(dir, 'entries');
  const tmp = join(dir, 'tmp');
  const pathOf = (key: string) => {
    if (!KEY_RE.test(key)) throw new RangeError(`not a cache key: ${key}`);
    return join(entries, `${key}.entry`);
  };
  const store: ResultStore = {
    dir,
    async get(key) {
      const path = pathOf(key);
      const raw = await readFile(path).catch(() => undefined);
      if (raw === undefined) return { hit: false };
      const damaged = async (why: string): Promise<Lookup> => {
        await unlink(path).catch(() => undefined);
        return { hit: false, damaged: why };
      };
      const nl = raw.indexOf(0x0a);
      const header = nl > 0 ? raw.subarray(0, nl).toString('utf8') : '';
      const m = /^kgraph-ci-cache v1 ([0-9a-f]{64})$/.exec(header);
      if (!m) return damaged('not a cache entry (bad header)');
      const body = raw.subarray(nl + 1);
      if (sha256(body) !== m[1]) return damaged('content does not match its hash');
      let entry: CacheEntry;
      try {
        entry = JSON.parse(body.toString('utf8')) as CacheEntry;
      } catch {
        return damaged('not valid JSON');
      }
      if (entry.key !== key) return damaged(`holds key ${String(entry.key).slice(0, 12)}, not ${key.slice(0, 12)}`);
      const t = now();
      await utimes(path, t, t).catch(() => undefined);
      return { hit: true, entry };
    },
    async put(entry) {
      const body = Buffer.from(JSON.stringify(entry), 'utf8');
      await mkdir(entries, { recursive: true });
      await mkdir(tmp, { recursive: true });
      const part = join(tmp, `${entry.key}.${process.pid}.${randomBytes(6).toString('hex')}`);
      try {
        await writeFile(part, Buffer.concat([Buffer.from(`${MAGIC} ${sha256(body)}\n`, 'utf8'), body]), { flag: 'wx' });
        await rename(part, pathOf(entry.key));
      } finally {
        await rm(part, { force: true });
      }
      await store.evict();
    },
    async evict() {
      const names = await readdir(entries).catch(() => [] as string[]);
      const stats = (
        await Promise.all(
          names.map(async (n) => ({ path: join(entries, n), st: await stat(join(entries, n)).catch(() => undefined) })),
        )
      ).filter((e): e is { path: string; st: NonNullable<typeof e.st> } => e.st !== undefined);
      let total = stats.reduce((a, e) => a + e.st.size, 0);
      let removed = 0;
      for (const e of stats.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs)) {
        if (total <= maxBytes) break;
        await unlink(e.path).catch(() => undefined);
        total -= e.st.size;
        removed++;
      }
      // Temporary files of runs that died mid-write.
      for (const n of await readdir(tmp).catch(() => [] as string[])) {
        const p = join(tmp, n);
        const st = await stat(p).catch(() => undefined);
        if (st && now().getTime() - st.mtimeMs > 3_600_000) await rm(p, { force: true });
      }
      return removed;
    },
  };
  return store;
}

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

/**
 * Makes each output root exactly what the entry holds: removed first (no stale files survive), then
 * written back. Paths outside the roots are refused, whatever the entry says.
 */
export async function restoreOutputs(cwd: string, outputs: CacheEntry['outputs']): Promise<number> {
  for (const r of outputs.roots)
    if (!isInsidePath(r)) throw new Error(`refusing to restore outside the repository: ${r}`);
  const inRoots = (p: string) => isInsidePath(p) && outputs.roots.some((r) => p === r || p.startsWith(`${r}/`));
  for (const f of outputs.files)
    if (!inRoots(f.path)) throw new Error(`refusing to restore ${f.path}: not under a declared output`);
  for (const r of outputs.roots) await rm(join(cwd, r), { recursive: true, force: true });
  for (const f of outputs.files) {
    const abs = join(cwd, f.path);
    if (f.kind === 'dir') {
      await mkdir(abs, { recursive: true });
      continue;
    }
    await mkdir(dirname(abs), { recursive: true });
    if (f.kind === 'symlink') await symlink(f.data ?? '', abs);
    else {
      await writeFile(abs, Buffer.from(f.data ?? '', 'base64'));
      await chmod(abs, f.kind === 'exec' ? 0o755 : 0o644);
    }
  }
  return outputs.files.filter((f) => f.kind !== 'dir').length;
}
