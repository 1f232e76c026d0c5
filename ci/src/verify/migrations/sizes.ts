/**
 * Table sizes from an environment's database: estimated rows (pg_class.reltuples, kept by ANALYZE and
 * autovacuum; no count(*) on a production table) and total bytes with indexes and TOAST. Read-only, one
 * short query with its own statement_timeout. The URL is never printed: only its host and database are.
 */
import pg from 'pg';
import type { TableSize, TableSizes } from './rules.js';

/** host/database of a connection URL, for messages (never the user or password). */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return 'an unparsable DATABASE_URL';
  }
}

const SIZES_SQL = `
  SELECT c.relname AS name, n.nspname AS schema, c.reltuples::float8 AS rows, pg_total_relation_size(c.oid)::float8 AS bytes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`;

export async function readTableSizes(databaseUrl: string): Promise<TableSizes> {
  const where = describeDatabase(databaseUrl);
  const client = new pg.Client({
    connectionString: databaseUrl,
    connectionTimeoutMillis: 10_000,
    statement_timeout: 15_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ name: string; schema: string; rows: number; bytes: number }>(SIZES_SQL);
    const tables = new Map<string, TableSize>();
    for (const r of res.rows) {
      // reltuples is -1 for a table never analysed (PostgreSQL 14+): the row count is unknown, not zero.
      const size = { rows: r.rows < 0 ? undefined : Math.round(r.rows), bytes: r.bytes };
      tables.set(r.schema === 'public' ? r.name : `${r.schema}.${r.name}`, size);
    }
    return { known: true, where, tables };
  } catch (err) {
    return { known: false, reason: `${where}: ${(err as Error).message}` };
  } finally {
    await client.end().catch(() => undefined);
  }
}
