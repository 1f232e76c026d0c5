/**
 * Services for one step of a run. Ephemeral (a fresh database and Redis prefix per step, on the servers
 * named by DATABASE_URL / REDIS_URL) on a developer's machine; external (the given URLs as they are)
 * inside containers whose services are already provided (`--no-services` or KGRAPH_SERVICES=external).
 */
import { createEphemeralServices, redactUrl, sweepRun } from '../services/ephemeral.js';
import type { ServiceName } from '../steps.js';

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
  throw new RangeError(`KGRAPH_SERVICES must be "external" or "ephemeral", not "${v}"`);
}

export function ephemeralProvider(env: NodeJS.ProcessEnv): ServicesProvider {
  const urls = { databaseUrl: env.DATABASE_URL, redisUrl: env.REDIS_URL };
  return {
    mode: 'ephemeral',
    async lease(services, runId) {
      const svc = await createEphemeralServices({ services, runId, ...defined(urls) });
      const describe: string[] = [];
      if (svc.env.DATABASE_URL) describe.push(`DATABASE_URL=${redactUrl(svc.env.DATABASE_URL)}  (psql "${redactUrl(svc.env.DATABASE_URL)}")`);
      if (svc.env.REDIS_URL) describe.push(`REDIS_URL=${redactUrl(svc.env.REDIS_URL)} REDIS_PREFIX=${svc.env.REDIS_PREFIX ?? ''}`);
      return { env: svc.env, describe, dispose: () => svc.dispose() };
    },
    sweep: (runId) => sweepRun(runId, defined(urls)),
  };
}

export function externalProvider(env: NodeJS.ProcessEnv): ServicesProvider {
  return {
    mode: 'external',
    lease(services) {
      const leased: Record<string, string> = {};
      const needs: Record<ServiceName, string[]> = { postgres: ['DATABASE_URL'], redis: ['REDIS_URL'] };
      const missing = services.flatMap((s) => needs[s].filter((n) => !env[n]));
      if (missing.length > 0) {
        return Promise.reject(new Error(`external services: ${missing.join(', ')} not set (needed by ${services.join(', ')})`));
      }
      for (const n of ['DATABASE_URL', 'REDIS_URL', 'REDIS_PREFIX']) if (env[n]) leased[n] = env[n];
      const describe = Object.entries(leased).map(([k, v]) => `${k}=${k.endsWith('_URL') ? redactUrl(v) : v}`);
      return Promise.resolve({ env: leased, describe, dispose: () => Promise.resolve() });
    },
    sweep: () => Promise.resolve(),
  };
}

function defined<T extends Record<string, string | undefined>>(o: T): { [K in keyof T]?: string } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== '')) as { [K in keyof T]?: string };
}
