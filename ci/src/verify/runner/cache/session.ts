/**
 * One run's view of the result cache: the keys of every step, decided from the tree before anything
 * runs, and the lookups and stores the runner makes with them. A passed step is stored only when its
 * key, recomputed from the tree after it ran, is still the same: inputs edited while it ran (by a
 * person, or by the step itself) never get a result filed under keys they no longer have.
 */
import { arch, platform } from 'node:os';
import type { RunnableStep } from '../graph.js';
import { refuseEntry, type CachedLine, type CacheEntry } from './entry.js';
import { computeKeys, inputsOf, type KeyFacts, type StepKey } from './key.js';
import { trustCache } from './origin.js';
import { captureOutputs, restoreOutputs } from './outputs.js';
import { openStore, type Lookup, type ResultStore } from './store.js';
import { installedPackages, nodeVersionOnPath, snapshotTree } from './tree.js';

export interface CacheSession {
  readonly dir: string;
  keyOf(step: string): StepKey | undefined;
  /** A hit only for an entry that is whole, verified, and writes nowhere but the step's declared outputs. */
  lookup(step: string): Promise<Lookup>;
  /** Writes the step's declared outputs back from a hit; returns how many files. */
  restore(step: string, entry: CacheEntry): Promise<number>;
  /** Drops the step's entry (one that could not be restored). */
  discard(step: string): Promise<void>;
  /** Stores a passed step; returns why it was not stored, or undefined when it was. */
  save(
    step: RunnableStep,
    lines: readonly CachedLine[],
    durationMs: number,
    facts?: Readonly<Record<string, string>>,
  ): Promise<string | undefined>;
}

export interface CacheSessionOptions {
  /** The whole step table (dependencies outside the selection still key their dependants). */
  readonly table: readonly RunnableStep[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly params: Readonly<Record<string, string>>;
  /** Relative to cwd or absolute. */
  readonly dir: string;
  readonly maxBytes?: number;
  /** Facts normally read from the machine, fixed by tests. */
  readonly facts?: Partial<Pick<KeyFacts, 'nodeVersion' | 'platform' | 'arch' | 'installed'>>;
  /** This machine's name in the cache's origin record (default: read from the host). */
  readonly machine?: string;
}

export type OpenedCache =
  { readonly ok: true; readonly session: CacheSession } | { readonly ok: false; readonly reason: string };

/** The facts every key includes beside the tree: this machine's, unless a test fixes them. */
async function keyFactsOf(opts: CacheSessionOptions): Promise<KeyFacts> {
  return {
    nodeVersion: opts.facts?.nodeVersion ?? (await nodeVersionOnPath(opts.cwd, opts.env)),
    platform: opts.facts?.platform ?? platform(),
    arch: opts.facts?.arch ?? arch(),
    installed: opts.facts?.installed ?? (await installedPackages(opts.cwd)),
    env: opts.env,
    params: opts.params,
  };
}

/** What an open session works with: the keys decided before the run and the store they name entries in. */
interface Opened {
  readonly opts: CacheSessionOptions;
  readonly facts: KeyFacts;
  readonly keys: Map<string, StepKey>;
  readonly store: ResultStore;
  /** The outputs a step declares (where a replayed entry may write). */
  readonly declared: (step: string) => readonly string[];
}

/** A stored entry the step may replay; one that writes outside its declared outputs is removed, saying why. */
async function lookupStep(o: Opened, step: string): Promise<Lookup> {
  const k = o.keys.get(step);
  if (!k?.cacheable) return { hit: false };
  const found = await o.store.get(k.key);
  if (!found.hit) return found;
  const refused = refuseEntry(found.entry, k.key, step, o.declared(step));
  if (refused === undefined) return found;
  await o.store.remove(k.key);
  return { hit: false, damaged: refused };
}

/** Stored under its key only when the key, recomputed from the tree now, is unchanged; else why not. */
async function saveStep(
  o: Opened,
  step: RunnableStep,
  lines: readonly CachedLine[],
  durationMs: number,
  stepFacts?: Readonly<Record<string, string>>,
): Promise<string | undefined> {
  const k = o.keys.get(step.name);
  if (!k?.cacheable) return k ? k.reason : 'no key';
  const now = await snapshotTree(o.opts.cwd, [o.opts.dir]);
  const again = now && computeKeys(o.opts.table, now, o.facts).get(step.name);
  if (!again?.cacheable || again.key !== k.key) return 'not stored: its inputs changed while it ran';
  const outputs = await captureOutputs(o.opts.cwd, inputsOf(step)?.outputs ?? []);
  await o.store.put({
    key: k.key,
    step: step.name,
    createdAt: new Date().toISOString(),
    durationMs,
    lines,
    outputs,
    ...(stepFacts ? { facts: stepFacts } : {}),
  });
  return undefined;
}

export async function openCacheSession(opts: CacheSessionOptions): Promise<OpenedCache> {
  const tree = await snapshotTree(opts.cwd, [opts.dir]);
  if (!tree) return { ok: false, reason: 'not a git work tree, so inputs cannot be listed' };
  const facts = await keyFactsOf(opts);
  const trust = await trustCache(opts.dir, opts.env, opts.machine);
  if (!trust.ok) return trust;
  const keys = computeKeys(opts.table, tree, facts);
  const store: ResultStore = openStore(opts.dir, {
    ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
    ...(trust.secret !== undefined ? { secret: trust.secret } : {}),
  });
  const byName = new Map(opts.table.map((s) => [s.name, s]));
  const declared = (step: string) => {
    const s = byName.get(step);
    return (s && inputsOf(s)?.outputs) ?? [];
  };
  const o: Opened = { opts, facts, keys, store, declared };
  return {
    ok: true,
    session: {
      dir: opts.dir,
      keyOf: (step) => keys.get(step),
      lookup: (step) => lookupStep(o, step),
      restore: (step, entry) => restoreOutputs(opts.cwd, declared(step), entry.outputs.files),
      async discard(step) {
        const k = keys.get(step);
        if (k?.cacheable) await store.remove(k.key);
      },
      save: (step, lines, durationMs, stepFacts) => saveStep(o, step, lines, durationMs, stepFacts),
    },
  };
}
