/** Liveness, readiness, metrics and version: no auth, no rate limit (probes, scrapers and deploy checks call them). */
import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import type { AppState } from '../app-state.js';
import type { Metrics } from '../metrics.js';
import type { FaultState } from '../faults.js';
import type { SchemaWatch } from '../schema-watch.js';
import { schemaReasons, type SchemaReport } from '../schema-state.js';
import { errorMessage } from '../errors.js';

interface Opts {
  redis: Redis;
  state: AppState;
  metrics: Metrics;
  faults: FaultState;
  schema: SchemaWatch;
  /** What /version says: the release (APP_VERSION, Sentry's release too; null when unset) and environment. */
  version: { version: string | null; environment: string };
}

const PROBE_TIMEOUT_MS = 1_000;

async function probe(fn: () => Promise<unknown>, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return undefined;
  } catch (err) {
    return errorMessage(err);
  } finally {
    clearTimeout(timer);
  }
}

const schemaBody = (r: SchemaReport) => ({ at: r.at, expected: r.expected, missing: r.missing, newer: r.newer });

export const healthRoutes: FastifyPluginAsync<Opts> = async (
  app,
  { redis, state, metrics, faults, schema, version },
) => {
  app.get('/version', async () => version);

  app.get('/healthz', async (_req, reply) => {
    if (faults.failHealth) return reply.status(503).send({ status: 'failing', reason: 'injected fault' });
    return { status: 'ok' };
  });

  app.get('/readyz', async (_req, reply) => {
    if (state.shuttingDown) {
      return reply.status(503).send({ status: 'unavailable', checks: {}, reasons: ['shutting down'] });
    }
    // Reading the schema is the Postgres probe too: it answers only if Postgres does.
    let report: SchemaReport | undefined;
    const [pgErr, redisErr] = await Promise.all([
      probe(async () => {
        report = await schema.check();
      }),
      redis.status === 'ready' ? probe(() => redis.ping(), 500) : Promise.resolve(`not connected (${redis.status})`),
    ]);
    const schemaOk = !pgErr && report?.ok === true;
    const checks = {
      postgres: pgErr ? 'down' : 'up',
      redis: redisErr ? 'down' : 'up',
      schema: pgErr ? 'unknown' : schemaOk ? 'current' : 'behind',
    };
    const reasons = [
      ...(pgErr ? [`postgres: ${pgErr}`] : []),
      ...(report && !pgErr ? schemaReasons(report) : []),
      ...(redisErr ? [`redis: ${redisErr}`] : []),
    ];
    const extra = report && !pgErr ? { schema: schemaBody(report) } : {};
    // Without Postgres, or with a schema this code cannot use, nothing works: not ready. Without Redis we
    // serve uncached with per-process limits.
    if (!schemaOk) return reply.status(503).send({ status: 'unavailable', checks, reasons, ...extra });
    if (redisErr) return { status: 'degraded', checks, reasons, ...extra };
    return { status: 'ready', checks, ...extra };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
