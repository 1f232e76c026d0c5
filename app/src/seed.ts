/**
 * Seeds the database with generated data (`--count N`, default 200). Idempotent: rows have stable ids
 * and inserts skip existing ones, so running it twice, or a larger count after a smaller, is safe.
 */
import pg from 'pg';
import { generateSeed, MAX_SEED_COUNT, type SeedData } from './seed-data.js';
import { isMain, runCli } from './lib/cli.js';

export const DEFAULT_SEED_COUNT = 200;
const BATCH = 1_000;

export interface SeedResult {
  readonly tools: number;
  readonly prompts: number;
  readonly relations: number;
}

function chunks<T>(rows: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += BATCH) out.push(rows.slice(i, i + BATCH));
  return out;
}

export async function insertSeed(client: pg.ClientBase, data: SeedData): Promise<SeedResult> {
  let tools = 0;
  let prompts = 0;
  let relations = 0;
  await client.query('BEGIN');
  try {
    for (const b of chunks(data.tools)) {
      const res = await client.query(
        `INSERT INTO tools (id, slug, name, description, category, tags)
         SELECT id, slug, name, description, category, string_to_array(tags, ',')
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS t(id, slug, name, description, category, tags)
         ON CONFLICT DO NOTHING`,
        [
          b.map((t) => t.id),
          b.map((t) => t.slug),
          b.map((t) => t.name),
          b.map((t) => t.description),
          b.map((t) => t.category),
          b.map((t) => t.tags.join(',')),
        ],
      );
      tools += res.rowCount ?? 0;
    }
    for (const b of chunks(data.prompts)) {
      const res = await client.query(
        `INSERT INTO prompts (id, tool_id, title, template)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING`,
        [b.map((p) => p.id), b.map((p) => p.toolId), b.map((p) => p.title), b.map((p) => p.template)],
      );
      prompts += res.rowCount ?? 0;
    }
    for (const b of chunks(data.relations)) {
      const res = await client.query(
        `INSERT INTO tool_relations (source_id, target_id, kind, weight)
         SELECT s, t, k::relation_kind, w FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::real[]) AS r(s, t, k, w)
         ON CONFLICT DO NOTHING`,
        [b.map((r) => r.sourceId), b.map((r) => r.targetId), b.map((r) => r.kind), b.map((r) => r.weight)],
      );
      relations += res.rowCount ?? 0;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  // Fresh statistics (and visibility maps) so the planner uses the indexes from the first query.
  await client.query('VACUUM ANALYZE tools, prompts, tool_relations');
  return { tools, prompts, relations };
}

export async function seed(databaseUrl: string, count: number): Promise<SeedResult> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await insertSeed(client, generateSeed(count));
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function parseSeedArgs(argv: readonly string[]): { count: number } | { usage: string } {
  let count = DEFAULT_SEED_COUNT;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = a.startsWith('--count=') ? a.slice('--count='.length) : a === '--count' ? argv[++i] : undefined;
    if (value === undefined) return { usage: `unknown argument "${a}" (usage: seed [--count N])` };
    if (!/^\d+$/.test(value) || Number(value) > MAX_SEED_COUNT)
      return { usage: `--count: "${value}" is not an integer between 0 and ${MAX_SEED_COUNT}` };
    count = Number(value);
  }
  return { count };
}

if (isMain(import.meta.url)) {
  await runCli('seed', async () => {
    const args = parseSeedArgs(process.argv.slice(2));
    if ('usage' in args) return args;
    const url = process.env.DATABASE_URL;
    if (!url) return { usage: 'DATABASE_URL: missing (required)' };
    const started = Date.now();
    const res = await seed(url, args.count);
    console.log(
      `seed: ${args.count} tools requested; inserted ${res.tools} tools, ${res.prompts} prompts, ${res.relations} relations in ${Date.now() - started} ms`,
    );
    return undefined;
  });
}
