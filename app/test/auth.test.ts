import type * as Crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { apiKeyChecker, presentedKey } from '../src/auth.js';

// Every comparison the checker makes, with the sizes compared: the constant-time promise rests on them.
const compared = vi.hoisted(() => [] as number[][]);
vi.mock('node:crypto', async (original) => {
  const crypto = await original<typeof Crypto>();
  return {
    ...crypto,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
      compared.push([a.byteLength, b.byteLength]);
      return crypto.timingSafeEqual(a, b);
    },
  };
});

const A = 'aaaaaaaaaaaaaaaa-first-key';
const B = 'bbbbbbbbbbbbbbbb';
const C = 'clé-non-ascii-ключ-0123456789';

describe('apiKeyChecker', () => {
  const check = apiKeyChecker([A, B, C]);

  it('names each configured key by its position, whatever its length or alphabet', () => {
    expect(check(A)).toBe('key-0');
    expect(check(B)).toBe('key-1');
    expect(check(C)).toBe('key-2');
  });

  it('refuses prefixes, extensions and near misses of every key', () => {
    for (const k of [A, B, C]) {
      expect(check(k.slice(0, -1))).toBeUndefined();
      expect(check(`${k}x`)).toBeUndefined();
      expect(check(`${k}\u0000`)).toBeUndefined();
      expect(check(`x${k.slice(1)}`)).toBeUndefined();
      expect(check(k.toUpperCase())).toBeUndefined();
    }
    // A shorter key padded with what the padding is made of is still not that key.
    expect(check(`${B}\u0000\u0000`)).toBeUndefined();
  });

  it('refuses a key longer than every configured one that starts with one of them', () => {
    expect(check(A + 'z'.repeat(5000))).toBeUndefined();
    expect(check(C + 'é'.repeat(10))).toBeUndefined();
  });

  it('a refused or longer key leaves nothing behind for the next check', () => {
    expect(check(`${A}extra`)).toBeUndefined();
    expect(check(B)).toBe('key-1');
    expect(check('z')).toBeUndefined();
    expect(check(A)).toBe('key-0');
  });

  it('refuses nothing presented, an empty key, and works with a single key', () => {
    expect(check(undefined)).toBeUndefined();
    expect(check('')).toBeUndefined();
    const one = apiKeyChecker([B]);
    expect(one(B)).toBe('key-0');
    expect(one(A)).toBeUndefined();
  });

  it('with the same key configured twice, the first position is the id', () => {
    expect(apiKeyChecker([B, B])(B)).toBe('key-0');
  });

  it('compares with every key, at one size, whether the first, the last or no key matches', () => {
    const size = Math.max(...[A, B, C].map((k) => Buffer.byteLength(k)));
    for (const presented of [A, C, B, 'wrong-key-wrong-key', A + 'z'.repeat(300), 'é']) {
      compared.length = 0;
      check(presented);
      expect(compared).toEqual([
        [size, size],
        [size, size],
        [size, size],
      ]);
    }
  });

  it('two checkers do not share state', () => {
    const other = apiKeyChecker([C]);
    expect(other(C)).toBe('key-0');
    expect(check(C)).toBe('key-2');
    expect(other(A)).toBeUndefined();
  });
});

describe('presentedKey', () => {
  it('takes x-api-key first, else a Bearer token', () => {
    expect(presentedKey({ 'x-api-key': A, authorization: `Bearer ${B}` })).toBe(A);
    expect(presentedKey({ authorization: `Bearer ${B}` })).toBe(B);
    expect(presentedKey({ authorization: `bearer   ${B}  ` })).toBe(B);
    expect(presentedKey({ authorization: `Basic ${B}` })).toBeUndefined();
    expect(presentedKey({ 'x-api-key': '' })).toBeUndefined();
    expect(presentedKey({ 'x-api-key': [A, B] })).toBeUndefined();
  });
});
