/**
 * Keeps the service's view of the schema current: checked at start, then every second while it is not
 * right and every few seconds once it is, and at once when a query fails for a schema reason.
 */
import type { Queryable } from './repo.js';
import {
  judgeSchema,
  knownMigrations,
  MIGRATIONS_TABLE,
  schemaReasons,
  type CatalogFacts,
  type SchemaReport,
} from './schema-state.js';

const TABLES = ['tools', 'prompts', 'tool_relations', 'cache_generation'];

async function readSchema(db: Queryable, known: readonly string[]): Promise<SchemaReport> {
  const has = await db.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [MIGRATIONS_TABLE]);
  if (!has.rows[0]?.t) return judgeSchema([], known, undefined);
  const [applied, columns, uniques, triggers] = await Promise.all([
    db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`),
    db.query<{ table: string; column: string }>(
      'SELECT table_name AS table, column_name AS column FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ANY($1)',
      [TABLES],
    ),
    db.query<{ table: string; columns: string[] }>(
      `SELECT c.relname AS table, array_agg(a.attname::text) AS columns
       FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
       WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1) AND i.indisunique AND i.indpred IS NULL
       GROUP BY i.indexrelid, c.relname`,
      [TABLES],
    ),
    db.query<{ table: string; name: string }>(
      `SELECT c.relname AS table, t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
       WHERE c.relnamespace = current_schema()::regnamespace AND c.relname = ANY($1) AND NOT t.tgisinternal AND t.tgenabled <> 'D'`,
      [TABLES],
    ),
  ]);
  const facts: CatalogFacts = { columns: columns.rows, uniques: uniques.rows, triggers: triggers.rows };
  return judgeSchema(
    applied.rows.map((r) => r.name),
    known,
    facts,
  );
}

export class SchemaWatch {
  private report: SchemaReport | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly known: readonly string[];

  constructor(
    private readonly db: Queryable,
    private readonly opts: { okIntervalMs: number; behindIntervalMs: number } = {
      okIntervalMs: 5_000,
      behindIntervalMs: 1_000,
    },
    known: readonly string[] = knownMigrations(),
  ) {
    this.known = known;
  }

  /** Reads the schema now (throws when Postgres cannot be asked) and remembers the answer. */
  async check(): Promise<SchemaReport> {
    this.report = await readSchema(this.db, this.known);
    return this.report;
  }

  /** Why the API must answer 503 now, or undefined when it may serve. */
  blocked(): string | undefined {
    if (!this.report) return 'schema not checked yet (database unreachable)';
    return this.report.ok ? undefined : schemaReasons(this.report).join('; ');
  }

  last(): SchemaReport | undefined {
    return this.report;
  }

  /** A query failed for a schema reason: look again soon rather than at the next tick. */
  recheckSoon(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 0).unref();
  }

  /** Starts watching; the promise settles after the first check. */
  start(): Promise<void> {
    this.stopped = false;
    return this.tick();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    await this.check().catch(() => undefined);
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => void this.tick(),
      this.report?.ok ? this.opts.okIntervalMs : this.opts.behindIntervalMs,
    ).unref();
  }
}
