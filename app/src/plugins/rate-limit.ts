/**
 * RATE_LIMIT_MAX per API key per minute for the scope it is registered in, counted across replicas in Redis
 * (rate-limit-store.ts). Every answer carries x-ratelimit-limit, -remaining and -reset (seconds); past the
 * limit it is a 429 with Retry-After, as @fastify/rate-limit answered. That library's hook was an async
 * function (an awaited key generator, a promise around the store, microtask turns) on every request, for a
 * count the lease store mostly gives synchronously; this is a callback hook over the same store.
 */
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { rateLimitCounter } from '../rate-limit-store.js';
import { logErr } from '../errors.js';

export const RATE_LIMIT_WINDOW_MS = 60_000;

export const apiRateLimit = fp<{ redis: Redis; prefix: string; max: number }>(
  async (scope, { redis, prefix, max }) => {
    const count = rateLimitCounter(redis, prefix, (err) =>
      scope.log.debug({ err: logErr(err) }, 'rate limit: per-process fallback'),
    );
    scope.addHook('onRequest', (req, reply, done) => {
      count(req.apiKeyId ?? req.ip, RATE_LIMIT_WINDOW_MS, max, ({ current, ttl }) => {
        const resetSeconds = Math.ceil(ttl / 1000);
        reply.header('x-ratelimit-limit', max);
        reply.header('x-ratelimit-remaining', Math.max(0, max - current));
        reply.header('x-ratelimit-reset', resetSeconds);
        if (current <= max) return done();
        reply.header('retry-after', resetSeconds);
        reply.status(429).send({
          statusCode: 429,
          error: 'too many requests',
          message: `rate limit of ${max} requests per minute exceeded; retry in ${resetSeconds} s`,
        });
      });
    });
  },
  { name: 'kgraph-rate-limit' },
);
