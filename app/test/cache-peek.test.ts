import type { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { RedisCache } from '../src/cache.js';

/** An in-memory stand-in for the two Redis commands the cache uses, with a status that can go down. */
function fakeRedis() {
  const store = new Map<string, Buffer>();
  return {
    status: 'ready',
    getBuffer: async (k: string) => store.get(k) ?? null,
    set: async (k: string, v: Buffer) => void store.set(k, v),
  };
}

function setup() {
  const redis = fakeRedis();
  let token: string | undefined = 'g1';
  const cache = new RedisCache(redis as unknown as Redis, 'p:', 60, { current: () => token }, undefined, {
    localTtlMs: 1_000,
    localMaxEntries: 10,
  });
  const compute = vi.fn(async () => ({ n: compute.mock.calls.length }));
  return { redis, cache, compute, setToken: (t: string | undefined) => (token = t) };
}

describe('RedisCache.peek (the synchronous read of the in-process layer)', () => {
  it('answers the body a lookup would answer as a hit, and nothing before the first lookup', async () => {
    const { cache, compute } = setup();
    expect(cache.peek('k')).toBeUndefined();
    const first = await cache.getOrCompute('k', compute);
    expect(first.outcome).toBe('miss');
    expect(cache.peek('k')).toBe(first.body);
    const second = await cache.getOrCompute('k', compute);
    expect(second).toEqual({ body: first.body, outcome: 'hit' });
    expect(compute).toHaveBeenCalledTimes(1);
  });

  it('answers nothing under a new generation, without a confirmed token, or while Redis is not ready', async () => {
    const { cache, compute, redis, setToken } = setup();
    await cache.getOrCompute('k', compute);
    setToken('g2');
    expect(cache.peek('k')).toBeUndefined();
    expect((await cache.getOrCompute('k', compute)).outcome).toBe('miss');
    setToken(undefined);
    expect(cache.peek('k')).toBeUndefined();
    expect((await cache.getOrCompute('k', compute)).outcome).toBe('bypass');
    setToken('g2');
    redis.status = 'reconnecting';
    expect(cache.peek('k')).toBeUndefined();
    expect((await cache.getOrCompute('k', compute)).outcome).toBe('bypass');
    redis.status = 'ready';
    expect(cache.peek('k')).toBeDefined();
  });

  it('answers nothing once the in-process entry has expired', async () => {
    vi.useFakeTimers({ now: 0 });
    try {
      const { cache, compute } = setup();
      await cache.getOrCompute('k', compute);
      vi.setSystemTime(999);
      expect(cache.peek('k')).toBeDefined();
      vi.setSystemTime(1_000);
      expect(cache.peek('k')).toBeUndefined();
      // Still in Redis: the lookup is a hit from there, not a recomputation.
      expect((await cache.getOrCompute('k', compute)).outcome).toBe('hit');
      expect(compute).toHaveBeenCalledTimes(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
