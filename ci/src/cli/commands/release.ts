import { Option, type Command } from 'commander';
import { ENVIRONMENT_NAMES } from '../../environments.js';
import type { RepoRef } from '../../github/repository.js';
import { cutRelease } from '../../release/cut.js';
import { publishRelease } from '../../release/release.js';
import { UsageError } from '../../errors.js';
import { writeLine, type CliIo } from '../io.js';
import { githubOf, repoOption, repositoryOf } from '../options.js';

export function register(program: Command, io: CliIo): void {
  const release = program
    .command('release')
    .description('Create or update the GitHub release for a v* tag on main (generated notes); `release cut` starts the next one')
    .option('--tag <vX.Y.Z>', 'the release tag')
    .addOption(new Option('--deployed-to <env...>', 'mark the tag deployed (GitHub deployment, success) in these environments').choices(ENVIRONMENT_NAMES))
    .addOption(repoOption())
    .action(async (opts: { tag?: string; deployedTo?: string[]; repo?: RepoRef }) => {
      if (!opts.tag) throw new UsageError('release needs --tag vX.Y.Z (or the subcommand `release cut`)');
      const repo = repositoryOf(opts.repo, io);
      const res = await publishRelease(await githubOf(io), repo, { tag: opts.tag, ...(opts.deployedTo ? { deployedTo: opts.deployedTo } : {}), log: (l) => writeLine(io.stderr, l) });
      writeLine(io.stdout, `${res.action} ${res.url}`);
    });
  release
    .command('cut')
    .description('Cut release/<next minor> from develop (the weekly release train)')
    .option('--from <branch>', 'branch to cut from', 'develop')
    .addOption(repoOption())
    .action(async (opts: { from: string; repo?: RepoRef }) => {
      const repo = repositoryOf(opts.repo, io);
      const res = await cutRelease(await githubOf(io), repo, opts.from, (l) => writeLine(io.stderr, l));
      writeLine(io.stdout, `${res.created ? 'created' : 'exists'} ${res.branch} at ${res.sha}`);
    });
}
