/**
 * A @fastify/rate-limit store that counts in Redis (shared by every replica) and falls back to a
 * per-process window when Redis is not ready or a command fails, so an outage never blocks traffic.
 * One counter per client key across all routes: RATE_LIMIT_MAX is per key per window.
 */
import type { Redis } from 'ioredis';

type Result = { current: number; ttl: number };
type Callback = (err: Error | null, res?: Result) => void;

const LUA = `
local current = redis.call('INCR', KEYS[1])
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

export function redisRateLimitStore(redis: Redis, prefix: string, onFallback: (err: unknown) => void = () => undefined) {
  const local = new LocalWindows();
  // defineCommand sends EVALSHA (the script body only once per connection).
  if (!('kgraphRateLimit' in redis)) redis.defineCommand('kgraphRateLimit', { numberOfKeys: 1, lua: LUA });
  const incrRedis = (key: string, windowMs: number) =>
    (redis as unknown as { kgraphRateLimit(k: string, w: number): Promise<[number, number]> }).kgraphRateLimit(key, windowMs);
  return class RedisWithFallbackStore {
    private readonly windowMs: number;
    constructor(params: { timeWindow?: unknown }) {
      this.windowMs = typeof params.timeWindow === 'number' ? params.timeWindow : 60_000;
    }

    incr(key: string, cb: Callback, timeWindow?: number): void {
      const windowMs = typeof timeWindow === 'number' ? timeWindow : this.windowMs;
      if (redis.status !== 'ready') {
        cb(null, local.incr(key, windowMs));
        return;
      }
      incrRedis(`${prefix}ratelimit:${key}`, windowMs).then(
        ([current, ttl]) => {
          cb(null, { current, ttl });
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
