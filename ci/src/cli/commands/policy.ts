import { resolve } from 'node:path';
import type { Command } from 'commander';
import { FailedError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { checkPullRequest, checkTag, parseReleaseTag } from '../../verify/policy/gitflow.js';
import { isTagReachableFromMain } from '../../verify/policy/git.js';
import { writeLine, type CliIo } from '../io.js';

export function register(program: Command, io: CliIo): void {
  const policy = program.command('policy').description('Git-flow policy: which pull requests and tags are allowed');
  policy
    .command('pr')
    .description('Check that a pull request from --source into --target follows git-flow')
    .requiredOption('--source <branch>', 'head branch of the pull request')
    .requiredOption('--target <branch>', 'base branch of the pull request')
    .action((opts: { source: string; target: string }) => {
      const verdict = checkPullRequest(opts.source, opts.target);
      const why = verdict.reasons.join('; ');
      if (!isPass(verdict)) throw new FailedError(`pull request ${opts.source} → ${opts.target} rejected: ${why}`);
      writeLine(io.stdout, `ok: ${opts.source} → ${opts.target}: ${why}`);
    });
  policy
    .command('tag')
    .description('Check that a tag is v<semver> and points at a commit reachable from main (origin/main when known)')
    .argument('<tag>', 'tag name, e.g. v1.2.3')
    .option('--repo <dir>', 'git repository to check', '.')
    .action(async (tag: string, opts: { repo: string }) => {
      // A malformed or unsafe tag name is bad input (a UsageError), never passed to git.
      parseReleaseTag(tag);
      const reachableFromMain = await isTagReachableFromMain(resolve(io.cwd, opts.repo), tag);
      const verdict = checkTag(tag, { reachableFromMain });
      const why = verdict.reasons.join('; ');
      if (!isPass(verdict)) throw new FailedError(`tag rejected: ${why}`);
      writeLine(io.stdout, `ok: ${why}`);
    });
}
