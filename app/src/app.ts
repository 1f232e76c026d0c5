/**
 * buildApp(config, deps): the whole HTTP service as a library, with its Postgres pool and Redis client
 * injected, so tests drive it through `inject` and main.ts only wires processes, signals and sockets.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AppConfig } from './config.js';
import { createErrorReporter } from './error-reporting.js';
import { frameworkErrorReply, logErr } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { RedisCache, type CacheLike } from './cache.js';
import { CacheGeneration } from './generation.js';
import { LegacyInvalidation } from './legacy-invalidation.js';
import { PrefixCache } from './search-prefix.js';
import { SchemaWatch } from './schema-watch.js';
import type { AppState } from './app-state.js';
import type { Queryable } from './repo.js';
import { lazyChildLogger } from './request-logger.js';
import { FaultState } from './faults.js';
import { apiKeyAuth } from './plugins/api-key-auth.js';
import { apiRateLimit } from './plugins/rate-limit.js';
import { faultInjection } from './plugins/fault-injection.js';
import { errorHandling } from './plugins/error-handling.js';
import { responseHooks } from './plugins/response-hooks.js';
import { nulGuard, schemaGate } from './plugins/request-guards.js';
import { healthRoutes } from './routes/health.js';
import { apiRoutes } from './routes/api.js';
import { faultRoutes } from './routes/faults.js';

export interface AppDeps {
  readonly pool: pg.Pool;
  /**
   * Where the background checks (cache generation, schema) query; a small pool of its own in main.ts, so
   * a saturated request pool never delays them. Defaults to `pool`.
   */
  readonly watchPool?: Queryable;
  readonly redis: Redis;
  /** A pino logger; by default one is made from the config (JSON to stdout). */
  readonly logger?: Logger;
  readonly random?: () => number;
  /**
   * On close, keep dropping the previous release's cache entries until the window after this instance's
   * last write is over (legacy-invalidation.ts): main.ts sets it; tests close at once.
   */
  readonly drainLegacyOnClose?: boolean;
}

export type { AppState };

export const BODY_LIMIT = 64 * 1024;

/** Paths whose values must never reach a log line. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
  '*.apiKey',
  '*.apiKeys',
  '*.password',
  '*.databaseUrl',
  '*.redisUrl',
  '*.sentryDsn',
];

const REQUEST_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

export function loggerOptions(config: AppConfig): NonNullable<Exclude<FastifyServerOptions['logger'], boolean>> {
  return {
    level: config.logLevel,
    base: { app: config.appName, env: config.environment },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  };
}

export interface BuiltApp {
  readonly app: FastifyInstance;
  readonly state: AppState;
  readonly metrics: Metrics;
  readonly faults: FaultState;
  readonly cache: CacheLike;
  readonly generation: CacheGeneration;
  readonly schema: SchemaWatch;
  /** The previous release's cache protocol (undefined when CACHE_LEGACY_INVALIDATION=false). */
  readonly legacy: LegacyInvalidation | undefined;
}

/** How long buildApp waits for the first schema and generation checks (Postgres may be down at start). */
const FIRST_CHECK_MS = 3_000;

/**
 * The steps in order: the server, what it shares (state, metrics, faults, schema watch, cache), the first
 * checks, then the plugins: error answers, response hooks, health routes, the API scope, the fault routes.
 */
export async function buildApp(config: AppConfig, deps: AppDeps): Promise<BuiltApp> {
  const app = createServer(config, deps);
  const state: AppState = { shuttingDown: false };
  const metrics = createMetrics({ pool: deps.pool, appName: config.appName, connections: openConnections(app) });
  const faults = new FaultState(config.faultInjection, deps.random);
  const watchDb = deps.watchPool ?? deps.pool;
  const schema = new SchemaWatch(watchDb);
  const { legacy, prefixes, generation, cache } = createCache(app, config, deps.redis, watchDb);
  await firstChecks(schema, generation);
  app.addHook('onClose', async () => {
    schema.stop();
    // No new token can extend the window now; the drops still due for this instance's writes go on.
    generation.stop();
    if (deps.drainLegacyOnClose) await legacy?.drain();
    legacy?.stop();
  });
  await app.register(errorHandling, {
    exposeErrors: config.environment === 'dev' && config.debug,
    reporter: createErrorReporter({
      dsn: config.sentryDsn,
      release: config.appVersion,
      environment: config.environment,
    }),
    onSchemaError: () => schema.recheckSoon(),
  });
  await app.register(responseHooks, { state, metrics });
  await app.register(healthRoutes, {
    redis: deps.redis,
    state,
    metrics,
    faults,
    schema,
    version: { version: config.appVersion ?? null, environment: config.environment },
  });
  const scope = { config, faults };
  const api = { redis: deps.redis, pool: deps.pool, schema, cache, metrics, generation, prefixes, legacy };
  await app.register(apiScope, { ...scope, ...api, prefix: '/api/v1' });
  if (config.faultInjection) await app.register(faultScope, scope);
  return { app, state, metrics, faults, cache, generation, schema, legacy };
}

function createServer(config: AppConfig, deps: AppDeps): FastifyInstance {
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: loggerOptions(config) }),
    bodyLimit: BODY_LIMIT,
    // A request id from the caller is kept only if it is short and plain; otherwise we make one.
    requestIdHeader: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID_RE.test(h) ? h : randomUUID();
    },
    // A request's child logger is made when it first logs at an enabled level (request-logger.ts).
    childLoggerFactory: lazyChildLogger,
    // Requests already on an open connection during shutdown are served, not refused with 503.
    return503OnClosing: false,
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: frameworkErrorReply,
    ajv: { customOptions: { removeAdditional: false, allErrors: false, coerceTypes: 'array' } },
  });
  return app as unknown as FastifyInstance;
}

/** Counted at scrape time; a server that is not listening (inject in tests) has none. */
function openConnections(app: FastifyInstance): () => Promise<number> {
  return () =>
    new Promise((resolve) =>
      app.server.listening ? app.server.getConnections((err, n) => resolve(err ? 0 : n)) : resolve(0),
    );
}

/** The read cache and what keeps it coherent: the generation, the search prefixes, the legacy protocol. */
function createCache(app: FastifyInstance, config: AppConfig, redis: Redis, watchDb: Queryable) {
  // The previous release's pods cache by its own protocol: every write and every new token drops that too.
  const legacy = config.cacheLegacyInvalidation
    ? new LegacyInvalidation(redis, config.redisPrefix, (err) =>
        app.log.debug({ err: logErr(err) }, 'legacy invalidation failed'),
      )
    : undefined;
  // A new generation makes every in-process entry unservable: free them (cache is set before polling starts).
  const prefixes = new PrefixCache();
  const generation = new CacheGeneration(watchDb, undefined, () => {
    cache.dropLocal();
    prefixes.clear();
    void legacy?.afterWrite();
  });
  const cache = new RedisCache(
    redis,
    config.redisPrefix,
    config.cacheTtlSeconds,
    generation,
    (err, op) => app.log.debug({ op, err: logErr(err) }, 'cache bypassed'),
    { localTtlMs: config.cacheLocalTtlMs, localMaxEntries: 2_000 },
  );
  return { legacy, prefixes, generation, cache };
}

/** Waits for the first schema and generation checks, at most FIRST_CHECK_MS (they go on in the background). */
async function firstChecks(schema: SchemaWatch, generation: CacheGeneration): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all([schema.start(), generation.start()]),
    new Promise((r) => {
      timer = setTimeout(r, FIRST_CHECK_MS);
    }),
  ]);
  clearTimeout(timer);
}

interface ScopeOpts {
  config: AppConfig;
  faults: FaultState;
}

interface ApiScopeOpts extends ScopeOpts {
  redis: Redis;
  pool: pg.Pool;
  schema: SchemaWatch;
  cache: CacheLike;
  metrics: Metrics;
  generation: CacheGeneration;
  prefixes: PrefixCache;
  legacy: LegacyInvalidation | undefined;
}

/** /api/v1: authenticated, schema-gated, rate-limited, NUL-guarded, then (dev only) faults. */
const apiScope: FastifyPluginAsync<ApiScopeOpts> = async (api, o) => {
  const { config, legacy } = o;
  await api.register(apiKeyAuth, { keys: config.apiKeys });
  await api.register(schemaGate, { schema: o.schema });
  await api.register(apiRateLimit, { redis: o.redis, prefix: config.redisPrefix, max: config.rateLimitMax });
  await api.register(nulGuard);
  if (config.faultInjection) await api.register(faultInjection, { faults: o.faults });
  await api.register(apiRoutes, {
    pool: o.pool,
    cache: o.cache,
    metrics: o.metrics,
    generation: o.generation,
    prefixes: o.prefixes,
    afterCommit: () => legacy?.afterWrite() ?? Promise.resolve(),
  });
};

/** /__faults (FAULT_INJECTION=true only): authenticated like the API, not rate-limited. */
const faultScope: FastifyPluginAsync<ScopeOpts> = async (f, { config, faults }) => {
  await f.register(apiKeyAuth, { keys: config.apiKeys });
  await f.register(faultRoutes, { faults });
};
