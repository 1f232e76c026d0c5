/**
 * A search page answered from a kept ranking head is byte for byte the page Postgres answers, for every
 * limit and every cursor of a walk through the results; a search is ranked once for all the pages its head
 * holds; what the head cannot answer goes to Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { useEphemeralServices } from '../../testkit/services.js';
import { createPool } from '../src/deps.js';
import {
  searchHead,
  searchTools,
  toolsById,
  type Page,
  type Queryable,
  type ScoredTool,
  type SearchParams,
} from '../src/repo.js';
import { JsonBytes } from '../src/cache.js';
import { PREFIX_ROWS, PrefixCache, searchPage, type SearchSource } from '../src/search-prefix.js';
import { prepareDatabase, testConfig } from './support.js';

const svc = useEphemeralServices();
let pool: pg.Pool;

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 400);
  pool = createPool(testConfig(svc.current.env));
});
afterAll(async () => {
  await pool?.end();
});

const text = (r: Page<ScoredTool> | JsonBytes) =>
  r instanceof JsonBytes ? r.bytes.toString('utf8') : JSON.stringify(r);

/** The service's search source over `db`, counting what it asks Postgres: rankings (page, head) and reads by id. */
function counting(db: Queryable = pool) {
  const n = { page: 0, head: 0, tools: 0, ids: 0 };
  const source: SearchSource = {
    page: (p) => (n.page++, searchTools(db, p)),
    head: (p, rows, withTools) => (n.head++, searchHead(db, p, rows, withTools)),
    tools: (ids) => (n.tools++, (n.ids += ids.length), toolsById(db, ids)),
  };
  return { n, source, rankings: () => n.page + n.head };
}

/** Postgres' pages and the head's pages, walked by cursor. */
async function walk(params: Omit<SearchParams, 'cursor'>, prefixes: PrefixCache, token = 't1') {
  const { source } = counting();
  const expected: string[] = [];
  const got: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 30; i++) {
    const direct = await searchTools(pool, { ...params, cursor });
    expected.push(JSON.stringify(direct));
    got.push(text(await searchPage(prefixes, token, { ...params, cursor }, source)));
    cursor = direct.nextCursor ?? undefined;
    if (!cursor) break;
  }
  return { expected, got };
}

describe('search pages from a ranking head', () => {
  const queries: Omit<SearchParams, 'limit' | 'cursor'>[] = [
    { q: 'github' },
    // Every description says "through its API": more matches than a head holds.
    { q: 'api' },
    { q: 'api', tag: 'create' },
    { q: 'issue' },
    { q: 'create', tag: 'github' },
    { q: 'github issue' },
    { q: 'report', category: 'source-control' },
    { q: 'zebracorn' },
    { q: 'github', tag: 'no-such-tag' },
  ];

  it('answers every page of every limit exactly as Postgres does', async () => {
    for (const query of queries) {
      // One cache across limits (pages of one search share its head) and one per limit (each first page ranks).
      const shared = new PrefixCache();
      for (const limit of [1, 2, 7, 20, 99, 100]) {
        for (const prefixes of [shared, new PrefixCache()]) {
          const { expected, got } = await walk({ ...query, limit }, prefixes);
          expect(got, `${JSON.stringify(query)} limit ${limit}`).toEqual(expected);
        }
      }
    }
  });

  it('ranks a search once for every page its head holds; the rows past the first page are read by id', async () => {
    const prefixes = new PrefixCache();
    const a = counting();
    await searchPage(prefixes, 't1', { q: 'api', limit: 5 }, a.source);
    expect(a.n).toEqual({ page: 0, head: 1, tools: 0, ids: 0 });
    // Another limit: no ranking; only the two rows the first page did not have are read.
    await searchPage(prefixes, 't1', { q: 'api', limit: 7 }, a.source);
    expect(a.n).toEqual({ page: 0, head: 1, tools: 1, ids: 2 });
    for (const limit of [1, 3, 7]) await searchPage(prefixes, 't1', { q: 'api', limit }, a.source);
    expect(a.n).toEqual({ page: 0, head: 1, tools: 1, ids: 2 });
    await searchPage(prefixes, 't1', { q: 'api', limit: 50 }, a.source);
    expect(a.rankings()).toBe(1);
    expect(a.n.ids).toBe(50 - 5);
    // A head shorter than PREFIX_ROWS is every match (a negative search too): no page of it ranks again.
    const b = counting();
    await searchPage(prefixes, 't1', { q: 'zebracorn', limit: 10 }, b.source);
    await searchPage(prefixes, 't1', { q: 'zebracorn', limit: 3 }, b.source);
    expect(b.rankings()).toBe(1);
    // Another generation keeps nothing of the last one.
    await searchPage(prefixes, 't2', { q: 'zebracorn', limit: 3 }, b.source);
    expect(b.rankings()).toBe(2);
  });

  it('a one-off search costs one ranking and reads no tool twice', async () => {
    const c = counting();
    const page = await searchPage(new PrefixCache(), 't1', { q: 'github issue', limit: 20 }, c.source);
    expect(c.n).toEqual({ page: 0, head: 1, tools: 0, ids: 0 });
    expect(text(page)).toBe(JSON.stringify(await searchTools(pool, { q: 'github issue', limit: 20 })));
  });

  it('concurrent first pages of one search share one ranking and each gets its own page', async () => {
    const prefixes = new PrefixCache();
    const c = counting();
    const limits = [3, 20, 1, 100, 7];
    const pages = await Promise.all(limits.map((limit) => searchPage(prefixes, 't1', { q: 'api', limit }, c.source)));
    expect(c.rankings()).toBe(1);
    for (const [i, limit] of limits.entries())
      expect(text(pages[i]!)).toBe(JSON.stringify(await searchTools(pool, { q: 'api', limit })));
  });

  it('a tool deleted after its search was ranked: the page goes to Postgres, which no longer has it', async () => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const prefixes = new PrefixCache();
      const c = counting(client);
      await searchPage(prefixes, 't1', { q: 'github', limit: 2 }, c.source);
      const third = (await searchTools(client, { q: 'github', limit: 3 })).items[2]!;
      await client.query('DELETE FROM tools WHERE id = $1', [third.id]);
      const page = await searchPage(prefixes, 't1', { q: 'github', limit: 3 }, c.source);
      expect(c.n.page).toBe(1);
      expect(text(page)).toBe(JSON.stringify(await searchTools(client, { q: 'github', limit: 3 })));
      expect(text(page)).not.toContain(third.id);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });

  it('sends a cursor that is not a row of the head, and pages past it, to Postgres', async () => {
    const prefixes = new PrefixCache();
    const first = await searchTools(pool, { q: 'api', limit: PREFIX_ROWS });
    expect(first.nextCursor).not.toBeNull();
    const { expected, got } = await walk({ q: 'api', limit: 60 }, prefixes);
    expect(got).toEqual(expected);
    expect(expected.length).toBeGreaterThan(2);
    // A cursor naming a row with another rank is not continued from the head.
    const row = first.items[3]!;
    const forged = Buffer.from(JSON.stringify({ k: 'rank', r: (row.score ?? 0) / 2, id: row.id })).toString(
      'base64url',
    );
    const direct = await searchTools(pool, { q: 'api', limit: 5, cursor: forged });
    const c = counting();
    expect(text(await searchPage(prefixes, 't1', { q: 'api', limit: 5, cursor: forged }, c.source))).toBe(
      JSON.stringify(direct),
    );
    expect(c.n.page).toBe(1);
  });

  it('without a generation token keeps and uses nothing', async () => {
    const prefixes = new PrefixCache();
    const c = counting();
    for (let i = 0; i < 3; i++) await searchPage(prefixes, undefined, { q: 'github', limit: 5 + i }, c.source);
    expect(c.n).toEqual({ page: 3, head: 0, tools: 0, ids: 0 });
  });
});
