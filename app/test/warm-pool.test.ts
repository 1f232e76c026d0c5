/** warmPool: opens the connections at once, returns every one it got, and never throws (a failure is logged). */
import { describe, expect, it } from 'vitest';
import { warmPool } from '../src/deps.js';

function fakePool(failAfter = Infinity) {
  let open = 0;
  let maxOpen = 0;
  let released = 0;
  let calls = 0;
  return {
    stats: () => ({ maxOpen, released, calls, open }),
    connect: () => {
      calls++;
      if (calls > failAfter) return Promise.reject(new Error('timeout exceeded when trying to connect'));
      open++;
      maxOpen = Math.max(maxOpen, open);
      return Promise.resolve({
        release: () => {
          open--;
          released++;
        },
      });
    },
  };
}

describe('warmPool', () => {
  it('holds `count` connections at the same time (so the pool opens that many), then releases them all', async () => {
    const pool = fakePool();
    expect(await warmPool(pool as never, 4)).toBe(4);
    expect(pool.stats()).toEqual({ maxOpen: 4, released: 4, calls: 4, open: 0 });
  });

  it('a connection that cannot be opened is logged, not thrown; the others are still returned', async () => {
    const pool = fakePool(2);
    const warned: string[] = [];
    const warm = await warmPool(pool as never, 4, { warn: ((_o: unknown, msg: string) => warned.push(msg)) as never });
    expect(warm).toBe(2);
    expect(pool.stats()).toMatchObject({ released: 2, open: 0 });
    expect(warned).toEqual(['postgres: 2 of 4 connections not opened before listening']);
  });
});
