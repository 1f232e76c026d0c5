/**
 * A Postgres failover as the service sees it: every connection dies at once, in the middle of
 * transactions, while writes run. 20 cuts of a TCP proxy between the real service process and Postgres
 * under write load: the process never exits, requests in flight answer 503 (never 500), and after each
 * restore the pool recovers by itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { startLocalApp, type LocalApp } from '../../ci/src/platform/services/local-app.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { API_KEY, waitFor } from './support.js';

const svc = useEphemeralServices();
let pgProxy: TcpProxy;
let app: LocalApp;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const db = new URL(svc.current.env.DATABASE_URL!);
  pgProxy = await startTcpProxy(db.hostname, Number(db.port || 5432));
  app = await startLocalApp({
    env: {
      ...svc.current.env,
      DATABASE_URL: pgProxy.url(svc.current.env.DATABASE_URL!),
      API_KEYS: API_KEY,
      RATE_LIMIT_MAX: '1000000',
      LOG_LEVEL: 'warn',
    },
    seedCount: 40,
  });
});
afterAll(async () => {
  await app?.stop('SIGKILL');
  await pgProxy?.close();
});

const headers = { 'x-api-key': API_KEY, 'content-type': 'application/json' };
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('Postgres lost during writes', () => {
  it('20 cuts under write load: 0 crashes, only 2xx/4xx/503, the pool recovers after each', async () => {
    const statuses = new Map<number, number>();
    const transportErrors: string[] = [];
    let running = true;
    let n = 0;
    const write = async (w: number) => {
      const i = n++;
      // PATCH with relations runs several statements in one transaction: the cut lands between them.
      const req =
        i % 3 === 0
          ? {
              method: 'POST',
              url: '/api/v1/tools',
              body: {
                name: `Failover Tool ${w}-${i}`,
                category: 'testing',
                relations: [{ target: 'github-create-issue', kind: 'related' }],
              },
            }
          : {
              method: 'PATCH',
              url: '/api/v1/tools/github-create-issue',
              body: {
                description: `d${i}`,
                relations: [
                  { target: 'jira-create-issue', kind: 'alternative' },
                  { target: 'slack-create-message', kind: 'related' },
                ],
              },
            };
      try {
        const res = await fetch(`${app.url}${req.url}`, {
          method: req.method,
          headers,
          body: JSON.stringify(req.body),
          signal: AbortSignal.timeout(10_000),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        return res.status;
      } catch (err) {
        transportErrors.push(String((err as { cause?: unknown }).cause ?? err));
        return 0;
      }
    };
    const workers = Array.from({ length: 6 }, async (_, w) => {
      while (running) await write(w);
    });
    const recoveries: number[] = [];
    try {
      for (let cut = 0; cut < 20; cut++) {
        await sleep(80 + ((cut * 37) % 120));
        pgProxy.cut();
        await sleep(30);
        pgProxy.restore();
        const restored = Date.now();
        // Recovered: a fresh write after the restore succeeds.
        await waitFor(
          `a write succeeds after cut ${cut + 1}`,
          async () => alive(app.pid) && [200, 201].includes(await write(99)),
          10_000,
        ).catch((err: unknown) => {
          throw new Error(`${String(err)}; alive ${alive(app.pid)}; log tail:\n${app.logs().slice(-1_500)}`);
        });
        recoveries.push(Date.now() - restored);
        expect(alive(app.pid), `process alive after cut ${cut + 1}`).toBe(true);
      }
    } finally {
      running = false;
      await Promise.all(workers);
    }
    console.log(
      `pg-failover: statuses ${JSON.stringify(Object.fromEntries(statuses))}, recovery ms ${JSON.stringify(recoveries)}`,
    );
    expect(alive(app.pid)).toBe(true);
    expect(app.logs()).not.toMatch(/uncaught|unhandled/i);
    expect(transportErrors).toEqual([]);
    const bad = [...statuses.keys()].filter((s) => s >= 500 && s !== 503);
    expect(bad).toEqual([]);
    expect(statuses.get(503) ?? 0, 'some writes were in flight during the cuts').toBeGreaterThan(0);
  });
});
