/**
 * The service process: validate config (exit 2 listing every problem), connect, listen, and on SIGTERM
 * shut down gracefully: readiness turns 503, after SHUTDOWN_DELAY_MS the listener closes, in-flight
 * requests finish, pools close, exit 0.
 */
import { pino } from 'pino';
import { formatConfigErrors, parseConfig } from './config.js';
import { buildApp, loggerOptions } from './app.js';
import { createPool, createRedis, warmPool } from './deps.js';
import { logErr } from './errors.js';

const parsed = parseConfig(process.env);
if (!parsed.ok) {
  console.error(formatConfigErrors(parsed.errors));
  process.exit(2);
}
const config = parsed.config;
const log = pino(loggerOptions(config));

process.on('uncaughtException', (err) => {
  log.fatal({ err }, 'uncaught exception');
  process.exit(1);
});
process.on('unhandledRejection', (err) => {
  log.fatal({ err }, 'unhandled rejection');
  process.exit(1);
});

const pool = createPool(config, log);
// Its own two connections for the cache-generation poll and schema checks: never queued behind requests.
const watchPool = createPool({ ...config, dbPoolMax: 2 }, log);
const redis = createRedis(config, log);
const { app, state } = await buildApp(config, { pool, watchPool, redis, logger: log, drainLegacyOnClose: true });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  state.shuttingDown = true;
  log.info({ signal, delayMs: config.shutdownDelayMs }, 'shutdown: readiness is now 503');
  const force = setTimeout(() => {
    log.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown: timed out, exiting');
    process.exit(1);
  }, config.shutdownTimeoutMs);
  force.unref();
  await new Promise((r) => setTimeout(r, config.shutdownDelayMs));
  try {
    await app.close();
    log.info('shutdown: listener closed, in-flight requests done');
    await Promise.allSettled([pool.end(), watchPool.end(), redis.quit()]);
    log.info('shutdown: complete');
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'shutdown: failed');
    process.exit(1);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

try {
  // Every request connection open before the first request can arrive: a cold pool under load is 503s.
  await warmPool(pool, config.dbPoolMax, log);
  await app.listen({ port: config.port, host: config.host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log.info(
    { port, environment: config.environment, faultInjection: config.faultInjection },
    'service ready to accept requests',
  );
} catch (err) {
  log.fatal({ err: logErr(err) }, 'cannot listen');
  process.exit(1);
}
