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
import { UsageError } from '../../definitions/errors.js';
import { isSuccess } from '../../platform/outcome.js';
import { resolveCommands } from '../../definitions/steps.js';
import type { CacheSession } from './cache/session.js';
import { runThroughCache } from './cached-step.js';
import { executeStep } from './execute.js';
import { criticalPathOrder, type RunnableStep } from './graph.js';
import { startLifecycle } from './lifecycle.js';
import { formatDuration, formatRunTable, readStepFacts } from './report.js';
import { schedule } from './scheduler.js';
import type { ServiceLease, ServicesProvider } from './services.js';
import type { CacheSummary, RunReport, StepResult } from './types.js';
import { newRunId } from '../../platform/services/ephemeral.js';

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

/** What starting one step takes from its run. */
interface RunContext {
  readonly opts: RunOptions;
  readonly runId: string;
  readonly commands: ReadonlyMap<string, string[][]>;
  readonly session: CacheSession | undefined;
  /** Column width of step names in prefixed output. */
  readonly width: number;
  readonly say: (line: string) => void;
  /** Steps running now, with when they started (for the heartbeat). */
  readonly running: Map<string, number>;
  readonly services: ReturnType<typeof serviceBook>;
  /** Where a step may write a flat JSON object of facts ($KGRAPH_STEP_FACTS); they go into the report. */
  readonly factsFile: (name: string) => string;
  readonly signal: AbortSignal;
}

/** Announces the step, then replays it from the cache or executes it (with the facts it wrote). */
function startStep(ctx: RunContext, step: RunnableStep): Promise<StepResult> {
  const { opts } = ctx;
  const sayStep = (line: string) => ctx.say(`${step.name.padEnd(ctx.width)} │ ${line}`);
  ctx.say(`▶ ${step.name}${step.description ? ` — ${step.description}` : ''}`);
  ctx.running.set(step.name, Date.now());
  return runThroughCache(step, ctx.session, sayStep, async (onOutput) => {
    const result = await executeStep(step, {
      commands: ctx.commands.get(step.name)!,
      cwd: opts.cwd,
      env: { ...opts.env, KGRAPH_STEP_FACTS: ctx.factsFile(step.name) },
      runId: ctx.runId,
      stepRunId: stepRunIdFor(ctx.runId, opts.steps.indexOf(step)),
      services: opts.services,
      keep: opts.keep ?? false,
      signal: ctx.signal,
      ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
      say: sayStep,
      onOutput,
      onLease: (lease, state) => ctx.services.track(step.name, lease, state),
    });
    const facts = readStepFacts(ctx.factsFile(step.name));
    return facts ? { ...result, facts } : result;
  }).finally(() => ctx.running.delete(step.name));
}

export async function runPipeline(opts: RunOptions): Promise<RunReport> {
  const params = opts.params ?? {};
  const runId = opts.runId ?? newRunId();
  const concurrency = Math.max(1, Math.floor(opts.concurrency));
  const commands = resolveAll(opts.steps, params);
  const say = (line: string) => opts.out.write(`${line}\n`);
  const startedAt = Date.now();
  const results = new Map<string, StepResult>();
  const running = new Map<string, number>();
  const services = serviceBook(opts.services);
  const factsDir = mkdtempSync(join(tmpdir(), 'kgraph-facts-'));
  const life = startLifecycle({
    runId,
    ...(opts.signal ? { signal: opts.signal } : {}),
    handleSignals: opts.handleSignals ?? false,
    heartbeatMs: opts.heartbeatMs ?? 30_000,
    say,
    status: () => heartbeatLine(running, results.size, opts.steps.length),
  });
  const ctx: RunContext = {
    opts,
    runId,
    commands,
    session: opts.cache && 'session' in opts.cache ? opts.cache.session : undefined,
    width: Math.max(...opts.steps.map((s) => s.name.length), 4),
    say,
    running,
    services,
    factsFile: (name) => join(factsDir, `${name}.json`),
    signal: life.signal,
  };
  const finish = (r: StepResult) => {
    results.set(r.name, r);
    say(progressLine(r, results.size, opts.steps.length));
  };
  try {
    // Ready steps start heaviest chain first; without estimates, table order.
    const order = opts.expectedMs ? criticalPathOrder(opts.steps, opts.expectedMs) : [...opts.steps];
    await drive(order, { concurrency, signal: life.signal, results, start: (step) => startStep(ctx, step), finish });
  } finally {
    life.close();
    rmSync(factsDir, { recursive: true, force: true });
    if (!opts.keep) await services.release(runId, say);
  }
  const report = buildReport(opts, {
    runId,
    startedAt,
    concurrency,
    params,
    results,
    kept: services.kept,
    interrupted: life.signal.aborted ? String(life.signal.reason) : undefined,
  });
  printReport(report, say);
  return report;
}

/**
 * Starts what the scheduler allows, waits for any running step, and repeats until every step has a
 * result. A skip can unblock (or break) later steps, so it decides again until nothing changes.
 */
async function drive(
  order: RunnableStep[],
  ctx: {
    concurrency: number;
    signal: AbortSignal;
    results: Map<string, StepResult>;
    start: (s: RunnableStep) => Promise<StepResult>;
    finish: (r: StepResult) => void;
  },
): Promise<void> {
  const pending = [...order];
  const selected = new Set(order.map((s) => s.name));
  const running = new Map<string, Promise<void>>();
  const decide = () =>
    schedule({
      pending,
      results: ctx.results,
      running: running.size,
      concurrency: ctx.concurrency,
      selected,
      ...(ctx.signal.aborted ? { interrupted: String(ctx.signal.reason) } : {}),
    });
  while (pending.length > 0 || running.size > 0) {
    for (let decisions = decide(); decisions.length > 0; decisions = decide()) {
      for (const d of decisions) {
        pending.splice(pending.indexOf(d.step), 1);
        if (d.action === 'skip') ctx.finish({ name: d.step.name, status: 'skipped', durationMs: 0, reason: d.reason });
        else
          running.set(
            d.step.name,
            ctx
              .start(d.step)
              .then(ctx.finish)
              .finally(() => running.delete(d.step.name)),
          );
      }
      if (decisions.every((d) => d.action === 'start')) break;
    }
    if (running.size > 0) await Promise.race(running.values());
    else if (pending.length > 0)
      throw new Error(`cannot schedule ${pending.map((s) => s.name).join(', ')}: dependencies never ran`);
  }
}

/** The run's service leases: what is held (removed at the end if still held), what --keep kept. */
function serviceBook(provider: ServicesProvider) {
  const held = new Set<ServiceLease>();
  const kept: string[] = [];
  let leasedAny = false;
  return {
    kept,
    track(step: string, lease: ServiceLease, state: 'held' | 'kept' | 'released') {
      if (state === 'held') {
        leasedAny ||= provider.mode === 'ephemeral';
        held.add(lease);
      } else if (state === 'kept') kept.push(...lease.describe.map((d) => `${step}: ${d}`));
      else held.delete(lease);
    },
    /** Whatever is still leased (after an error) goes, then anything the run's processes left behind. */
    async release(runId: string, say: (line: string) => void) {
      for (const l of [...held]) await l.dispose().catch(() => undefined);
      held.clear();
      if (leasedAny)
        await provider
          .sweep(runId)
          .catch((e: unknown) => say(`warning: sweeping run ${runId} failed: ${(e as Error).message}`));
    },
  };
}

function heartbeatLine(running: ReadonlyMap<string, number>, done: number, total: number): string | undefined {
  if (running.size === 0) return undefined;
  const now = Date.now();
  const list = [...running].map(([n, started]) => `${n} (${formatDuration(now - started)})`).join(', ');
  return `… running: ${list} · ${done}/${total} done`;
}

function progressLine(r: StepResult, done: number, total: number): string {
  const mark = isSuccess(r.status) ? '✔' : r.status === 'skipped' ? '○' : '✘';
  const why = r.reason ? `: ${r.reason}` : r.savedMs !== undefined ? ` (saved ${formatDuration(r.savedMs)})` : '';
  return `${mark} ${r.name} ${r.status} in ${formatDuration(r.durationMs)}${why} [${done}/${total}]`;
}

function buildReport(
  opts: RunOptions,
  run: {
    runId: string;
    startedAt: number;
    concurrency: number;
    params: Readonly<Record<string, string>>;
    results: ReadonlyMap<string, StepResult>;
    kept: readonly string[];
    interrupted: string | undefined;
  },
): RunReport {
  const steps = opts.steps.map((s) => run.results.get(s.name)!);
  return {
    version: 1,
    runId: run.runId,
    startedAt: new Date(run.startedAt).toISOString(),
    durationMs: Date.now() - run.startedAt,
    ok: steps.every((s) => isSuccess(s.status)),
    ...(run.interrupted !== undefined ? { interrupted: run.interrupted } : {}),
    concurrency: run.concurrency,
    servicesMode: opts.services.mode,
    params: run.params,
    ...(opts.commit ? { commit: opts.commit } : {}),
    steps,
    ...(opts.keep && run.kept.length > 0 ? { keptServices: [...run.kept] } : {}),
    ...(opts.cache ? { cache: cacheSummary(opts.cache, steps) } : {}),
  };
}

function printReport(report: RunReport, say: (line: string) => void): void {
  say('');
  say(formatRunTable(report));
  if (report.keptServices) {
    say(`\nServices kept (--keep); remove them with \`kgraph-ci run --sweep ${report.runId}\`:`);
    for (const k of report.keptServices) say(`  ${k}`);
  }
}

/** Every command resolved first: a missing parameter is a usage error before anything starts. */
export function resolveAll(
  steps: readonly RunnableStep[],
  params: Readonly<Record<string, string>>,
): Map<string, string[][]> {
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
