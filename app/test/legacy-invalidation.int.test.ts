/**
 * Two versions side by side: the previous release cached under `<prefix>cache:<key>`, indexed in
 * `<prefix>cache:index`, and dropped them (and told its pods over pub/sub) only on its own writes. This
 * release's writes, and token changes it notices, must drop them too, before the write answers and then
 * every LEGACY_WINDOW.everyMs for the window (an old pod may store what it read before the commit seconds
 * later); with the shim off, the old entries survive the write (the known 60 s stale reads).
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useEphemeralServices } from '../../testkit/services.js';
import { LEGACY_WINDOW } from '../src/legacy-invalidation.js';

const EVERY_MS = LEGACY_WINDOW.everyMs;
import { AUTH, makeApp, prepareDatabase, testConfig, waitFor, type TestApp } from './support.js';

const svc = useEphemeralServices();
let on: TestApp;
let off: TestApp;
let redis: Redis;
let sub: Redis;
const messages: string[] = [];

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 20);
  on = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000000' }));
  off = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000000', CACHE_LEGACY_INVALIDATION: 'false' }));
  redis = new Redis(svc.current.env.REDIS_URL!);
  sub = new Redis(svc.current.env.REDIS_URL!);
  await sub.subscribe(`${prefix()}cache:invalidate`);
  sub.on('message', (_c: string, m: string) => messages.push(m));
});
afterAll(async () => {
  await on?.close();
  await off?.close();
  redis?.disconnect();
  sub?.disconnect();
});

const prefix = () => svc.current.env.REDIS_PREFIX ?? 'kgraph:';
const URL_ = '/api/v1/tools/github-create-issue';
/** What a pod of the previous release leaves in Redis after serving a read. */
const oldPodCaches = async () => {
  const key = `${prefix()}cache:tool:"github-create-issue"`;
  await redis.set(key, '{"name":"stale"}', 'EX', 60);
  await redis.sadd(`${prefix()}cache:index`, key);
  return key;
};
const rename = async (inst: TestApp, name: string) => {
  const res = await inst.app.inject({ method: 'PATCH', url: URL_, headers: AUTH, payload: { name } });
  expect(res.statusCode, res.body).toBe(200);
};

describe('the previous release cache protocol', () => {
  it('a write drops the old entries and publishes before it answers, and again while the window is open', async () => {
    const key = await oldPodCaches();
    const before = messages.length;
    await rename(on, 'Legacy One');
    expect(await redis.exists(key)).toBe(0);
    await waitFor('the invalidation message', () => messages.length > before, 2_000);
    // An old pod stores what it read just before the commit, after the first drop: the repeat catches it.
    await oldPodCaches();
    await waitFor('the repeated drop', async () => (await redis.exists(key)) === 0, EVERY_MS + 1_000);
    // A slow old read (its snapshot from before the commit) stored seconds later is dropped too.
    await new Promise((r) => setTimeout(r, 2_000));
    await oldPodCaches();
    await waitFor('the drop of a late store', async () => (await redis.exists(key)) === 0, EVERY_MS + 1_000);
  });

  it('a token change from elsewhere (psql, another pod) drops them within 1 s', async () => {
    on.generation.stop();
    await on.legacy!.drain();
    await on.generation.start();
    const key = await oldPodCaches();
    const db = new pg.Client({ connectionString: svc.current.env.DATABASE_URL! });
    await db.connect();
    const at = Date.now();
    await db.query(`UPDATE tools SET name = 'From psql' WHERE slug = 'github-create-issue'`);
    await db.end();
    await waitFor('the drop after a foreign write', async () => (await redis.exists(key)) === 0, 1_000);
    expect(Date.now() - at).toBeLessThan(1_000);
  });

  it('switched off (CACHE_LEGACY_INVALIDATION=false), the old entries outlive a write: the stale reads it prevents', async () => {
    // `on` would drop them for its own window: stop its polling and let its window end first.
    on.generation.stop();
    await on.legacy!.drain();
    try {
      const key = await oldPodCaches();
      await rename(off, 'Legacy Off');
      await new Promise((r) => setTimeout(r, EVERY_MS * 3));
      expect(await redis.exists(key)).toBe(1);
    } finally {
      await on.generation.start();
    }
  });
});
