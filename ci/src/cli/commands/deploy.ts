import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../environments.js';
import type { RepoRef } from '../../github/repository.js';
import type { CliIo } from '../io.js';
import { envOption, repoOption, urlOption } from '../options.js';

interface DeployCliOptions {
  env: EnvironmentDefinition;
  image?: string;
  version?: string;
  url?: string;
  skipGate?: boolean;
  repo?: RepoRef;
  dryRun?: boolean;
}

export function register(program: Command, io: CliIo): void {
  program
    .command('deploy')
    .description('Deploy an image or a released version: checklist, migrations, rollout, smoke test, latency gate; rolls back on failure')
    .addOption(envOption('environment'))
    .option('--image <ref>', 'image reference with a pinned tag or digest')
    .option('--version <tag>', 'a released version vX.Y.Z (image from the release registry)')
    .addOption(urlOption('--url <url>', "base URL for smoke test and gate (default: the environment's url)"))
    .option('--skip-gate', 'skip the latency gate (hotfixes only; recorded in the job summary)')
    .addOption(repoOption('repository for GitHub deployment statuses (default: GITHUB_REPOSITORY)'))
    .option('--dry-run', 'print the plan (every kubectl call) without changing the cluster')
    .action(async ({ env, repo, ...opts }: DeployCliOptions) => {
      // Loaded on use: the delivery stack (octokit, autocannon, pg) would slow every other command's start.
      const [{ runDeploy }, { realDeps }] = await Promise.all([import('../../deploy/run.js'), import('../delivery.js')]);
      await runDeploy({ ...opts, env: env.name }, realDeps(io, repo ? { repo } : {}));
    });
}
