import type { Command } from 'commander';
import { applyProtection, protectionPolicy } from '../../github/protect.js';
import { createOctokit, parseRepository } from '../../github/client.js';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  const github = program.command('github').description('Repository settings as code');
  github
    .command('protect')
    .description('Branch protection: PRs into main and develop, approval and the git-flow policy check on main, no force pushes')
    .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY)')
    .option('--dry-run', 'print the protection settings without calling GitHub')
    .action(async (opts: { repo?: string; dryRun?: boolean }) => {
      const repo = parseRepository(opts.repo ?? io.env.GITHUB_REPOSITORY);
      const policy = protectionPolicy();
      if (opts.dryRun) {
        writeLine(io.stdout, JSON.stringify(policy, null, 2));
        return;
      }
      const octokit = createOctokit({ token: io.env.GITHUB_TOKEN, ...(io.env.GITHUB_API_URL ? { baseUrl: io.env.GITHUB_API_URL } : {}) });
      await applyProtection(octokit, repo, policy, (l) => writeLine(io.stdout, l));
    });
}
