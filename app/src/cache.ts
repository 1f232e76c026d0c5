/**
 * Read-through cache in Redis for read endpoints and plans. Values are stored as the JSON body itself so
 * a hit is sent without parse/serialise. Every key is remembered in a set; a write drops them all at once
 * (a Lua script, so the drop is atomic) and tells every replica over pub/sub to drop its in-process copy.
 * When Redis is not ready the cache is bypassed, never waited on.
 */
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export interface CacheLike {
  /** The JSON body (a Buffer when it comes from the in-process layer: no re-encoding per request). */
  getOrCompute(key: string, compute: () => Promise<unknown>): Promise<{ body: string | Buffer; outcome: CacheOutcome }>;
  invalidateAll(): Promise<void>;
}

const INVALIDATE = `
local keys = redis.call('SMEMBERS', KEYS[1])
for i = 1, #keys, 500 do
  redis.call('UNLINK', unpack(keys, i, math.min(i + 499, #keys)))
end
redis.call('DEL', KEYS[1])
return #keys`;

/** Short inputs are used as they are (cheaper than hashing on every read); long ones are hashed. */
export function cacheKey(kind: string, parts: unknown): string {
  const raw = JSON.stringify(parts);
  return raw.length <= 200 ? `${kind}:${raw}` : `${kind}:#${hash('sha1', raw, 'base64url')}`;
}

export interface CacheOptions {
  /** In-process copy of hot entries, in front of Redis; 0 disables it. */
  readonly localTtlMs: number;
  readonly localMaxEntries: number;
  /**
   * A dedicated connection for invalidation messages. Without it (or while it is disconnected) the
   * in-process layer is off: it could miss another replica's write.
   */
  readonly subscriber?: Redis;
}

export class RedisCache implements CacheLike {
  private readonly index: string;
  private readonly channel: string;
  private readonly local = new Map<string, { body: Buffer; expires: number }>();
  /** Bumped by every invalidation, so a result computed before a write is never stored after it. */
  private generation = 0;
  private subscribed = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
    private readonly onError: (err: unknown, op: string) => void = () => undefined,
    private readonly opts: CacheOptions = { localTtlMs: 0, localMaxEntries: 0 },
  ) {
    this.index = `${prefix}cache:index`;
    this.channel = `${prefix}cache:invalidate`;
    const sub = opts.subscriber;
    if (sub && opts.localTtlMs > 0) {
      sub.on('ready', () => {
        sub.subscribe(this.channel).then(
          () => {
            this.subscribed = true;
          },
          (err: unknown) => this.onError(err, 'subscribe'),
        );
      });
      sub.on('message', (channel: string) => {
        if (channel === this.channel) this.dropLocal();
      });
      sub.on('close', () => {
        this.subscribed = false;
        this.dropLocal();
      });
    }
  }

  private ready(): boolean {
    return this.redis.status === 'ready';
  }

  private localOn(): boolean {
    return this.opts.localTtlMs > 0 && this.subscribed && this.ready();
  }

  private dropLocal(): void {
    this.generation++;
    this.local.clear();
  }

  private remember(full: string, body: string, generation: number): void {
    if (!this.localOn() || generation !== this.generation) return;
    if (this.local.size >= this.opts.localMaxEntries) {
      const oldest = this.local.keys().next();
      if (!oldest.done) this.local.delete(oldest.value);
    }
    this.local.set(full, { body: Buffer.from(body, 'utf8'), expires: Date.now() + this.opts.localTtlMs });
  }

  async getOrCompute(key: string, compute: () => Promise<unknown>): Promise<{ body: string | Buffer; outcome: CacheOutcome }> {
    const full = `${this.prefix}cache:${key}`;
    const generation = this.generation;
    if (!this.ready()) return { body: JSON.stringify(await compute()), outcome: 'bypass' };
    if (this.localOn()) {
      const hit = this.local.get(full);
      if (hit && hit.expires > Date.now()) return { body: hit.body, outcome: 'hit' };
    }
    try {
      const cached = await this.redis.get(full);
      if (cached !== null) {
        this.remember(full, cached, generation);
        return { body: cached, outcome: 'hit' };
      }
    } catch (err) {
      this.onError(err, 'get');
      return { body: JSON.stringify(await compute()), outcome: 'bypass' };
    }
    const body = JSON.stringify(await compute());
    if (generation === this.generation) {
      this.remember(full, body, generation);
      // Fire and forget: a failed write only costs a future miss.
      this.redis
        .multi()
        .set(full, body, 'EX', this.ttlSeconds)
        .sadd(this.index, full)
        .expire(this.index, this.ttlSeconds * 2)
        .exec()
        .catch((err: unknown) => this.onError(err, 'set'));
    }
    return { body, outcome: 'miss' };
  }

  async invalidateAll(): Promise<void> {
    this.dropLocal();
    if (!this.ready()) return;
    try {
      await this.redis.eval(INVALIDATE, 1, this.index);
      await this.redis.publish(this.channel, '*');
    } catch (err) {
      this.onError(err, 'invalidate');
    }
  }
}
