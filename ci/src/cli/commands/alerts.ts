/** `kgraph-ci alerts`: the PrometheusRule generated from the rollback trigger definitions. */
import type { Command } from 'commander';
import { FailedError } from '../../errors.js';
import { REPO_ROOT } from '../../repo-root.js';
import { staleAlertFiles, writeAlertFiles } from '../../triggers/alert-rules.js';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  const alerts = program.command('alerts').description('Prometheus alert rules generated from the rollback triggers (k8s/components/alerts)');
  alerts
    .command('write')
    .description('Regenerate k8s/components/alerts/<env>/ from ci/src/environments.ts')
    .action(async () => {
      for (const f of await writeAlertFiles(REPO_ROOT)) writeLine(io.stdout, `wrote ${f}`);
    });
  alerts
    .command('check')
    .description('Exit 1 if the committed alert rules differ from what the trigger definitions generate')
    .action(async () => {
      const stale = await staleAlertFiles(REPO_ROOT);
      if (stale.length > 0) throw new FailedError(`alert rules out of date: ${stale.join(', ')}; run \`kgraph-ci alerts write\``);
      writeLine(io.stdout, 'alert rules match the trigger definitions');
    });
}
