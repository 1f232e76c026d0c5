import type { Command } from 'commander';
import { ENVIRONMENT_NAMES } from '../../environments.js';
import type { CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('rollback')
    .description('Roll an environment back to its previous revision, or to a released version with --to')
    .requiredOption('--env <name>', `environment (${ENVIRONMENT_NAMES.join(', ')})`)
    .option('--to <tag>', 'released version vX.Y.Z to run instead of the previous revision')
    .option('--url <url>', "base URL for the smoke test (default: the environment's url)")
    .option('--repo <owner/name>', 'repository for GitHub deployment statuses (default: GITHUB_REPOSITORY)')
    .option('--dry-run', 'print the plan without changing the cluster')
    .action(async (opts: { env: string; to?: string; url?: string; repo?: string; dryRun?: boolean }) => {
      const [{ runRollback }, { realDeps }] = await Promise.all([import('../../deploy/run.js'), import('../../deploy/wiring.js')]);
      await runRollback(opts, realDeps(io, opts.repo ? { repo: opts.repo } : {}));
    });
}
