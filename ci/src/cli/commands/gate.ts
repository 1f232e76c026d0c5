/**
 * `kgraph-ci gate latency`: hold a running (or locally served) service to its environment's latency
 * limits and, with a baseline, to the release it replaces. Options, then a plan (pure: every flag and the
 * API key checked), then the run: a baseline ref resolved before any load is sent, the candidate served by
 * the strategy of its serving mode (ci/src/gate/serving.ts), the report written. Pass exits 0, fail and
 * inconclusive exit 1.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import type { LatencyGateReport } from '../../gate/latency.js';
import { gateMarkdown } from '../../gate/report.js';
import type { GateWith, Serving, ServingContext } from '../../gate/serving.js';
import { appendJobSummary } from '../../platform/report/summary.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption, urlOption } from '../options.js';

interface GateCliOptions {
  url?: string;
  serve?: boolean | string;
  env: EnvironmentDefinition;
  report?: string;
  baselineUrl?: string;
  baselineRef?: string;
  /** false with --no-baseline */
  baseline: boolean;
}

export type BaselinePlan =
  | { readonly kind: 'none'; readonly why: string }
  | { readonly kind: 'url'; readonly url: string; readonly apiKey: string }
  | { readonly kind: 'ref'; readonly ref?: string };

export interface GatePlan {
  readonly env: EnvironmentDefinition;
  readonly serving: Serving;
  readonly baseline: BaselinePlan;
  readonly reportPath: string;
  /** Said in the log before the run (which key was taken from where). */
  readonly notes: readonly string[];
}

/**
 * The key for /api/v1: $API_KEY, else the first key of $API_KEYS (the service's own list, so a shell that
 * started the service can gate it as it is), saying so; neither is bad usage.
 */
export function gateApiKey(env: NodeJS.ProcessEnv): { readonly key: string; readonly note?: string } {
  if (env.API_KEY) return { key: env.API_KEY };
  const first = env.API_KEYS?.split(',')
    .map((k) => k.trim())
    .find((k) => k.length > 0);
  if (first)
    return { key: first, note: 'API_KEY is not set: using the first key of API_KEYS (the list the service reads)' };
  throw new UsageError(
    'API_KEY is not set: the gate needs an API key for /api/v1 (set API_KEY to one of the keys in the API_KEYS the service reads; the gate also reads API_KEYS and takes its first key)',
  );
}

/** The serving mode of the candidate (a URL's key comes later), or a usage error naming the contradiction. */
function servingOf(o: Omit<GateCliOptions, 'env'>): Exclude<Serving, { kind: 'url' }> | { kind: 'url'; url: string } {
  if (Boolean(o.url) === Boolean(o.serve)) throw new UsageError('give exactly one of --url <url> or --serve');
  if (typeof o.serve === 'string' && o.serve !== 'image')
    throw new UsageError(`--serve takes nothing or "image", got "${o.serve}"`);
  if (o.serve) return { kind: o.serve === 'image' ? 'image' : 'app' };
  return { kind: 'url', url: o.url! };
}

function baselineOf(o: Omit<GateCliOptions, 'env'>, env: NodeJS.ProcessEnv): BaselinePlan {
  if (o.baselineUrl !== undefined && o.baselineRef !== undefined)
    throw new UsageError('give at most one of --baseline-url and --baseline-ref');
  if (!o.baseline && (o.baselineUrl !== undefined || o.baselineRef !== undefined))
    throw new UsageError('--no-baseline contradicts --baseline-url / --baseline-ref');
  if (o.baselineRef !== undefined && !o.serve)
    throw new UsageError(
      '--baseline-ref serves that release locally: it needs --serve (with --url, give --baseline-url)',
    );
  // Both URLs arrive parsed (http(s), no credentials) by the option kit.
  if (o.baselineUrl !== undefined) {
    if (o.url !== undefined && o.baselineUrl === o.url)
      throw new UsageError('--baseline-url is the same as --url: a service compared with itself shows nothing');
    const apiKey = env.BASELINE_API_KEY ?? gateApiKey(env).key;
    return { kind: 'url', url: o.baselineUrl, apiKey };
  }
  if (!o.baseline) return { kind: 'none', why: '--no-baseline' };
  // With --serve the default baseline is the last release (v* tag); with --url there is none unless given.
  if (o.serve) return { kind: 'ref', ...(o.baselineRef === undefined ? {} : { ref: o.baselineRef }) };
  return { kind: 'none', why: 'no --baseline-url given' };
}

/** The flags' meaning, or a usage error naming what is wrong. Pure. */
export function planGate(o: GateCliOptions, env: NodeJS.ProcessEnv, cwd: string): GatePlan {
  const mode = servingOf(o);
  const baseline = baselineOf(o, env);
  // The key last: a contradiction in the flags is the first thing to hear about.
  const { key, note } = mode.kind === 'url' ? gateApiKey(env) : { key: '' };
  return {
    env: o.env,
    serving: mode.kind === 'url' ? { ...mode, apiKey: key } : mode,
    baseline,
    reportPath: resolve(cwd, o.report ?? `.reports/latency-gate-${o.env.name}.json`),
    notes: note ? [note] : [],
  };
}

/** Serves what the plan says and runs the gate on it; a gate that could not run is never a pass. */
async function runGatePlan(plan: GatePlan, log: (line: string) => void): Promise<LatencyGateReport> {
  const [{ runLatencyGate }, { resolveBaselineRef }, { servingStrategy }] = await Promise.all([
    import('../../gate/latency.js'),
    import('../../gate/baseline.js'),
    import('../../gate/serving.js'),
  ]);
  for (const n of plan.notes) log(n);
  // A bad ref is bad usage: found out here, before any service starts or any load is sent.
  const ref = plan.baseline.kind === 'ref' ? await resolveBaselineRef(plan.baseline.ref, REPO_ROOT) : undefined;
  if (ref && 'none' in ref) log(`no baseline: ${ref.none}; absolute limits only`);
  const b = plan.baseline;
  const context: ServingContext = {
    env: plan.env,
    log,
    ...(b.kind === 'url' ? { baselineUrl: { baseUrl: b.url, apiKey: b.apiKey } } : {}),
    ...(ref && 'sha' in ref ? { baselineRef: ref } : {}),
  };
  const gate: GateWith = (candidate, baseline) =>
    runLatencyGate({ candidate, ...(baseline ? { baseline } : {}), environment: plan.env, log });
  try {
    return await servingStrategy(plan.serving)(context, gate);
  } catch (err) {
    throw new FailedError(`latency gate could not run: ${(err as Error).message.split('\n')[0]}`);
  }
}

const VERDICT_WORD = { passed: 'PASSED', failed: 'FAILED', inconclusive: 'INCONCLUSIVE' } as const;

/** The JSON report, its markdown beside it and in the job summary, and the verdict on stdout. */
async function publish(report: LatencyGateReport, plan: GatePlan, io: CliIo): Promise<void> {
  const markdown = gateMarkdown(report);
  await mkdir(dirname(plan.reportPath), { recursive: true });
  await writeFile(plan.reportPath, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
  await writeFile(plan.reportPath.replace(/\.json$/, '') + '.md', `${markdown}\n`, 'utf8');
  await appendJobSummary(markdown, io.env);
  writeLine(io.stdout, `latency gate ${plan.env.name}: ${VERDICT_WORD[report.outcome]}`);
  for (const r of report.reasons) writeLine(io.stdout, `  ${r}`);
  writeLine(io.stdout, `report: ${plan.reportPath}`);
  if (report.outcome === 'failed') throw new FailedError(`latency gate failed for ${plan.env.name}`);
  if (report.outcome === 'inconclusive')
    throw new FailedError(
      `latency gate inconclusive for ${plan.env.name}: the measurement cannot support a pass (reasons above)`,
    );
}

export function register(program: Command, io: CliIo): void {
  const gate = program.command('gate').description('Promotion gates');
  gate
    .command('latency')
    .description(
      "Open-model load on each route at the environment's rate: absolute limits, and with a baseline the allowed regression (exit 1 on fail or inconclusive)",
    )
    .addOption(
      urlOption('--url <url>', 'base URL of a running service (API key from $API_KEY, else the first of $API_KEYS)'),
    )
    .option(
      '--serve [what]',
      'start the service locally on fresh Postgres/Redis, seeded, and gate that: the dev build (default) or "image", the built image in the local engine',
    )
    .addOption(envOption('environment whose gate applies'))
    .addOption(
      urlOption(
        '--baseline-url <url>',
        'compare with this running service (the release it replaces; key from $BASELINE_API_KEY, else as for --url)',
      ),
    )
    .option(
      '--baseline-ref <ref>',
      'with --serve: serve this git ref from a worktree on its own fresh database, same seed (default: the last v* tag)',
    )
    .option('--no-baseline', 'absolute limits only, no comparison')
    .option('--report <file>', 'JSON report path (a .md summary is written next to it)')
    .action(async (o: GateCliOptions) => {
      const plan = planGate(o, io.env, io.cwd);
      const report = await runGatePlan(plan, (line) => writeLine(io.stderr, `gate: ${line}`));
      await publish(report, plan, io);
    });
}
