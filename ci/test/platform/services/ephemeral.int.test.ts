import { describe, expect, it, inject } from 'vitest';
import pg from 'pg';
import { Redis } from 'ioredis';
import {
  createEphemeralServices,
  DEFAULT_DATABASE_URL,
  DEFAULT_REDIS_URL,
  dropDatabase,
  ephemeralDatabaseName,
  redactUrl,
  sweepRun,
  withDatabase,
} from '../../../src/platform/services/ephemeral.js';

// The servers the services under test use (DATABASE_URL / REDIS_URL, as in the Dagger module's containers,
// where 127.0.0.1 is not the bound Postgres), else this machine's defaults.
const DATABASE_URL = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
const REDIS_URL = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return r.rowCount === 1;
  } finally {
    await c.end();
  }
}

async function redisKeys(pattern: string): Promise<string[]> {
  const r = new Redis(REDIS_URL);
  try {
    return await r.keys(pattern);
  } finally {
    r.disconnect();
  }
}

describe('ephemeral services', () => {
  const runId = `${inject('kgraphRunId')}e`;

  it('creates a usable database and Redis prefix, and removes both on dispose', async () => {
    const svc = await createEphemeralServices({ services: ['postgres', 'redis'], runId });
    expect(svc.databaseName).toMatch(/^kgraph_eph_/);
    expect(await databaseExists(svc.databaseName!)).toBe(true);

    const c = new pg.Client({ connectionString: svc.env.DATABASE_URL });
    await c.connect();
    await c.query('CREATE TABLE t (x int)');
    await c.end();
    const r = new Redis(svc.env.REDIS_URL!);
    await r.set(`${svc.env.REDIS_PREFIX}a`, '1');
    r.disconnect();

    await svc.dispose();
    expect(await databaseExists(svc.databaseName!)).toBe(false);
    expect(await redisKeys(`${svc.redisPrefix}*`)).toEqual([]);
    await expect(svc.dispose()).resolves.toBeUndefined();
  });

  it('gives two runs separate databases and prefixes', async () => {
    const [a, b] = await Promise.all([
      createEphemeralServices({ services: ['postgres', 'redis'], runId }),
      createEphemeralServices({ services: ['postgres', 'redis'], runId }),
    ]);
    try {
      expect(a.env.DATABASE_URL).not.toBe(b.env.DATABASE_URL);
      expect(a.env.REDIS_PREFIX).not.toBe(b.env.REDIS_PREFIX);
    } finally {
      await Promise.all([a.dispose(), b.dispose()]);
    }
  });

  it('only creates what the step needs', async () => {
    const svc = await createEphemeralServices({ services: ['redis'], runId });
    expect(svc.env.DATABASE_URL).toBeUndefined();
    expect(svc.env.REDIS_PREFIX).toBeDefined();
    await svc.dispose();
  });

  it('sweeps what a crashed run left behind', async () => {
    const sweepId = `${runId}s`;
    const svc = await createEphemeralServices({ services: ['postgres', 'redis'], runId: sweepId });
    const r = new Redis(REDIS_URL);
    await r.set(`${svc.redisPrefix}k`, 'v');
    r.disconnect();
    await sweepRun(sweepId);
    expect(await databaseExists(svc.databaseName!)).toBe(false);
    expect(await redisKeys(`${svc.redisPrefix}*`)).toEqual([]);
  });

  it('fails with a clear reason when the server cannot be reached', async () => {
    await expect(
      createEphemeralServices({
        services: ['postgres'],
        databaseUrl: 'postgres://postgres:hunter2@127.0.0.1:1/postgres',
        attempts: 2,
        initialDelayMs: 10,
      }),
    ).rejects.toThrow(/postgres at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres not ready after 2 attempts/);
  });

  it('refuses to drop a database that is not ephemeral', async () => {
    await expect(dropDatabase(DATABASE_URL, 'postgres')).rejects.toThrow(/refusing/);
  });
});

describe('names and URLs', () => {
  it('builds safe database names', () => {
    expect(ephemeralDatabaseName('abc', '123')).toBe('kgraph_eph_abc_123');
    expect(() => ephemeralDatabaseName('a"; drop', 'x')).toThrow(/invalid/);
  });
  it('swaps the database in a URL and hides passwords', () => {
    expect(withDatabase('postgres://u:p@h:5432/postgres', 'x')).toBe('postgres://u:p@h:5432/x');
    expect(redactUrl('redis://:secret@h:6379/0')).toBe('redis://:***@h:6379/0');
    expect(redactUrl('not a url')).toBe('<unparseable url>');
  });
});
