/** Liveness, readiness and metrics: no auth, no rate limit (probes and scrapers call them). */
import type { FastifyPluginAsync } from 'fastify';
import type { AppDeps, AppState } from '../app.js';
import type { Metrics } from '../metrics.js';
import type { FaultState } from '../faults.js';

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
    return err instanceof Error ? err.message : String(err);
  } finally {
    clearTimeout(timer);
  }
}

export const healthRoutes: FastifyPluginAsync<{ deps: AppDeps; state: AppState; metrics: Metrics; faults: FaultState }> = async (
  app,
  { deps, state, metrics, faults },
) => {
  app.get('/healthz', async (_req, reply) => {
    if (faults.failHealth) return reply.status(503).send({ status: 'failing', reason: 'injected fault' });
    return { status: 'ok' };
  });

  app.get('/readyz', async (_req, reply) => {
    if (state.shuttingDown) {
      return reply.status(503).send({ status: 'unavailable', checks: {}, reasons: ['shutting down'] });
    }
    const [pgErr, redisErr] = await Promise.all([
      probe(() => deps.pool.query('SELECT 1')),
      deps.redis.status === 'ready' ? probe(() => deps.redis.ping(), 500) : Promise.resolve(`not connected (${deps.redis.status})`),
    ]);
    const checks = { postgres: pgErr ? 'down' : 'up', redis: redisErr ? 'down' : 'up' };
    const reasons = [...(pgErr ? [`postgres: ${pgErr}`] : []), ...(redisErr ? [`redis: ${redisErr}`] : [])];
    // Without Postgres nothing works: not ready. Without Redis we serve uncached with per-process limits.
    if (pgErr) return reply.status(503).send({ status: 'unavailable', checks, reasons });
    if (redisErr) return { status: 'degraded', checks, reasons };
    return { status: 'ready', checks };
  });

  app.get('/metrics', async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
};
