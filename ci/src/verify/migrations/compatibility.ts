/**
 * Whether the release running in an environment passed the compatibility check (N-1) against a migration:
 * the rollout's compat records in the ledger (issue 23 item 2). A record counts for a migration when its
 * previous release is the one running (same commit or digest), the migration was among those it covered or
 * at or before its schema head, and the newest such record passed. No ledger, no running release, or no
 * record: unknown, and the expand/contract rule refuses the contract step (fail closed).
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { isPass } from '../../definitions/verdict.js';
import { compatEntries, ledgerEntries, type CompatEntry, type LedgerRecord } from '../../platform/ledger/entry.js';
import type { Ledger } from '../../platform/ledger/github.js';
import { runningRelease, type RunningRelease } from './base.js';
import type { CompatibilityFacts } from './rules.js';

const same = (a: RunningRelease['id'], b: CompatEntry['previous']): boolean =>
  Boolean((a.commit && a.commit === b.commit) || (a.digest && a.digest === b.digest));

/** Pure: the facts for `environment` from every ledger record. */
export function compatibilityFrom(records: readonly LedgerRecord[], environment: string): CompatibilityFacts {
  const running = runningRelease(ledgerEntries(records), environment);
  if (!running)
    return { known: false, reason: `the ledger shows no release running in ${environment} to have been checked` };
  const checks = compatEntries(records).filter((c) => same(running.id, c.previous));
  if (checks.length === 0)
    return { known: false, reason: `the ledger holds no compatibility check (N-1) of ${running.label}` };
  return {
    known: true,
    release: running.label,
    against(migration) {
      const covering = checks.filter((c) => c.migrations.includes(migration) || migration <= c.schemaHead).at(-1);
      if (!covering) return `no compatibility check of ${running.label} covered ${migration}`;
      return isPass(covering)
        ? true
        : `the newest compatibility check of ${running.label} against it (${covering.at}) failed`;
    },
  };
}

export async function compatibilityFacts(
  env: EnvironmentDefinition,
  _migrations: readonly string[],
  ledger: Ledger | undefined,
): Promise<CompatibilityFacts> {
  if (!ledger) return { known: false, reason: `no ledger to read ${env.name}'s compatibility records from` };
  try {
    return compatibilityFrom(await ledger.read(), env.name);
  } catch (err) {
    return { known: false, reason: `${ledger.where}: ${(err as Error).message}` };
  }
}
