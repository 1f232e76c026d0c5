/**
 * The legacy invalidation window, on a fake clock and a fake Redis that counts drops: a write drops at
 * once, then every `everyMs` until `windowMs` after the last write; drain() waits for the window and no
 * longer; stop() ends it. The real protocol against Redis and old-format keys: legacy-invalidation.int.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LegacyInvalidation } from '../src/legacy-invalidation.js';

const WINDOW = { everyMs: 200, windowMs: 1_000 };

function fakeRedis() {
  const calls: string[] = [];
  return {
    calls,
    status: 'ready',
    eval: () => {
      calls.push('drop');
      return Promise.resolve(0);
    },
    publish: () => {
      calls.push('publish');
      return Promise.resolve(0);
    },
  };
}

describe('LegacyInvalidation window', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());
  const make = (redis = fakeRedis()) => ({
    redis,
    legacy: new LegacyInvalidation(redis as never, 'p:', undefined, WINDOW, () => Date.now()),
  });
  const drops = (calls: string[]) => calls.filter((c) => c === 'drop').length;

  it('drops before the write answers, then every everyMs until windowMs after it, then stops', async () => {
    const { redis, legacy } = make();
    await legacy.afterWrite();
    expect(redis.calls).toEqual(['drop', 'publish']);
    await vi.advanceTimersByTimeAsync(999);
    // Ticks at 200, 400, 600, 800: still inside the window.
    expect(drops(redis.calls)).toBe(5);
    await vi.advanceTimersByTimeAsync(1);
    // The tick at 1000 is the last one (the deadline), and nothing follows it.
    expect(drops(redis.calls)).toBe(6);
    expect(legacy.open()).toBe(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(drops(redis.calls)).toBe(6);
  });

  it('a later write (or token change) extends the window from its own time', async () => {
    const { redis, legacy } = make();
    await legacy.afterWrite();
    await vi.advanceTimersByTimeAsync(700);
    await legacy.afterWrite();
    await vi.advanceTimersByTimeAsync(900);
    expect(legacy.open()).toBe(true);
    await vi.advanceTimersByTimeAsync(200);
    expect(legacy.open()).toBe(false);
    // 2 immediate drops + ticks at 200..1800 (9).
    expect(drops(redis.calls)).toBe(11);
  });

  it('drain() resolves when the window is over, not before; at once when none is open', async () => {
    const { legacy } = make();
    let drained = false;
    void legacy.drain().then(() => (drained = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toBe(true);
    await legacy.afterWrite();
    drained = false;
    void legacy.drain().then(() => (drained = true));
    await vi.advanceTimersByTimeAsync(800);
    expect(drained).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(drained).toBe(true);
  });

  it('stop() ends the window, releases drain() and ignores later writes', async () => {
    const { redis, legacy } = make();
    await legacy.afterWrite();
    let drained = false;
    void legacy.drain().then(() => (drained = true));
    legacy.stop();
    await vi.advanceTimersByTimeAsync(0);
    expect(drained).toBe(true);
    await legacy.afterWrite();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(drops(redis.calls)).toBe(1);
  });

  it('Redis not ready: no command is sent, the window still ends', async () => {
    const redis = { ...fakeRedis(), status: 'reconnecting' };
    const { legacy } = make(redis);
    await legacy.afterWrite();
    await vi.advanceTimersByTimeAsync(1_200);
    expect(redis.calls).toEqual([]);
    expect(legacy.open()).toBe(false);
  });
});
