/**
 * Outages through a TCP proxy between the real service process and Postgres / Redis: while cut the
 * service says 503 (Postgres) or degraded (Redis) and keeps answering; after restore it recovers; it
 * never crashes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { startLocalApp, type LocalApp } from '../../ci/src/platform/services/local-app.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { API_KEY, waitFor } from './support.js';

const svc = useEphemeralServices();
let pgProxy: TcpProxy;
let redisProxy: TcpProxy;
let app: LocalApp;

beforeAll(async () => {
  const db = new URL(svc.current.env.DATABASE_URL!);
  const redis = new URL(svc.current.env.REDIS_URL!);
  pgProxy = await startTcpProxy(db.hostname, Number(db.port || 5432));
  redisProxy = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
  app = await startLocalApp({
    env: {
      ...svc.current.env,
      DATABASE_URL: pgProxy.url(svc.current.env.DATABASE_URL!),
      REDIS_URL: redisProxy.url(svc.current.env.REDIS_URL!),
      API_KEYS: API_KEY,
      LOG_LEVEL: 'warn',
    },
    seedCount: 30,
  });
});
afterAll(async () => {
  const code = await app?.stop();
  await pgProxy?.close();
  await redisProxy?.close();
  expect(code).toBe(0);
});

const readyz = async () => {
  const res = await fetch(`${app.url}/readyz`);
  return {
    status: res.status,
    body: (await res.json()) as { status: string; checks: Record<string, string>; reasons?: string[] },
  };
};
const api = (path: string) => fetch(`${app.url}/api/v1${path}`, { headers: { 'x-api-key': API_KEY } });
let n = 0;
/** A search nobody asked before, so it cannot come from the cache. */
const freshSearch = () => api(`/tools?q=github&limit=${(n++ % 90) + 1}&tag=issue`);

describe('outages', () => {
  it('Redis cut: degraded but serving (no cache, per-process rate limit); recovers when restored', async () => {
    expect((await readyz()).body.status).toBe('ready');
    redisProxy.cut();
    await waitFor('degraded readiness', async () => (await readyz()).body.status === 'degraded');
    const r = await readyz();
    expect(r.status).toBe(200);
    expect(r.body.checks).toEqual({ postgres: 'up', redis: 'down', schema: 'current' });
    expect(r.body.reasons?.[0]).toMatch(/^redis: /);
    for (let i = 0; i < 5; i++) {
      const res = await api('/tools/github-create-issue');
      expect(res.status).toBe(200);
      expect(res.headers.get('x-cache')).toBe('bypass');
    }
    const plan = await fetch(`${app.url}/api/v1/plan`, {
      method: 'POST',
      headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ goal: 'create a github issue' }),
    });
    expect(plan.status).toBe(200);

    redisProxy.restore();
    await waitFor('ready again', async () => (await readyz()).body.status === 'ready', 15_000);
    await api('/tools/github-create-issue');
    await waitFor(
      'cache in use again',
      async () => (await api('/tools/github-create-issue')).headers.get('x-cache') === 'hit',
    );
  });

  it('Postgres cut: 503 with reasons, API 503 (never 500), liveness still ok; recovers when restored', async () => {
    pgProxy.cut();
    await waitFor('unready', async () => (await readyz()).status === 503);
    const r = await readyz();
    expect(r.body).toMatchObject({
      status: 'unavailable',
      checks: { postgres: 'down', redis: 'up', schema: 'unknown' },
    });
    expect(r.body.reasons?.[0]).toMatch(/^postgres: /);
    for (let i = 0; i < 5; i++) {
      const res = await freshSearch();
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: 'service unavailable' });
    }
    expect((await fetch(`${app.url}/healthz`)).status).toBe(200);

    pgProxy.restore();
    await waitFor('ready again', async () => (await readyz()).body.status === 'ready', 15_000);
    expect((await freshSearch()).status).toBe(200);
  });

  it('both cut at once, then restored: the process is the same one and still serving', async () => {
    pgProxy.cut();
    redisProxy.cut();
    await waitFor('unready', async () => (await readyz()).status === 503);
    expect((await freshSearch()).status).toBe(503);
    pgProxy.restore();
    redisProxy.restore();
    await waitFor('ready again', async () => (await readyz()).body.status === 'ready', 15_000);
    expect((await freshSearch()).status).toBe(200);
    expect(() => process.kill(app.pid, 0)).not.toThrow();
    expect(app.logs()).not.toMatch(/uncaught|unhandled/i);
  });
});
