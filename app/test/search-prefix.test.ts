/** The ranking-head cache stays within its bounds as rows are read into it, oldest out first. */
import { describe, expect, it } from 'vitest';
import { PrefixCache, toPrefix, type Prefix } from '../src/search-prefix.js';
import type { HeadRow } from '../src/repo.js';

const head = (n: number, id = 'a'): HeadRow[] =>
  Array.from({ length: n }, (_, i) => ({ id: `${id}${i}`, rank: 1 - i / 1000 }));

describe('PrefixCache bounds', () => {
  it('counts the rows read into a kept head and evicts the oldest head past maxChars', () => {
    const cache = new PrefixCache({ maxEntries: 10, maxChars: 100 });
    const a = toPrefix(head(5, 'a'));
    const b = toPrefix(head(5, 'b'));
    cache.set('t', 'A', a);
    cache.set('t', 'B', b);
    cache.fill('A', a, 0, 'x'.repeat(60));
    expect(cache.get('t', 'A')).toBe(a);
    // B grows past the bound: A, the oldest, goes; B, the one growing, stays.
    cache.fill('B', b, 0, 'y'.repeat(60));
    expect(cache.get('t', 'A')).toBeUndefined();
    expect(cache.get('t', 'B')).toBe(b);
    expect(b.items[0]).toBe('y'.repeat(60));
  });

  it('a head no longer kept still answers the request holding it, and is not counted', () => {
    const cache = new PrefixCache({ maxEntries: 2, maxChars: 100 });
    const [a, b, c] = ['a', 'b', 'c'].map((id) => toPrefix(head(3, id))) as [Prefix, Prefix, Prefix];
    cache.set('t', 'A', a);
    cache.set('t', 'B', b);
    cache.set('t', 'C', c);
    expect(cache.get('t', 'A')).toBeUndefined();
    cache.fill('A', a, 1, 'z'.repeat(60));
    expect(a.items[1]).toBe('z'.repeat(60));
    // Had A's 60 characters been counted, B's 60 would pass the bound and push C out.
    cache.fill('B', b, 0, 'w'.repeat(60));
    expect(cache.get('t', 'B')).toBe(b);
    expect(cache.get('t', 'C')).toBe(c);
  });

  it('a head that fits no bound is not kept; a new generation keeps nothing', () => {
    const cache = new PrefixCache({ maxEntries: 2, maxChars: 10 });
    const big = toPrefix([{ id: 'x', rank: 1, tool: { id: 'x'.repeat(20) } as never }]);
    expect(big.bytes).toBeGreaterThan(10);
    cache.set('t', 'X', big);
    expect(cache.get('t', 'X')).toBeUndefined();
    cache.set('t', 'S', toPrefix(head(2)));
    expect(cache.get('t2', 'S')).toBeUndefined();
  });
});
