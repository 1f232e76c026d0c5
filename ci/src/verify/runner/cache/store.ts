/**
 * The on-disk result cache: one file per entry, named by its key, holding the step's output lines
 * and its output files. Writes go to a temporary file and are renamed into place, so a reader (or a
 * second run sharing the directory) sees a whole entry or none. Every entry starts with the sha256 of
 * the rest (damage), or with a secret: its HMAC-SHA256 under that secret (forgery), checked on read
 * with its shape: a damaged, forged or malformed entry is a miss, reported and removed. The directory
 * is bounded in size; the least recently used entries (by mtime, touched on every hit) go first.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseEntry, type CacheEntry } from './entry.js';
import { sha256 } from './tree.js';

export type { CachedLine, CacheEntry, OutputFile } from './entry.js';

export const DEFAULT_CACHE_DIR = '.cache/kgraph-ci';
export const DEFAULT_CACHE_MAX_BYTES = 512 * 1024 * 1024;
const MAGIC = 'kgraph-ci-cache v1';

export type Lookup =
  { readonly hit: true; readonly entry: CacheEntry } | { readonly hit: false; readonly damaged?: string };

export interface ResultStore {
  readonly dir: string;
  get(key: string): Promise<Lookup>;
  put(entry: CacheEntry): Promise<void>;
  /** Drops an entry the caller refused to replay. */
  remove(key: string): Promise<void>;
  /** Removes least recently used entries until the directory fits; returns how many went. */
  evict(): Promise<number>;
}

const KEY_RE = /^[0-9a-f]{64}$/;

const hmac = (secret: string, body: Buffer) => createHmac('sha256', secret).update(body).digest('hex');
const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export interface StoreOptions {
  readonly maxBytes?: number;
  readonly now?: () => Date;
  /** KGRAPH_CACHE_KEY: entries are signed with it, and only entries that verify are served. */
  readonly secret?: string;
}

/** Why the entry's first line does not vouch for its body, or undefined when it does. */
function unvouched(header: string, body: Buffer, secret: string | undefined): string | undefined {
  const m = /^kgraph-ci-cache v1 (?:(hmac-sha256) )?([0-9a-f]{64})$/.exec(header);
  if (!m) return 'not a cache entry (bad header)';
  const signed = m[1] !== undefined;
  if (secret === undefined) {
    if (signed) return 'signed with a key, and KGRAPH_CACHE_KEY is not set here, so it cannot be verified';
    return sha256(body) === m[2] ? undefined : 'content does not match its hash';
  }
  if (!signed) return 'not signed, and KGRAPH_CACHE_KEY is set: only signed entries are replayed';
  return sameHex(hmac(secret, body), m[2]!)
    ? undefined
    : 'signature does not verify with KGRAPH_CACHE_KEY (forged, damaged, or signed with another key)';
}

/** The entry a file holds for `key`, or why it must not be replayed (unvouched, malformed, another key's). Pure. */
function entryOf(raw: Buffer, key: string, secret: string | undefined): CacheEntry | string {
  const nl = raw.indexOf(0x0a);
  const header = nl > 0 ? raw.subarray(0, nl).toString('utf8') : '';
  const body = raw.subarray(nl + 1);
  const why = unvouched(header, body, secret);
  if (why) return why;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return 'not valid JSON';
  }
  const entry = parseEntry(parsed);
  if (typeof entry === 'string') return entry;
  if (entry.key !== key) return `holds key ${String(entry.key).slice(0, 12)}, not ${key.slice(0, 12)}`;
  return entry;
}

/** The directory's two parts and how a key names its file (a malformed key is a RangeError, never a path). */
interface Layout {
  readonly entries: string;
  readonly tmp: string;
  readonly pathOf: (key: string) => string;
}

function layoutOf(dir: string): Layout {
  const entries = join(dir, 'entries');
  return {
    entries,
    tmp: join(dir, 'tmp'),
    pathOf: (key) => {
      if (!KEY_RE.test(key)) throw new RangeError(`not a cache key: ${key}`);
      return join(entries, `${key}.entry`);
    },
  };
}

/** A hit touches the file (least recently used goes first); an entry that is not a hit is removed, saying why. */
async function getEntry(layout: Layout, key: string, opts: StoreOptions, now: () => Date): Promise<Lookup> {
  const path = layout.pathOf(key);
  const raw = await readFile(path).catch(() => undefined);
  if (raw === undefined) return { hit: false };
  const entry = entryOf(raw, key, opts.secret);
  if (typeof entry === 'string') {
    await unlink(path).catch(() => undefined);
    return { hit: false, damaged: entry };
  }
  const t = now();
  await utimes(path, t, t).catch(() => undefined);
  return { hit: true, entry };
}

/** Sealed (sha256, or HMAC-SHA256 with the secret), written under tmp and renamed into place: whole or absent. */
async function putEntry(layout: Layout, entry: CacheEntry, secret: string | undefined): Promise<void> {
  const body = Buffer.from(JSON.stringify(entry), 'utf8');
  await mkdir(layout.entries, { recursive: true });
  await mkdir(layout.tmp, { recursive: true });
  const part = join(layout.tmp, `${entry.key}.${process.pid}.${randomBytes(6).toString('hex')}`);
  try {
    const seal = secret === undefined ? sha256(body) : `hmac-sha256 ${hmac(secret, body)}`;
    await writeFile(part, Buffer.concat([Buffer.from(`${MAGIC} ${seal}\n`, 'utf8'), body]), { flag: 'wx' });
    await rename(part, layout.pathOf(entry.key));
  } finally {
    await rm(part, { force: true });
  }
}

/** Removes the least recently used entries (oldest mtime first) until the rest fit; returns how many went. */
async function evictToFit(entries: string, maxBytes: number): Promise<number> {
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
  return removed;
}

/** Temporary files of runs that died mid-write (older than an hour). */
async function removeDeadParts(tmp: string, now: () => Date): Promise<void> {
  for (const n of await readdir(tmp).catch(() => [] as string[])) {
    const p = join(tmp, n);
    const st = await stat(p).catch(() => undefined);
    if (st && now().getTime() - st.mtimeMs > 3_600_000) await rm(p, { force: true });
  }
}

export function openStore(dir: string, opts: StoreOptions = {}): ResultStore {
  const maxBytes = opts.maxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  const now = opts.now ?? (() => new Date());
  const layout = layoutOf(dir);
  const store: ResultStore = {
    dir,
    get: (key) => getEntry(layout, key, opts, now),
    async put(entry) {
      await putEntry(layout, entry, opts.secret);
      await store.evict();
    },
    async remove(key) {
      await unlink(layout.pathOf(key)).catch(() => undefined);
    },
    async evict() {
      const removed = await evictToFit(layout.entries, maxBytes);
      await removeDeadParts(layout.tmp, now);
      return removed;
    },
  };
  return store;
}
