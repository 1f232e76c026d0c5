/**
 * Pure: what a cache entry must look like before anything in it is replayed or written. The cache
 * directory may be shared, restored or synced, so an entry is read as untrusted input: its shape is
 * checked field by field, and its output files must stay under the step's declared outputs (never the
 * roots the entry names for itself), never reach .git, never sit under a link, and every link must
 * resolve, through the entry's own links, to a place inside those outputs. A refusal is a sentence
 * naming what is wrong; the caller makes it a miss.
 */
import { posix } from 'node:path';

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

const KINDS = new Set(['file', 'exec', 'symlink', 'dir']);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';

/** The entry, or why the parsed JSON is not one. */
export function parseEntry(raw: unknown): CacheEntry | string {
  if (!isRecord(raw)) return 'malformed entry: not an object';
  const missing = (['key', 'step', 'createdAt'] as const).find((f) => !isString(raw[f]));
  if (missing) return `malformed entry: ${missing} is not a string`;
  if (typeof raw.durationMs !== 'number' || !Number.isFinite(raw.durationMs) || raw.durationMs < 0)
    return 'malformed entry: durationMs is not a duration';
  if (!Array.isArray(raw.lines)) return 'malformed entry: lines is not a list';
  const badLine = raw.lines.findIndex(
    (l) => !Array.isArray(l) || l.length !== 2 || (l[0] !== 'stdout' && l[0] !== 'stderr') || !isString(l[1]),
  );
  if (badLine >= 0) return `malformed entry: line ${badLine} is not [stdout|stderr, text]`;
  const outputs = raw.outputs;
  if (!isRecord(outputs) || !Array.isArray(outputs.roots) || !Array.isArray(outputs.files))
    return 'malformed entry: outputs is not {roots, files}';
  if (!outputs.roots.every(isString)) return 'malformed entry: an output root is not a string';
  for (const [i, f] of outputs.files.entries()) {
    const why = fileShape(f);
    if (why) return `malformed entry: output file ${i} ${why}`;
  }
  if (raw.facts !== undefined && (!isRecord(raw.facts) || !Object.values(raw.facts).every(isString)))
    return 'malformed entry: facts is not a map of strings';
  return raw as unknown as CacheEntry;
}

function fileShape(f: unknown): string | undefined {
  if (!isRecord(f) || !isString(f.path)) return 'has no path';
  if (!isString(f.kind) || !KINDS.has(f.kind)) return `(${f.path}) has an unknown kind`;
  if (f.kind === 'dir') return undefined;
  if (!isString(f.data)) return `(${f.path}) has no data`;
  if (f.kind !== 'symlink' && !BASE64.test(f.data)) return `(${f.path}) data is not base64`;
  return undefined;
}

const parts = (p: string) => p.split('/');
const isGitPart = (part: string) => part.toLowerCase() === '.git';
const under = (p: string, root: string) => p === root || p.startsWith(`${root}/`);

/** A relative, normalised path with no `.git` part: the only kind of path a restore may touch. */
export function isRestorablePath(p: string): boolean {
  return (
    p !== '' &&
    !p.startsWith('/') &&
    !p.includes('\\') &&
    !p.includes('\0') &&
    parts(p).every((part) => part !== '' && part !== '.' && part !== '..' && !isGitPart(part))
  );
}

/**
 * Why the entry may not be replayed for this step (undefined: it may). `declared` is the step's own
 * list of outputs, from the step table, never from the entry.
 */
export function refuseEntry(
  entry: CacheEntry,
  key: string,
  step: string,
  declared: readonly string[],
): string | undefined {
  if (entry.key !== key) return `holds key ${entry.key.slice(0, 12)}, not ${key.slice(0, 12)}`;
  if (entry.step !== step) return `written for step ${entry.step}, not ${step}`;
  const badDeclared = declared.find((d) => !isRestorablePath(d));
  if (badDeclared !== undefined) return `the step's declared output ${badDeclared} is not a restorable path`;
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
  if (!same(entry.outputs.roots, declared))
    return `names outputs [${entry.outputs.roots.join(', ')}], the step declares [${declared.join(', ')}]`;
  const byPath = new Map<string, OutputFile>();
  for (const f of entry.outputs.files) {
    if (!isRestorablePath(f.path)) return `output path ${JSON.stringify(f.path)} is not a plain relative path`;
    if (!declared.some((r) => under(f.path, r))) return `output ${f.path} is not under a declared output`;
    if (byPath.has(f.path)) return `output ${f.path} appears twice`;
    byPath.set(f.path, f);
  }
  for (const f of entry.outputs.files) {
    const p = parts(f.path);
    for (let i = 1; i < p.length; i++) {
      const parent = byPath.get(p.slice(0, i).join('/'));
      if (parent && parent.kind !== 'dir')
        return `output ${f.path} lies under ${parent.path}, which is a ${parent.kind}`;
    }
    if (f.kind === 'symlink') {
      const why = refuseLink(f.path, f.data ?? '', byPath, declared);
      if (why) return `link ${f.path} -> ${f.data ?? ''}: ${why}`;
    }
  }
  return undefined;
}

/**
 * Follows a link's target the way the kernel would, through the entry's own links, and refuses it
 * when any step of the walk leaves the declared outputs (ancestors of an output, which the restore
 * checks are real directories, are allowed as passing points) or ends outside them.
 */
function refuseLink(
  path: string,
  target: string,
  byPath: ReadonlyMap<string, OutputFile>,
  declared: readonly string[],
): string | undefined {
  if (target === '' || target.includes('\0')) return 'empty target';
  if (posix.isAbsolute(target)) return 'absolute target';
  const inside = (p: string) => declared.some((r) => under(p, r));
  const passable = (p: string) => p === '' || inside(p) || declared.some((r) => r.startsWith(`${p}/`));
  let at = parts(path).slice(0, -1);
  let pending = parts(target);
  for (let hops = 0; pending.length > 0;) {
    const part = pending.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (at.length === 0) return 'leaves the repository';
      at = at.slice(0, -1);
    } else {
      if (isGitPart(part)) return 'reaches .git';
      at = [...at, part];
    }
    const here = at.join('/');
    if (!passable(here)) return `passes through ${here || '.'}, outside the declared outputs`;
    const link = byPath.get(here);
    if (link?.kind === 'symlink') {
      if (++hops > 40) return 'too many levels of links';
      const next = link.data ?? '';
      if (posix.isAbsolute(next)) return `passes through ${here}, an absolute link`;
      at = at.slice(0, -1);
      pending = [...parts(next), ...pending];
    }
  }
  return inside(at.join('/')) ? undefined : `resolves to ${at.join('/') || '.'}, outside the declared outputs`;
}
