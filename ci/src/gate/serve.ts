/**
 * `--serve`: the service on this machine, on a fresh Postgres database and Redis prefix, seeded, for
 * as long as `fn` runs; everything is stopped and removed afterwards, also on failure. `root` serves
 * another checkout (the baseline release's git worktree, baseline.ts) the same way.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EnvironmentDefinition } from '../definitions/environments.js';
import { REPO_ROOT } from '../platform/repo-root.js';
import { createEphemeralServices } from '../platform/services/ephemeral.js';
import { startLocalApp, type LocalApp } from '../platform/services/local-app.js';

/** Enough tools that search and planning do real work. */
export const SERVE_SEED_COUNT = 200;

export interface ServedApp {
  readonly app: LocalApp;
  readonly apiKey: string;
  /** How it runs, without which checkout: equal for baseline and candidate served alike. */
  readonly served: string;
}

export interface ServeOptions {
  readonly log?: (line: string) => void;
  readonly extraEnv?: Record<string, string>;
  readonly seedCount?: number;
  /** Checkout to serve; default this repository. */
  readonly root?: string;
  /** Default: the build (app/dist) when this repository has one, else the source through tsx. */
  readonly entry?: 'source' | 'dist';
  /** Names the served copy in log lines ("baseline v1.2.0"). */
  readonly label?: string;
}

/** What `withServedApp` would run from this repository: the build when there is one. */
export function defaultEntry(root = REPO_ROOT): 'source' | 'dist' {
  return existsSync(join(root, 'app/dist/main.js')) ? 'dist' : 'source';
}

export async function withServedApp<T>(
  env: EnvironmentDefinition,
  fn: (served: ServedApp) => Promise<T>,
  opts: ServeOptions = {},
): Promise<T> {
  const label = opts.label ?? 'serve';
  const log = (l: string) => opts.log?.(`${label}: ${l}`);
  const apiKey = randomBytes(24).toString('hex');
  log('creating a fresh database and Redis prefix');
  const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
  try {
    const entry = opts.entry ?? defaultEntry(opts.root);
    const seedCount = opts.seedCount ?? Math.max(env.seedCount, SERVE_SEED_COUNT);
    log(`migrating, seeding and starting the service (${entry === 'dist' ? 'app/dist' : 'app/src via tsx'})`);
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
      seedCount,
      entry,
      ...(opts.root ? { root: opts.root } : {}),
    });
    log(`service ready at ${app.url} (pid ${app.pid})`);
    const served = `local ${entry === 'dist' ? 'app/dist' : 'app/src'}, ${seedCount} tools seeded, ENVIRONMENT=${opts.extraEnv?.ENVIRONMENT ?? env.name}, fresh Postgres database and Redis prefix`;
    try {
      return await fn({ app, apiKey, served });
    } finally {
      await app.stop();
    }
  } finally {
    await services.dispose();
  }
}
