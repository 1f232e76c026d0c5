/**
 * The host runner: runs a selected, ordered list of steps, independent ones in parallel up to a bound,
 * with prefixed streamed output, progress lines, a per-step timeout, services per step, dependents
 * of a failed step skipped, and results replayed from the cache when a step's inputs hash the same.
 * Interruption (AbortSignal, or SIGINT/SIGTERM when handleSignals) stops the running process groups
 * and still removes every service. Decisions live in scheduler.ts, one step's execution in
 * execute.ts, signals and the heartbeat in lifecycle.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { isSuccess } from '../outcome.js';
import { resolveCommands } from '../steps.js';
import type { CacheSession } from './cache/session.js';
import type { CachedLine } from './cache/store.js';
import { executeStep } from './execute.js';
import { criticalPathOrder, type RunnableStep } from './graph.js';
import { startLifecycle } from './lifecycle.js';
import { formatDuration, formatRunTable, readStepFacts } from './report.js';
import { schedule } from './scheduler.js';
import type { ServiceLease, ServicesProvider } from './services.js';
import type { CacheSummary, RunReport, StepResult } from './types.js';
import { newRunId } from '../services/ephemeral.js';

export type { CacheSummary, RunReport, StepResult, StepStatus } from './types.js';
export { shortCommand } from './execute.js';

export interface RunOptions {
  /** Selected steps in dependency order (see selectSteps). */
  readonly steps: readonly RunnableStep[];
  readonly params?: Readonly<Record<string, string>>;
  readonly concurrency: number;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly out: NodeJS.WritableStream;
  readonly services: ServicesProvider;
  readonly keep?: boolean;
  readonly runId?: string;
  readonly commit?: string;
  readonly signal?: AbortSignal;
  /** Install SIGINT/SIGTERM handlers for the duration of the run (the CLI does; library callers may not). */
  readonly handleSignals?: boolean;
  /** How often to print which steps are still running; 0 disables. */
  readonly heartbeatMs?: number;
  readonly killGraceMs?: number;
  /** Expected duration per step (e.g. from the previous report) to start the longest chains first. */
  readonly expectedMs?: (step: RunnableStep) => number;
  /** The result cache for this run, or why there is none (--no-cache, not a git tree); absent: no cache. */
  readonly cache?: { readonly session: CacheSession } | { readonly off: string };
}

export async function runPipeline(opts: RunOptions): Promise<RunReport> {
  const params = opts.params ?? {};
  const runId = opts.runId ?? newRunId();
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const commands = resolveAll(opts.steps, params);
  const width = Math.max(...opts.steps.map((s) => s.name.length), 4);
  const say = (line: string) => opts.out.write(`${line}\n`);
  const startedAt = Date.now();
  const results = new Map<string, StepResult>();
  const running = new Map<string, { started: number; done: Promise<void> }>();
  const kept: string[] = [];
  const leases = new Set<ServiceLease>();
  let leasedAny = false;
  const factsDir = mkdtempSync(join(tmpdir(), 'kgraph-facts-'));
  const factsFile = (name: string) => join(factsDir, `${name}.json`);
  const session = opts.cache && 'session' in opts.cache ? opts.cache.session : undefined;

  const life = startLifecycle({
    runId,
    ...(opts.signal ? { signal: opts.signal } : {}),
    handleSignals: opts.handleSignals ?? false,
    heartbeatMs: opts.heartbeatMs ?? 30_000,
    say,
    status: () => {
      if (running.size === 0) return undefined;
      const now = Date.now();
      const list = [...running].map(([n, r]) => `${n} (${formatDuration(now - r.started)})`).join(', ');
      return `… running: ${list} · ${results.size}/${opts.steps.length} done`;
    },
  });
  const finish = (r: StepResult) => {
    results.set(r.name, r);
    const mark = isSuccess(r.status) ? '✔' : r.status === 'skipped' ? '○' : '✘';
    const why = r.reason ? `: ${r.reason}` : r.savedMs !== undefined ? ` (saved ${formatDuration(r.savedMs)})` : '';
    say(
      `${mark} ${r.name} ${r.status} in ${formatDuration(r.durationMs)}${why} [${results.size}/${opts.steps.length}]`,
    );
  };

  const runStep = async (step: RunnableStep): Promise<StepResult> => {
    const prefix = `${step.name.padEnd(width)} │ `;
    const sayStep = (line: string) => say(prefix + line);
    const key = session?.keyOf(step.name);
    let note: string | undefined;
    if (session && key?.cacheable) {
      const started = Date.now();
      const found = await session.lookup(step.name);
      if (found.hit) return replay(step, found.entry, started, sayStep, session, key.key);
      if (found.damaged) {
        note = `cache entry damaged (${found.damaged}): ran instead`;
        sayStep(`warning: ${note}`);
      }
    } else if (session && key && !key.cacheable) sayStep(`not cached: ${key.reason}`);
    const lines: CachedLine[] = [];
    const result = await executeStep(step, {
      commands: commands.get(step.name)!,
      cwd: opts.cwd,
      // A step may write a flat JSON object of facts here; they go into the report (readStepFacts).
      env: { ...opts.env, KGRAPH_STEP_FACTS: factsFile(step.name) },
      runId,
      stepRunId: stepRunIdFor(runId, opts.steps.indexOf(step)),
      services: opts.services,
      keep: opts.keep ?? false,
      signal: life.signal,
      ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
      say: sayStep,
      onOutput: (stream, line) => {
        if (key?.cacheable) lines.push([stream, line]);
        sayStep(line);
      },
      onLease: (lease, state) => {
        if (state === 'held') {
          leasedAny ||= opts.services.mode === 'ephemeral';
          leases.add(lease);
        } else if (state === 'kept') kept.push(...lease.describe.map((d) => `${step.name}: ${d}`));
        else leases.delete(lease);
      },
    });
    if (session && key?.cacheable && result.status === 'passed') {
      const notStored = await session
        .save(step, lines, result.durationMs)
        .catch((e: unknown) => `not stored: ${(e as Error).message}`);
      if (notStored) {
        sayStep(`cache: ${notStored}`);
        note = note ? `${note}; ${notStored}` : notStored;
      }
    }
    const facts = readStepFacts(factsFile(step.name));
    return { ...result, ...(key?.cacheable ? { cacheKey: key.key } : {}), ...(note ? { cacheNote: note } : {}), ...(facts ? { facts } : {}) };
  };

  try {
    // Ready steps start heaviest chain first; without estimates, table order.
    const pending = opts.expectedMs ? criticalPathOrder(opts.steps, opts.expectedMs) : [...opts.steps];
    const selected = new Set(opts.steps.map((s) => s.name));
    while (pending.length > 0 || running.size > 0) {
      // A skip can unblock (or break) later steps, so decide again until nothing changes.
      for (let decisions = nextDecisions(); decisions.length > 0; decisions = nextDecisions()) {
        for (const d of decisions) {
          pending.splice(pending.indexOf(d.step), 1);
          if (d.action === 'skip') finish({ name: d.step.name, status: 'skipped', durationMs: 0, reason: d.reason });
          else {
            say(`▶ ${d.step.name}${d.step.description ? ` — ${d.step.description}` : ''}`);
            const entry = { started: Date.now(), done: Promise.resolve() };
            entry.done = runStep(d.step)
              .then(finish)
              .finally(() => running.delete(d.step.name));
            running.set(d.step.name, entry);
          }
        }
        if (decisions.every((d) => d.action === 'start')) break;
      }
      if (running.size > 0) await Promise.race([...running.values()].map((r) => r.done));
      else if (pending.length > 0)
        throw new Error(`cannot schedule ${pending.map((s) => s.name).join(', ')}: dependencies never ran`);
    }
    function nextDecisions() {
      return schedule({
        pending,
        results,
        running: running.size,
        concurrency,
        selected,
        ...(life.signal.aborted ? { interrupted: String(life.signal.reason) } : {}),
      });
    }
  } finally {
    life.close();
    // Whatever is still leased (an error above) goes, then anything the run's processes left behind.
    if (!opts.keep) {
      for (const l of [...leases]) await l.dispose().catch(() => undefined);
      leases.clear();
      if (leasedAny)
        await opts.services
          .sweep(runId)
          .catch((e: unknown) => say(`warning: sweeping run ${runId} failed: ${(e as Error).message}`));
    }
  }

  rmSync(factsDir, { recursive: true, force: true });
  const steps = opts.steps.map((s) => results.get(s.name)!);
  const report: RunReport = {
    version: 1,
    runId,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: Date.now() - startedAt,
    ok: steps.every((s) => isSuccess(s.status)),
    ...(life.signal.aborted ? { interrupted: String(life.signal.reason) } : {}),
    concurrency,
    servicesMode: opts.services.mode,
    params,
    ...(opts.commit ? { commit: opts.commit } : {}),
    steps,
    ...(opts.keep && kept.length > 0 ? { keptServices: kept } : {}),
    ...(opts.cache ? { cache: cacheSummary(opts.cache, steps) } : {}),
  };
  say('');
  say(formatRunTable(report));
  if (report.keptServices) {
    say(`\nServices kept (--keep); remove them with \`kgraph-ci run --sweep ${runId}\`:`);
    for (const k of report.keptServices) say(`  ${k}`);
  }
  return report;
}

/** Every command resolved first: a missing parameter is a usage error before anything starts. */
function resolveAll(steps: readonly RunnableStep[], params: Readonly<Record<string, string>>): Map<string, string[][]> {
  const commands = new Map<string, string[][]>();
  for (const step of steps) {
    try {
      commands.set(step.name, resolveCommands(step, params));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return commands;
}

/** A hit: the stored output lines printed again under the step's prefix and its outputs put back. */
async function replay(
  step: RunnableStep,
  entry: Parameters<CacheSession['restore']>[0],
  started: number,
  say: (line: string) => void,
  session: CacheSession,
  key: string,
): Promise<StepResult> {
  say(`cached: same inputs as a passing run at ${entry.createdAt} (key ${key.slice(0, 12)}); replaying its output`);
  for (const [, line] of entry.lines) say(line);
  try {
    const files = await session.restore(entry);
    if (entry.outputs.roots.length > 0)
      say(`cached: restored ${files} file(s) under ${entry.outputs.roots.join(', ')}`);
  } catch (err) {
    return {
      name: step.name,
      status: 'failed',
      durationMs: Date.now() - started,
      reason: `restoring cached outputs: ${(err as Error).message}`,
      cacheKey: key,
    };
  }
  return {
    name: step.name,
    status: 'cached',
    durationMs: Date.now() - started,
    exitCode: 0,
    savedMs: entry.durationMs,
    cacheKey: key,
  };
}

function cacheSummary(cache: NonNullable<RunOptions['cache']>, steps: readonly StepResult[]): CacheSummary {
  if ('off' in cache) return { enabled: false, reason: cache.off };
  const hits = steps.filter((s) => s.status === 'cached');
  return {
    enabled: true,
    dir: cache.session.dir,
    hits: hits.length,
    savedMs: hits.reduce((a, s) => a + (s.savedMs ?? 0), 0),
  };
}

/** One id per step of a run: `<runId>x<index>`. Sweeping the run id also covers every step's id. */
export function stepRunIdFor(runId: string, index: number): string {
  return `${runId}x${index}`;
}
