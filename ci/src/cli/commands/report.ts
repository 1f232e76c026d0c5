import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { writeLine, type CliIo } from '../io.js';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { SuccessRow } from '../../platform/report/success.js';
import { envOption, githubOf, repoOption, repositoryOf } from '../options.js';

/** `30d`, `12h`, `90m` → milliseconds; anything else is a usage error. */
function parseSince(value: string): number {
  const m = /^(\d{1,4})([dhm])$/.exec(value);
  if (!m || Number(m[1]) === 0) throw new UsageError(`--since "${value}" must look like 30d, 12h or 90m`);
  return Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
}

export function register(program: Command, io: CliIo): void {
  program
    .command('report')
    .description(
      'Delivery metrics from the ledger (GitHub deployments; local records offline): deploy duration p50/p95, success and rollback rate, lead time, change failure rate',
    )
    .addOption(repoOption('read the GitHub ledger of this repository (default: GITHUB_REPOSITORY; needs GITHUB_TOKEN)'))
    .option('--since <window>', 'only deployments created in this window (30d, 12h, 90m)', '30d')
    .option('--dir <path>', 'local ledger records (the offline fallback)', '.reports/deployments')
    .option('--json', 'print the metrics as JSON')
    .option('--out <file>', 'also write the markdown (tables and chart) to this file')
    .option('--json-out <file>', 'also write the metrics as JSON to this file')
    .option('--strict', 'exit 1 when a target is missed or there is no data')
    .addOption(envOption('success metrics: the environment whose latency targets and namespace are read', 'prod'))
    .option(
      '--prometheus <url>',
      'success metrics: Prometheus to read the latency targets from (default: PROMETHEUS_URL)',
    )
    .option(
      '--latency-window <duration>',
      'success metrics: the window the latency is read over (Prometheus duration)',
      '1h',
    )
    .option(
      '--rehearsal <file>',
      "success metrics: the rollout rehearsal's report.json (zero-downtime)",
      '.reports/rollout/report.json',
    )
    .action((opts: ReportOptions) => reportCommand(io, opts));
}

interface ReportOptions {
  repo?: RepoRef;
  since: string;
  dir: string;
  json?: boolean;
  out?: string;
  jsonOut?: string;
  strict?: boolean;
  env: EnvironmentDefinition;
  prometheus?: string;
  latencyWindow: string;
  rehearsal: string;
}

// The modules are imported when the command runs, so the CLI's other commands start without them.
async function reportCommand(io: CliIo, opts: ReportOptions): Promise<void> {
  const windowMs = parseSince(opts.since);
  const [
    { computeDeliveryMetrics, deliveryMarkdown, TARGETS },
    { deliveryEvents },
    { ENVIRONMENTS, isEnvironmentName },
    { appendJobSummary },
    { deployFacts, judgeSuccess, successMarkdown },
    { readLatency, readRehearsal },
  ] = await Promise.all([
    import('../../platform/ledger/metrics.js'),
    import('../../platform/ledger/entry.js'),
    import('../../definitions/environments.js'),
    import('../../platform/report/summary.js'),
    import('../../platform/report/success.js'),
    import('../../platform/report/success-sources.js'),
  ]);
  const now = Date.now();
  const sinceMs = now - windowMs;
  const { records, source } = await readRecords(io, opts, sinceMs);
  const events = deliveryEvents(records, now);
  const isProduction = (e: string) => isEnvironmentName(e) && ENVIRONMENTS[e].release.production;
  const metrics = computeDeliveryMetrics(events, {
    production: isProduction,
    source,
    since: new Date(sinceMs).toISOString(),
  });
  const promUrl = opts.prometheus ?? io.env.PROMETHEUS_URL;
  const success = judgeSuccess({
    deploys: deployFacts(events, isProduction),
    maxDeployMs: TARGETS.maxDurationMs,
    rehearsal: await readRehearsal(resolve(io.cwd, opts.rehearsal)),
    latency: promUrl
      ? await readLatency(promUrl, opts.env.namespace, opts.latencyWindow)
      : { unreadable: 'no Prometheus given (--prometheus or PROMETHEUS_URL)' },
    thresholds: opts.env.latencyGate.thresholds,
  });
  const markdown = `${deliveryMarkdown(metrics, events)}\n\n${successMarkdown(success)}`;
  const json = JSON.stringify(
    { ...metrics, success },
    (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v),
    2,
  );
  writeLine(io.stdout, opts.json ? json : markdown);
  await writeOutputs(io, [
    [opts.out, markdown],
    [opts.jsonOut, json],
  ]);
  await appendJobSummary(markdown, io.env);
  if (opts.strict) await failWhenMissed(opts.since, source, metrics.meetsTargets, success);
}

/**
 * The ledger's records in the window: GitHub's deployments when a repository is known, the local records
 * otherwise or when GitHub is unreachable (a rejected token is bad usage, not "offline").
 */
async function readRecords(io: CliIo, opts: ReportOptions, sinceMs: number) {
  const { localLedger, readLocalRecords } = await import('../../platform/ledger/local.js');
  const local = async (why?: string) => {
    const dir = join(io.cwd, opts.dir);
    const { invalid } = await readLocalRecords(dir);
    for (const name of invalid) writeLine(io.stderr, `warning: ignoring malformed record ${name}`);
    const source = `${localLedger(dir).where}${why ? ` (${why})` : ''}`;
    return { records: await localLedger(dir).read({ sinceMs }), source };
  };
  const repository = opts.repo || io.env.GITHUB_REPOSITORY ? repositoryOf(opts.repo, io) : undefined;
  if (!repository) return local();
  const { actionsRunOf, githubLedger } = await import('../../platform/ledger/github.js');
  const ledger = githubLedger(await githubOf(io), repository, {
    ...actionsRunOf(io.env),
    warn: (l) => writeLine(io.stderr, l),
  });
  try {
    return { records: await ledger.read({ sinceMs }), source: `${ledger.where} (deployments)` };
  } catch (err) {
    if (err instanceof UsageError) throw err;
    writeLine(
      io.stderr,
      `warning: ${ledger.where} unreachable (${(err as Error).message}); falling back to local records`,
    );
    return local(`offline fallback: ${ledger.where} unreachable`);
  }
}

async function writeOutputs(io: CliIo, outputs: readonly (readonly [string | undefined, string])[]): Promise<void> {
  for (const [file, text] of outputs) {
    if (!file) continue;
    const path = resolve(io.cwd, file);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `${text}\n`, 'utf8');
  }
}

/** `--strict`: no data, a missed delivery target or an unmet success metric is a failure, in that order. */
async function failWhenMissed(
  since: string,
  source: string,
  meetsTargets: Readonly<Record<string, boolean>> | undefined,
  success: readonly SuccessRow[],
): Promise<void> {
  const [{ NO_DEPLOYMENTS }, { SUCCESS_WORDS }] = await Promise.all([
    import('../../platform/ledger/metrics.js'),
    import('../../platform/report/success.js'),
  ]);
  if (!meetsTargets) throw new FailedError(`${NO_DEPLOYMENTS} since ${since} in ${source}`);
  const missed = Object.entries(meetsTargets)
    .filter(([, ok]) => !ok)
    .map(([k]) => k);
  if (missed.length) throw new FailedError(`delivery targets missed: ${missed.join(', ')}`);
  const unmet = success.filter((r) => !isPass(r)).map((r) => `${r.metric} (${SUCCESS_WORDS[r.outcome]})`);
  if (unmet.length) throw new FailedError(`success metrics not met: ${unmet.join(', ')}`);
}
