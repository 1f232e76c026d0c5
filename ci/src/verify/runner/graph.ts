/**
 * Pure graph work over a step table: validation, selection of what to run, and topological order.
 * The runner takes any table of this shape, so tests drive it with small fixture pipelines.
 */
import type { ServiceName, StepCache } from '../../definitions/steps.js';

/** What the runner needs of a step; every StepDefinition is one. */
export interface RunnableStep {
  readonly name: string;
  readonly cliName?: string;
  readonly description?: string;
  readonly commands: readonly (readonly string[])[];
  readonly params: readonly string[];
  readonly services: readonly ServiceName[];
  readonly env: Readonly<Record<string, string>>;
  readonly dependsOn: readonly string[];
  readonly timeoutSeconds: number;
  readonly inAll: boolean;
  /** What the host runner may replay the step from; without it the step always runs. */
  readonly cache?: StepCache;
}

const KEBAB_RE = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Problems with a table (duplicates, unknown dependencies, cycles, bad names); empty when it is sound. */
export function validateTable(steps: readonly RunnableStep[]): string[] {
  const problems: string[] = [];
  const names = new Map<string, number>();
  for (const s of steps) {
    names.set(s.name, (names.get(s.name) ?? 0) + 1);
    if (s.cliName !== undefined && names.has(s.cliName) && s.cliName !== s.name) {
      problems.push(`step ${s.name}: cliName "${s.cliName}" is another step's name`);
    }
  }
  for (const [name, count] of names) if (count > 1) problems.push(`step ${name} is defined ${count} times`);
  for (const s of steps) {
    if (s.cliName !== undefined && !KEBAB_RE.test(s.cliName))
      problems.push(`step ${s.name}: cliName "${s.cliName}" is not kebab-case`);
    if (s.commands.length === 0 || s.commands.some((c) => c.length === 0))
      problems.push(`step ${s.name}: has an empty command`);
    if (!(s.timeoutSeconds > 0)) problems.push(`step ${s.name}: timeoutSeconds must be positive`);
    for (const d of s.dependsOn) {
      if (!names.has(d)) problems.push(`step ${s.name}: depends on unknown step ${d}`);
      if (d === s.name) problems.push(`step ${s.name}: depends on itself`);
    }
    const used = new Set(s.commands.flat().flatMap((a) => [...a.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!)));
    for (const p of used)
      if (!s.params.includes(p)) problems.push(`step ${s.name}: uses \${${p}} but does not declare it in params`);
    problems.push(...cacheProblems(s));
  }
  const cycle = findCycle(steps);
  if (cycle) problems.push(`dependency cycle: ${cycle.join(' → ')}`);
  return problems;
}

/** An output outside the repository could not be restored safely; a never-cached step must say why. */
function cacheProblems(s: RunnableStep): string[] {
  if (s.cache === undefined) return [];
  if (s.cache.mode === 'never')
    return s.cache.reason.trim() === '' ? [`step ${s.name}: says it is never cached but not why`] : [];
  const problems: string[] = [];
  if (s.cache.files.length === 0) problems.push(`step ${s.name}: is cached but declares no input files`);
  for (const o of s.cache.outputs) {
    if (!isInsidePath(o)) problems.push(`step ${s.name}: output "${o}" must be a relative path inside the repository`);
  }
  return problems;
}

/** A relative, normalised path that stays inside the directory it is relative to. */
export function isInsidePath(p: string): boolean {
  return (
    p !== '' &&
    !p.startsWith('/') &&
    !p.includes('\\') &&
    p.split('/').every((part) => part !== '' && part !== '.' && part !== '..')
  );
}

/** A dependency cycle as a path that starts and ends at the same step, or undefined. */
export function findCycle(steps: readonly RunnableStep[]): string[] | undefined {
  const byName = new Map(steps.map((s) => [s.name, s]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...stack.slice(stack.indexOf(name)), name];
    state.set(name, 'visiting');
    stack.push(name);
    for (const d of byName.get(name)?.dependsOn ?? []) {
      if (!byName.has(d)) continue;
      const c = visit(d);
      if (c) return c;
    }
    stack.pop();
    state.set(name, 'done');
    return undefined;
  };
  for (const s of steps) {
    const c = visit(s.name);
    if (c) return c;
  }
  return undefined;
}

export class SelectionError extends RangeError {}

export interface SelectOptions {
  /** Pull in what the requested steps depend on (default). Off for callers that run dependencies themselves. */
  readonly withDependencies?: boolean;
}

/**
 * The steps a request names (`all` = every step with inAll, names or cliNames otherwise), plus their
 * dependencies, in a stable topological order (table order among independent steps).
 */
export function selectSteps<S extends RunnableStep>(
  table: readonly S[],
  requested: readonly string[],
  opts: SelectOptions = {},
): S[] {
  if (requested.length === 0) throw new SelectionError('name at least one step, or all');
  const byName = new Map(table.map((s) => [s.name, s]));
  const wanted = new Set<string>();
  for (const r of requested) {
    if (r === 'all') {
      for (const s of table) if (s.inAll) wanted.add(s.name);
      continue;
    }
    const step = table.find((s) => s.name === r || s.cliName === r);
    if (!step) {
      throw new SelectionError(`unknown step "${r}": expected all or one of ${table.map((s) => s.name).join(', ')}`);
    }
    wanted.add(step.name);
  }
  if (opts.withDependencies !== false) {
    const queue = [...wanted];
    while (queue.length > 0) {
      for (const d of byName.get(queue.pop()!)?.dependsOn ?? []) {
        if (!wanted.has(d)) {
          wanted.add(d);
          queue.push(d);
        }
      }
    }
  }
  return topoOrder(table.filter((s) => wanted.has(s.name)));
}

/** Kahn's algorithm; dependencies outside the given list are treated as already satisfied. */
export function topoOrder<S extends RunnableStep>(steps: readonly S[]): S[] {
  const names = new Set(steps.map((s) => s.name));
  const done = new Set<string>();
  const order: S[] = [];
  while (order.length < steps.length) {
    const next = steps.find((s) => !done.has(s.name) && s.dependsOn.every((d) => !names.has(d) || done.has(d)));
    if (!next)
      throw new SelectionError(
        `dependency cycle among ${steps
          .filter((s) => !done.has(s.name))
          .map((s) => s.name)
          .join(', ')}`,
      );
    done.add(next.name);
    order.push(next);
  }
  return order;
}

/**
 * Longest-path-first order: each step weighs its expected duration plus the heaviest chain of steps
 * that wait on it, so long chains and long steps start first and the run ends sooner. Stable (table
 * order among equal weights) and still topological, since a step always outweighs its dependents.
 */
export function criticalPathOrder<S extends RunnableStep>(steps: readonly S[], expectedMs: (s: S) => number): S[] {
  const names = new Set(steps.map((s) => s.name));
  const weight = new Map<string, number>();
  const weigh = (s: S): number => {
    const known = weight.get(s.name);
    if (known !== undefined) return known;
    const dependents = steps.filter((d) => d.dependsOn.includes(s.name) && names.has(d.name));
    const w = Math.max(1, expectedMs(s)) + Math.max(0, ...dependents.map(weigh));
    weight.set(s.name, w);
    return w;
  };
  return steps
    .map((s, i) => ({ s, i, w: weigh(s) }))
    .sort((a, b) => b.w - a.w || a.i - b.i)
    .map((x) => x.s);
}

/** Expected durations: the last run's for steps that passed there, else the timeout as a rough proxy. */
export function expectedDurations(previous: unknown): (s: RunnableStep) => number {
  const known = new Map<string, number>();
  const steps = (previous as { steps?: { name?: unknown; status?: unknown; durationMs?: unknown }[] } | undefined)
    ?.steps;
  if (Array.isArray(steps)) {
    for (const s of steps) {
      if (typeof s.name === 'string' && s.status === 'passed' && typeof s.durationMs === 'number')
        known.set(s.name, s.durationMs);
    }
  }
  return (s) => known.get(s.name) ?? s.timeoutSeconds * 1000;
}
