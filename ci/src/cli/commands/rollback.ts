import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { RepoRef } from '../../platform/github/repository.js';
import type { CliIo } from '../io.js';
import { envOption, repoOption, urlOption } from '../options.js';

interface RollbackCliOptions {
  env: EnvironmentDefinition;
  to?: string;
  url?: string;
  repo?: RepoRef;
  dryRun?: boolean;
  trigger?: string;
  acceptSchemaRisk?: boolean;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('rollback')
    .description('Roll an environment back to its previous revision, or to a released version with --to')
    .addOption(envOption('environment'))
    .option('--to <tag>', 'released version vX.Y.Z to run instead of the previous revision')
    .addOption(urlOption('--url <url>', "base URL for the smoke test (default: the environment's url)"))
    .addOption(repoOption('repository for GitHub deployment statuses (default: GITHUB_REPOSITORY)'))
    .option('--dry-run', 'print the plan without changing the cluster')
    .option(
      '--trigger <reason>',
      'an automatic rollback: why (the watcher passes its trigger); announced as an incident where the environment has a status page',
    )
    .option(
      '--accept-schema-risk',
      'a person goes back although the ledger cannot show the schema fits the target (e.g. after restoring the backup); never with --trigger',
    )
    .action(async ({ env, repo, ...opts }: RollbackCliOptions) => {
      const [{ runRollback }, { realDeps }] = await Promise.all([
        import('../../deliver/deploy/run.js'),
        import('../delivery.js'),
      ]);
      await runRollback({ ...opts, env: env.name }, realDeps(io, repo ? { repo } : {}));
    });
}
