import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isSuccess } from '../../platform/outcome.js';
import { headCommit } from '../../verify/policy/git.js';
import { appendJobSummary } from '../../platform/report/summary.js';
import { STEPS } from '../../definitions/steps.js';
import {
  expectedDurations,
  SelectionError,
  selectSteps,
  validateTable,
  type RunnableStep,
} from '../../verify/runner/graph.js';
import { DEFAULT_RUN_REPORT, runSummaryMarkdown, writeJsonReport } from '../../verify/runner/report.js';
import { chooseAffected, describeAffected, planAffected } from '../../verify/runner/affected.js';
import {
  historyDir,
  readCommitHistory,
  recordResult,
  treeState,
  type HistoryEntry,
} from '../../verify/runner/history.js';
import { runJunitXml } from '../../verify/runner/junit.js';
import type { RunReport } from '../../verify/runner/types.js';
import { checkInputs } from '../../verify/runner/check-inputs.js';
import { openCacheSession } from '../../verify/runner/cache/session.js';
import { DEFAULT_CACHE_DIR, DEFAULT_CACHE_MAX_BYTES } from '../../verify/runner/cache/store.js';
import { resolveAll, runPipeline, type RunOptions } from '../../verify/runner/run.js';
import { ephemeralProvider, externalProvider, servicesModeFromEnv } from '../../verify/runner/services.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption } from '../options.js';

interface RunCommandOptions {
  keep?: boolean;
  json: string;
  env: EnvironmentDefinition;
  param: string[];
  concurrency?: string;
  sequential?: boolean;
  deps: boolean;
  services: boolean;
  sweep?: string;
  cache: boolean;
  cacheDir: string;
  cacheMaxMb?: string;
  affected?: boolean;
  base?: string;
  withWorld?: boolean;
  junit: string;
  checkInputs?: boolean;
}

export function parseParams(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const m = /^([A-Za-z]\w*)=(.*)$/s.exec(p);
    if (!m) throw new UsageError(`--param expects name=value, got "${p}"`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export function parseConcurrency(value: string | undefined, sequential: boolean | undefined): number {
  if (sequential) {
    if (value !== undefined) throw new UsageError('use either --sequential or --concurrency, not both');
    return 1;
  }
  if (value === undefined) return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new UsageError(`--concurrency must be an integer from 1 to 64, got "${value}"`);
  return n;
}

function parseCacheMaxBytes(value: string | undefined): number {
  if (value === undefined) return DEFAULT_CACHE_MAX_BYTES;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 1_000_000)
    throw new UsageError(`--cache-max-mb must be a number of MiB from 1 to 1000000, got "${value}"`);
  return Math.round(n * 1024 * 1024);
}

/**
 * `--affected`: the selected steps the changes since the base reach, each printed with why; then those that
 * only measure the world (unless --with-world) and those that already passed at this commit are left out.
 */
async function affectedOnly<S extends RunnableStep>(
  io: CliIo,
  selected: S[],
  opts: { base: string | undefined; withWorld: boolean; commit: string | undefined },
): Promise<S[]> {
  const plan = await planAffected(io.cwd, Object.values(STEPS), selected, opts.base);
  for (const line of describeAffected(plan, selected)) writeLine(io.stdout, line);
  const [tree, history] = await Promise.all([
    treeState(io.cwd),
    opts.commit
      ? readCommitHistory(io.cwd, opts.commit, historyDir(io.env))
      : Promise.resolve(new Map<string, HistoryEntry>()),
  ]);
  const choice = chooseAffected(plan, { withWorld: opts.withWorld, tree, history });
  for (const l of choice.left) writeLine(io.stdout, `  ${l.name}: left out: ${l.why}`);
  if (choice.run.length === 0) writeLine(io.stdout, 'kgraph-ci run: nothing affected, nothing to run');
  return choice.run;
}

/** Each step's result in the run history of the commit (what the checklist and --affected read next time). */
async function recordHistory(io: CliIo, report: RunReport, commit: string | undefined): Promise<void> {
  const tree = await treeState(io.cwd);
  if (!commit || !tree) return;
  for (const s of report.steps.filter((r) => r.status !== 'skipped')) {
    await recordResult(
      io.cwd,
      {
        version: 1,
        commit,
        step: s.name,
        status: s.status,
        finishedAt: new Date().toISOString(),
        durationMs: s.durationMs,
        source: 'kgraph-ci run',
        tree,
        runId: report.runId,
        ...(s.reason ? { reason: s.reason } : {}),
      },
      historyDir(io.env),
    );
  }
}

/** The doctor's findings that will sink a selected step, printed before anything starts (the run goes on). */
async function preflight(io: CliIo, steps: readonly RunnableStep[]): Promise<void> {
  const { checksFor, formatDoctorLine, runDoctor, sinking } = await import('../../operate/doctor/index.js');
  const lines = await runDoctor({ env: io.env, root: io.cwd, checks: checksFor(steps, io.env) });
  const bad = sinking(
    lines,
    steps.map((s) => s.name),
  );
  if (bad.length === 0) return;
  writeLine(io.stdout, 'kgraph-ci run: the doctor sees what will sink these steps (kgraph-ci doctor for all checks):');
  for (const l of bad) writeLine(io.stdout, formatDoctorLine(l).replace(/^/gm, '  '));
}

async function checkInputsOrFail(opts: Parameters<typeof checkInputs>[0]): Promise<void> {
  const checks = await checkInputs(opts);
  const bad = checks.filter((c) => c.result && !isSuccess(c.result.status)).map((c) => c.name);
  if (bad.length > 0) throw new FailedError(`steps that read more than they declare: ${bad.join(', ')}`);
}

/** The run's result cache, or why it is off (said on stdout unless the user turned it off). */
async function runCache(
  io: CliIo,
  opts: RunCommandOptions,
  params: Record<string, string>,
  maxBytes: number,
): Promise<NonNullable<RunOptions['cache']>> {
  if (!opts.cache) return { off: '--no-cache' };
  const opened = await openCacheSession({
    table: Object.values(STEPS),
    cwd: io.cwd,
    env: io.env,
    params,
    dir: resolve(io.cwd, opts.cacheDir),
    maxBytes,
  });
  if (opened.ok) return { session: opened.session };
  writeLine(io.stdout, `kgraph-ci run: cache off: ${opened.reason}`);
  return { off: opened.reason };
}

export function register(program: Command, io: CliIo): void {
  program
    .command('run')
    .description(
      'Run pipeline steps on this machine (dependencies first, independent steps in parallel); "all" = the main job',
    )
    .argument('[steps...]', `step names or cliNames, or all (${Object.keys(STEPS).join(', ')})`)
    .option('--keep', 'keep the ephemeral databases and Redis prefixes and print how to connect')
    .option('--json <file>', 'write the machine-readable run report here', DEFAULT_RUN_REPORT)
    .addOption(envOption('environment for steps that take one (latencyGate)', 'dev'))
    .option(
      '--param <name=value>',
      'another step parameter (repeatable), e.g. --param image=ghcr.io/x:1',
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option('--concurrency <n>', 'steps run at once (default: the number of cores)')
    .option('--sequential', 'one step at a time (same as --concurrency 1)')
    .option('--no-deps', 'run only the named steps, not what they depend on (callers that order steps themselves)')
    .addOption(
      new Option(
        '--no-services',
        'use DATABASE_URL / REDIS_URL as given instead of creating ephemeral ones (containers); also KGRAPH_SERVICES=external',
      ),
    )
    .option('--no-cache', 'run every step, neither replaying nor storing results')
    .option(
      '--cache-dir <dir>',
      'where step results are kept (bounded, least recently used go first)',
      DEFAULT_CACHE_DIR,
    )
    .option(
      '--cache-max-mb <n>',
      `size bound of the cache directory in MiB (default ${DEFAULT_CACHE_MAX_BYTES / 1024 / 1024})`,
    )
    .option('--affected', 'only the steps whose inputs changed since --base, plus what depends on them')
    .option('--base <ref>', 'with --affected: the commit to compare with (default: the merge base of HEAD and develop)')
    .option(
      '--with-world',
      'with --affected: also run the steps that measure the world (scan, latencyGate) when nothing they read changed',
    )
    .option('--junit <file>', 'write the run as JUnit XML (one test case per step)', '.reports/run.junit.xml')
    .option(
      '--check-inputs',
      'run each cached step alone in a copy of the tree holding only its declared inputs; fails when one reads more',
    )
    .option(
      '--sweep <runId>',
      'remove the databases and Redis keys a run left behind (after --keep or a crash), then exit',
    )
    .action((names: string[], opts: RunCommandOptions) => runCommand(io, names, opts));
}

async function runCommand(io: CliIo, names: string[], opts: RunCommandOptions): Promise<void> {
  const mode = opts.services === false ? 'external' : (servicesModeFromEnv(io.env) ?? 'ephemeral');
  const provider = mode === 'external' ? externalProvider(io.env) : ephemeralProvider(io.env);
  if (opts.sweep !== undefined) return sweep(io, provider, opts.sweep);
  const request = parseRunRequest(names, opts);
  let steps = request.steps;
  const commit = await headCommit(io.cwd);
  if (opts.affected) {
    steps = await affectedOnly(io, steps, { base: opts.base, withWorld: opts.withWorld ?? false, commit });
    if (steps.length === 0) return;
  }
  const common = { steps, params: request.params, cwd: io.cwd, env: io.env, out: io.stdout, services: provider };
  if (opts.checkInputs)
    return checkInputsOrFail({ ...common, concurrency: 1, heartbeatMs: 30_000, handleSignals: true });
  await preflight(io, steps);
  const cache = await runCache(io, opts, request.params, request.cacheMaxBytes);
  const jsonPath = resolve(io.cwd, opts.json);
  // The previous report's durations let the longest chains start first.
  const previous = await readPreviousReport(jsonPath);
  writeLine(
    io.stdout,
    `kgraph-ci run: ${steps.map((s) => s.name).join(', ')} (concurrency ${request.concurrency}, services ${mode})`,
  );
  const report = await runPipeline({
    ...common,
    concurrency: request.concurrency,
    keep: opts.keep ?? false,
    handleSignals: true,
    expectedMs: expectedDurations(previous),
    cache,
    ...(commit ? { commit } : {}),
  });
  await writeReports(io, opts, jsonPath, report, commit);
  failUnlessOk(report, opts.keep ?? false);
}

/** `--sweep`: remove what an earlier run left behind, then stop. */
async function sweep(io: CliIo, provider: ReturnType<typeof externalProvider>, runId: string): Promise<void> {
  if (!/^[a-z0-9]{4,40}$/.test(runId))
    throw new UsageError(`--sweep expects a run id like "lq3x9a1b2c3", got "${runId}"`);
  await provider.sweep(runId);
  writeLine(io.stdout, `removed what run ${runId} left behind`);
}

/**
 * The command line as a run request: the steps, their parameters, the concurrency and the cache bound. Every
 * bad-usage error is raised here, before the cache hashes the tree or anything starts.
 */
function parseRunRequest(names: string[], opts: RunCommandOptions) {
  const problems = validateTable(Object.values(STEPS));
  if (problems.length > 0) throw new UsageError(`the step table is broken: ${problems.join('; ')}`);
  let steps;
  try {
    steps = selectSteps(Object.values(STEPS), names, { withDependencies: opts.deps });
  } catch (err) {
    if (err instanceof SelectionError) throw new UsageError(err.message);
    throw err;
  }
  const params = { env: opts.env.name, ...parseParams(opts.param) };
  resolveAll(steps, params); // a missing parameter is bad usage
  const concurrency = parseConcurrency(opts.concurrency, opts.sequential);
  const cacheMaxBytes = parseCacheMaxBytes(opts.cacheMaxMb);
  if (opts.base !== undefined && !opts.affected) throw new UsageError('--base only makes sense with --affected');
  if (opts.withWorld && !opts.affected) throw new UsageError('--with-world only makes sense with --affected');
  return { steps, params, concurrency, cacheMaxBytes };
}

/** The last run's report, or undefined: an unreadable or truncated report only loses an ordering hint. */
async function readPreviousReport(path: string): Promise<unknown> {
  return readFile(path, 'utf8').then(
    (t) => {
      try {
        return JSON.parse(t) as unknown;
      } catch {
        return undefined;
      }
    },
    () => undefined,
  );
}

/** The JSON report, JUnit XML, the commit's run history and the job summary. */
async function writeReports(
  io: CliIo,
  opts: RunCommandOptions,
  jsonPath: string,
  report: RunReport,
  commit: string | undefined,
): Promise<void> {
  await writeJsonReport(jsonPath, report);
  await mkdir(dirname(resolve(io.cwd, opts.junit)), { recursive: true });
  await writeFile(resolve(io.cwd, opts.junit), runJunitXml(report), 'utf8');
  await recordHistory(io, report, commit);
  writeLine(io.stdout, `report: ${opts.json} (JUnit ${opts.junit}; history ${historyDir(io.env)}/)`);
  if (await appendJobSummary(runSummaryMarkdown(report), io.env)) writeLine(io.stdout, 'job summary written');
}

/** The run's exit: an interrupted or failed run is a FailedError naming why. */
function failUnlessOk(report: RunReport, keep: boolean): void {
  if (report.interrupted)
    throw new FailedError(`interrupted by ${report.interrupted}; services removed${keep ? ' (except --keep)' : ''}`);
  if (!report.ok) {
    const bad = report.steps.filter((s) => !isSuccess(s.status)).map((s) => `${s.name} ${s.status}`);
    throw new FailedError(`pipeline failed: ${bad.join(', ')}`);
  }
}
