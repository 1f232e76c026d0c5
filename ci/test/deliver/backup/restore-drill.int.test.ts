/**
 * The restore drill CI runs, and what a backup must survive: seed, dump, restore into a fresh database with
 * equal row counts and content hashes; a non-empty target refused; a damaged dump refused before anything is
 * touched; a store that cannot be written refuses the backup (and so prod's migration).
 */
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import pg from 'pg';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../../app/src/migrate.js';
import { seed } from '../../../../app/src/seed.js';
import { judgeBackup } from '../../../src/deliver/backup/manifest.js';
import { contentFingerprint, userTables } from '../../../src/deliver/backup/postgres.js';
import { createBackup, restoreBackup, sha256Of, BackupError } from '../../../src/deliver/backup/store.js';
import { runCli } from '../../../src/cli/program.js';
import { localLedger, RECORDS_DIR } from '../../../src/platform/ledger/local.js';
import type { LedgerRecord } from '../../../src/platform/ledger/entry.js';
import { useScratch } from '../../../../testkit/services.js';
import { captureIo } from '../../cli/io.js';

const scratch = useScratch();
const { freshDatabase } = scratch;
const tempStore = () => scratch.tempDir('kgraph-backups-');
async function seededDatabase(count = 300): Promise<string> {
  const url = await freshDatabase();
  await migrate(url);
  await seed(url, count);
  return url;
}
const PRECEDES = '1764590000000_cache_generation';
/** The newest migration of this tree: the schema a database migrated here is at. */
const HEAD = readdirSync(new URL('../../../../app/migrations/', import.meta.url))
  .filter((f) => /^\d+_/.test(f))
  .sort()
  .at(-1)!
  .replace(/\.(sql|js|ts)$/, '');
/** The local ledger's records a command run in `cwd` wrote, oldest first. */
async function localRecords(cwd: string): Promise<LedgerRecord[]> {
  return (await localLedger(join(cwd, RECORDS_DIR)).read()).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}
/** The same database URL with a password in it (the local server trusts, so it still connects). */
const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

describe('restore drill', { timeout: 120_000 }, () => {
  it('seed, dump, restore into a fresh database: row counts and content hashes equal', async () => {
    const source = await seededDatabase();
    const store = tempStore();
    const m = await createBackup({ databaseUrl: source, store, environment: 'prod', precedes: PRECEDES });
    expect(m).toMatchObject({ environment: 'prod', precedes: PRECEDES, format: 'custom', verified: true });
    expect(m.bytes).toBeGreaterThan(10_000);
    expect(m.sha256).toBe(await sha256Of(join(store, `${m.id}.dump`)));
    expect(m.source).not.toContain('postgres@'); // host/database only
    expect(
      judgeBackup(m, { environment: 'prod', precedes: PRECEDES, maxAgeMinutes: 30, now: Date.now() }).outcome,
    ).toBe('passed');

    const target = await freshDatabase();
    const io = captureIo({}, tempStore());
    expect(await runCli(['backup', 'restore', '--from', m.id, '--to', target, '--store', store], io)).toBe(0);
    expect(io.out()).toContain(`restored ${m.id}`);
    const [before, after] = await Promise.all([contentFingerprint(source), contentFingerprint(target)]);
    expect(Object.keys(after).sort()).toEqual(Object.keys(before).sort());
    expect(after['public.tools']!.rows).toBe(300);
    expect(after).toEqual(before);
  });

  it('refuses a non-empty target unless told, and leaves it as it was', async () => {
    const source = await seededDatabase(50);
    const store = tempStore();
    const m = await createBackup({ databaseUrl: source, store, environment: 'prod', precedes: PRECEDES });
    const target = await seededDatabase(20);
    const before = await contentFingerprint(target);
    const cwd = tempStore();
    const io = captureIo({}, cwd);
    expect(await runCli(['backup', 'restore', '--from', m.id, '--to', target, '--store', store], io)).toBe(1);
    expect(io.err()).toMatch(/is not empty \(\d+ tables.*pass --overwrite/);
    expect(await contentFingerprint(target)).toEqual(before);
    expect(await localRecords(cwd)).toEqual([]); // refused before pg_restore: nothing changed, nothing recorded
    expect(
      await runCli(
        ['backup', 'restore', '--from', m.id, '--to', target, '--store', store, '--overwrite'],
        captureIo({}, cwd),
      ),
    ).toBe(0);
    const [rec] = await localRecords(cwd);
    expect(rec).toMatchObject({ state: 'success', payload: { restore: { backup: m.id, overwrite: true } } });
    expect(await contentFingerprint(target)).toEqual(await contentFingerprint(source));
  });
});

describe('restores in the ledger', { timeout: 120_000 }, () => {
  it('a restore is recorded: which backup, into which target (host and database, never the password), the schema it left', async () => {
    const source = await seededDatabase(30);
    const store = tempStore();
    const m = await createBackup({ databaseUrl: source, store, environment: 'prod', precedes: PRECEDES });
    const password = 'restore-secret-Zq81';
    const target = withPassword(await freshDatabase(), password);
    const cwd = tempStore();
    const io = captureIo({}, cwd);
    expect(await runCli(['backup', 'restore', '--from', m.id, '--to', target, '--store', store], io)).toBe(0);
    const u = new URL(target);
    const records = await localRecords(cwd);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      state: 'success',
      payload: {
        operation: 'restore',
        environment: 'prod',
        restore: {
          backup: m.id,
          bytes: m.bytes,
          sha256: m.sha256,
          precedes: PRECEDES,
          backupCreatedAt: m.createdAt,
          target: `${u.hostname}:${u.port}${u.pathname}`,
          overwrite: false,
          schemaHead: HEAD,
        },
      },
    });
    const written = readdirSync(join(cwd, RECORDS_DIR)).map((f) => readFileSync(join(cwd, RECORDS_DIR, f), 'utf8'));
    for (const text of [...written, io.out(), io.err()]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(encodeURIComponent(password));
    }
    expect(io.out()).toContain(`recorded in local records in ${join(cwd, RECORDS_DIR)}`);
  });

  it('a pg_restore that runs and fails is recorded as failed (target unchanged), exit 1', async () => {
    const source = await seededDatabase(30);
    const store = tempStore();
    const m = await createBackup({ databaseUrl: source, store, environment: 'prod', precedes: PRECEDES });
    // No table, so the target counts as empty; a view named like the dump's table makes CREATE TABLE fail.
    const target = await freshDatabase();
    const c = new pg.Client({ connectionString: target });
    await c.connect();
    await c.query('CREATE VIEW public.tools AS SELECT 1 AS id');
    await c.end();
    const cwd = tempStore();
    const io = captureIo({}, cwd);
    expect(await runCli(['backup', 'restore', '--from', m.id, '--to', target, '--store', store], io)).toBe(1);
    expect(io.err()).toMatch(/pg_restore into .* failed, nothing restored: .*; recorded as failed in local records/);
    expect(await userTables(target)).toEqual([]); // one transaction: nothing from the dump is there
    const records = await localRecords(cwd);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      state: 'failure',
      payload: { operation: 'restore', restore: { backup: m.id, reason: expect.stringContaining('pg_restore') } },
    });
    expect(records[0]!.payload.restore!.schemaHead).toBeUndefined();
  });
});

describe('faults', { timeout: 120_000 }, () => {
  it('a damaged dump: a clear error before any database is touched; a truncated one that matches its manifest fails the archive check', async () => {
    const source = await seededDatabase(50);
    const store = tempStore();
    const m = await createBackup({ databaseUrl: source, store, environment: 'prod', precedes: PRECEDES });
    const target = await freshDatabase();
    const dump = join(store, `${m.id}.dump`);
    const bytes = readFileSync(dump);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(dump, bytes);
    const cwd = tempStore();
    const io = captureIo({}, cwd);
    expect(await runCli(['backup', 'restore', '--from', m.id, '--to', target, '--store', store], io)).toBe(1);
    expect(io.err()).toMatch(
      new RegExp(`backup ${m.id} is damaged: \\d+ bytes, sha256 [0-9a-f]{12}…; its manifest says ${m.bytes} bytes`),
    );
    expect(await userTables(target)).toEqual([]);
    expect(await localRecords(cwd)).toEqual([]);
    // Truncated, and the manifest rewritten to match: the checksum passes, pg_restore does not.
    truncateSync(dump, Math.floor(m.bytes / 3));
    const manifest = join(store, `${m.id}.json`);
    const size = Math.floor(m.bytes / 3);
    writeFileSync(manifest, JSON.stringify({ ...m, bytes: size, sha256: await sha256Of(dump) }));
    await expect(restoreBackup({ store, id: m.id, to: target })).rejects.toThrow(/is not a readable archive/);
    expect(await userTables(target)).toEqual([]);
    await expect(restoreBackup({ store, id: '../../etc/passwd', to: target })).rejects.toThrow(/is not a backup id/);
  });

  it('a backup that cannot be written fails (exit 1) and leaves no manifest, so prod refuses to migrate', async () => {
    const source = await seededDatabase(10);
    const blocker = join(tempStore(), 'not-a-directory');
    writeFileSync(blocker, 'x');
    const store = join(blocker, 'backups');
    await expect(createBackup({ databaseUrl: source, store, environment: 'prod', precedes: PRECEDES })).rejects.toThrow(
      BackupError,
    );
    const io = captureIo({ DATABASE_URL: source });
    expect(await runCli(['backup', 'create', '--env', 'prod', '--precedes', PRECEDES, '--store', store], io)).toBe(1);
    expect(io.err()).toContain(`cannot write the backup to ${store}`);
    expect(io.err()).not.toContain('postgres@');
    expect(
      judgeBackup(undefined, { environment: 'prod', precedes: PRECEDES, maxAgeMinutes: 30, now: Date.now() }),
    ).toMatchObject({ outcome: 'failed' });
  });

  it('a database that cannot be dumped fails with its host and database named, and no partial file left', async () => {
    const store = tempStore();
    const err = await createBackup({
      databaseUrl: 'postgres://postgres@127.0.0.1:1/nowhere',
      store,
      environment: 'prod',
      precedes: PRECEDES,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupError);
    expect((err as Error).message).toContain('pg_dump of 127.0.0.1:1/nowhere failed');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(store)).toEqual([]);
  });
});
