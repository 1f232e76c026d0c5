/**
 * Applies the SQL migrations under app/migrations. node-pg-migrate's own lock is a *try* lock (a second
 * migrator fails), so we take our own advisory lock first on the same session, waiting for it: concurrent
 * migrators queue, the first applies the schema, the others find nothing left to do and succeed.
 *
 * Migrations run in one transaction (a failure leaves nothing applied), except one marked
 * `-- kgraph:no-transaction` (CREATE INDEX CONCURRENTLY): its statements run one by one, and a failure
 * there can leave an INVALID index behind. The migrator names such an index and refuses to go on while one
 * exists (a re-run with IF NOT EXISTS would otherwise keep the broken index for good).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { isMain, runCli } from './lib/cli.js';
import { runsWithoutTransaction, splitStatements } from './migration-file.js';
import { knownMigrations, MIGRATIONS_DIR, MIGRATIONS_TABLE } from './schema-state.js';

export { MIGRATIONS_DIR, MIGRATIONS_TABLE };
/** Our own lock id (distinct from node-pg-migrate's, which we disable). */
export const MIGRATION_LOCK_ID = 4_224_031_777;

export interface MigrateResult {
  readonly applied: readonly string[];
}

export interface MigrateOptions {
  /** Apply only this many pending migrations (tests use it to make an older schema). */
  readonly count?: number;
  /** Where the migrations are (default app/migrations). */
  readonly dir?: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

const INVALID_INDEXES = `
  SELECT format('%I.%I', n.nspname, c.relname) AS index, format('%I.%I', tn.nspname, t.relname) AS "table"
  FROM pg_index i
  JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = t.relnamespace
  WHERE NOT i.indisvalid ORDER BY 1`;

/** Invalid indexes (left by a failed CONCURRENTLY build), as "index on table". */
export async function invalidIndexes(client: pg.ClientBase): Promise<string[]> {
  const res = await client.query<{ index: string; table: string }>(INVALID_INDEXES);
  return res.rows.map((r) => `${r.index} on ${r.table}`);
}

const dropAdvice = (found: readonly string[]): string =>
  `${found.join(', ')}: drop ${found.length > 1 ? 'them' : 'it'} (DROP INDEX CONCURRENTLY ${found.map((f) => f.split(' on ')[0]).join(', ')}) and migrate again`;

async function appliedMigrations(client: pg.ClientBase): Promise<Set<string>> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [MIGRATIONS_TABLE]);
  if (!exists.rows[0]?.t) return new Set();
  const res = await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
  return new Set(res.rows.map((r) => r.name));
}

/** Statement by statement, each committing on its own; recorded as run only when all succeeded. */
async function applyWithoutTransaction(client: pg.ClientBase, dir: string, name: string): Promise<void> {
  const statements = await splitStatements(await readFile(join(dir, `${name}.sql`), 'utf8'));
  for (const [i, sql] of statements.entries()) {
    try {
      await client.query(sql);
    } catch (err) {
      const found = await invalidIndexes(client).catch(() => []);
      const left = found.length ? `; it left the invalid index ${dropAdvice(found)}` : '';
      throw new MigrationError(
        `migration ${name} (no transaction) failed at statement ${i + 1} of ${statements.length}: ${(err as Error).message}; statements 1-${i} stay applied${left}`,
      );
    }
  }
  // The same table and row node-pg-migrate writes, so the next run (and checkOrder) sees it applied.
  await client.query(
    `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id SERIAL PRIMARY KEY, name varchar(255) NOT NULL, run_on timestamp NOT NULL)`,
  );
  await client.query(`INSERT INTO ${MIGRATIONS_TABLE} (name, run_on) VALUES ($1, NOW())`, [name]);
}

/** Pending migrations in order, in runs: consecutive transactional ones together, each no-transaction one alone. */
async function pendingRuns(client: pg.ClientBase, dir: string, count: number | undefined) {
  const applied = await appliedMigrations(client);
  const pending = knownMigrations(dir)
    .filter((m) => !applied.has(m))
    .slice(0, count);
  const runs: { names: string[]; transaction: boolean }[] = [];
  for (const name of pending) {
    const transaction = !runsWithoutTransaction(await readFile(join(dir, `${name}.sql`), 'utf8').catch(() => ''));
    const last = runs.at(-1);
    if (transaction && last?.transaction) last.names.push(name);
    else runs.push({ names: [name], transaction });
  }
  return runs;
}

async function applyPending(client: pg.ClientBase, dir: string, opts: MigrateOptions): Promise<string[]> {
  const found = await invalidIndexes(client);
  if (found.length) throw new MigrationError(`refusing to migrate: invalid index ${dropAdvice(found)}`);
  const applied: string[] = [];
  for (const run of await pendingRuns(client, dir, opts.count)) {
    if (!run.transaction) {
      await applyWithoutTransaction(client, dir, run.names[0]!);
      applied.push(run.names[0]!);
      continue;
    }
    const ran = await runner({
      dbClient: client,
      dir,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      count: run.names.length,
      noLock: true,
      checkOrder: true,
      singleTransaction: true,
      log: () => undefined,
    });
    applied.push(...ran.map((m) => m.name));
  }
  return applied;
}

/**
 * Waits for the migration lock by polling pg_try_advisory_lock, never by a blocking pg_advisory_lock: a
 * waiter blocked inside a statement holds a snapshot, and CREATE INDEX CONCURRENTLY in the lock holder waits
 * for every older snapshot to end, so the two would deadlock (Postgres aborts one of them). Between polls the
 * waiter holds nothing.
 */
async function acquireMigrationLock(client: pg.Client, log: (msg: string) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const res = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [MIGRATION_LOCK_ID]);
    if (res.rows[0]?.ok) return;
    if (attempt === 0) log('waiting for the migration lock (another migrator holds it)');
    await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
  }
}

export async function migrate(
  databaseUrl: string,
  log: (msg: string) => void = () => undefined,
  opts: MigrateOptions = {},
): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    await acquireMigrationLock(client, log);
    try {
      const applied = await applyPending(client, opts.dir ?? MIGRATIONS_DIR, opts);
      log(applied.length > 0 ? `applied ${applied.length} migration(s): ${applied.join(', ')}` : 'schema up to date');
      return { applied };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

if (isMain(import.meta.url)) {
  await runCli('migrate', async () => {
    const url = process.env.DATABASE_URL;
    if (!url) return { usage: 'DATABASE_URL: missing (required)' };
    await migrate(url, (m) => console.log(`migrate: ${m}`));
    return undefined;
  });
}
