import { describe, expect, it } from 'vitest';
import { CacheGeneration } from '../src/generation.js';
import {
  judgeSchema,
  schemaReasons,
  REQUIRED_COLUMNS,
  REQUIRED_TRIGGERS,
  REQUIRED_UNIQUE,
  type CatalogFacts,
} from '../src/schema-state.js';
import { leaseSize, LEASE_SHARE } from '../src/rate-limit-store.js';

/** A fake Postgres whose answers the test releases one by one. */
function fakeDb() {
  const pending: { resolve: (token: string) => void; reject: (err: Error) => void }[] = [];
  return {
    pending,
    query: () =>
      new Promise((resolve, reject) => {
        pending.push({ resolve: (token) => resolve({ rows: [{ token }] }), reject });
      }),
  };
}

describe('CacheGeneration', () => {
  it('a poll that started before this instance adopted its own write cannot bring the old token back', async () => {
    const db = fakeDb();
    let now = 0;
    const gen = new CacheGeneration(
      db as never,
      { pollMs: 200, maxAgeMs: 800 },
      () => undefined,
      () => now,
    );
    const first = gen.poll();
    db.pending.shift()!.resolve('t0');
    await first;
    expect(gen.current()).toBe('t0');
    const late = gen.poll(); // reads t0 ...
    gen.observe('t1'); // ... while our write commits t1
    db.pending.shift()!.resolve('t0');
    await late;
    expect(gen.current()).toBe('t1');
    now = 100;
    const next = gen.poll();
    db.pending.shift()!.resolve('t2'); // another instance wrote
    await next;
    expect(gen.current()).toBe('t2');
  });

  it('a token not confirmed within maxAgeMs is not used (Postgres unreachable: bypass the cache)', async () => {
    const db = fakeDb();
    let now = 1_000;
    const changes: number[] = [];
    const gen = new CacheGeneration(
      db as never,
      { pollMs: 200, maxAgeMs: 800 },
      () => changes.push(now),
      () => now,
    );
    expect(gen.current()).toBeUndefined();
    const p = gen.poll();
    db.pending.shift()!.resolve('t0');
    await p;
    now = 1_799;
    expect(gen.current()).toBe('t0');
    const failing = gen.poll();
    db.pending.shift()!.reject(new Error('Connection terminated unexpectedly'));
    expect(await failing).toBe(false);
    now = 1_800;
    expect(gen.current()).toBeUndefined();
    // Confirmation counts from when the query started, not when it answered.
    const slow = gen.poll();
    now = 2_700;
    db.pending.shift()!.resolve('t0');
    await slow;
    expect(gen.current()).toBeUndefined();
    expect(changes).toEqual([1_000]);
  });
});

const allFacts = (): CatalogFacts => ({
  columns: Object.entries(REQUIRED_COLUMNS).flatMap(([table, cols]) => cols.map((column) => ({ table, column }))),
  uniques: REQUIRED_UNIQUE.map(([table, columns]) => ({ table, columns: [...columns].reverse() })),
  triggers: REQUIRED_TRIGGERS.map(([table, name]) => ({ table, name })),
});

describe('judgeSchema', () => {
  const known = ['1_a', '2_b', '3_c'];
  it('empty, behind, current, newer', () => {
    expect(schemaReasons(judgeSchema([], known, undefined))).toEqual(['schema at none, expected 3_c']);
    const behind = judgeSchema(['1_a', '2_b'], known, allFacts());
    expect(behind).toMatchObject({ ok: false, at: '2_b', missing: ['3_c'], problems: [] });
    expect(judgeSchema(['1_a', '2_b', '3_c'], known, allFacts())).toMatchObject({ ok: true, at: '3_c', newer: [] });
    expect(judgeSchema(['1_a', '2_b', '3_c', '4_later'], known, allFacts())).toMatchObject({
      ok: true,
      at: '4_later',
      newer: ['4_later'],
    });
  });
  it('drift: a missing column, unique index or trigger is named', () => {
    const facts = allFacts();
    const drifted: CatalogFacts = {
      columns: facts.columns.filter((c) => !(c.table === 'tools' && c.column === 'slug')),
      uniques: facts.uniques.filter((u) => !(u.table === 'tool_relations')),
      triggers: facts.triggers.filter((t) => t.name !== 'prompts_cache_generation'),
    };
    expect(judgeSchema(known, known, drifted).problems).toEqual([
      'tools.slug is missing',
      'no unique index on tool_relations (source_id, target_id, kind)',
      'trigger prompts_cache_generation on prompts is missing',
    ]);
  });
});

describe('leaseSize', () => {
  it('never more than a share of what is left, follows demand, at least the queue', () => {
    expect(leaseSize(1_000, 0, 1, 1_000)).toBe(1_000 * LEASE_SHARE);
    expect(leaseSize(1_000, 0, 1, 3)).toBe(3);
    expect(leaseSize(120, 112, 1, 50)).toBe(1);
    expect(leaseSize(120, 120, 1, 50)).toBe(1);
    expect(leaseSize(120, 0, 7, 0)).toBe(7);
  });
});
