import type { Command } from 'commander';
import { createOctokit, parseRepository } from '../../github/client.js';
import { cutRelease } from '../../release/cut.js';
import { publishRelease } from '../../release/release.js';
import { UsageError } from '../../errors.js';
import { writeLine, type CliIo } from '../io.js';

const octokitFor = (io: CliIo) => createOctokit({ token: io.env.GITHUB_TOKEN, ...(io.env.GITHUB_API_URL ? { baseUrl: io.env.GITHUB_API_URL } : {}) });

export function register(program: Command, io: CliIo): void {
  const release = program
    .command('release')
    .description('Create or update the GitHub release for a v* tag on main (generated notes); `release cut` starts the next one')
    .option('--tag <vX.Y.Z>', 'the release tag')
    .option('--deployed-to <env...>', 'mark the tag deployed (GitHub deployment, success) in these environments')
    .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY)')
    .action(async (opts: { tag?: string; deployedTo?: string[]; repo?: string }) => {
      if (!opts.tag) throw new UsageError('release needs --tag vX.Y.Z (or the subcommand `release cut`)');
      const repo = parseRepository(opts.repo ?? io.env.GITHUB_REPOSITORY);
      const res = await publishRelease(octokitFor(io), repo, { tag: opts.tag, ...(opts.deployedTo ? { deployedTo: opts.deployedTo } : {}), log: (l) => writeLine(io.stderr, l) });
      writeLine(io.stdout, `${res.action} ${res.url}`);
    });
  release
    .command('cut')
    .description('Cut release/<next minor> from develop (the weekly release train)')
    .option('--from <branch>', 'branch to cut from', 'develop')
    .option('--repo <owner/name>', 'repository (default: GITHUB_REPOSITORY)')
    .action(async (opts: { from: string; repo?: string }) => {
      const repo = parseRepository(opts.repo ?? io.env.GITHUB_REPOSITORY);
      const res = await cutRelease(octokitFor(io), repo, opts.from, (l) => writeLine(io.stderr, l));
      writeLine(io.stdout, `${res.created ? 'created' : 'exists'} ${res.branch} at ${res.sha}`);
    });
}
