/**
 * Read-through cache in Redis for read endpoints and plans. Values are stored as the JSON body itself so
 * a hit is sent without parse/serialise. Every key is remembered in a set; a write drops them all at once
 * (a Lua script, so the drop is atomic). When Redis is not ready the cache is bypassed, never waited on.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export interface CacheLike {
  getOrCompute(key: string, compute: () => Promise<unknown>): Promise<{ body: string; outcome: CacheOutcome }>;
  invalidateAll(): Promise<void>;
}

const INVALIDATE = `
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys`;

export function cacheKey(kind: string, parts: unknown): string {
  return `${kind}:${createHash('sha1').update(JSON.stringify(parts)).digest('base64url')}`;
}

export class RedisCache implements CacheLike {
  private readonly index: string;
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
    private readonly onError: (err: unknown, op: string) => void = () => undefined,
  ) {
    this.index = `${prefix}cache:index`;
  }

  private ready(): boolean {
    return this.redis.status === 'ready';
  }

  async getOrCompute(key: string, compute: () => Promise<unknown>): Promise<{ body: string; outcome: CacheOutcome }> {
    const full = `${this.prefix}cache:${key}`;
    if (this.ready()) {
      try {
        const cached = await this.redis.get(full);
        if (cached !== null) return { body: cached, outcome: 'hit' };
      } catch (err) {
        this.onError(err, 'get');
        return { body: JSON.stringify(await compute()), outcome: 'bypass' };
      }
      const body = JSON.stringify(await compute());
      // Fire and forget: a failed write only costs a future miss.
      this.redis
        .multi()
        .set(full, body, 'EX', this.ttlSeconds)
        .sadd(this.index, full)
        .expire(this.index, this.ttlSeconds * 2)
        .exec()
        .catch((err: unknown) => this.onError(err, 'set'));
      return { body, outcome: 'miss' };
    }
    return { body: JSON.stringify(await compute()), outcome: 'bypass' };
  }

  async invalidateAll(): Promise<void> {
    if (!this.ready()) return;
    try {
      await this.redis.eval(INVALIDATE, 1, this.index);
    } catch (err) {
      this.onError(err, 'invalidate');
    }
  }
}
