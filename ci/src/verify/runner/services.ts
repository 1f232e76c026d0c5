/**
 * Services for one step of a run. Ephemeral (a fresh database and Redis prefix per step, on the servers
 * named by DATABASE_URL / REDIS_URL) on a developer's machine; external (the given URLs as they are)
 * inside containers whose services are already provided (`--no-services` or KGRAPH_SERVICES=external).
 */
import pg from 'pg';
import {
  createEphemeralServices,
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  deleteRedisPrefix,
  EPHEMERAL_DB_PREFIX,
  redactUrl,
  sweepRun,
} from '../../platform/services/ephemeral.js';
import type { ServiceName } from '../../definitions/steps.js';
import { UsageError } from '../../definitions/errors.js';

export interface ServiceLease {
  readonly env: Readonly<Record<string, string>>;
  /** How to connect, for `--keep` and `shell` (passwords redacted). */
  readonly describe: readonly string[];
  dispose(): Promise<void>;
}

export interface ServicesProvider {
  readonly mode: 'ephemeral' | 'external';
  lease(services: readonly ServiceName[], runId: string): Promise<ServiceLease>;
  /** Removes whatever a run (or the tests inside it) left behind; a no-op for external services. */
  sweep(runId: string): Promise<void>;
}

export function servicesModeFromEnv(env: NodeJS.ProcessEnv): 'ephemeral' | 'external' | undefined {
  const v = env.KGRAPH_SERVICES;
  if (v === undefined || v === '') return undefined;
  if (v === 'external' || v === 'ephemeral') return v;
  throw new UsageError(`KGRAPH_SERVICES must be "external" or "ephemeral", not "${v}"`);
}

export function ephemeralProvider(env: NodeJS.ProcessEnv): ServicesProvider {
  const urls = { databaseUrl: env.DATABASE_URL, redisUrl: env.REDIS_URL };
  return {
    mode: 'ephemeral',
    async lease(services, runId) {
      const svc = await createEphemeralServices({ services, runId, ...defined(urls) });
      const describe: string[] = [];
      if (svc.env.DATABASE_URL)
        describe.push(`DATABASE_URL=${redactUrl(svc.env.DATABASE_URL)}  (psql "${redactUrl(svc.env.DATABASE_URL)}")`);
      if (svc.env.REDIS_URL)
        describe.push(`REDIS_URL=${redactUrl(svc.env.REDIS_URL)} REDIS_PREFIX=${svc.env.REDIS_PREFIX ?? ''}`);
      return { env: svc.env, describe, dispose: () => svc.dispose() };
    },
    sweep: (runId) => sweepRunAndSteps(runId, defined(urls)),
  };
}

/**
 * Removes a run's leftovers: its own databases and prefix and those of its steps (`<runId>x<n>`, see
 * stepRunIdFor), whose test suites may have made more databases under the step's id.
 */
export async function sweepRunAndSteps(
  runId: string,
  urls: { databaseUrl?: string; redisUrl?: string },
): Promise<void> {
  if (!/^[a-z0-9]+$/.test(runId)) throw new Error(`invalid run id "${runId}"`);
  const serverUrl = urls.databaseUrl ?? DEFAULT_DATABASE_URL;
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  let ids: string[];
  try {
    const res = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
      `${EPHEMERAL_DB_PREFIX}${runId}x%`,
    ]);
    const re = new RegExp(`^${EPHEMERAL_DB_PREFIX}(${runId}x\\d+)_`);
    ids = [...new Set(res.rows.map((r) => re.exec(r.datname)?.[1]).filter((x): x is string => x !== undefined))];
  } finally {
    await client.end().catch(() => undefined);
  }
  for (const id of [runId, ...ids]) await sweepRun(id, urls);
  // Steps that used only Redis left no database to find them by; their prefixes share this stem.
  await deleteRedisPrefix(urls.redisUrl ?? DEFAULT_REDIS_URL, `kgraph:eph:${runId}x`);
}

export function externalProvider(env: NodeJS.ProcessEnv): ServicesProvider {
  return {
    mode: 'external',
    lease(services) {
      const leased: Record<string, string> = {};
      const needs: Record<ServiceName, string[]> = { postgres: ['DATABASE_URL'], redis: ['REDIS_URL'] };
      const missing = services.flatMap((s) => needs[s].filter((n) => !env[n]));
      if (missing.length > 0) {
        return Promise.reject(
          new Error(`external services: ${missing.join(', ')} not set (needed by ${services.join(', ')})`),
        );
      }
      for (const n of ['DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX']) if (env[n]) leased[n] = env[n];
      const describe = Object.entries(leased).map(([k, v]) => `${k}=${k.endsWith('_URL') ? redactUrl(v) : v}`);
      return Promise.resolve({ env: leased, describe, dispose: () => Promise.resolve() });
    },
    sweep: () => Promise.resolve(),
  };
}

function defined<T extends Record<string, string | undefined>>(o: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as {
    [K in keyof T]?: string;
  };
}
