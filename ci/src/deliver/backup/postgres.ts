/**
 * The pg_dump / pg_restore / libpq edge of backups. Connection details go to the tools as PG* variables,
 * never on their command line (where `ps` would show a password); messages name host and database only.
 * The client tools come from Debian's postgresql-client-15, matching the server's major version.
 */
import pg from 'pg';
import { runProcess, type ProcessResult } from '../../platform/process/run.js';
import { failed, passed, type Verdict } from '../../definitions/verdict.js';

/** PG* variables for libpq tools from a connection URL. */
export function libpqEnv(url: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('the database URL does not parse');
  }
  if (!/^postgres(ql)?:$/.test(u.protocol)) throw new Error(`the database URL is ${u.protocol}, not postgres:`);
  const ssl = u.searchParams.get('sslmode');
  return {
    ...base,
    PGHOST: decodeURIComponent(u.hostname),
    PGPORT: u.port || '5432',
    PGDATABASE: decodeURIComponent(u.pathname.slice(1)) || 'postgres',
    ...(u.username ? { PGUSER: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { PGPASSWORD: decodeURIComponent(u.password) } : {}),
    ...(ssl ? { PGSSLMODE: ssl } : {}),
    PGCONNECT_TIMEOUT: '10',
  };
}

export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparsable database URL)';
  }
}

const tail = (r: ProcessResult): string => (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');

export async function pgTool(argv: string[], url: string | undefined, timeoutMs = 30 * 60_000): Promise<ProcessResult> {
  return runProcess({ argv, env: url ? libpqEnv(url) : process.env, timeoutMs });
}

/** pg_dump in custom format into `file`. */
export async function dumpTo(url: string, file: string): Promise<void> {
  const r = await pgTool(['pg_dump', '--format=custom', '--no-owner', '--no-privileges', `--file=${file}`], url);
  if (r.exitCode !== 0) throw new Error(`pg_dump of ${describeUrl(url)} failed: ${tail(r)}`);
}

/** Reads the archive's whole table of contents; a damaged or truncated archive fails here. */
export async function readableArchive(file: string): Promise<Verdict> {
  const r = await pgTool(['pg_restore', '--list', file], undefined, 5 * 60_000);
  if (r.exitCode !== 0) return failed(tail(r) || `pg_restore --list exited ${r.exitCode}`);
  return passed(`${r.stdout.split('\n').filter((l) => l && !l.startsWith(';')).length} entries`);
}

/** In one transaction: a failure part way restores nothing. */
export async function restoreInto(url: string, file: string, clean: boolean): Promise<void> {
  const argv = ['pg_restore', '--no-owner', '--no-privileges', '--exit-on-error', '--single-transaction'];
  if (clean) argv.push('--clean', '--if-exists');
  const r = await pgTool([...argv, `--dbname=${libpqEnv(url).PGDATABASE}`, file], url);
  if (r.exitCode !== 0) throw new Error(`pg_restore into ${describeUrl(url)} failed, nothing restored: ${tail(r)}`);
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** User tables (outside the system schemas) in the database: a restore target with any is not empty. */
export async function userTables(url: string): Promise<string[]> {
  return withClient(url, async (c) => {
    const r = await c.query<{ t: string }>(
      `SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables
       WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    );
    return r.rows.map((x) => x.t);
  });
}

/** Per table: row count and an md5 over its rows in a stable order (the restore drill compares these). */
export async function contentFingerprint(url: string): Promise<Record<string, { rows: number; md5: string }>> {
  const tables = await userTables(url);
  return withClient(url, async (c) => {
    const out: Record<string, { rows: number; md5: string }> = {};
    for (const t of tables) {
      const r = await c.query<{ rows: string; md5: string | null }>(
        `SELECT count(*)::text AS rows, md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) AS md5 FROM ${t} x`,
      );
      out[t] = { rows: Number(r.rows[0]!.rows), md5: r.rows[0]!.md5 ?? '' };
    }
    return out;
  });
}

/**
 * The newest migration node-pg-migrate recorded in the database (names sort by their timestamp prefix), or
 * undefined when it has no migrations table or cannot be read: what a restore left the schema at.
 */
export async function schemaHeadOf(url: string): Promise<string | undefined> {
  try {
    return await withClient(url, async (c) => {
      const r = await c.query<{ name: string }>(`SELECT name FROM public.pgmigrations ORDER BY name DESC LIMIT 1`);
      return r.rows[0]?.name;
    });
  } catch {
    return undefined;
  }
}
