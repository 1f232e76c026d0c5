import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { RepoRef } from '../../platform/github/repository.js';
import type { CliIo } from '../io.js';
import { envOption, repoOption, urlOption } from '../options.js';

interface DeployCliOptions {
  env: EnvironmentDefinition;
  image?: string;
  version?: string;
  commit?: string;
  tree?: string;
  url?: string;
  skipGate?: boolean;
  repo?: RepoRef;
  dryRun?: boolean;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('deploy')
    .description(
      'Deploy an image or a released version: checklist, migrations, rollout, smoke test, latency gate; rolls back on failure',
    )
    .addOption(envOption('environment'))
    .option(
      '--image <ref>',
      'image reference (repository, tag and/or @sha256 digest, as the release policy of --env asks)',
    )
    .option(
      '--version <tag>',
      'the release vX.Y.Z it stands for; alone: its image (where the policy wants a digest, the one that passed the previous environment for the same tree)',
    )
    .option('--commit <sha>', 'commit the image was built from (default: GITHUB_SHA, else git HEAD)')
    .option('--tree <sha>', "git tree the image was built from (default: the commit's tree)")
    .addOption(urlOption('--url <url>', "base URL for smoke test and gate (default: the environment's url)"))
    .option('--skip-gate', 'skip the latency gate (hotfixes only; recorded in the job summary)')
    .addOption(
      repoOption(
        'repository whose GitHub deployments are the delivery ledger (default: GITHUB_REPOSITORY; needs GITHUB_TOKEN)',
      ),
    )
    .option('--dry-run', 'print the plan (every kubectl call) without changing the cluster')
    .action(async ({ env, repo, ...opts }: DeployCliOptions) => {
      // Loaded on use: the delivery stack (octokit, autocannon, pg) would slow every other command's start.
      const [{ runDeploy }, { realDeps }, { migrationsDeployDeps }] = await Promise.all([
        import('../../deliver/deploy/run.js'),
        import('../delivery.js'),
        import('../migrations-deps.js'),
      ]);
      const deps = realDeps(io, repo ? { repo } : {});
      await runDeploy({ ...opts, env: env.name }, { ...deps, ...migrationsDeployDeps(io, repo) });
    });
}
