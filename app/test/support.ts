/** Test helpers: a config for the ephemeral services, a migrated and seeded database, an injected app. */
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { parseConfig, type AppConfig } from '../src/config.js';
import { buildApp, type BuiltApp } from '../src/app.js';
import { createPool, createRedis } from '../src/deps.js';
import { migrate } from '../src/migrate.js';
import { seed } from '../src/seed.js';

export const API_KEY = 'test-api-key-0123456789abcdef';
export const OTHER_KEY = 'other-api-key-0123456789abcdef';
export const AUTH = { 'x-api-key': API_KEY } as const;

export function testConfig(env: Readonly<Record<string, string>>, extra: Record<string, string> = {}): AppConfig {
  const res = parseConfig({
    ENVIRONMENT: 'dev',
    API_KEYS: `${API_KEY},${OTHER_KEY}`,
    LOG_LEVEL: 'silent',
    ...env,
    ...extra,
  });
  if (!res.ok) throw new Error(res.errors.join('; '));
  return res.config;
}

export async function prepareDatabase(databaseUrl: string, seedCount: number): Promise<void> {
  await migrate(databaseUrl);
  if (seedCount > 0) await seed(databaseUrl, seedCount);
}

export interface TestApp extends BuiltApp {
  readonly pool: pg.Pool;
  readonly redis: Redis;
  close(): Promise<void>;
}

export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function makeApp(
  config: AppConfig,
  opts: { random?: () => number; wrapPool?: (pool: pg.Pool) => pg.Pool } = {},
): Promise<TestApp> {
  const realPool = createPool(config);
  const pool = opts.wrapPool ? opts.wrapPool(realPool) : realPool;
  const redis = createRedis(config);
  await waitFor('redis', () => redis.status === 'ready');
  const built = await buildApp(config, {
    pool,
    redis,
    logger: pino({ level: 'silent' }),
    ...(opts.random ? { random: opts.random } : {}),
  });
  await built.app.ready();
  return {
    ...built,
    pool,
    redis,
    close: async () => {
      await built.app.close();
      await realPool.end();
      redis.disconnect();
    },
  };
}
