/**
 * `--serve`: the service on this machine, on a fresh Postgres database and Redis prefix, seeded, for
 * as long as `fn` runs; everything is stopped and removed afterwards, also on failure.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvironmentDefinition } from '../environments.js';
import { createEphemeralServices } from '../services/ephemeral.js';
import { REPO_ROOT } from '../repo-root.js';
import { startLocalApp, type LocalApp } from '../services/local-app.js';

/** Enough tools that search and planning do real work. */
export const SERVE_SEED_COUNT = 200;

export interface ServedApp {
  readonly app: LocalApp;
  readonly apiKey: string;
}

export async function withServedApp<T>(
  env: EnvironmentDefinition,
  fn: (served: ServedApp) => Promise<T>,
  opts: { log?: (line: string) => void; extraEnv?: Record<string, string>; seedCount?: number } = {},
): Promise<T> {
  const log = opts.log ?? (() => undefined);
  const apiKey = randomBytes(24).toString('hex');
  log('serve: creating a fresh database and Redis prefix');
  const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
  try {
    const entry = existsSync(join(REPO_ROOT, 'app/dist/main.js')) ? 'dist' : 'source';
    log(`serve: migrating, seeding and starting the service (${entry === 'dist' ? 'app/dist' : 'app/src via tsx'})`);
    const app = await startLocalApp({
      env: {
        ...services.env,
        ENVIRONMENT: env.name,
        LOG_LEVEL: 'warn',
        API_KEYS: apiKey,
        // The gate drives hundreds of requests per second with one key; the limiter is not under test.
        RATE_LIMIT_MAX: '100000000',
        ...opts.extraEnv,
      },
      seedCount: opts.seedCount ?? Math.max(env.seedCount, SERVE_SEED_COUNT),
      entry,
    });
    log(`serve: service ready at ${app.url} (pid ${app.pid})`);
    try {
      return await fn({ app, apiKey });
    } finally {
      await app.stop();
    }
  } finally {
    await services.dispose();
  }
}
