import { join } from 'node:path';
import type { Command } from 'commander';
import { computeMetrics, metricsMarkdown } from '../../deploy/metrics.js';
import { RECORDS_DIR, readRecords } from '../../deploy/records.js';
import { FailedError } from '../../errors.js';
import { appendJobSummary } from '../../report/summary.js';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('report')
    .description('Delivery metrics from .reports/deployments: deploy duration, success rate, rollback rate against targets')
    .option('--dir <path>', 'directory of deployment records', RECORDS_DIR)
    .option('--json', 'print the metrics as JSON')
    .option('--strict', 'exit 1 when a target is missed (or there is no data)')
    .action(async (opts: { dir: string; json?: boolean; strict?: boolean }) => {
      const { records, invalid } = await readRecords(join(io.cwd, opts.dir));
      for (const name of invalid) writeLine(io.stderr, `warning: ignoring malformed record ${name}`);
      const report = computeMetrics(records);
      const markdown = metricsMarkdown(report, records);
      writeLine(io.stdout, opts.json ? JSON.stringify(report, null, 2) : markdown);
      await appendJobSummary(markdown, io.env);
      const missed = Object.entries(report.meetsTargets).filter(([, ok]) => !ok).map(([k]) => k);
      if (opts.strict && missed.length) throw new FailedError(`delivery targets missed: ${missed.join(', ')}${records.length ? '' : ' (no deployment records)'}`);
    });
}
