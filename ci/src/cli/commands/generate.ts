/** `kgraph-ci generate [--check]`: every file generated from the environment and step tables, written or checked. */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FailedError } from '../../definitions/errors.js';
import { generatedState, writeGenerated } from '../generate/files.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('generate')
    .description(
      'Write the k8s overlays, the Prometheus alert rules and the Dagger tables from ci/src/definitions/environments.ts and ci/src/definitions/steps.ts',
    )
    .option('--check', 'write nothing; exit 1 naming every file that is missing, differs, or is no longer generated')
    .option('--root <dir>', 'repository root to write or check (default: this checkout)')
    .action(async (opts: { check?: boolean; root?: string }) => {
      const root = opts.root === undefined ? REPO_ROOT : resolve(io.cwd, opts.root);
      if (opts.check) {
        const { stale, extra } = await generatedState(root);
        if (stale.length + extra.length > 0) {
          const parts = [
            stale.length ? `out of date: ${stale.join(', ')}` : '',
            extra.length ? `no longer generated: ${extra.join(', ')}` : '',
          ];
          throw new FailedError(`generated files ${parts.filter(Boolean).join('; ')}; run \`npx kgraph-ci generate\``);
        }
        writeLine(
          io.stdout,
          'generated files match ci/src/definitions/environments.ts and ci/src/definitions/steps.ts',
        );
        return;
      }
      const { written, removed } = await writeGenerated(root);
      for (const path of written) writeLine(io.stdout, `wrote ${path}`);
      for (const path of removed) writeLine(io.stdout, `removed ${path}`);
      if (written.length + removed.length === 0) writeLine(io.stdout, 'generated files already up to date');
    });
}
