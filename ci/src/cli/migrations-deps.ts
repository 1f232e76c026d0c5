/**
 * The real CheckDeps for `kgraph-ci migrations check`: git in the repository, the delivery ledger (GitHub
 * when configured), table sizes over DATABASE_URL (only with --env), squawk from its npm platform package.
 */
import type { EnvironmentDefinition } from '../environments.js';
import type { RepoRef } from '../github/repository.js';
import { ledgerEntries } from '../ledger/entry.js';
import type { CheckDeps } from '../migrations/check.js';
import { readTableSizes } from '../migrations/sizes.js';
import { runSquawk } from '../migrations/squawk.js';
import { compatibilityFacts } from '../migrations/compatibility.js';
import { REPO_ROOT } from '../repo-root.js';
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
