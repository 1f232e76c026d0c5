/**
 * Applies the SQL migrations under app/migrations. node-pg-migrate's own lock is a *try* lock (a second
 * migrator fails), so we take a blocking advisory lock first on the same session: concurrent migrators
 * queue, the first applies the schema, the others find nothing left to do and succeed.
 */
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { isMain, runCli } from './lib/cli.js';
import { MIGRATIONS_DIR, MIGRATIONS_TABLE } from './schema-state.js';

export { MIGRATIONS_DIR, MIGRATIONS_TABLE };
/** Our own lock id (distinct from node-pg-migrate's, which we disable). */
export const MIGRATION_LOCK_ID = 4_224_031_777;

export interface MigrateResult {
  readonly applied: readonly string[];
}

/** `count` applies only that many pending migrations (tests use it to make an older schema). */
export async function migrate(
  databaseUrl: string,
  log: (msg: string) => void = () => undefined,
  opts: { count?: number } = {},
): Promise<MigrateResult> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    log('waiting for the migration lock');
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    try {
      const ran = await runner({
        dbClient: client,
        dir: MIGRATIONS_DIR,
        migrationsTable: MIGRATIONS_TABLE,
        direction: 'up',
        ...(opts.count === undefined ? {} : { count: opts.count }),
        noLock: true,
        checkOrder: true,
        singleTransaction: true,
        log: () => undefined,
      });
      const applied = ran.map((m) => m.name);
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
