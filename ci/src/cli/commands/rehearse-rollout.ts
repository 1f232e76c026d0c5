import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { RehearsalOptions } from '../../deliver/rollout/rehearsal.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption } from '../options.js';

interface RehearseCliOptions {
  env: EnvironmentDefinition;
  previous?: string;
  instances?: string;
  rate?: string;
  steadySeconds: string;
  seed: string;
  candidateEnv: string[];
  json?: boolean;
  selfWhenNoPrevious?: boolean;
  reportDir?: string;
}

function positive(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}`);
  return n;
}

/** KEY=VALUE pairs for candidate instances; keys as the service reads them. */
function pairs(values: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    values.map((v) => {
      const m = /^([A-Z][A-Z0-9_]{0,63})=(.{0,200})$/.exec(v);
      if (!m) throw new UsageError(`--candidate-env "${v}": expected KEY=VALUE (upper-case key)`);
      return [m[1]!, m[2]!];
    }),
  );
}

/** The flags' meaning for rehearseRollout, or a usage error naming the flag. Pure. */
function rolloutOptions(opts: RehearseCliOptions): RehearsalOptions {
  const instances = positive(opts.instances, '--instances', 10);
  const rate = positive(opts.rate, '--rate', 2_000);
  return {
    environment: opts.env,
    ...(opts.previous ? { previous: opts.previous } : {}),
    ...(instances ? { instances } : {}),
    ...(rate ? { rate } : {}),
    steadySeconds: positive(opts.steadySeconds, '--steady-seconds', 600)!,
    seedCount: positive(opts.seed, '--seed', 100_000)!,
    candidateEnv: pairs(opts.candidateEnv),
    maxStaleMs: 1_000,
    ...(opts.selfWhenNoPrevious ? { selfWhenNoPrevious: true } : {}),
  };
}

/** report.md and report.json in --report-dir. */
async function writeReportDir(dir: string, md: string, report: unknown): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'report.md'), `${md}\n`);
  await writeFile(join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
}

async function runRollout(opts: RehearseCliOptions, io: CliIo): Promise<void> {
  const [
    { rehearseRollout },
    { rehearsalMarkdown },
    { failureSourcesText },
    { spawnRunner },
    { REPO_ROOT },
    { appendJobSummary },
  ] = await Promise.all([
    import('../../deliver/rollout/rehearsal.js'),
    import('../../deliver/rollout/report.js'),
    import('../../deliver/rollout/sources.js'),
    import('../../platform/kube/runner.js'),
    import('../../platform/repo-root.js'),
    import('../../platform/report/summary.js'),
  ]);
  const result = await rehearseRollout(rolloutOptions(opts), {
    repoRoot: REPO_ROOT,
    runner: spawnRunner(io.env, REPO_ROOT),
    log: (l) => writeLine(io.stderr, l),
  });
  const md = [
    rehearsalMarkdown(result.report, result.input, `Rollout rehearsal from ${result.previous.ref}`),
    failureSourcesText(result.failureSources),
  ]
    .filter(Boolean)
    .join('\n\n');
  await appendJobSummary(md, io.env);
  // report.json's verdict is its outcome; the success metrics still read older reports' `passed`.
  if (opts.reportDir) await writeReportDir(opts.reportDir, md, result.report);
  writeLine(io.stdout, opts.json ? JSON.stringify(result.report, null, 2) : md);
  if (!isPass(result.report)) throw new FailedError(`rollout rehearsal failed: ${result.report.reasons.join('; ')}`);
}

/** `rehearse rollout`; `rehearse` is registered by commands/rehearse.ts (the Dagger rehearsal), so it is found or made. */
export function register(program: Command, io: CliIo): void {
  const rehearse =
    program.commands.find((c) => c.name() === 'rehearse') ??
    program.command('rehearse').description('Rehearse a delivery on this machine, for real');
  rehearse
    .command('rollout')
    .description(
      'Previous release on N instances behind a round-robin proxy under load; migrate; roll to the candidate by the Deployment strategy; automatic rollback. Passes with 0 failed requests and no read staler than 1 s',
    )
    .addOption(
      envOption('environment whose manifests (strategy, replicas) and gate (rate, allowance) it follows', 'prod'),
    )
    .option('--previous <ref>', 'git ref of the previous release (default: the newest v* tag)')
    .option('--instances <n>', "instances of each release (default: the environment's replicas)")
    .option('--rate <rps>', "requests per second through the proxy (default: the environment's gate rate)")
    .option('--steady-seconds <s>', 'seconds of each steady phase', '8')
    .option('--seed <n>', 'tools seeded by the previous release', '200')
    .option(
      '--candidate-env <KEY=VALUE>',
      'environment for candidate instances (repeatable)',
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--json', 'print the report as JSON')
    .option('--report-dir <dir>', 'also write report.md and report.json there (CI: the job summary)')
    .option(
      '--self-when-no-previous',
      'with no v* tag and no --previous, rehearse this tree against itself (and say so) instead of refusing',
    )
    .action((opts: RehearseCliOptions) => runRollout(opts, io));
}
