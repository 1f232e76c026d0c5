/** Property: no input, however malformed, makes the API answer 5xx or leak a stack trace. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { useEphemeralServices } from '../../testkit/services.js';
import { AUTH, makeApp, prepareDatabase, testConfig, type TestApp } from './support.js';

const svc = useEphemeralServices();
let t: TestApp;

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 50);
  t = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000000' }));
});
afterAll(async () => {
  await t?.close();
});

const RUNS = 1_000;

function expectSafe(res: { statusCode: number; body: string }, what: string): void {
  if (res.statusCode >= 500 || /\n\s+at /.test(res.body)) {
    throw new Error(`${what} → ${res.statusCode}: ${res.body.slice(0, 300)}`);
  }
}

const anyString = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', ' ', '\u0000', '%', '%zz', '../..', "'; DROP TABLE tools; --", 'a'.repeat(600)));
const toolish = fc.record(
  {
    name: fc.oneof(anyString, fc.anything()),
    slug: fc.oneof(anyString, fc.anything()),
    category: fc.oneof(fc.constantFrom('testing', 'a-b'), anyString, fc.anything()),
    description: fc.oneof(anyString, fc.anything()),
    tags: fc.oneof(fc.array(anyString, { maxLength: 25 }), fc.anything()),
    relations: fc.oneof(fc.array(fc.record({ target: anyString, kind: anyString, weight: fc.oneof(fc.double(), fc.anything()) }, { requiredKeys: [] })), fc.anything()),
    toolId: fc.oneof(anyString, fc.uuid(), fc.constant('github-create-issue')),
    title: anyString,
    template: anyString,
    goal: fc.oneof(anyString, fc.anything()),
    limit: fc.oneof(fc.integer(), fc.double(), anyString),
  },
  { requiredKeys: [] },
);
const body = fc.oneof(toolish, fc.jsonValue(), fc.anything());
const rawBody = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('{', '[1,', '{"goal":', 'null', '"x"', '{"__proto__":{"a":1}}', '{"constructor":{"prototype":{}}}'));
const writeTarget = fc.constantFrom(
  ['POST', '/api/v1/tools'],
  ['PATCH', '/api/v1/tools/github-create-issue'],
  ['POST', '/api/v1/prompts'],
  ['PATCH', '/api/v1/prompts/00000000-0000-4000-8000-000000000000'],
  ['POST', '/api/v1/plan'],
) as fc.Arbitrary<['POST' | 'PATCH', string]>;

describe('property: malformed input never causes a 5xx', () => {
  it(`${RUNS} malformed JSON bodies`, async () => {
    await fc.assert(
      fc.asyncProperty(writeTarget, body, async ([method, url], payload) => {
        const res = await t.app.inject({ method, url, headers: { ...AUTH, 'content-type': 'application/json' }, payload: JSON.stringify(payload) ?? 'null' });
        expectSafe(res, `${method} ${url} ${JSON.stringify(payload)?.slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  });

  it(`${RUNS / 2} raw (non-JSON) bodies with assorted content types`, async () => {
    await fc.assert(
      fc.asyncProperty(writeTarget, rawBody, fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'), async ([method, url], payload, type) => {
        const res = await t.app.inject({ method, url, headers: { ...AUTH, 'content-type': type }, payload });
        expectSafe(res, `${method} ${url} (${type}) ${payload.slice(0, 200)}`);
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it(`${RUNS} malformed query strings and path ids`, async () => {
    const key = fc.oneof(fc.constantFrom('q', 'tag', 'category', 'limit', 'cursor', 'toolId', 'depth'), anyString);
    const query = fc.array(fc.tuple(key, fc.oneof(anyString, fc.integer().map(String), fc.base64String())), { maxLength: 6 });
    const path = fc.oneof(
      fc.constant('/api/v1/tools'),
      fc.constant('/api/v1/prompts'),
      anyString.map((id) => `/api/v1/tools/${encodeURIComponent(id)}`),
      anyString.map((id) => `/api/v1/prompts/${encodeURIComponent(id)}`),
      anyString.map((id) => `/api/v1/graph/tools/${encodeURIComponent(id)}/neighbourhood`),
      fc.constant('/api/v1/graph/tools/github-create-issue/neighbourhood'),
    );
    await fc.assert(
      fc.asyncProperty(path, query, fc.boolean(), async (p, q, raw) => {
        // Raw mode sends the characters unencoded (as a hostile client could).
        const qs = q.map(([k, v]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)).join('&');
        const url = `${p}${qs ? `?${qs}` : ''}`;
        let res;
        try {
          res = await t.app.inject({ method: 'GET', url, headers: AUTH });
        } catch {
          return; // light-my-request refuses some raw URLs before they reach the app
        }
        expectSafe(res, `GET ${url.slice(0, 300)}`);
      }),
      { numRuns: RUNS },
    );
  });
});

it('the service is still healthy after the onslaught', async () => {
  expect((await t.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({ status: 'ready' });
});
