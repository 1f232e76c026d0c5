/**
 * "Invalidated by every write", under the conditions that break it: two instances sharing Postgres and
 * Redis, each reaching Redis through its own TCP proxy, so Redis can be cut for the writer, for the
 * reader, for both, and can come back holding the entries it had before the write. After a write's 200,
 * no instance may serve the old value for longer than 1 s.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { AUTH, makeApp, prepareDatabase, testConfig, waitFor, type TestApp } from './support.js';

const svc = useEphemeralServices();
const FRESH_WITHIN_MS = 1_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let proxyA: TcpProxy;
let proxyB: TcpProxy;
let a: TestApp;
let b: TestApp;

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 40);
  const redis = new URL(svc.current.env.REDIS_URL!);
  proxyA = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
  proxyB = await startTcpProxy(redis.hostname, Number(redis.port || 6379));
  const config = (proxy: TcpProxy) =>
    testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000000', REDIS_URL: proxy.url(svc.current.env.REDIS_URL!) });
  a = await makeApp(config(proxyA));
  b = await makeApp(config(proxyB));
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await proxyA?.close();
  await proxyB?.close();
});

const URL_ = '/api/v1/tools/github-create-issue';
const read = async (inst: TestApp) => {
  const res = await inst.app.inject({ method: 'GET', url: URL_, headers: AUTH });
  return {
    status: res.statusCode,
    cache: res.headers['x-cache'],
    name: res.statusCode === 200 ? res.json<{ name: string }>().name : undefined,
  };
};
let n = 0;
/** Writes a new name on `writer`, returns it and the time the 200 arrived. */
const rename = async (writer: TestApp) => {
  const name = `Coherent Name ${n++}`;
  const res = await writer.app.inject({ method: 'PATCH', url: URL_, headers: AUTH, payload: { name } });
  expect(res.statusCode, res.body).toBe(200);
  return { name, at: Date.now() };
};
/** Both instances have the current value cached (in Redis and in process). */
const prime = async () => {
  for (const inst of [a, b]) {
    await read(inst);
    await waitFor('a cache hit', async () => (await read(inst)).cache === 'hit', 5_000);
  }
};
/** From 1 s after the write's 200, for another 600 ms, every read on both instances has the new name. */
const expectFresh = async (write: { name: string; at: number }) => {
  const seenAt: Record<string, number | undefined> = {};
  while (Date.now() < write.at + FRESH_WITHIN_MS) {
    for (const [label, inst] of [
      ['a', a],
      ['b', b],
    ] as const) {
      if (seenAt[label] === undefined && (await read(inst)).name === write.name) seenAt[label] = Date.now() - write.at;
    }
    await sleep(20);
  }
  const stale: string[] = [];
  const until = Date.now() + 600;
  while (Date.now() < until) {
    for (const [label, inst] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const r = await read(inst);
      if (r.status !== 200 || r.name !== write.name)
        stale.push(`${label}: ${r.status} ${r.name} (${r.cache}) at +${Date.now() - write.at} ms`);
    }
    await sleep(20);
  }
  expect(stale.slice(0, 5)).toEqual([]);
  return seenAt;
};

describe('cache coherence across two instances', () => {
  it('Redis up: the other instance serves the new value within 1 s', async () => {
    await prime();
    await expectFresh(await rename(a));
  });

  it("Redis unreachable for the writer: the other instance's cached copies are not served", async () => {
    await prime();
    proxyA.cut();
    await waitFor('writer sees Redis down', () => a.redis.status !== 'ready');
    await expectFresh(await rename(a));
    proxyA.restore();
    await waitFor('writer reconnected', () => a.redis.status === 'ready', 10_000);
    await expectFresh({ name: (await read(b)).name!, at: Date.now() - FRESH_WITHIN_MS });
  });

  it('Redis unreachable for the reader, then back: it does not return to the entries from before the write', async () => {
    await prime();
    proxyB.cut();
    await waitFor('reader sees Redis down', () => b.redis.status !== 'ready');
    const write = await rename(a);
    await expectFresh(write);
    proxyB.restore();
    await waitFor('reader reconnected', () => b.redis.status === 'ready', 10_000);
    await expectFresh({ name: write.name, at: Date.now() - FRESH_WITHIN_MS });
  });

  it('Redis unreachable for both during the write, then back with its old entries: neither serves them', async () => {
    await prime();
    proxyA.cut();
    proxyB.cut();
    await waitFor('both see Redis down', () => a.redis.status !== 'ready' && b.redis.status !== 'ready');
    const write = await rename(b);
    await expectFresh(write);
    proxyA.restore();
    proxyB.restore();
    await waitFor('both reconnected', () => a.redis.status === 'ready' && b.redis.status === 'ready', 10_000);
    await expectFresh({ name: write.name, at: Date.now() - FRESH_WITHIN_MS });
  });
});
