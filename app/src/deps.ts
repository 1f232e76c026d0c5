/** The service's connections, configured to fail fast when a dependency is down instead of queueing. */
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from './config.js';
import { logErr } from './errors.js';

export function createPool(config: Pick<AppConfig, 'databaseUrl' | 'dbPoolMax' | 'appName'>, log?: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: config.databaseUrl,
    max: config.dbPoolMax,
    connectionTimeoutMillis: 2_000,
    idleTimeoutMillis: 30_000,
    // Bounded queries: a stuck connection turns into an error (503), never a hung request.
    statement_timeout: 5_000,
    query_timeout: 6_000,
    application_name: config.appName,
  });
  // An idle client losing its connection emits here; without a listener the process would crash.
  pool.on('error', (err) => log?.warn({ err: { message: err.message } }, 'postgres: idle connection lost'));
  // pg-pool removes its idle listener while a client is checked out (a transaction, or between the
  // statements of one): a connection lost then is emitted on the client, and an 'error' event nobody
  // listens to ends the process. Every client gets a listener for its whole life, whichever path checks it
  // out; the query in flight fails on its own (→ 503) and pg-pool drops the dead client on release.
  pool.on('connect', (client) => {
    client.on('error', (err) => log?.warn({ err: { message: err.message } }, 'postgres: connection lost while in use'));
  });
  return pool;
}

export function createRedis(config: Pick<AppConfig, 'redisUrl'>, log?: Logger): Redis {
  const redis = new Redis(config.redisUrl, {
    // Commands fail at once while disconnected (cache bypass, local rate limit) rather than wait.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
    commandTimeout: 500,
    // Capped at 500 ms: after Redis comes back the service uses it again within about half a second.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 4), 500),
    lazyConnect: false,
  });
  let up = false;
  redis.on('ready', () => {
    up = true;
    log?.info('redis: connected');
  });
  redis.on('error', (err) => {
    if (up) log?.warn({ err: { message: err.message } }, 'redis: connection error');
  });
  redis.on('close', () => {
    if (up) log?.warn('redis: disconnected; serving without cache, rate limits per process');
    up = false;
  });
  return redis;
}

/**
 * Opens `count` pool connections before the service listens (so before it can be ready), then returns
 * them to the pool as idle. Why: a pod that joins a rolling update under load gets its share of requests
 * at once; with an empty pool they all wait for new connections, and on a busy node some wait past
 * connectionTimeoutMillis (2 s) and answer 503 (seen in the rollout rehearsal, docs/rollout.md). Best
 * effort: a connection that cannot be opened is logged and left to the first request, as before.
 */
export async function warmPool(
  pool: Pick<pg.Pool, 'connect'>,
  count: number,
  log?: Pick<Logger, 'warn'>,
): Promise<number> {
  const opened = await Promise.allSettled(Array.from({ length: count }, () => pool.connect()));
  let warm = 0;
  for (const r of opened) {
    if (r.status === 'fulfilled') {
      r.value.release();
      warm++;
    }
  }
  const failed = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed)
    log?.warn(
      { err: logErr(failed.reason) },
      `postgres: ${count - warm} of ${count} connections not opened before listening`,
    );
  return warm;
}
