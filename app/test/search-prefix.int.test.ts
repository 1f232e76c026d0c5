/**
 * A search page answered from a kept ranking prefix is byte for byte the page Postgres answers, for every
 * limit and every cursor of a walk through the results; what the prefix cannot answer goes to Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { useEphemeralServices } from '../../testkit/services.js';
import { createPool } from '../src/deps.js';
import { searchTools, type Page, type ScoredTool, type SearchParams } from '../src/repo.js';
import { JsonBytes } from '../src/cache.js';
import { PREFIX_ROWS, PrefixCache, searchPage } from '../src/search-prefix.js';
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

/** Postgres' pages and the prefix's pages, walked by cursor, with how many queries the prefix side ran. */
async function walk(params: Omit<SearchParams, 'cursor'>, prefixes: PrefixCache, token = 't1') {
  let sql = 0;
  const run = (p: SearchParams) => {
    sql++;
    return searchTools(pool, p);
  };
  const expected: string[] = [];
  const got: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 30; i++) {
    const direct = await searchTools(pool, { ...params, cursor });
    expected.push(JSON.stringify(direct));
    got.push(text(await searchPage(prefixes, token, { ...params, cursor }, run)));
    cursor = direct.nextCursor ?? undefined;
    if (!cursor) break;
  }
  return { expected, got, sql };
}

describe('search pages from a ranking prefix', () => {
  const queries: Omit<SearchParams, 'limit' | 'cursor'>[] = [
    { q: 'github' },
    // Every description says "through its API": more matches than a prefix holds.
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
    const prefixes = new PrefixCache();
    for (const query of queries) {
      for (const limit of [1, 2, 7, 20, 99, 100]) {
        const { expected, got } = await walk({ ...query, limit }, prefixes);
        expect(got, `${JSON.stringify(query)} limit ${limit}`).toEqual(expected);
      }
    }
  });

  it('ranks a search once for its pages after the first; a one-off search costs one query', async () => {
    const prefixes = new PrefixCache();
    const counting = () => {
      const c = { n: 0 };
      return { c, run: (p: SearchParams) => (c.n++, searchTools(pool, p)) };
    };
    const a = counting();
    await searchPage(prefixes, 't1', { q: 'github', limit: 5 }, a.run);
    expect(a.c.n).toBe(1);
    // The second distinct page loads the prefix once; later pages of any limit need no query.
    await searchPage(prefixes, 't1', { q: 'github', limit: 7 }, a.run);
    expect(a.c.n).toBe(2);
    for (const limit of [1, 3, 50, 100]) await searchPage(prefixes, 't1', { q: 'github', limit }, a.run);
    expect(a.c.n).toBe(2);
    // A page that came back short was every match: kept at once (a negative search too).
    const b = counting();
    await searchPage(prefixes, 't1', { q: 'zebracorn', limit: 10 }, b.run);
    await searchPage(prefixes, 't1', { q: 'zebracorn', limit: 3 }, b.run);
    expect(b.c.n).toBe(1);
    // Another generation keeps nothing of the last one.
    await searchPage(prefixes, 't2', { q: 'zebracorn', limit: 3 }, b.run);
    expect(b.c.n).toBe(2);
  });

  it('sends a cursor that is not a row of the prefix, and pages past it, to Postgres', async () => {
    const prefixes = new PrefixCache();
    const first = await searchTools(pool, { q: 'api', limit: PREFIX_ROWS });
    expect(first.nextCursor).not.toBeNull();
    const { expected, got } = await walk({ q: 'api', limit: 60 }, prefixes);
    expect(got).toEqual(expected);
    expect(expected.length).toBeGreaterThan(2);
    // A cursor naming a row with another rank is not continued from the prefix.
    const row = first.items[3]!;
    const forged = Buffer.from(JSON.stringify({ k: 'rank', r: (row.score ?? 0) / 2, id: row.id })).toString(
      'base64url',
    );
    const direct = await searchTools(pool, { q: 'api', limit: 5, cursor: forged });
    expect(
      text(await searchPage(prefixes, 't1', { q: 'api', limit: 5, cursor: forged }, (p) => searchTools(pool, p))),
    ).toBe(JSON.stringify(direct));
  });

  it('without a generation token keeps and uses nothing', async () => {
    const prefixes = new PrefixCache();
    let n = 0;
    const run = (p: SearchParams) => (n++, searchTools(pool, p));
    for (let i = 0; i < 3; i++) await searchPage(prefixes, undefined, { q: 'github', limit: 5 + i }, run);
    expect(n).toBe(3);
  });
});
