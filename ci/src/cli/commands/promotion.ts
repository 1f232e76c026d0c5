import type { Command } from 'commander';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { writeLine, type CliIo } from '../io.js';
import { envOption, repoOption } from '../options.js';

export function register(program: Command, io: CliIo): void {
  const promotion = program.command('promotion').description('Promotion by digest: what a release tag would promote');
  promotion
    .command('candidate')
    .description(
      "Print the digest reference the tag would promote (passed the previous environment for the tag's source tree), or `none` (then build, stage, promote); exit 1 when the ledger cannot be read",
    )
    .addOption(envOption('environment promoted to', 'prod'))
    .requiredOption('--version <tag>', 'the release tag vX.Y.Z')
    .addOption(
      repoOption('repository whose GitHub deployments are the ledger (default: GITHUB_REPOSITORY; needs GITHUB_TOKEN)'),
    )
    .action(async ({ env, repo, version }: { env: EnvironmentDefinition; repo?: RepoRef; version: string }) => {
      const [{ promotionCandidate }, { realDeps }] = await Promise.all([
        import('../../deliver/deploy/run.js'),
        import('../delivery.js'),
      ]);
      const found = await promotionCandidate({ env: env.name, version }, realDeps(io, repo ? { repo } : {}));
      writeLine(
        io.stderr,
        `${version} → ${env.name}: ${found.image ? `promote ${found.image}` : 'no candidate'} (${found.reason})`,
      );
      writeLine(io.stdout, found.image ?? 'none');
    });
}
