/**
 * Read-through cache in Redis for read endpoints and plans, with a short in-process layer in front.
 * Values are stored as the JSON body itself, as bytes end to end: a body is encoded to UTF-8 once when it
 * is computed, and that Buffer is what Redis stores, the in-process layer keeps and the response sends (a
 * Redis hit is read as a Buffer, never decoded to a string and encoded again).
 * Identical lookups in flight share one computation (per key and generation), so a burst of requests for a
 * key that just expired or was invalidated costs Postgres one query, not one per request.
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

/** `coalesced`: the value was being computed for an identical request already, and this one waited for it. */
export type CacheOutcome = 'hit' | 'miss' | 'coalesced' | 'bypass';

export interface Cached {
  /** The JSON body as UTF-8 bytes. */
  readonly body: Buffer;
  readonly outcome: CacheOutcome;
}

/**
 * Computes a value on a miss. It is given the generation token the lookup is under (undefined when the
 * cache is bypassed), so whatever it keeps of its own (search-prefix.ts) follows the same rules.
 */
export type Compute = (token: string | undefined) => Promise<unknown>;

export interface CacheLike {
  getOrCompute(key: string, compute: Compute): Promise<Cached>;
  /**
   * The body getOrCompute would answer as a `hit` from memory right now, or undefined (then call
   * getOrCompute). Synchronous: a read served from memory needs no promise.
   */
  peek(key: string): Buffer | undefined;
}

/** A value that is already its JSON body (bytes), sent and stored as it is. */
export class JsonBytes {
  constructor(readonly bytes: Buffer) {}
}

const encode = (value: unknown) =>
  value instanceof JsonBytes ? value.bytes : Buffer.from(JSON.stringify(value), 'utf8');

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
  /** Lookups in flight, by generation and key: identical requests join the first one. */
  private readonly inFlight = new Map<string, Promise<Cached>>();

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

  private remember(key: string, token: string, body: Buffer): void {
    if (this.opts.localTtlMs <= 0) return;
    if (this.local.size >= this.opts.localMaxEntries) {
      const oldest = this.local.keys().next();
      if (!oldest.done) this.local.delete(oldest.value);
    }
    this.local.set(key, { token, body, expires: Date.now() + this.opts.localTtlMs });
  }

  /** The token lookups are under now: undefined when the cache must be bypassed (see the top of the file). */
  private token(): string | undefined {
    const token = this.generation.current();
    return token !== undefined && this.redis.status === 'ready' ? token : undefined;
  }

  private localHit(key: string, token: string): Buffer | undefined {
    const hit = this.local.get(key);
    return hit && hit.token === token && hit.expires > Date.now() ? hit.body : undefined;
  }

  peek(key: string): Buffer | undefined {
    const token = this.token();
    return token === undefined ? undefined : this.localHit(key, token);
  }

  async getOrCompute(key: string, compute: Compute): Promise<Cached> {
    // Taken before computing: a value computed while a write commits is stored under the older token.
    const token = this.token();
    if (token === undefined) return { body: encode(await compute(undefined)), outcome: 'bypass' };
    const hit = this.localHit(key, token);
    if (hit) return { body: hit, outcome: 'hit' };
    // Joining is only ever within one generation: a request that arrives after a write this instance
    // committed looks under the new token, so it never waits for a value computed before the write.
    const flightKey = `${token}:${key}`;
    const joined = this.inFlight.get(flightKey);
    if (joined) return joined.then((r) => (r.outcome === 'bypass' ? r : { body: r.body, outcome: 'coalesced' }));
    const lookup = this.lookup(key, token, compute).finally(() => this.inFlight.delete(flightKey));
    this.inFlight.set(flightKey, lookup);
    return lookup;
  }

  private async lookup(key: string, token: string, compute: Compute): Promise<Cached> {
    const full = `${this.prefix}cache:${token}:${key}`;
    try {
      const cached = await this.redis.getBuffer(full);
      if (cached !== null) {
        this.remember(key, token, cached);
        return { body: cached, outcome: 'hit' };
      }
    } catch (err) {
      this.onError(err, 'get');
      return { body: encode(await compute(undefined)), outcome: 'bypass' };
    }
    const body = encode(await compute(token));
    this.remember(key, token, body);
    // Fire and forget: a failed write only costs a future miss.
    this.redis.set(full, body, 'EX', this.ttlSeconds).catch((err: unknown) => this.onError(err, 'set'));
    return { body, outcome: 'miss' };
  }
}
