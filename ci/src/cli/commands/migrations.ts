import { Option, type Command } from 'commander';
import { ENVIRONMENT_NAMES, type EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { writeLine, type CliIo } from '../io.js';
import { parseEnvironment, repoOption } from '../options.js';

interface CheckCliOptions {
  base?: string;
  env?: EnvironmentDefinition;
  repo?: RepoRef;
  verbose?: boolean;
  json?: boolean;
}

export function register(program: Command, io: CliIo): void {
  const migrations = program.command('migrations').description('Schema migrations (app/migrations) before they ship');
  migrations
    .command('check')
    .description(
      'Lint the migrations new since --base (default: the release running in --env, else the newest v* tag) with squawk and the project rules; exit 1 names each refused statement, its rule and the fix',
    )
    .option('--base <ref>', 'git ref the migrations are new since')
    .addOption(
      new Option(
        '--env <name>',
        "environment the migrations are about to run in (its ledger, limits and DATABASE_URL's table sizes)",
      )
        .choices(ENVIRONMENT_NAMES)
        .argParser(parseEnvironment),
    )
    .addOption(repoOption('repository of the delivery ledger (default: GITHUB_REPOSITORY)'))
    .option('--verbose', 'also print what passed, and why')
    .option('--json', 'print the report as JSON')
    .action(async (opts: CheckCliOptions) => {
      const [{ checkMigrations, formatCheck }, { BaseError }, { migrationsCheckDeps }] = await Promise.all([
        import('../../verify/migrations/check.js'),
        import('../../verify/migrations/base.js'),
        import('../migrations-deps.js'),
      ]);
      let report;
      try {
        report = await checkMigrations(
          { ...(opts.base !== undefined ? { base: opts.base } : {}), ...(opts.env ? { environment: opts.env } : {}) },
          migrationsCheckDeps(io, opts.env, opts.repo),
        );
      } catch (err) {
        if (err instanceof BaseError)
          throw err.kind === 'usage' ? new UsageError(err.message) : new FailedError(err.message);
        throw err;
      }
      writeLine(io.stdout, opts.json ? JSON.stringify(report, null, 2) : formatCheck(report, opts.verbose));
      if (!isPass(report)) throw new FailedError('migrations check refused (see above)');
    });
}
