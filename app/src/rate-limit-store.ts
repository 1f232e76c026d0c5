/**
 * A @fastify/rate-limit store that counts in Redis (shared by every replica) and falls back to a
 * per-process window when Redis is not ready or a command fails, so an outage never blocks traffic.
 * One counter per client key across all routes: RATE_LIMIT_MAX is per key per window.
 *
 * A Redis round trip per request cost about a third of the CPU of a cached read, so far from the limit
 * a process counts locally and adds its count to Redis in batches (every FLUSH_MS); once the known
 * total passes EXACT_FROM × max, every request goes to Redis, so the limit itself is enforced exactly.
 * The overshoot far from the limit is bounded by what replicas serve in one flush interval.
 */
import type { Redis } from 'ioredis';

type Result = { current: number; ttl: number };
type Callback = (err: Error | null, res?: Result) => void;

export const FLUSH_MS = 50;
export const EXACT_FROM = 0.5;

const LUA = `
local current = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {current, ttl}`;

export class LocalWindows {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();
  constructor(private readonly maxKeys = 10_000) {}

  incr(key: string, windowMs: number, now = Date.now()): Result {
    let w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      if (this.windows.size >= this.maxKeys) this.sweep(now);
      w = { count: 0, resetAt: now + windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { current: w.count, ttl: w.resetAt - now };
  }

  private sweep(now: number): void {
    for (const [k, w] of this.windows) if (w.resetAt <= now) this.windows.delete(k);
    // Still full (an attack with many keys): forget the oldest entries rather than grow without bound.
    for (const k of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break;
      this.windows.delete(k);
    }
  }
}

/** What this process knows of one key's shared window. */
interface Known {
  total: number;
  resetAt: number;
  pending: number;
}

export function redisRateLimitStore(redis: Redis, prefix: string, onFallback: (err: unknown) => void = () => undefined) {
  const local = new LocalWindows();
  const known = new Map<string, Known>();
  // defineCommand sends EVALSHA (the script body only once per connection).
  if (!('kgraphRateLimit' in redis)) redis.defineCommand('kgraphRateLimit', { numberOfKeys: 1, lua: LUA });
  const incrBy = (key: string, windowMs: number, by: number) =>
    (redis as unknown as { kgraphRateLimit(k: string, w: number, by: number): Promise<[number, number]> }).kgraphRateLimit(
      `${prefix}ratelimit:${key}`,
      windowMs,
      by,
    );
  const learn = (key: string, [total, ttl]: [number, number]) => {
    const k = known.get(key);
    const resetAt = Date.now() + ttl;
    if (k) Object.assign(k, { total, resetAt });
    else known.set(key, { total, resetAt, pending: 0 });
  };

  let timer: NodeJS.Timeout | undefined;
  let windowForFlush = 60_000;
  const flush = () => {
    timer = undefined;
    for (const [key, k] of known) {
      if (k.resetAt <= Date.now() && k.pending === 0) {
        known.delete(key);
        continue;
      }
      if (k.pending === 0) continue;
      const by = k.pending;
      k.pending = 0;
      incrBy(key, windowForFlush, by).then(
        (res) => learn(key, res),
        (err: unknown) => onFallback(err), // lost counts only make the limit laxer, never stricter
      );
    }
  };

  return class RedisWithFallbackStore {
    private readonly windowMs: number;
    constructor(params: { timeWindow?: unknown }) {
      this.windowMs = typeof params.timeWindow === 'number' ? params.timeWindow : 60_000;
    }

    incr(key: string, cb: Callback, timeWindow?: number, max?: number): void {
      const windowMs = typeof timeWindow === 'number' ? timeWindow : this.windowMs;
      windowForFlush = windowMs;
      if (redis.status !== 'ready') {
        cb(null, local.incr(key, windowMs));
        return;
      }
      const now = Date.now();
      const k = known.get(key);
      if (k && k.resetAt > now && typeof max === 'number' && k.total + k.pending + 1 < max * EXACT_FROM) {
        k.pending++;
        timer ??= setTimeout(flush, FLUSH_MS).unref();
        cb(null, { current: k.total + k.pending, ttl: k.resetAt - now });
        return;
      }
      const by = (k?.pending ?? 0) + 1;
      if (k) k.pending = 0;
      incrBy(key, windowMs, by).then(
        (res) => {
          learn(key, res);
          cb(null, { current: res[0], ttl: res[1] });
        },
        (err: unknown) => {
          onFallback(err);
          cb(null, local.incr(key, windowMs));
        },
      );
    }

    child(): RedisWithFallbackStore {
      return this;
    }
  };
}
