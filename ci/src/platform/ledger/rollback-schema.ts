/**
 * Migration-aware rollback, pure: may the release a rollback returns to run on the schema the database is at
 * now? Facts from the ledger only: the schema head each deploy left (its `schemaHead`), the compatibility
 * checks (N-1), the backups. Compatible: the target ran on this very schema, or passed the compatibility
 * check against it (a pass). Anything else is incompatible (failed: a failed check) or unknown (inconclusive: no
 * check, no schema recorded, ledger unreadable): no automatic rollback; the advice names the two ways out.
 */
import {
  runningRelease,
  sameRelease,
  type CompatEntry,
  type LedgerEntry,
  type ReleaseId,
} from '../../definitions/release-policy.js';
import { failed, inconclusive, isPass, passed, type Verdict, type VerdictOutcome } from '../../definitions/verdict.js';
import type { BackupEntry } from './entry.js';

export interface RollbackSchemaFacts {
  readonly environment: string;
  readonly entries: readonly LedgerEntry[];
  readonly compat: readonly CompatEntry[];
  readonly backups: readonly BackupEntry[];
  /** The release the rollback returns to; undefined = the previous revision (found in the ledger). */
  readonly target?: ReleaseId;
}

/** Whether the schema fits the target: passed = compatible, failed = incompatible, inconclusive = unknown. */
export interface RollbackSchemaVerdict extends Verdict {
  readonly target?: ReleaseId;
  /** The newest migration applied in the environment, by the ledger. */
  readonly schemaHead?: string;
  /** The newest backup the backup judge accepted there, and the migrations applied after it. */
  readonly backup?: BackupEntry;
  readonly migrationsAfterBackup?: readonly string[];
}

/** The words the refusal prints for each outcome (operators and alerts read them). */
const SCHEMA_FIT: Readonly<Record<VerdictOutcome, string>> = {
  passed: 'compatible',
  failed: 'incompatible',
  inconclusive: 'unknown',
};

const FINAL = new Set(['success', 'failure', 'error']);
const isDeploy = (e: LedgerEntry) => e.operation === 'deploy' || e.operation === 'promotion';
/** The deploys to `environment` that finished (succeeded or not), oldest first. */
const finishedDeploys = (entries: readonly LedgerEntry[], environment: string): LedgerEntry[] =>
  byTime(entries.filter((e) => e.environment === environment && isDeploy(e) && FINAL.has(e.state)));
const byTime = <T extends { at: string }>(xs: readonly T[]): T[] => xs.slice().sort((a, b) => a.at.localeCompare(b.at));
const maxName = (names: readonly string[]): string | undefined => names.slice().sort().at(-1);

export const describeRelease = (r: ReleaseId): string =>
  r.version ??
  (r.digest ? r.digest.replace(/^sha256:/, '').slice(0, 12) : (r.commit ?? r.tree ?? 'unknown').slice(0, 12));

function releaseOf(e: LedgerEntry): ReleaseId {
  return {
    ...(e.digest ? { digest: e.digest } : {}),
    ...(e.operation !== 'rollback' && e.commit ? { commit: e.commit } : {}),
    ...(e.version && e.version !== 'previous' ? { version: e.version } : {}),
  };
}

/**
 * The schema head: the newest migration any finished deploy here carried (a failed deploy may have migrated
 * before it failed; migrations are never undone). Unknown when the newest finished deploy recorded none.
 */
export function currentSchemaHead(
  entries: readonly LedgerEntry[],
  environment: string,
  before?: string,
): string | undefined {
  return headOf(finishedDeploys(entries, environment).filter((e) => before === undefined || e.at < before));
}

/** The newest migration some deploys carried; unknown when the newest of them recorded none. */
function headOf(deploys: readonly LedgerEntry[]): string | undefined {
  if (deploys.length && deploys.at(-1)!.schemaHead === undefined) return undefined;
  return maxName(deploys.flatMap((e) => (e.schemaHead ? [e.schemaHead] : [])));
}

/**
 * The schema head as the checklist needs it: no finished deploy recorded here yet is a known "nothing
 * recorded"; a newest finished deploy that recorded no head is unknown (an older record format, or a deploy
 * that could not list its migrations).
 */
export function recordedSchemaHead(
  entries: readonly LedgerEntry[],
  environment: string,
): { readonly known: true; readonly head: string | undefined } | { readonly known: false; readonly reason: string } {
  const finished = finishedDeploys(entries, environment);
  const head = headOf(finished);
  if (finished.length > 0 && head === undefined)
    return { known: false, reason: `the newest finished deploy to ${environment} recorded no schema head` };
  return { known: true, head };
}

/** What `rollout undo` returns to: the newest successful release here other than the one running. */
export function previousRelease(entries: readonly LedgerEntry[], environment: string): ReleaseId | undefined {
  const running = runningRelease(entries, environment);
  if (running.kind !== 'known') return undefined;
  const successes = byTime(entries.filter((e) => e.environment === environment && e.state === 'success'));
  for (const e of successes.reverse()) {
    const r = releaseOf(e);
    if (Object.keys(r).length && !sameRelease(r, running.release)) return r;
  }
  return undefined;
}

/** The migrations the ledger knows of, after `after` up to `head` (compat records list them; deploys name heads). */
function migrationsBetween(f: RollbackSchemaFacts, after: string | undefined, head: string): string[] {
  const known = new Set<string>([
    ...f.compat.filter((c) => c.environment === f.environment).flatMap((c) => [...c.migrations, c.schemaHead]),
    ...f.entries.filter((e) => e.environment === f.environment && e.schemaHead).map((e) => e.schemaHead!),
  ]);
  return [...known].filter((m) => (after === undefined || m > after) && m <= head).sort();
}

function withBackup(f: RollbackSchemaFacts, v: RollbackSchemaVerdict): RollbackSchemaVerdict {
  const backup = f.backups.filter((b) => b.environment === f.environment && b.accepted).at(-1);
  if (!backup || !v.schemaHead) return { ...v, ...(backup ? { backup } : {}) };
  const before = currentSchemaHead(f.entries, f.environment, backup.createdAt);
  return { ...v, backup, migrationsAfterBackup: migrationsBetween(f, before, v.schemaHead) };
}

export function judgeRollbackSchema(f: RollbackSchemaFacts): RollbackSchemaVerdict {
  const env = f.environment;
  const head = currentSchemaHead(f.entries, env);
  const target = f.target ?? previousRelease(f.entries, env);
  const base = { ...(target ? { target } : {}), ...(head ? { schemaHead: head } : {}) };
  if (!target)
    return withBackup(f, { ...inconclusive(`the ledger does not say which release ${env} would return to`), ...base });
  const name = describeRelease(target);
  if (!head)
    return withBackup(f, {
      ...inconclusive(
        `the ledger does not say which migration ${env}'s database is at (the newest deploy recorded no schema head)`,
      ),
      ...base,
    });
  const targetHead = maxName(
    f.entries
      .filter(
        (e) =>
          e.environment === env &&
          isDeploy(e) &&
          e.state === 'success' &&
          e.schemaHead &&
          sameRelease(releaseOf(e), target),
      )
      .map((e) => e.schemaHead!),
  );
  if (targetHead === head) return { ...passed(`${name} ran on schema ${head} itself: no migration since`), ...base };
  const check = byTime(
    f.compat.filter((c) => c.environment === env && c.schemaHead === head && sameRelease(c.previous, target)),
  ).at(-1);
  if (check && isPass(check))
    return { ...passed(`${name} passed the compatibility check against schema ${head} at ${check.at}`), ...base };
  if (check)
    return withBackup(f, {
      ...failed(`${name} FAILED the compatibility check against schema ${head} at ${check.at}`),
      ...base,
    });
  return withBackup(f, {
    ...inconclusive(
      `${name} was never checked against schema ${head} (no compatibility record${targetHead ? `; it ran on ${targetHead}` : ''})`,
    ),
    ...base,
  });
}

/** The refusal as people read it: what, why, and the two ways out (roll forward; restore the named backup). */
export function formatRollbackRefusal(v: RollbackSchemaVerdict, environment: string, automatic: boolean): string[] {
  const to = v.target ? describeRelease(v.target) : 'the previous revision';
  const lines = [
    `${automatic ? 'automatic ' : ''}rollback of ${environment} to ${to} REFUSED: the schema may not fit it (${SCHEMA_FIT[v.outcome]}): ${v.reasons.join('; ')}`,
    `${environment} keeps running what it runs now. Two ways out:`,
    `  1. roll forward: fix the release and deploy the fix (kgraph-ci deploy --env ${environment} --version <next>), leaving the schema as it is;`,
  ];
  if (!v.backup) {
    lines.push(`  2. restore a backup: none is recorded for ${environment} in the ledger, so this way is closed.`);
    return lines;
  }
  const b = v.backup;
  const after = v.migrationsAfterBackup?.length
    ? v.migrationsAfterBackup.join(', ')
    : `those from ${b.precedes} up to ${v.schemaHead ?? 'the current head'}`;
  lines.push(
    `  2. restore backup ${b.id} (${b.bytes} bytes, sha256 ${b.sha256.slice(0, 12)}…, at ${b.location}), then roll the code back:`,
    `       kgraph-ci backup restore --from ${b.id} --to <DATABASE_URL> --overwrite`,
    `       kgraph-ci rollback --env ${environment}${v.target?.version ? ` --to ${v.target.version}` : ''} --accept-schema-risk`,
    `     LOST: every write since ${b.createdAt} (the backup's time), and the migrations applied after it: ${after}.`,
  );
  return lines;
}
