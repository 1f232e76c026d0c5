/**
 * The delivery ledger's record shapes, pure. Every deploy, gate verdict, promotion and rollback is one
 * ledger record: on GitHub a deployment whose payload is a LedgerPayload and whose statuses carry the
 * outcome; offline a local JSON file (deploy/records.ts). Both read back as LedgerEntry (what the
 * eligibility policy weighs) and DeliveryEvent (what the delivery report counts).
 */
import type { CompatEntry, LedgerEntry, ReleaseId } from '../../definitions/release-policy.js';
import { failed, passed } from '../../definitions/verdict.js';

export type { CompatEntry, LedgerEntry, LedgerFacts, ReleaseId } from '../../definitions/release-policy.js';

export const PAYLOAD_SCHEMA = 'kgraph-ci/ledger@1';

/**
 * Deploys, promotions and rollbacks change what runs; gate verdicts, compatibility checks, backups and
 * restores are findings about them (a restore changes data, not what runs).
 */
export type LedgerOperation = LedgerEntry['operation'] | 'gate' | 'compat' | 'backup' | 'restore';

/** Records that are findings, not deployments: they never mark a deployment inactive, never count as one. */
export const FINDING_OPERATIONS: readonly LedgerOperation[] = ['gate', 'compat', 'backup', 'restore'];
const isFinding = (op: LedgerOperation): op is 'gate' | 'compat' | 'backup' | 'restore' =>
  FINDING_OPERATIONS.includes(op);

/**
 * On backup records: the pg_dump the deploy's backup Job took before a migration (ci/src/deliver/backup/manifest.ts
 * is the manifest it printed). Succeeded = the backup judge let the migration run.
 */
export interface BackupPayload {
  readonly id: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The newest migration the deploy was about to apply. */
  readonly precedes: string;
  readonly createdAt: string;
  readonly verified: boolean;
  /** Where the dump is: the volume claim and the file on it. */
  readonly location: string;
}

/**
 * On restore records: `kgraph-ci backup restore` put a backup into a database. Succeeded = restored; failed =
 * pg_restore ran and failed (one transaction: the target is as it was). Refusals before pg_restore starts
 * (damaged backup, non-empty target, unreachable target) touch nothing and are not recorded.
 */
export interface RestorePayload {
  /** The backup restored, as its manifest says. */
  readonly backup: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly precedes: string;
  readonly backupCreatedAt: string;
  /** host:port/database of the target: never a user or password. */
  readonly target: string;
  /** Objects were dropped first (--overwrite on a non-empty target). */
  readonly overwrite: boolean;
  /** The newest migration recorded in the target after the restore, read from it; absent when unread. */
  readonly schemaHead?: string;
  /** Why it failed. */
  readonly reason?: string;
}

/**
 * On compat records: the previous release (N-1) ran with its own API contract suite on the schema the
 * candidate migrated to, beside the candidate on the same database. The record's top-level digest, commit,
 * tree and version are the candidate's.
 */
export interface CompatPayload {
  readonly previous: ReleaseId;
  readonly candidate: ReleaseId;
  /** The newest migration applied when the previous release was checked. */
  readonly schemaHead: string;
  /** Migrations new since the previous release: what the check covered. */
  readonly migrations: readonly string[];
  readonly passed: boolean;
  /** Why not, when it did not pass (at most ten). */
  readonly reasons?: readonly string[];
  /** What was measured, for people: requests each side, mismatched answers, the stalest read. */
  readonly figures?: Readonly<Record<string, number>>;
}

/** What a ledger record says about itself; no secrets, no URLs with credentials. */
export interface LedgerPayload {
  readonly schema: typeof PAYLOAD_SCHEMA;
  readonly operation: LedgerOperation;
  readonly environment: string;
  readonly image?: string;
  readonly digest?: string;
  readonly version?: string;
  readonly commit?: string;
  readonly tree?: string;
  /** When the commit reached main (its committer date): the start of lead time. */
  readonly mergedAt?: string;
  readonly startedAt: string;
  /** The scan report's dependency audit was skipped (advisory service unreachable). */
  readonly auditSkipped?: boolean;
  /** On gate records: the verdict; on deploys read back, joined from their gate record. */
  readonly gate?: {
    readonly passed: boolean;
    readonly baselineCompared?: boolean;
    readonly reasons?: readonly string[];
  };
  /** On gate records: the deployment (ledger id) whose rollout the gate judged. */
  readonly of?: string;
  /** On gate records: how long each deploy step took. */
  readonly timings?: {
    readonly durationMs: number;
    readonly steps: readonly { readonly name: string; readonly ms: number }[];
  };
  /** On promotions: the pass in the previous environment the promotion rests on. */
  readonly promotedFrom?: { readonly environment: string; readonly at: string; readonly id?: string };
  /** On rollbacks: kgraph-ci undid a failed deploy by itself. */
  readonly automatic?: boolean;
  /** On rollbacks: the digest rolled back from, when known. */
  readonly undone?: string;
  /** On compat records: the N-1 check (see CompatPayload). */
  readonly compat?: CompatPayload;
  /** On backup records: the dump taken before a migration (see BackupPayload). */
  readonly backup?: BackupPayload;
  /** On restore records: which backup went into which database (see RestorePayload). */
  readonly restore?: RestorePayload;
  /** On deploys: the newest migration in the deployed tree, the schema it leaves the database at. */
  readonly schemaHead?: string;
}

export type FinalState = 'success' | 'failure' | 'error';

/** One record as read back, with its outcome. */
export interface LedgerRecord {
  readonly id: string;
  readonly payload: LedgerPayload;
  /** The newest status; 'in_progress' when none is final. */
  readonly state: LedgerEntry['state'];
  readonly createdAt: string;
  /** When the newest status was set. */
  readonly updatedAt: string;
}

/** A payload read from outside: only what has the right shape is believed. */
export function asPayload(value: unknown): LedgerPayload | undefined {
  const p = (typeof value === 'string' ? safeJson(value) : value) as Partial<LedgerPayload> | undefined;
  if (!p || typeof p !== 'object' || p.schema !== PAYLOAD_SCHEMA) return undefined;
  if (
    !['deploy', 'promotion', 'rollback', 'gate', 'compat', 'backup', 'restore'].includes(p.operation as string) ||
    typeof p.environment !== 'string' ||
    typeof p.startedAt !== 'string'
  )
    return undefined;
  return p as LedgerPayload;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The reasons a record gives (read from GitHub: only strings count). */
const said = (reasons: unknown): string[] =>
  Array.isArray(reasons) ? reasons.filter((r): r is string => typeof r === 'string') : [];

/** Ledger records as the eligibility policy sees them: deploys, promotions and rollbacks, each deploy with its gate verdict. */
export function ledgerEntries(records: readonly LedgerRecord[]): LedgerEntry[] {
  const gateOf = new Map<string, LedgerPayload>();
  for (const r of records) if (r.payload.operation === 'gate' && r.payload.of) gateOf.set(r.payload.of, r.payload);
  const entries: LedgerEntry[] = [];
  for (const r of records) {
    const p = r.payload;
    if (isFinding(p.operation)) continue;
    const gate = gateOf.get(r.id)?.gate ?? p.gate;
    entries.push({
      environment: p.environment,
      operation: p.operation,
      ...(p.digest ? { digest: p.digest } : {}),
      ...(p.commit ? { commit: p.commit } : {}),
      ...(p.tree ? { tree: p.tree } : {}),
      ...(p.version ? { version: p.version } : {}),
      state: r.state,
      at: r.updatedAt,
      ...(gate
        ? {
            gate: {
              ...(gate.passed === true ? passed(...said(gate.reasons)) : failed(...said(gate.reasons))),
              ...(gate.baselineCompared !== undefined ? { baselineCompared: gate.baselineCompared } : {}),
            },
          }
        : {}),
      ...(p.auditSkipped !== undefined ? { auditSkipped: p.auditSkipped } : {}),
      ...(p.undone ? { undone: p.undone } : {}),
      ...(typeof p.schemaHead === 'string' ? { schemaHead: p.schemaHead } : {}),
    });
  }
  return entries;
}

/** A backup as rollback advice reads it: a finished backup record with the full shape. */
export interface BackupEntry extends BackupPayload {
  readonly environment: string;
  /** The backup judge let the migration run (the record succeeded). */
  readonly accepted: boolean;
}

export function backupEntries(records: readonly LedgerRecord[]): BackupEntry[] {
  const out: BackupEntry[] = [];
  for (const r of records) {
    const b = r.payload.backup;
    if (r.payload.operation !== 'backup' || !b || typeof b !== 'object') continue;
    if (r.state !== 'success' && r.state !== 'failure' && r.state !== 'error') continue;
    const ok =
      typeof b.id === 'string' &&
      typeof b.bytes === 'number' &&
      typeof b.sha256 === 'string' &&
      typeof b.precedes === 'string' &&
      typeof b.createdAt === 'string' &&
      Number.isFinite(Date.parse(b.createdAt)) &&
      typeof b.location === 'string';
    if (!ok) continue;
    out.push({
      ...b,
      verified: b.verified === true,
      environment: r.payload.environment,
      accepted: r.state === 'success',
    });
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

const releaseId = (r: Partial<ReleaseId> | undefined): ReleaseId | undefined => {
  if (!r || typeof r !== 'object') return undefined;
  const id: ReleaseId = {
    ...(typeof r.digest === 'string' ? { digest: r.digest } : {}),
    ...(typeof r.commit === 'string' ? { commit: r.commit } : {}),
    ...(typeof r.tree === 'string' ? { tree: r.tree } : {}),
    ...(typeof r.version === 'string' ? { version: r.version } : {}),
  };
  return Object.keys(id).length ? id : undefined;
};

/**
 * Compatibility checks as the policy, the migration checks and rollback see them. Only a finished record
 * with the full shape counts; a pass needs both the payload's verdict and a successful state.
 */
export function compatEntries(records: readonly LedgerRecord[]): CompatEntry[] {
  const out: CompatEntry[] = [];
  for (const r of records) {
    const p = r.payload;
    const c = p.compat;
    if (p.operation !== 'compat' || !c || typeof c !== 'object') continue;
    const previous = releaseId(c.previous);
    const candidate = releaseId(c.candidate);
    if (!previous || !candidate || typeof c.schemaHead !== 'string' || typeof c.passed !== 'boolean') continue;
    if (r.state !== 'success' && r.state !== 'failure' && r.state !== 'error') continue;
    out.push({
      environment: p.environment,
      previous,
      candidate,
      schemaHead: c.schemaHead,
      migrations: Array.isArray(c.migrations) ? c.migrations.filter((m): m is string => typeof m === 'string') : [],
      ...(c.passed === true && r.state === 'success'
        ? passed(...said(c.reasons))
        : failed(...said(c.reasons), ...(r.state === 'success' ? [] : [`its record ended ${r.state}`]))),
      at: r.updatedAt,
    });
  }
  return out.sort((a, b) => a.at.localeCompare(b.at));
}

/** A finished (or stuck) operation as the delivery report counts it. */
export interface DeliveryEvent {
  readonly environment: string;
  readonly operation: 'deploy' | 'promotion' | 'rollback';
  readonly version: string;
  readonly state: 'success' | 'failure' | 'error' | 'unfinished';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly mergedAt?: string;
  readonly automatic?: boolean;
}

/** An in-progress record older than this never finished (the runner died): it counts as an error. */
export const STUCK_AFTER_MS = 60 * 60_000;

export function deliveryEvents(records: readonly LedgerRecord[], now: number): DeliveryEvent[] {
  const events: DeliveryEvent[] = [];
  for (const r of records) {
    const p = r.payload;
    if (isFinding(p.operation)) continue;
    const final = r.state === 'success' || r.state === 'failure' || r.state === 'error';
    if (!final && now - Date.parse(r.createdAt) < STUCK_AFTER_MS) continue; // still running
    const startedAt = p.startedAt;
    const finishedAt = final ? r.updatedAt : r.updatedAt;
    events.push({
      environment: p.environment,
      operation: p.operation,
      version: p.version ?? p.digest?.slice(0, 19) ?? 'unknown',
      state: final ? (r.state as DeliveryEvent['state']) : 'unfinished',
      startedAt,
      finishedAt,
      durationMs: Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt)),
      ...(p.mergedAt ? { mergedAt: p.mergedAt } : {}),
      ...(p.automatic ? { automatic: true } : {}),
    });
  }
  return events.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}
