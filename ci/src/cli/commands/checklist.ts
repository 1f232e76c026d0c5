import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { table } from '../../platform/report/markdown.js';
import { appendJobSummary } from '../../platform/report/summary.js';
import { DEFAULT_RUN_REPORT } from '../../verify/runner/report.js';
import { DEFAULT_SCAN_REPORT } from '../../verify/scan/index.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption } from '../options.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('checklist')
    .description(
      'Pre-deploy checklist: tests, review, migrations, env vars and secret names, scan; exit 1 when a required item fails',
    )
    .addOption(envOption('environment'))
    .option('--report <file>', 'run report to read "tests passed" from', DEFAULT_RUN_REPORT)
    .option('--scan-report <file>', 'scan report', DEFAULT_SCAN_REPORT)
    .option('--pr <number>', 'pull request whose reviews count (default: the one containing the commit)')
    .option('--migrations-dir <dir>', "the app's migrations (default: from app/src/migrate.ts)")
    .action((opts: ChecklistOptions) => checklist(opts, io));
}

interface ChecklistOptions {
  readonly env: EnvironmentDefinition;
  readonly report: string;
  readonly scanReport: string;
  readonly pr?: string;
  readonly migrationsDir?: string;
}

async function checklist(opts: ChecklistOptions, io: CliIo): Promise<void> {
  const environment = opts.env;
  const pr = opts.pr === undefined ? undefined : Number(opts.pr);
  if (pr !== undefined && !(Number.isInteger(pr) && pr > 0))
    throw new UsageError(`--pr must be a pull request number, got "${opts.pr}"`);
  const { runChecklist } = await import('../../verify/checklist/index.js');
  const result = await runChecklist({
    env: environment.name,
    environment,
    processEnv: io.env,
    root: io.cwd,
    runReportPath: opts.report,
    scanReportPath: opts.scanReport,
    ...(opts.migrationsDir ? { migrationsDir: opts.migrationsDir } : {}),
    ...(pr !== undefined ? { pullNumber: pr } : {}),
  });
  const rows = result.items.map((i) => [i.name, i.required ? 'required' : 'optional', i.outcome, i.reasons.join('; ')]);
  printRows(io, result.environment, rows);
  await appendJobSummary(
    `### Pre-deploy checklist: ${result.environment} ${isPass(result) ? '✅' : '❌'}\n\n${table(['item', 'required', 'status', 'detail'], rows)}`,
    io.env,
  );
  // The verdict's reasons name each required item that did not pass, with its outcome.
  if (!isPass(result))
    throw new FailedError(`checklist for ${result.environment} failed: ${result.reasons.join(', ')}`);
  writeLine(io.stdout, `checklist for ${result.environment}: ok`);
}

/** One line per item, the first three columns padded to their widest cell. */
function printRows(io: CliIo, environment: string, rows: readonly string[][]): void {
  const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length), 4));
  writeLine(io.stdout, `checklist for ${environment}:`);
  for (const r of rows)
    writeLine(
      io.stdout,
      `  ${r
        .slice(0, 3)
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')}  ${r[3]}`,
    );
}
