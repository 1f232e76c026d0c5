import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { useEphemeralServices } from '../../testkit/services.js';
import { migrate, MIGRATIONS_TABLE } from '../src/migrate.js';
import { seed } from '../src/seed.js';
import { knownMigrations } from '../src/schema-state.js';

const svc = useEphemeralServices(['postgres']);

async function query<T extends pg.QueryResultRow>(sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: svc.current.env.DATABASE_URL });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('migrations', () => {
  it('apply to an empty database once, even when several processes migrate at the same time', async () => {
    const url = svc.current.env.DATABASE_URL!;
    const results = await Promise.all([migrate(url), migrate(url), migrate(url), migrate(url)]);
    const applied = results.map((r) => r.applied.length);
    expect(applied.filter((n) => n > 0)).toEqual([knownMigrations().length]);
    expect(applied.filter((n) => n === 0)).toHaveLength(3);
    const tables = await query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    expect(tables.map((t) => t.table_name)).toEqual([
      'cache_generation',
      MIGRATIONS_TABLE,
      'prompts',
      'tool_relations',
      'tools',
    ]);
    const indexes = await query<{ indexname: string }>("SELECT indexname FROM pg_indexes WHERE tablename = 'tools'");
    expect(indexes.map((i) => i.indexname)).toEqual(
      expect.arrayContaining(['tools_search_idx', 'tools_tags_idx', 'tools_slug_key']),
    );
  });

  it('re-run is a no-op', async () => {
    expect((await migrate(svc.current.env.DATABASE_URL!)).applied).toEqual([]);
    expect(await query(`SELECT name FROM ${MIGRATIONS_TABLE}`)).toHaveLength(knownMigrations().length);
  });

  it('seeding is deterministic and idempotent; a larger seed extends a smaller one', async () => {
    const url = svc.current.env.DATABASE_URL!;
    const first = await seed(url, 50);
    expect(first.tools).toBe(50);
    expect(await seed(url, 50)).toEqual({ tools: 0, prompts: 0, relations: 0 });
    const more = await seed(url, 80);
    expect(more.tools).toBe(30);
    const [counts] = await query<{ tools: string; orphans: string }>(
      `SELECT (SELECT count(*) FROM tools) AS tools,
              (SELECT count(*) FROM tool_relations r LEFT JOIN tools t ON t.id = r.target_id WHERE t.id IS NULL) AS orphans`,
    );
    expect(counts).toEqual({ tools: '80', orphans: '0' });
    // The full-text column is filled by the trigger.
    const [row] = await query<{ n: string }>(
      "SELECT count(*) AS n FROM tools WHERE search @@ websearch_to_tsquery('english', 'github issue')",
    );
    expect(Number(row!.n)).toBeGreaterThan(0);
  });
});
