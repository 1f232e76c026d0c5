/** `kgraph-ci gate latency`: hold a running (or locally served) service to its environment's latency thresholds. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../environments.js';
import { FailedError, UsageError } from '../../errors.js';
import type { LatencyGateReport } from '../../gate/latency.js';
import { gateMarkdown } from '../../gate/report.js';
import { appendJobSummary } from '../../report/summary.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption, urlOption } from '../options.js';

interface GateCliOptions {
  url?: string;
  serve?: boolean;
  env: EnvironmentDefinition;
  report?: string;
}

export function register(program: Command, io: CliIo): void {
  const gate = program.command('gate').description('Promotion gates');
  gate
    .command('latency')
    .description("Drive each route at the environment's fixed rate and compare p50/p95/error rate with its thresholds (exit 1 on fail)")
    .addOption(urlOption('--url <url>', 'base URL of a running service (API key from $API_KEY)'))
    .option('--serve', 'start the service locally on fresh Postgres/Redis, seeded, and gate that')
    .addOption(envOption('environment whose gate applies'))
    .option('--report <file>', 'JSON report path (a .md summary is written next to it)')
    .action(async (o: GateCliOptions) => {
      const { env, url } = o;
      if (Boolean(url) === Boolean(o.serve)) throw new UsageError('give exactly one of --url <url> or --serve');
      const apiKey = io.env.API_KEY;
      if (url && !apiKey) throw new UsageError('API_KEY is not set: the gate needs an API key for /api/v1 (set API_KEY in the environment)');
      const reportPath = resolve(io.cwd, o.report ?? `.reports/latency-gate-${env.name}.json`);
      const log = (line: string) => writeLine(io.stderr, `gate: ${line}`);
      // autocannon and the local service launcher load only when a gate actually runs.
      const [{ runLatencyGate }, { withServedApp }] = await Promise.all([import('../../gate/latency.js'), import('../../gate/serve.js')]);
      const run = (baseUrl: string, key: string | undefined) => runLatencyGate({ baseUrl, environment: env, apiKey: key, log });
      let report: LatencyGateReport;
      try {
        report = url ? await run(url, apiKey) : await withServedApp(env, ({ app, apiKey: k }) => run(app.url, k), { log });
      } catch (err) {
        // Could not measure: that is a failure of the gate, never a pass.
        throw new FailedError(`latency gate could not run: ${(err as Error).message.split('\n')[0]}`);
      }
      const markdown = gateMarkdown(report);
      await mkdir(dirname(reportPath), { recursive: true });
      await writeFile(reportPath, `${JSON.stringify(report, null, 2)}\n`, 'utf8');
      await writeFile(reportPath.replace(/\.json$/, '') + '.md', `${markdown}\n`, 'utf8');
      await appendJobSummary(markdown, io.env);
      writeLine(io.stdout, `latency gate ${env.name}: ${report.passed ? 'PASSED' : 'FAILED'}`);
      for (const r of report.reasons) writeLine(io.stdout, `  ${r}`);
      writeLine(io.stdout, `report: ${reportPath}`);
      if (!report.passed) throw new FailedError(`latency gate failed for ${env.name}: ${report.reasons.length} check(s) failed`);
    });
}
