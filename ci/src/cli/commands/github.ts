import type { Command } from 'commander';
import type { RepoRef } from '../../platform/github/repository.js';
import { applyProtection, protectionPolicy } from '../../platform/github/protect.js';
import { writeLine, type CliIo } from '../io.js';
import { githubOf, repoOption, repositoryOf } from '../options.js';

export function register(program: Command, io: CliIo): void {
  const github = program.command('github').description('Repository settings as code');
  github
    .command('protect')
    .description(
      'Branch protection: PRs into main and develop, approval and the git-flow policy check on main, no force pushes',
    )
    .addOption(repoOption())
    .option('--dry-run', 'print the protection settings without calling GitHub')
    .action(async (opts: { repo?: RepoRef; dryRun?: boolean }) => {
      const repo = repositoryOf(opts.repo, io);
      const policy = protectionPolicy();
      if (opts.dryRun) {
        writeLine(io.stdout, JSON.stringify(policy, null, 2));
        return;
      }
      await applyProtection(await githubOf(io), repo, policy, (l) => writeLine(io.stdout, l));
    });
}
