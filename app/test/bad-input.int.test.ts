/**
 * Input that Postgres would refuse (a NUL byte in any text, a number a `real` cannot hold) is a 400 that
 * names the field, never a 500 from the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { AUTH, makeApp, prepareDatabase, testConfig, type TestApp } from './support.js';

const svc = useEphemeralServices();
let t: TestApp;
let promptId: string;

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 40);
  t = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000000' }));
  promptId = (await t.app.inject({ method: 'GET', url: '/api/v1/prompts?limit=1', headers: AUTH })).json<{
    items: { id: string }[];
  }>().items[0]!.id;
});
afterAll(async () => {
  await t?.close();
});

const cursor = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
const ID = '00000000-0000-4000-8000-000000000000';
const NUL = '\u0000';

type Case = [label: string, method: 'GET' | 'POST' | 'PATCH', url: () => string, body: unknown, field: string];
const cases: Case[] = [
  ['NUL in q', 'GET', () => `/api/v1/tools?q=${encodeURIComponent(`git${NUL}hub`)}`, undefined, 'query.q'],
  [
    'NUL in a name cursor',
    'GET',
    () => `/api/v1/tools?cursor=${cursor({ k: 'name', n: `a${NUL}`, id: ID })}`,
    undefined,
    'query.cursor',
  ],
  [
    'rank 1e308 in a search cursor',
    'GET',
    () => `/api/v1/tools?q=github&cursor=${cursor({ k: 'rank', r: 1e308, id: ID })}`,
    undefined,
    'query.cursor',
  ],
  [
    'rank -1e308',
    'GET',
    () => `/api/v1/tools?q=github&cursor=${cursor({ k: 'rank', r: -1e308, id: ID })}`,
    undefined,
    'query.cursor',
  ],
  [
    'rank 1e-300 (underflows a real)',
    'GET',
    () => `/api/v1/tools?q=github&cursor=${cursor({ k: 'rank', r: 1e-300, id: ID })}`,
    undefined,
    'query.cursor',
  ],
  [
    'rank 5e-324',
    'GET',
    () => `/api/v1/tools?q=github&cursor=${cursor({ k: 'rank', r: 5e-324, id: ID })}`,
    undefined,
    'query.cursor',
  ],
  [
    'rank 1e999 (Infinity once parsed)',
    'GET',
    () => `/api/v1/tools?q=github&cursor=${Buffer.from(`{"k":"rank","r":1e999,"id":"${ID}"}`).toString('base64url')}`,
    undefined,
    'query.cursor',
  ],
  [
    'NUL in a tool name',
    'POST',
    () => '/api/v1/tools',
    { name: `Nul${NUL}Tool`, slug: 'nul-tool', category: 'testing' },
    'body.name',
  ],
  [
    'NUL in a tool description',
    'POST',
    () => '/api/v1/tools',
    { name: 'Nul Tool', category: 'testing', description: `x${NUL}y` },
    'body.description',
  ],
  [
    'NUL in a patched tool description',
    'PATCH',
    () => '/api/v1/tools/github-create-issue',
    { description: `x${NUL}` },
    'body.description',
  ],
  [
    'a relation weight a real cannot hold',
    'PATCH',
    () => '/api/v1/tools/github-create-issue',
    { relations: [{ target: 'github-get-issue', kind: 'related', weight: 1e-300 }] },
    'body.relations[0].weight',
  ],
  [
    'NUL in a prompt title',
    'POST',
    () => '/api/v1/prompts',
    { toolId: 'github-create-issue', title: `T${NUL}`, template: 'ok {{x}}' },
    'body.title',
  ],
  [
    'NUL in a prompt template',
    'POST',
    () => '/api/v1/prompts',
    { toolId: 'github-create-issue', title: 'T', template: `a${NUL}b` },
    'body.template',
  ],
  ['NUL in a patched prompt title', 'PATCH', () => `/api/v1/prompts/${promptId}`, { title: `${NUL}` }, 'body.title'],
  [
    'NUL in a patched prompt template',
    'PATCH',
    () => `/api/v1/prompts/${promptId}`,
    { template: `x${NUL}` },
    'body.template',
  ],
  ['NUL in a plan goal', 'POST', () => '/api/v1/plan', { goal: `create a github issue${NUL}` }, 'body.goal'],
];

describe('bad input Postgres would refuse', () => {
  it.each(cases)('%s → 400 naming the field', async (_label, method, url, body, field) => {
    const res = await t.app.inject({
      method,
      url: url(),
      headers: AUTH,
      ...(body === undefined ? {} : { payload: body as object }),
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json<{ details: { field: string }[] }>().details[0]!.field).toBe(field);
  });

  it('a real search cursor still pages', async () => {
    const first = (await t.app.inject({ method: 'GET', url: '/api/v1/tools?q=github&limit=2', headers: AUTH })).json<{
      nextCursor: string;
    }>();
    const next = await t.app.inject({
      method: 'GET',
      url: `/api/v1/tools?q=github&limit=2&cursor=${first.nextCursor}`,
      headers: AUTH,
    });
    expect(next.statusCode).toBe(200);
  });
});

describe('paths the router refuses before any route', () => {
  it.each([
    ['a path parameter over the 200-character limit', `/api/v1/tools/${'x'.repeat(3_000)}`, 414, 'uri too long'],
    ['a path that is not valid percent-encoding', '/api/v1/tools/%E0%A4%A', 400, 'bad request'],
  ])('%s: the service error shape, without echoing the path', async (_label, url, status, error) => {
    const res = await t.app.inject({ method: 'GET', url, headers: AUTH });
    expect(res.statusCode).toBe(status);
    const body = res.json<{ error: string; message: string; code?: string }>();
    expect(body.error).toBe(error);
    expect(body.code).toBeUndefined();
    expect(res.body).not.toContain('xxxxxxxxxx');
    expect(res.body).not.toContain('%E0');
  });
});
