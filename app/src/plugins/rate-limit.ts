/** RATE_LIMIT_MAX per API key per minute for the scope it is registered in, counted across replicas in Redis. */
import fp from 'fastify-plugin';
import rateLimit from '@fastify/rate-limit';
import type { Redis } from 'ioredis';
import { redisRateLimitStore } from '../rate-limit-store.js';
import { logErr } from '../errors.js';

export const apiRateLimit = fp<{ redis: Redis; prefix: string; max: number }>(
  async (scope, { redis, prefix, max }) => {
    await scope.register(rateLimit, {
      global: true,
      max,
      timeWindow: 60_000,
      keyGenerator: (req) => req.apiKeyId ?? req.ip,
      store: redisRateLimitStore(redis, prefix, (err) =>
        scope.log.debug({ err: logErr(err) }, 'rate limit: per-process fallback'),
      ),
      errorResponseBuilder: (_req, ctx) => ({
        statusCode: 429,
        error: 'too many requests',
        message: `rate limit of ${ctx.max} requests per minute exceeded; retry in ${Math.ceil(ctx.ttl / 1000)} s`,
      }),
    });
  },
  { name: 'kgraph-rate-limit' },
);
