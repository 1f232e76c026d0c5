/**
 * Where an uncached search spends its time inside Postgres: EXPLAIN (ANALYZE, BUFFERS) of every distinct
 * query of the latency bench's uncached mix (bench/search-mix.ts), as the service sends it. The SQL is not
 * copied here: repo.searchTools runs against a Queryable that EXPLAINs whatever it is given, so the plans
 * are always those of the code in this checkout.
 *
 * Prints the distribution of planning, execution and JIT time over the mix, the slowest queries with their
 * plans, and how many rows each had to rank.
 * Run: npx tsx bench/search-plans.ts [--tools N] [--limit L] [--top K] [--session "SET jit = off"]
 *      (an ephemeral database seeded with N tools; or --database-url URL for one already seeded)
 */
import pg from 'pg';
import { createEphemeralServices } from '../ci/src/platform/services/ephemeral.js';
import { summarize } from '../ci/src/gate/stats.js';
import { table } from '../ci/src/platform/report/markdown.js';
import { migrate } from '../app/src/migrate.js';
import { seed } from '../app/src/seed.js';
import { searchTools, type Queryable } from '../app/src/repo.js';
import { uncachedSearch, type SearchRequest } from './search-mix.js';

const args = process.argv.slice(2);
const argOf = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const TOOLS = Number(argOf('--tools', '10000'));
const LIMIT = Number(argOf('--limit', '100'));
const TOP = Number(argOf('--top', '5'));
// Each query is measured this many times and its median kept (a shared machine is noisy).
const REPEAT = Number(argOf('--repeat', '5'));
const SESSION = argOf('--session', '');
const GIVEN_URL = argOf('--database-url', '');
const log = (msg: string) => console.error(`[plans] ${msg}`);

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Total Time'?: number;
  Plans?: PlanNode[];
}
interface Explained {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
  JIT?: { Timing: { Total: number } };
}

/** A Queryable that EXPLAINs the statement instead of running it, keeping the last plan. */
function explaining(client: pg.Client, format: 'JSON' | 'TEXT') {
  const seen: { sql: string; values: unknown[]; out: unknown }[] = [];
  const db: Queryable = {
    query: (async (sql: string, values: unknown[]) => {
      const res = await client.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT ${format}) ${sql}`, values);
      seen.push({ sql, values, out: format === 'JSON' ? res.rows[0]['QUERY PLAN'][0] : res.rows });
      return { rows: [], rowCount: 0 };
    }) as unknown as Queryable['query'],
  };
  return { db, seen };
}

/** The rows the scan under the sort produced: what ts_rank ran over. */
function scanned(node: PlanNode): number {
  if (/Scan/.test(node['Node Type']) && !/Bitmap Index/.test(node['Node Type'])) return node['Actual Rows'] ?? 0;
  return Math.max(0, ...(node.Plans ?? []).map(scanned));
}

function shape(node: PlanNode): string {
  const name = node['Index Name'] ? ` ${node['Index Name']}` : '';
  const kids = (node.Plans ?? []).map(shape);
  return `${node['Node Type']}${name}${kids.length ? `(${kids.join(', ')})` : ''}`;
}

async function explainAll(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (SESSION) await client.query(SESSION);
    const distinct = new Map<string, SearchRequest>();
    for (let i = 0; i < 256; i++) {
      const r = uncachedSearch(i);
      distinct.set(`${r.q}|${r.tag}`, { ...r, limit: LIMIT });
    }
    const json = explaining(client, 'JSON');
    const run = (db: Queryable, r: SearchRequest) => searchTools(db, { q: r.q, tag: r.tag, limit: r.limit });
    // Once to warm the caches (catalogue, buffers), then REPEAT measured rounds.
    const all = [...distinct.values()];
    for (const r of all) await run(json.db, r);
    const rounds: Explained[][] = [];
    for (let k = 0; k < REPEAT; k++) {
      json.seen.length = 0;
      for (const r of all) await run(json.db, r);
      rounds.push(json.seen.map((x) => x.out as Explained));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const results = all.map((r, i) => {
      const e = rounds.map((round) => round[i]!);
      return {
        r,
        planning: median(e.map((x) => x['Planning Time'])),
        execution: median(e.map((x) => x['Execution Time'])),
        jit: median(e.map((x) => x.JIT?.Timing.Total ?? 0)),
        ranked: scanned(e[0]!.Plan),
        shape: shape(e[0]!.Plan),
      };
    });
    const text = explaining(client, 'TEXT');
    const slowest = [...results].sort((a, b) => b.execution + b.planning - (a.execution + a.planning)).slice(0, TOP);
    for (const s of slowest) await run(text.db, s.r);
    return {
      results,
      slowest,
      texts: text.seen.map((x) => (x.out as { 'QUERY PLAN': string }[]).map((l) => l['QUERY PLAN']).join('\n')),
    };
  } finally {
    await client.end();
  }
}

const services = GIVEN_URL ? undefined : await createEphemeralServices({ services: ['postgres'] });
try {
  const url = GIVEN_URL || services!.env.DATABASE_URL!;
  if (services) {
    log(`migrating and seeding ${TOOLS} tools…`);
    await migrate(url);
    await seed(url, TOOLS);
  }
  const { results, slowest, texts } = await explainAll(url);
  const f = (v: number | undefined) => (v === undefined ? 'n/a' : v.toFixed(2));
  const dist = (name: string, xs: number[]) => {
    const s = summarize(xs);
    return [name, f(s?.p50), f(s?.p95), f(s?.max), f(xs.reduce((a, b) => a + b, 0) / xs.length)];
  };
  console.log(
    `\n## EXPLAIN ANALYZE over the ${results.length} distinct uncached searches (${GIVEN_URL ? 'given database' : `${TOOLS} tools`}, limit ${LIMIT}, median of ${REPEAT} runs each${SESSION ? `, ${SESSION}` : ''})\n`,
  );
  console.log(
    table(
      ['ms per query', 'p50', 'p95', 'max', 'mean'],
      [
        dist(
          'planning',
          results.map((x) => x.planning),
        ),
        dist(
          'execution',
          results.map((x) => x.execution),
        ),
        dist(
          'of which JIT',
          results.map((x) => x.jit),
        ),
        dist(
          'rows ranked',
          results.map((x) => x.ranked),
        ),
      ],
    ),
  );
  const shapes = new Map<string, number>();
  for (const x of results) shapes.set(x.shape, (shapes.get(x.shape) ?? 0) + 1);
  console.log('\n## Plan shapes\n');
  console.log(
    table(
      ['plan', 'queries'],
      [...shapes].sort((a, b) => b[1] - a[1]),
    ),
  );
  console.log(`\n## The ${TOP} slowest\n`);
  console.log(
    table(
      ['q', 'tag', 'planning ms', 'execution ms', 'JIT ms', 'rows ranked'],
      slowest.map((s) => [s.r.q, s.r.tag, f(s.planning), f(s.execution), f(s.jit), s.ranked]),
    ),
  );
  for (const [i, t] of texts.entries())
    console.log(`\n### ${slowest[i]!.r.q} / tag ${slowest[i]!.r.tag}\n\n\`\`\`\n${t}\n\`\`\``);
} finally {
  await services?.dispose();
}
