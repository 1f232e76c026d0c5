/**
 * Pure: which files a step reads, its cache key, and which steps a set of changed paths affects.
 * A key covers every declared input (matched files, env values, Node version, platform, installed
 * packages), the step's own definition, and the keys of the steps it depends on, so a change reaches
 * exactly the steps that read it and what depends on them.
 */
import picomatch from 'picomatch';
import type { StepCache } from '../../../definitions/steps.js';
import type { RunnableStep } from '../graph.js';
import { sha256, type TreeSnapshot } from './tree.js';

/** Bump when the key material changes shape, so old entries are never mistaken for new ones. */
export const KEY_VERSION = 1;

export interface KeyFacts {
  readonly nodeVersion: string;
  readonly platform: string;
  readonly arch: string;
  /** Hash of the installed packages (see installedPackages). */
  readonly installed: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly params: Readonly<Record<string, string>>;
}

export type StepKey =
  | { readonly cacheable: true; readonly key: string; readonly files: number }
  | { readonly cacheable: false; readonly reason: string };

type InputsCache = Extract<StepCache, { mode: 'inputs' }>;

export function inputsOf(step: RunnableStep): InputsCache | undefined {
  return step.cache?.mode === 'inputs' ? step.cache : undefined;
}

/** A path filter from ordered globs: the last glob that matches decides, `!glob` excludes. */
export function fileMatcher(globs: readonly string[]): (path: string) => boolean {
  const rules = globs.map((g) =>
    g.startsWith('!')
      ? { include: false, test: picomatch(g.slice(1), { dot: true }) }
      : { include: true, test: picomatch(g, { dot: true }) },
  );
  return (path) => {
    let included = false;
    for (const r of rules) if (r.test(path)) included = r.include;
    return included;
  };
}

/** JSON with sorted keys, so the same definition always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The part of a definition that changes what a step does: everything but its prose. */
function definitionOf(step: RunnableStep): unknown {
  const { description: _description, ...rest } = step as RunnableStep & { description?: string };
  return rest;
}

/** Fills `${param}` the way resolveCommands does, without failing on a missing one (the run fails it first). */
const fill = (argv: readonly string[], params: Readonly<Record<string, string>>) =>
  argv.map((a) => a.replace(/\$\{(\w+)\}/g, (_, p: string) => params[p] ?? ''));

/**
 * Keys for every step of the table (dependencies are keyed through the table, so `--no-deps` runs
 * key the same as full ones). A step is uncacheable when it says so or depends on one that is.
 */
export function computeKeys(table: readonly RunnableStep[], tree: TreeSnapshot, facts: KeyFacts): Map<string, StepKey> {
  const byName = new Map(table.map((s) => [s.name, s]));
  const keys = new Map<string, StepKey>();
  const paths = [...tree.keys()].sort();
  const keyOf = (step: RunnableStep, seen: readonly string[]): StepKey => {
    const known = keys.get(step.name);
    if (known) return known;
    if (seen.includes(step.name)) return { cacheable: false, reason: 'dependency cycle' };
    const decided = ((): StepKey => {
      if (step.cache === undefined) return { cacheable: false, reason: 'declares no inputs' };
      if (step.cache.mode === 'never') return { cacheable: false, reason: step.cache.reason };
      const lines = [
        `kgraph-ci step key v${KEY_VERSION}`,
        `node ${facts.nodeVersion} ${facts.platform} ${facts.arch}`,
        `installed ${facts.installed}`,
        `definition ${canonicalJson(definitionOf(step))}`,
        `commands ${canonicalJson(step.commands.map((c) => fill(c, facts.params)))}`,
      ];
      for (const name of [...step.cache.env].sort()) {
        const v = facts.env[name];
        lines.push(`env ${name} ${v === undefined ? 'unset' : sha256(v)}`);
      }
      const matches = fileMatcher(step.cache.files);
      let files = 0;
      for (const p of paths) {
        if (!matches(p)) continue;
        const f = tree.get(p)!;
        lines.push(`file ${JSON.stringify(p)} ${f.kind} ${f.sha256}`);
        files++;
      }
      for (const d of [...step.dependsOn].sort()) {
        const dep = byName.get(d);
        if (!dep) return { cacheable: false, reason: `depends on unknown step ${d}` };
        const k = keyOf(dep, [...seen, step.name]);
        if (!k.cacheable) return { cacheable: false, reason: `depends on ${d}, which is not cached (${k.reason})` };
        lines.push(`dependency ${d} ${k.key}`);
      }
      return { cacheable: true, key: sha256(lines.join('\n')), files };
    })();
    keys.set(step.name, decided);
    return decided;
  };
  for (const s of table) keyOf(s, []);
  return keys;
}

export interface Affected {
  /** Changed paths among the step's inputs (empty when only a dependency or the world makes it run). */
  readonly changed: readonly string[];
  /** Affected dependencies that pull it in. */
  readonly because: readonly string[];
  /** Set when the step is never cached: its result depends on the world, so it always counts as affected. */
  readonly world?: string;
}

/**
 * The steps of `selected` that a set of changed paths affects: those whose input globs match one,
 * those that are never cached (a tree diff cannot clear them), and whatever depends on an affected one.
 */
export function affectedSteps(
  table: readonly RunnableStep[],
  selected: readonly RunnableStep[],
  changedPaths: readonly string[],
): Map<string, Affected> {
  const byName = new Map(table.map((s) => [s.name, s]));
  const memo = new Map<string, Affected | null>();
  const visit = (step: RunnableStep): Affected | null => {
    if (memo.has(step.name)) return memo.get(step.name)!;
    memo.set(step.name, null);
    const inputs = inputsOf(step);
    const changed = inputs ? changedPaths.filter(fileMatcher(inputs.files)) : [];
    const because = step.dependsOn.filter((d) => {
      const dep = byName.get(d);
      return dep !== undefined && visit(dep) !== null;
    });
    const world = inputs ? undefined : step.cache?.mode === 'never' ? step.cache.reason : 'declares no inputs';
    const result =
      changed.length > 0 || because.length > 0 || world !== undefined
        ? { changed, because, ...(world !== undefined ? { world } : {}) }
        : null;
    memo.set(step.name, result);
    return result;
  };
  const out = new Map<string, Affected>();
  for (const s of selected) {
    const a = visit(s);
    if (a) out.set(s.name, a);
  }
  return out;
}
