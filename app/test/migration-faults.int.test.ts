/**
 * Migrations cut in the middle and run twice at once, against the local Postgres (a database per test):
 * a transactional migration that fails halfway leaves nothing applied; a CONCURRENTLY build that fails
 * leaves an INVALID index, which the migrator names and refuses to run past; two migrators at once queue
 * on the advisory lock (one waits, then finds nothing left to do).
 */
import { spawn } from 'node:child_process';
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useScratch } from '../../testkit/services.js';
import { migrate, MIGRATION_LOCK_ID, MIGRATIONS_DIR, MigrationError } from '../src/migrate.js';
import { seed } from '../src/seed.js';
import { knownMigrations } from '../src/schema-state.js';
import { waitFor } from './support.js';

const { freshDatabase, tempDir, defer } = useScratch();

/** app/migrations plus `extra`, in a temporary directory. */
function migrationsWith(extra: Record<string, string>): string {
  const dir = tempDir('kgraph-migrations-');
  cpSync(MIGRATIONS_DIR, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) writeFileSync(join(dir, name), sql);
  return dir;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql, params)).rows;
  } finally {
    await c.end();
  }
}
const appliedNames = async (url: string) =>
  (await query<{ name: string }>(url, 'SELECT name FROM pgmigrations ORDER BY id')).map((r) => r.name);
const exists = async (url: string, rel: string) =>
  (await query<{ r: string | null }>(url, 'SELECT to_regclass($1)::text AS r', [rel]))[0]!.r !== null;

describe('a migration that fails halfway', () => {
  it('in a transaction: nothing of it is applied, nor recorded', async () => {
    const url = await freshDatabase();
    await migrate(url);
    const dir = migrationsWith({
      '1900000000000_half.sql': `-- Up Migration
SET lock_timeout = '5s';
SET statement_timeout = '1min';
CREATE TABLE half_done (id int);
ALTER TABLE tools ADD COLUMN half text;
INSERT INTO half_done SELECT 1 / 0;
`,
    });
    await expect(migrate(url, () => undefined, { dir })).rejects.toThrow(/division by zero/);
    expect(await exists(url, 'half_done')).toBe(false);
    const cols = await query(
      url,
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'tools' AND column_name = 'half'",
    );
    expect(cols).toEqual([]);
    expect(await appliedNames(url)).toEqual(knownMigrations());
  });

  it('CONCURRENTLY: the invalid index is found and named, and the next run refuses until it is dropped', async () => {
    const url = await freshDatabase();
    await migrate(url);
    await seed(url, 50); // categories repeat: a unique index on them cannot be built
    const name = '1900000000001_unique_category.sql';
    const dir = migrationsWith({
      [name]: `-- Up Migration
-- kgraph:no-transaction
SET lock_timeout = '5s';
SET statement_timeout = '10min';
CREATE INDEX CONCURRENTLY IF NOT EXISTS tools_slug_name_idx ON tools (slug, name);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS tools_category_key ON tools (category);
`,
    });
    const err = await migrate(url, () => undefined, { dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect((err as Error).message).toMatch(
      /failed at statement 4 of 4: could not create unique index "tools_category_key"/,
    );
    expect((err as Error).message).toContain('invalid index public.tools_category_key on public.tools');
    expect((err as Error).message).toContain('DROP INDEX CONCURRENTLY public.tools_category_key');
    // What ran before the failure stays (each statement committed); the migration is not recorded.
    expect(await exists(url, 'tools_slug_name_idx')).toBe(true);
    expect(await appliedNames(url)).not.toContain(name.replace('.sql', ''));
    // A re-run would skip the broken index (IF NOT EXISTS): the migrator refuses instead.
    await expect(migrate(url, () => undefined, { dir })).rejects.toThrow(
      /refusing to migrate: invalid index public.tools_category_key/,
    );
    await query(url, 'DROP INDEX CONCURRENTLY public.tools_category_key');
    await query(
      url,
      'DELETE FROM tools WHERE id NOT IN (SELECT DISTINCT ON (category) id FROM tools ORDER BY category, id)',
    );
    expect((await migrate(url, () => undefined, { dir })).applied).toEqual([name.replace('.sql', '')]);
    expect(await appliedNames(url)).toEqual([...knownMigrations(), name.replace('.sql', '')]);
  });

  it('a no-transaction migration between transactional ones runs in order, and a second run applies nothing', async () => {
    const url = await freshDatabase();
    const dir = migrationsWith({
      '1900000000002_concurrent.sql': `-- Up Migration\n-- kgraph:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS tools_created_idx ON tools (created_at);\n`,
      '1900000000003_after.sql': `-- Up Migration\nCREATE TABLE after_concurrent (id int);\n`,
    });
    const first = await migrate(url, () => undefined, { dir });
    expect(first.applied).toEqual([...knownMigrations(), '1900000000002_concurrent', '1900000000003_after']);
    expect((await migrate(url, () => undefined, { dir })).applied).toEqual([]);
    expect(await exists(url, 'tools_created_idx')).toBe(true);
  });
});

/** `node app/src/migrate.ts` as the migration Job runs it (through tsx). */
function migrateProcess(url: string, onOut?: (s: string) => void): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '../src/migrate.ts')], {
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const take = (d: Buffer) => {
      out += d.toString();
      onOut?.(d.toString());
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('two migration Jobs at once', () => {
  it('the second waits on the lock while the first holds it, and goes on only once it is released', async () => {
    const url = await freshDatabase();
    // The first Job, mid-migration: holding the migrator's advisory lock on its own session.
    const first = new pg.Client({ connectionString: url });
    await first.connect();
    defer(() => first.end());
    await first.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    let live = '';
    const second = migrateProcess(url, (s) => (live += s));
    // It polls the lock (a waiter blocked in pg_advisory_lock would deadlock with CREATE INDEX CONCURRENTLY in
    // the holder: see "two real migrators" below, whose migrations include one).
    await waitFor(
      'the second migrator to wait on the lock',
      async () => live.includes('waiting for the migration lock'),
      30_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(await exists(url, 'tools')).toBe(false); // still waiting: it has applied nothing
    await first.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
    const done = await second;
    expect(done.code).toBe(0);
    expect(done.out).toMatch(/waiting for the migration lock[\s\S]*applied \d+ migration\(s\)/);
    expect(await appliedNames(url)).toEqual(knownMigrations());
  }, 60_000);

  it('two real migrators on a fresh database: both succeed, one applies, the other finds the schema up to date', async () => {
    // The real migrations include CREATE INDEX CONCURRENTLY, which waits out every older snapshot: a second
    // migrator blocked inside a lock statement would hold one, and the two would deadlock.
    const url = await freshDatabase();
    const [a, b] = await Promise.all([migrateProcess(url), migrateProcess(url)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const outs = [a.out, b.out];
    expect(outs.filter((o) => /applied \d+ migration/.test(o))).toHaveLength(1);
    expect(outs.filter((o) => o.includes('schema up to date'))).toHaveLength(1);
    expect(await appliedNames(url)).toEqual(knownMigrations());
  }, 60_000);
});
