/**
 * The rate limit across replicas: with Redis up, bursts far larger than the limit, spread over two and
 * three instances at once, admit the limit within +2% (and not much less). The per-process fallback while
 * Redis is down is covered in api.int.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { AUTH, OTHER_KEY, makeApp, prepareDatabase, testConfig, waitFor, type TestApp } from './support.js';

const svc = useEphemeralServices();
const MAX = 120;
const BURST = 400;

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 20);
});

let run = 0;
async function burst(instances: number, waves: number): Promise<number[]> {
  const config = testConfig(svc.current.env, {
    RATE_LIMIT_MAX: String(MAX),
    REDIS_PREFIX: `${svc.current.env.REDIS_PREFIX}rlr${run++}:`,
  });
  const apps: TestApp[] = [];
  try {
    for (let i = 0; i < instances; i++) apps.push(await makeApp(config));
    const admitted: number[] = [];
    for (let w = 0; w < waves; w++) {
      // Each wave uses another API key: its own window, met from zero.
      const headers = w === 0 ? AUTH : { 'x-api-key': OTHER_KEY };
      // A burst as clients send it: a few connections per instance, each sending its next request as soon
      // as the previous one is answered, so the instances' counts interleave in time.
      const codes: number[] = [];
      let left = BURST;
      await Promise.all(
        Array.from({ length: instances * 4 }, async (_, wkr) => {
          while (left > 0) {
            left--;
            const r = await apps[wkr % instances]!.app.inject({
              method: 'GET',
              url: '/api/v1/tools/github-create-issue',
              headers,
            });
            codes.push(r.statusCode);
          }
        }),
      );
      expect(codes.filter((c) => c !== 200 && c !== 429)).toEqual([]);
      admitted.push(codes.filter((c) => c === 200).length);
    }
    // Later requests in the same window: still nothing beyond the limit.
    const more = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        apps[i % instances]!.app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: AUTH }),
      ),
    );
    expect(more.filter((r) => r.statusCode === 200)).toHaveLength(0);
    return admitted;
  } finally {
    for (const a of apps) await a.close();
  }
}

describe('rate limit across replicas (Redis up)', () => {
  it.each([2, 3])(
    `%i instances, RATE_LIMIT_MAX=${MAX}, bursts of ${BURST}: admits ${MAX} within +2%`,
    async (instances) => {
      const admitted = await burst(instances, 2);
      console.log(
        `rate-limit: ${instances} instances, bursts of ${BURST}, max ${MAX}: admitted ${admitted.join(', ')}`,
      );
      for (const n of admitted) {
        expect(n).toBeLessThanOrEqual(Math.floor(MAX * 1.02));
        expect(n).toBeGreaterThanOrEqual(Math.ceil(MAX * 0.95));
      }
    },
  );

  it('a slow trickle on two instances is counted in full in Redis (unused local budget is given back)', async () => {
    const prefix = `${svc.current.env.REDIS_PREFIX}rlt:`;
    const config = testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000', REDIS_PREFIX: prefix });
    const a = await makeApp(config);
    const b = await makeApp(config);
    try {
      for (let i = 0; i < 60; i++)
        expect(
          (await (i % 2 ? b : a).app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: AUTH })).statusCode,
        ).toBe(200);
      await waitFor(
        'Redis holds the exact count',
        async () => (await a.redis.get(`${prefix}ratelimit:key-0`)) === '60',
        3_000,
      );
    } finally {
      await a.close();
      await b.close();
    }
  });
});
