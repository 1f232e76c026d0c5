/**
 * The real CheckDeps for `kgraph-ci migrations check`: git in the repository, the delivery ledger (GitHub
 * when configured), table sizes over DATABASE_URL (only with --env), squawk from its npm platform package.
 */
import type { EnvironmentDefinition } from '../definitions/environments.js';
import { failed, inconclusive, isPass, passed } from '../definitions/verdict.js';
import type { RepoRef } from '../platform/github/repository.js';
import { ledgerEntries } from '../platform/ledger/entry.js';
import {
  checkMigrations,
  formatCheck,
  MIGRATIONS_PATH,
  migrationNames,
  type CheckDeps,
} from '../verify/migrations/check.js';
import type { DeliveryDeps } from '../deliver/deploy/deps.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readTableSizes } from '../verify/migrations/sizes.js';
import { runSquawk } from '../verify/migrations/squawk.js';
import { compatibilityFacts } from '../verify/migrations/compatibility.js';
import { REPO_ROOT } from '../platform/repo-root.js';
import { realDeps } from './delivery.js';
import type { CliIo } from './io.js';

export function migrationsCheckDeps(io: CliIo, env: EnvironmentDefinition | undefined, repo?: RepoRef): CheckDeps {
  const delivery = env ? realDeps(io, repo ? { repo } : {}) : undefined;
  const ledger = delivery?.ledger;
  return {
    repo: REPO_ROOT,
    ...(env
      ? {
          ledger: async () => {
            if (!ledger) return { unreadable: delivery?.ledgerMissing ?? 'no ledger' };
            try {
              return { entries: ledgerEntries(await ledger.read({ environment: env.name })) };
            } catch (err) {
              return { unreadable: `${ledger.where}: ${(err as Error).message}` };
            }
          },
        }
      : {}),
    ...(env && io.env.DATABASE_URL ? { databaseUrl: io.env.DATABASE_URL } : {}),
    sizes: readTableSizes,
    compatibility: (e, migrations) => compatibilityFacts(e, migrations, ledger),
    squawk: (m) => runSquawk(m),
  };
}

/**
 * The deploy's migration phases: `migrations check --env` as a judge (a refusal, or a check that cannot run,
 * stops the deploy before anything changes), and the migration names of this tree (the schema head it leaves).
 * Without git history (a checkout or container without .git) the check cannot tell which migrations are new:
 * it says so and the deploy refuses, rather than judging every migration since the first as new.
 */
export function migrationsDeployDeps(
  io: CliIo,
  repo?: RepoRef,
  root: string = REPO_ROOT,
): Pick<DeliveryDeps, 'migrationsCheck' | 'migrations'> {
  return {
    migrationsCheck: async (env) => {
      if (!existsSync(join(root, '.git')))
        return inconclusive(
          `the migrations check cannot run: ${root} has no git history (.git), so which migrations are new since the release running in ${env.name} cannot be told; deploy from a clone with history`,
        );
      try {
        const report = await checkMigrations(
          { environment: env },
          { ...migrationsCheckDeps(io, env, repo), repo: root },
        );
        // A pass says its worst severity and how many migrations were new; a refusal, the whole report.
        return isPass(report) ? passed(...report.reasons) : failed(formatCheck(report));
      } catch (err) {
        return inconclusive(`the migrations check could not run: ${(err as Error).message}`);
      }
    },
    migrations: () => migrationNames(join(root, MIGRATIONS_PATH)),
  };
}
