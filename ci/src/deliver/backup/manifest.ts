/**
 * A pre-migration backup as data: what the dump file is (size, SHA-256, format), what it was taken from and
 * which migration it precedes, and whether pg_restore could read it back. The backup Job prints it, the
 * host writes it beside the dump, the ledger records it; `judgeBackup` decides, purely, whether a backup
 * lets prod migrate.
 */
import { PAYLOAD_SCHEMA, type LedgerPayload, type RestorePayload } from '../../platform/ledger/entry.js';
import { failed, passed, type Verdict } from '../../definitions/verdict.js';

export const MANIFEST_MARKER = 'KGRAPH_BACKUP_MANIFEST';

export interface BackupManifest {
  readonly id: string;
  readonly environment: string;
  /** host:port/database only: never a user or password. */
  readonly source: string;
  /** The migration the backup was taken before (the newest the deploy will apply), or "schema at X". */
  readonly precedes: string;
  readonly createdAt: string;
  readonly format: 'custom';
  readonly bytes: number;
  readonly sha256: string;
  /** pg_restore --list read the whole archive's table of contents. */
  readonly verified: boolean;
}

/** Backup ids are file names: a timestamp, the environment, and the migration, nothing a path can escape with. */
export function backupId(environment: string, precedes: string, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const safe = precedes.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 80);
  return `${environment}-${stamp}-${safe}`;
}

export const ID_PATTERN = /^[a-z]+-\d{8}T\d{6}Z-[A-Za-z0-9_]+$/;

/** A manifest read from outside (a Job's log, a file): only the full shape counts. */
export function asManifest(value: unknown): BackupManifest | undefined {
  const m = value as Partial<BackupManifest> | null;
  if (!m || typeof m !== 'object') return undefined;
  const ok =
    typeof m.id === 'string' &&
    ID_PATTERN.test(m.id) &&
    typeof m.environment === 'string' &&
    typeof m.source === 'string' &&
    typeof m.precedes === 'string' &&
    typeof m.createdAt === 'string' &&
    Number.isFinite(Date.parse(m.createdAt)) &&
    m.format === 'custom' &&
    typeof m.bytes === 'number' &&
    typeof m.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(m.sha256) &&
    typeof m.verified === 'boolean';
  return ok ? (m as BackupManifest) : undefined;
}

/** The manifest line a backup Job printed (the last one wins), or undefined. */
export function manifestFromLog(log: string): BackupManifest | undefined {
  const line = log
    .split('\n')
    .filter((l) => l.startsWith(`${MANIFEST_MARKER} `))
    .at(-1);
  if (!line) return undefined;
  try {
    return asManifest(JSON.parse(line.slice(MANIFEST_MARKER.length + 1)));
  } catch {
    return undefined;
  }
}

/** Whether a backup lets the migration `precedes` run: present, verified, non-empty, fresh, for it. */
export function judgeBackup(
  manifest: BackupManifest | undefined,
  expect: {
    readonly environment: string;
    readonly precedes: string;
    readonly maxAgeMinutes: number;
    readonly now: number;
  },
): Verdict {
  if (!manifest) return failed('no backup manifest: the backup did not finish or could not be written');
  if (manifest.environment !== expect.environment)
    return failed(`backup ${manifest.id} is of ${manifest.environment}, not ${expect.environment}`);
  if (!manifest.verified) return failed(`backup ${manifest.id} was not verified: pg_restore could not read it back`);
  if (manifest.bytes <= 0) return failed(`backup ${manifest.id} is empty`);
  if (manifest.precedes !== expect.precedes)
    return failed(`backup ${manifest.id} was taken before ${manifest.precedes}, not before ${expect.precedes}`);
  const ageMin = (expect.now - Date.parse(manifest.createdAt)) / 60_000;
  if (ageMin > expect.maxAgeMinutes || ageMin < -5)
    return failed(`backup ${manifest.id} is ${ageMin.toFixed(0)} min old (at most ${expect.maxAgeMinutes})`);
  return passed(`backup ${manifest.id}: ${manifest.bytes} bytes, sha256 ${manifest.sha256.slice(0, 12)}…, verified`);
}

/**
 * The ledger record of a restore that ran: success, or failure with its reason (pg_restore rolled back). The
 * target is host:port/database as `describeUrl` gives it, so no credential can reach the ledger from here.
 */
export function restoreRecord(
  manifest: BackupManifest,
  outcome: {
    readonly target: string;
    readonly overwrite: boolean;
    readonly startedAt: string;
    readonly schemaHead?: string | undefined;
    readonly failed?: string;
  },
): { payload: LedgerPayload; state: 'success' | 'failure'; description: string } {
  const restore: RestorePayload = {
    backup: manifest.id,
    bytes: manifest.bytes,
    sha256: manifest.sha256,
    precedes: manifest.precedes,
    backupCreatedAt: manifest.createdAt,
    target: outcome.target,
    overwrite: outcome.overwrite,
    ...(outcome.schemaHead ? { schemaHead: outcome.schemaHead } : {}),
    ...(outcome.failed ? { reason: outcome.failed.slice(0, 500) } : {}),
  };
  const head = outcome.schemaHead ? `, schema at ${outcome.schemaHead}` : '';
  return {
    payload: {
      schema: PAYLOAD_SCHEMA,
      operation: 'restore',
      environment: manifest.environment,
      startedAt: outcome.startedAt,
      restore,
    },
    state: outcome.failed ? 'failure' : 'success',
    description: outcome.failed
      ? `restore of ${manifest.id} into ${outcome.target} failed, nothing restored`
      : `restored ${manifest.id} into ${outcome.target}${head}`,
  };
}
