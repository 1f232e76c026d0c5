import type { Command } from 'commander';
import { ENVIRONMENT_NAMES } from '../../environments.js';
import type { CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  program
    .command('deploy')
    .description('Deploy an image or a released version: checklist, migrations, rollout, smoke test, latency gate; rolls back on failure')
    .requiredOption('--env <name>', `environment (${ENVIRONMENT_NAMES.join(', ')})`)
    .option('--image <ref>', 'image reference with a pinned tag or digest')
    .option('--version <tag>', 'a released version vX.Y.Z (image from the release registry)')
    .option('--url <url>', "base URL for smoke test and gate (default: the environment's url)")
    .option('--skip-gate', 'skip the latency gate (hotfixes only; recorded in the job summary)')
    .option('--repo <owner/name>', 'repository for GitHub deployment statuses (default: GITHUB_REPOSITORY)')
    .option('--dry-run', 'print the plan (every kubectl call) without changing the cluster')
    .action(async (opts: { env: string; image?: string; version?: string; url?: string; skipGate?: boolean; repo?: string; dryRun?: boolean }) => {
      // Loaded on use: the delivery stack (octokit, autocannon, pg) would slow every other command's start.
      const [{ runDeploy }, { realDeps }] = await Promise.all([import('../../deploy/run.js'), import('../../deploy/wiring.js')]);
      await runDeploy(opts, realDeps(io, opts.repo ? { repo: opts.repo } : {}));
    });
}
