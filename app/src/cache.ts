/**
 * Read-through cache in Redis for read endpoints and plans, with a short in-process layer in front.
 * Values are stored as the JSON body itself so a hit is sent without parse/serialise.
 *
 * Invalidation is by generation, not by deletion: every key carries the cache generation token that
 * Postgres changes in the same transaction as every write (see generation.ts). An instance that knows
 * the new token simply looks under new keys; the old entries are never read again and expire by TTL.
 * Nothing has to reach Redis for a write to invalidate, so a write while Redis is unreachable, or Redis
 * coming back with the entries it had, cannot serve a value from before the write. When no token is
 * confirmed recently (Postgres unreachable from here), or Redis is not ready, the cache is bypassed
 * (never waited on).
 */
import { hash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { GenerationSource } from './generation.js';

export type CacheOutcome = 'hit' | 'miss' | 'bypass';

export interface CacheLike {
  /** The JSON body (a Buffer when it comes from the in-process layer: no re-encoding per request). */
  getOrCompute(key: string, compute: () => Promise<unknown>): Promise<{ body: string | Buffer; outcome: CacheOutcome }>;
}

/** Short inputs are used as they are (cheaper than hashing on every read); long ones are hashed. */
export function cacheKey(kind: string, parts: unknown): string {
  const raw = JSON.stringify(parts);
  return raw.length <= 200 ? `${kind}:${raw}` : `${kind}:#${hash('sha1', raw, 'base64url')}`;
}

export interface CacheOptions {
  /** In-process copy of hot entries, in front of Redis; 0 disables it. */
  readonly localTtlMs: number;
  readonly localMaxEntries: number;
}

interface LocalEntry {
  readonly token: string;
  readonly body: Buffer;
  readonly expires: number;
}

export class RedisCache implements CacheLike {
  private readonly local = new Map<string, LocalEntry>();

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSeconds: number,
    private readonly generation: GenerationSource,
    private readonly onError: (err: unknown, op: string) => void = () => undefined,
    private readonly opts: CacheOptions = { localTtlMs: 0, localMaxEntries: 0 },
  ) {}

  /** The generation changed: entries of the old one can never be served, so free them now. */
  dropLocal(): void {
    this.local.clear();
  }

  private remember(key: string, token: string, body: string): void {
    if (this.opts.localTtlMs <= 0) return;
    if (this.local.size >= this.opts.localMaxEntries) {
      const oldest = this.local.keys().next();
      if (!oldest.done) this.local.delete(oldest.value);
    }
    this.local.set(key, { token, body: Buffer.from(body, 'utf8'), expires: Date.now() + this.opts.localTtlMs });
  }

  async getOrCompute(
    key: string,
    compute: () => Promise<unknown>,
  ): Promise<{ body: string | Buffer; outcome: CacheOutcome }> {
    // Taken before computing: a value computed while a write commits is stored under the older token.
    const token = this.generation.current();
    if (token === undefined || this.redis.status !== 'ready')
      return { body: JSON.stringify(await compute()), outcome: 'bypass' };
    const hit = this.local.get(key);
    if (hit && hit.token === token && hit.expires > Date.now()) return { body: hit.body, outcome: 'hit' };
    const full = `${this.prefix}cache:${token}:${key}`;
    try {
      const cached = await this.redis.get(full);
      if (cached !== null) {
        this.remember(key, token, cached);
        return { body: cached, outcome: 'hit' };
      }
    } catch (err) {
      this.onError(err, 'get');
      return { body: JSON.stringify(await compute()), outcome: 'bypass' };
    }
    const body = JSON.stringify(await compute());
    this.remember(key, token, body);
    // Fire and forget: a failed write only costs a future miss.
    this.redis.set(full, body, 'EX', this.ttlSeconds).catch((err: unknown) => this.onError(err, 'set'));
    return { body, outcome: 'miss' };
  }
}
