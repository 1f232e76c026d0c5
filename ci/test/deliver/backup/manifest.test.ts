import { describe, expect, it } from 'vitest';
import {
  backupId,
  judgeBackup,
  manifestFromLog,
  MANIFEST_MARKER,
  restoreRecord,
  type BackupManifest,
} from '../../../src/deliver/backup/manifest.js';
import { asPayload, backupEntries, ledgerEntries, type LedgerRecord } from '../../../src/platform/ledger/entry.js';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const m: BackupManifest = {
  id: backupId('prod', '1764590000000_cache_generation', new Date(NOW - 5 * 60_000)),
  environment: 'prod',
  source: 'db:5432/kgraph',
  precedes: '1764590000000_cache_generation',
  createdAt: new Date(NOW - 5 * 60_000).toISOString(),
  format: 'custom',
  bytes: 123456,
  sha256: 'a'.repeat(64),
  verified: true,
};
const expect_ = { environment: 'prod', precedes: m.precedes, maxAgeMinutes: 30, now: NOW };

describe('judgeBackup', () => {
  it('lets prod migrate only with a fresh, verified, non-empty backup of it taken before this migration', () => {
    expect(judgeBackup(m, expect_).outcome).toBe('passed');
    expect(judgeBackup(undefined, expect_)).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringContaining('no backup manifest')],
    });
    expect(judgeBackup({ ...m, verified: false }, expect_)).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringContaining('not verified')],
    });
    expect(judgeBackup({ ...m, bytes: 0 }, expect_)).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringContaining('empty')],
    });
    expect(judgeBackup({ ...m, precedes: 'older' }, expect_)).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringContaining('not before')],
    });
    expect(judgeBackup({ ...m, environment: 'staging' }, expect_).outcome).toBe('failed');
    expect(judgeBackup({ ...m, createdAt: new Date(NOW - 31 * 60_000).toISOString() }, expect_)).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringContaining('31 min old')],
    });
  });
  it('reads the last manifest line of a Job log and believes only the full shape', () => {
    expect(manifestFromLog(`pg_dump: done\n${MANIFEST_MARKER} ${JSON.stringify(m)}\n`)).toEqual(m);
    expect(manifestFromLog(`${MANIFEST_MARKER} ${JSON.stringify({ ...m, sha256: 'x' })}`)).toBeUndefined();
    expect(manifestFromLog(`${MANIFEST_MARKER} {not json`)).toBeUndefined();
    expect(manifestFromLog('')).toBeUndefined();
  });
  it('ids are file names: timestamp, environment, migration', () => {
    expect(backupId('prod', '../x y', new Date(NOW))).toBe('prod-20261206T120000Z-___x_y');
  });
});

describe('restoreRecord', () => {
  const base = { target: 'db:5432/kgraph', overwrite: true, startedAt: '2026-12-06T12:10:00.000Z' };

  it('a restore that ran: which backup, into which target, the schema it left; a finding, never a release', () => {
    const rec = restoreRecord(m, { ...base, schemaHead: '1765030000000_tools_tags_search_index' });
    expect(rec.state).toBe('success');
    expect(rec.description).toBe(
      `restored ${m.id} into db:5432/kgraph, schema at 1765030000000_tools_tags_search_index`,
    );
    expect(asPayload(JSON.stringify(rec.payload))).toEqual(rec.payload);
    expect(rec.payload).toMatchObject({
      operation: 'restore',
      environment: 'prod',
      restore: { backup: m.id, bytes: m.bytes, sha256: m.sha256, precedes: m.precedes, target: 'db:5432/kgraph' },
    });
    const record: LedgerRecord = {
      id: '1',
      payload: rec.payload,
      state: 'success',
      createdAt: base.startedAt,
      updatedAt: base.startedAt,
    };
    // Readers of what runs and of backups do not mistake it for a deploy or a backup.
    expect(ledgerEntries([record])).toEqual([]);
    expect(backupEntries([record])).toEqual([]);
  });

  it('a pg_restore that failed: a failure record with its reason, bounded', () => {
    const rec = restoreRecord(m, { ...base, failed: `pg_restore failed: ${'x'.repeat(2000)}` });
    expect(rec.state).toBe('failure');
    expect(rec.description).toBe(`restore of ${m.id} into db:5432/kgraph failed, nothing restored`);
    expect(rec.payload.restore!.reason).toHaveLength(500);
    expect(rec.payload.restore!.schemaHead).toBeUndefined();
  });
});
