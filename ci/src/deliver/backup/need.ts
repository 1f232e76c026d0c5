/**
 * Whether a prod deploy takes its pre-migration backup (pure). The backup exists for the migration: when the
 * database is already at or past the newest migration of the tree being deployed, the migration Job applies
 * nothing and a dump would protect nothing, so it is skipped, saying why. Skipping needs proof: the floor is
 * the newest schema head of a *successful* deploy in this environment (its migration Job finished; migrations
 * never go down), and no restore recorded since (a restore can put the database below it). Anything unknown
 * (the tree's migrations, the ledger, no such deploy, a restore since) takes the backup.
 */
import type { LedgerRecord } from '../../platform/ledger/entry.js';

export type BackupNeed = { readonly take: boolean; readonly why: string };

export function backupNeed(
  environment: string,
  candidateHead: string | undefined,
  ledger: { readonly records: readonly LedgerRecord[] } | { readonly reason: string },
): BackupNeed {
  if (!candidateHead) return { take: true, why: 'cannot tell which migrations this deploy applies' };
  if ('reason' in ledger) return { take: true, why: `cannot read ${environment}'s ledger (${ledger.reason})` };
  const mine = ledger.records.filter((r) => r.payload.environment === environment);
  const deploys = mine
    .filter((r) => ['deploy', 'promotion'].includes(r.payload.operation) && r.state === 'success')
    .filter((r) => typeof r.payload.schemaHead === 'string' && r.payload.schemaHead !== '');
  if (deploys.length === 0)
    return { take: true, why: `no successful deploy in ${environment} recorded the schema it left` };
  const floor = deploys.reduce((a, b) => (b.payload.schemaHead! > a.payload.schemaHead! ? b : a));
  const head = floor.payload.schemaHead!;
  const newestDeploy = deploys.map((r) => r.updatedAt).reduce((a, b) => (b > a ? b : a));
  const restore = mine.find(
    (r) => r.payload.operation === 'restore' && r.state === 'success' && r.updatedAt > newestDeploy,
  );
  if (restore)
    return {
      take: true,
      why: `a restore (${restore.payload.restore?.backup ?? restore.id}, ${restore.updatedAt}) since the last deploy may have put the database below ${head}`,
    };
  if (candidateHead > head) return { take: true, why: `the migrations after ${head} up to ${candidateHead} will run` };
  return {
    take: false,
    why: `no migration to apply: ${environment}'s database is at ${head} or later (successful deploy at ${floor.updatedAt}) and this tree's newest is ${candidateHead}`,
  };
}
