import { describe, expect, it } from 'vitest';
import { nulField } from '../src/input-guard.js';

describe('nulField', () => {
  it('names the first field holding a NUL: a value, a key, an array item, at any depth', () => {
    expect(nulField('a\u0000b', 'query.q')).toBe('query.q');
    expect(nulField({ id: 'x\u0000' }, 'params')).toBe('params.id');
    expect(nulField({ a: { b: ['ok', 'n\u0000'] } }, 'body')).toBe('body.a.b[1]');
    expect(nulField({ ['k\u0000']: 'v' }, 'body')).toBe('body');
    const q = Object.assign(Object.create(null) as Record<string, unknown>, { tag: 'a', q: 'b\u0000' });
    expect(nulField(q, 'query')).toBe('query.q');
  });

  it('answers nothing for clean input, including inherited keys, nulls, numbers and no input at all', () => {
    expect(nulField({ id: 'github-create-issue' }, 'params')).toBeUndefined();
    expect(nulField(Object.create({ inherited: 'x\u0000' }) as object, 'query')).toBeUndefined();
    expect(nulField({ a: null, b: 1, c: [true, { d: 'e' }] }, 'body')).toBeUndefined();
    expect(nulField(undefined, 'body')).toBeUndefined();
  });

  it('walks a body nested deeper than a recursive walk could (100,000 and 20,000 levels) without overflowing the stack', () => {
    let deep: unknown = 'end';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(nulField(deep, 'body')).toBeUndefined();
    let bad: unknown = '\u0000';
    for (let i = 0; i < 20_000; i++) bad = { x: bad };
    expect(nulField(bad, 'body')?.startsWith('body.x.x.x')).toBe(true);
  });
});
