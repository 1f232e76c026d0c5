/**
 * Ephemeral services for one run: a fresh Postgres database and a Redis key prefix on the servers named
 * by DATABASE_URL / REDIS_URL (the local ones by default). The host runner and the test suites use this;
 * the Dagger module gets the same isolation from service containers.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { ServiceName } from '../../definitions/steps.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';

export interface EphemeralServicesOptions {
  readonly services: readonly ServiceName[];
  /** Server to create the database on; its own database is only used to CREATE/DROP. */
  readonly databaseUrl?: string;
  readonly redisUrl?: string;
  /** Groups databases and prefixes of one run, so a sweep can remove leftovers. */
  readonly runId?: string;
  /** Readiness: attempts with exponential backoff starting at `initialDelayMs`. */
  readonly attempts?: number;
  readonly initialDelayMs?: number;
}

export interface EphemeralServices {
  readonly runId: string;
  /** Environment for processes that use the services (DATABASE_URL, REDIS_URL, REDIS_PREFIX). */
  readonly env: Readonly<Record<string, string>>;
  readonly databaseName?: string;
  readonly redisPrefix?: string;
  /** Drops the database and deletes the prefix's keys. Safe to call twice. */
  dispose(): Promise<void>;
}

export const EPHEMERAL_DB_PREFIX = 'kgraph_eph_';

export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/** Database names are built only from [a-z0-9_], so they never need quoting tricks. */
export function ephemeralDatabaseName(runId: string, suffix = randomBytes(3).toString('hex')): string {
  const name = `${EPHEMERAL_DB_PREFIX}${runId}_${suffix}`.toLowerCase();
  if (!/^[a-z0-9_]{1,63}$/.test(name)) throw new Error(`invalid ephemeral database name: ${name}`);
  return name;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** The URL with any password replaced, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable url>';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function retry<T>(what: string, fn: () => Promise<T>, attempts: number, initialDelayMs: number): Promise<T> {
  let delay = initialDelayMs;
  let last: unknown;
  for (let i = 1; i <= attempts; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      if (i < attempts) {
        await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }
  const reason = last instanceof Error ? last.message : String(last);
  throw new Error(`${what} not ready after ${attempts} attempts: ${reason}`);
}

async function withPgClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}

export async function deleteRedisPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error('refusing to delete an empty Redis prefix');
  return withRedis(url, async (redis) => {
    let deleted = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) deleted += await redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  });
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  if (!name.startsWith(EPHEMERAL_DB_PREFIX)) throw new Error(`refusing to drop non-ephemeral database ${name}`);
  await withPgClient(serverUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

/** Removes every database and Redis key a run left behind (after a crash or Ctrl-C). */
export async function sweepRun(runId: string, opts: { databaseUrl?: string; redisUrl?: string } = {}): Promise<void> {
  const serverUrl = opts.databaseUrl ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const names = await withPgClient(serverUrl, async (c) => {
    const res = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${EPHEMERAL_DB_PREFIX}${runId}\\_%`,
    ]);
    return res.rows.map((r) => r.datname);
  });
  for (const name of names) await dropDatabase(serverUrl, name);
  await deleteRedisPrefix(opts.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL, redisPrefixFor(runId));
}

function redisPrefixFor(runId: string, suffix?: string): string {
  return suffix ? `kgraph:eph:${runId}:${suffix}:` : `kgraph:eph:${runId}:`;
}

/** Cleanups run last first; every one runs, and their failures are reported together. */
function cleanupStack(): { push: (fn: () => Promise<unknown>) => void; dispose: () => Promise<void> } {
  const cleanups: (() => Promise<unknown>)[] = [];
  return {
    push: (fn) => cleanups.push(fn),
    dispose: async () => {
      const errors: string[] = [];
      while (cleanups.length > 0) {
        const fn = cleanups.pop()!;
        await fn().catch((e: unknown) => errors.push(e instanceof Error ? e.message : String(e)));
      }
      if (errors.length > 0) throw new Error(`cleanup failed: ${errors.join('; ')}`);
    },
  };
}

type Retrying = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** A fresh database of the run on the server (dropped on cleanup), answering the query the step will make. */
async function leaseDatabase(
  serverUrl: string,
  runId: string,
  retrying: Retrying,
  onCleanup: (fn: () => Promise<unknown>) => void,
): Promise<{ name: string; url: string }> {
  await retrying(`postgres at ${redactUrl(serverUrl)}`, () => withPgClient(serverUrl, (c) => c.query('SELECT 1')));
  const name = ephemeralDatabaseName(runId);
  await withPgClient(serverUrl, (c) => c.query(`CREATE DATABASE "${name}"`));
  onCleanup(() => dropDatabase(serverUrl, name));
  const url = withDatabase(serverUrl, name);
  // The real query the step will make, on the new database.
  await retrying(`database ${name}`, () => withPgClient(url, (c) => c.query('SELECT 1')));
  return { name, url };
}

/** A Redis key prefix of the run on a server that answers (its keys deleted on cleanup). */
async function leaseRedisPrefix(
  redisUrl: string,
  runId: string,
  retrying: Retrying,
  onCleanup: (fn: () => Promise<unknown>) => void,
): Promise<string> {
  await retrying(`redis at ${redactUrl(redisUrl)}`, () => withRedis(redisUrl, (r) => r.ping()));
  const prefix = redisPrefixFor(runId, randomBytes(3).toString('hex'));
  onCleanup(() => deleteRedisPrefix(redisUrl, prefix));
  return prefix;
}

export async function createEphemeralServices(opts: EphemeralServicesOptions): Promise<EphemeralServices> {
  const runId = opts.runId ?? newRunId();
  const attempts = opts.attempts ?? 6;
  const initialDelayMs = opts.initialDelayMs ?? 200;
  const retrying: Retrying = (what, fn) => retry(what, fn, attempts, initialDelayMs);
  const env: Record<string, string> = {};
  const serverUrl = opts.databaseUrl ?? process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const redisUrl = opts.redisUrl ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  let databaseName: string | undefined;
  let redisPrefix: string | undefined;
  const cleanups = cleanupStack();
  try {
    if (opts.services.includes('postgres')) {
      const db = await leaseDatabase(serverUrl, runId, retrying, cleanups.push);
      databaseName = db.name;
      env.DATABASE_URL = db.url;
    }
    if (opts.services.includes('redis')) {
      redisPrefix = await leaseRedisPrefix(redisUrl, runId, retrying, cleanups.push);
      env.REDIS_URL = redisUrl;
      env.REDIS_PREFIX = redisPrefix;
    }
  } catch (err) {
    await cleanups.dispose().catch(() => undefined);
    throw err;
  }
  const result: EphemeralServices = { runId, env, dispose: cleanups.dispose };
  if (databaseName) Object.assign(result, { databaseName });
  if (redisPrefix) Object.assign(result, { redisPrefix });
  return result;
}
