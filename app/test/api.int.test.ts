import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../testkit/services.js';
import { knownMigrations } from '../src/schema-state.js';
import { API_KEY, AUTH, OTHER_KEY, makeApp, prepareDatabase, testConfig, waitFor, type TestApp } from './support.js';

const svc = useEphemeralServices();
let t: TestApp;

interface ToolBody {
  id: string;
  slug: string;
  name: string;
  score?: number;
  prompts?: { id: string }[];
  related?: { slug: string; kind: string; direction: string }[];
}
interface PageBody<T> {
  items: T[];
  nextCursor: string | null;
}

beforeAll(async () => {
  await prepareDatabase(svc.current.env.DATABASE_URL!, 200);
  t = await makeApp(testConfig(svc.current.env, { FAULT_INJECTION: 'true', RATE_LIMIT_MAX: '100000' }));
});
afterAll(async () => {
  await t?.close();
});

const get = (url: string, headers: Record<string, string> = AUTH) => t.app.inject({ method: 'GET', url, headers });
const send = (
  method: 'POST' | 'PATCH' | 'PUT' | 'DELETE',
  url: string,
  body?: unknown,
  headers: Record<string, string> = AUTH,
) => t.app.inject({ method, url, headers, ...(body === undefined ? {} : { payload: body as object }) });

describe('health, readiness, metrics', () => {
  it('healthz answers without touching dependencies; readyz checks both', async () => {
    expect((await get('/healthz', {})).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz', {});
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'ready',
      checks: { postgres: 'up', redis: 'up', schema: 'current' },
      schema: { at: knownMigrations().at(-1), expected: knownMigrations().at(-1), missing: [], newer: [] },
    });
  });

  it('metrics expose request, graph query and pool metrics by route template', async () => {
    await get('/api/v1/tools/github-create-issue');
    await get('/api/v1/tools?q=github');
    const text = (await get('/metrics', {})).body;
    expect(text).toMatch(
      /http_request_duration_seconds_bucket\{le="0.005",route="\/api\/v1\/tools\/:id",method="GET",status_code="200"/,
    );
    expect(text).toMatch(/http_requests_total\{route="\/api\/v1\/tools\/:id",method="GET",status_code="200"/);
    expect(text).toMatch(/graph_query_duration_seconds_count\{query="search"/);
    expect(text).toMatch(/db_pool_connections\{state="idle"/);
    expect(text).toContain('process_resident_memory_bytes');
  });

  it('sets OWASP headers and echoes a plain request id, replacing a hostile one', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-request-id']).toBe('abc-123');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
    const hostile = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'a\u0001b"}' } });
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('auth', () => {
  it('401 without a key or with a wrong one; x-api-key and Bearer both work', async () => {
    const none = await get('/api/v1/tools', {});
    expect(none.statusCode).toBe(401);
    expect(none.json().error).toBe('unauthorized');
    expect((await get('/api/v1/tools', { 'x-api-key': `${API_KEY}x` })).statusCode).toBe(401);
    expect((await get('/api/v1/tools', { authorization: `Basic ${API_KEY}` })).statusCode).toBe(401);
    expect((await get('/api/v1/tools', { authorization: `Bearer ${OTHER_KEY}` })).statusCode).toBe(200);
    expect((await get('/api/v1/tools', { 'x-api-key': API_KEY })).statusCode).toBe(200);
  });
});

describe('tools', () => {
  it('ranks a name match above a description-only match', async () => {
    await send('POST', '/api/v1/tools', { name: 'Zebracorn Exporter', category: 'testing', tags: ['zebra'] });
    await send('POST', '/api/v1/tools', {
      name: 'Plain Exporter',
      category: 'testing',
      description: 'Exports zebracorn data now and then.',
    });
    const res = await get('/api/v1/tools?q=zebracorn');
    const items = res.json<PageBody<ToolBody>>().items;
    expect(items.map((i) => i.slug)).toEqual(['zebracorn-exporter', 'plain-exporter']);
    expect(items[0]!.score!).toBeGreaterThan(items[1]!.score!);
  });

  it('filters by tag and category', async () => {
    const byTag = (await get('/api/v1/tools?tag=zebra')).json<PageBody<ToolBody>>();
    expect(byTag.items.map((i) => i.slug)).toEqual(['zebracorn-exporter']);
    const byCat = (await get('/api/v1/tools?category=testing&limit=100')).json<PageBody<ToolBody>>();
    expect(byCat.items.map((i) => i.slug).sort()).toEqual(['plain-exporter', 'zebracorn-exporter']);
  });

  it('pages through search and listing with cursors: every row once, in order', async () => {
    for (const query of ['q=github', 'category=source-control']) {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await get(`/api/v1/tools?${query}&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
        expect(res.statusCode).toBe(200);
        const body = res.json<PageBody<ToolBody>>();
        seen.push(...body.items.map((i) => i.id));
        cursor = body.nextCursor;
        pages++;
      } while (cursor && pages < 100);
      const all = (await get(`/api/v1/tools?${query}&limit=100`)).json<PageBody<ToolBody>>();
      expect(all.nextCursor).toBeNull();
      expect(seen).toEqual(all.items.map((i) => i.id));
      expect(new Set(seen).size).toBe(seen.length);
      expect(pages).toBeGreaterThan(1);
    }
  });

  it('400 names the field and reason for bad queries and cursors', async () => {
    const limit = await get('/api/v1/tools?limit=0');
    expect(limit.statusCode).toBe(400);
    expect(limit.json().details[0]).toEqual({ field: 'query.limit', reason: 'must be >= 1' });
    const unknown = await get('/api/v1/tools?colour=red');
    expect(unknown.json().details[0]).toEqual({ field: 'query.colour', reason: 'unknown field' });
    const cursor = await get('/api/v1/tools?cursor=bm9wZQ');
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json().details[0].field).toBe('query.cursor');
    // A listing cursor cannot continue a search.
    const listing = (await get('/api/v1/tools?limit=1')).json<PageBody<ToolBody>>();
    expect((await get(`/api/v1/tools?q=github&cursor=${listing.nextCursor}`)).statusCode).toBe(400);
  });

  it('gets one tool by id or slug, with prompts and related tools; 404 for unknown', async () => {
    const bySlug = await get('/api/v1/tools/github-create-issue');
    expect(bySlug.statusCode).toBe(200);
    const tool = bySlug.json<ToolBody>();
    expect(tool.prompts!.length).toBeGreaterThan(0);
    expect(tool.related).toContainEqual(
      expect.objectContaining({ slug: 'github-get-issue', kind: 'requires', direction: 'out' }),
    );
    expect((await get(`/api/v1/tools/${tool.id}`)).json<ToolBody>().slug).toBe('github-create-issue');
    expect((await get('/api/v1/tools/GITHUB-CREATE-ISSUE')).statusCode).toBe(200);
    expect((await get('/api/v1/tools/no-such-tool')).statusCode).toBe(404);
    expect((await get('/api/v1/tools/00000000-0000-4000-8000-000000000000')).statusCode).toBe(404);
    const bad = await get('/api/v1/tools/bad%20id');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().details[0].field).toBe('params.id');
  });

  it('creates, updates and deletes a tool, with relations; errors name the field', async () => {
    const created = await send('POST', '/api/v1/tools', {
      name: 'Flaky Test Hunter',
      category: 'testing',
      tags: ['tests', 'flaky'],
      relations: [{ target: 'github-create-issue', kind: 'related', weight: 0.5 }],
    });
    expect(created.statusCode).toBe(201);
    const tool = created.json<ToolBody>();
    expect(tool.slug).toBe('flaky-test-hunter');
    expect(created.headers.location).toBe(`/api/v1/tools/${tool.id}`);
    expect(tool.related).toEqual([
      expect.objectContaining({ slug: 'github-create-issue', kind: 'related', direction: 'out' }),
    ]);

    const dup = await send('POST', '/api/v1/tools', { name: 'Flaky Test Hunter', category: 'testing' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().details[0].field).toBe('body.slug');

    const missing = await send('POST', '/api/v1/tools', { name: 'No Category' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().details[0]).toEqual({ field: 'body.category', reason: 'is required' });
    const badKind = await send('POST', '/api/v1/tools', {
      name: 'X',
      category: 'a',
      relations: [{ target: 'github-create-issue', kind: 'likes' }],
    });
    expect(badKind.json().details[0].field).toBe('body.relations[0].kind');
    const badTarget = await send('POST', '/api/v1/tools', {
      name: 'Y tool',
      category: 'a',
      relations: [{ target: 'nope-nope', kind: 'related' }],
    });
    expect(badTarget.statusCode).toBe(400);
    expect(badTarget.json().details[0]).toEqual({ field: 'body.relations[0].target', reason: 'unknown tool' });
    expect((await get('/api/v1/tools/y-tool')).statusCode).toBe(404);

    const patched = await send('PATCH', `/api/v1/tools/${tool.id}`, {
      description: 'Finds flaky tests',
      relations: [],
    });
    expect(patched.statusCode).toBe(200);
    expect(patched.json<ToolBody & { description: string }>().description).toBe('Finds flaky tests');
    expect(patched.json<ToolBody>().related).toEqual([]);
    expect((await send('PATCH', `/api/v1/tools/${tool.id}`, {})).statusCode).toBe(400);
    expect((await send('PATCH', '/api/v1/tools/no-such-tool', { name: 'Z' })).statusCode).toBe(404);

    expect((await send('DELETE', `/api/v1/tools/${tool.id}`)).statusCode).toBe(204);
    expect((await get(`/api/v1/tools/${tool.id}`)).statusCode).toBe(404);
    expect((await send('DELETE', `/api/v1/tools/${tool.id}`)).statusCode).toBe(404);
  });

  it('refuses bodies that are not JSON objects, malformed JSON, and oversized bodies', async () => {
    const text = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tools',
      headers: { ...AUTH, 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(text.statusCode).toBe(400);
    expect(text.json().details[0]).toEqual({ field: 'body', reason: 'must be object' });
    const xml = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tools',
      headers: { ...AUTH, 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    expect(xml.statusCode).toBe(415);
    const broken = await t.app.inject({
      method: 'POST',
      url: '/api/v1/tools',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(broken.statusCode).toBe(400);
    const huge = await send('POST', '/api/v1/tools', { name: 'big', category: 'a', description: 'x'.repeat(70_000) });
    expect(huge.statusCode).toBe(413);
    expect(huge.body).not.toMatch(/at .*\.js/);
  });
});

describe('prompts', () => {
  it('lists, filters, creates, updates and deletes prompts', async () => {
    const list = await get('/api/v1/prompts?toolId=github-create-issue');
    expect(list.statusCode).toBe(200);
    const before = list.json<PageBody<{ id: string; toolId: string }>>().items;
    expect(before.length).toBeGreaterThan(0);
    const created = await send('POST', '/api/v1/prompts', {
      toolId: 'github-create-issue',
      title: 'File a bug',
      template: 'File {{input}}',
    });
    expect(created.statusCode).toBe(201);
    const prompt = created.json<{ id: string; toolId: string; title: string }>();
    expect(prompt.toolId).toBe(before[0]!.toolId);
    const after = (await get('/api/v1/prompts?toolId=github-create-issue')).json<PageBody<{ id: string }>>().items;
    expect(after.map((p) => p.id)).toContain(prompt.id);
    expect((await get(`/api/v1/prompts/${prompt.id}`)).json().title).toBe('File a bug');
    const patched = await send('PATCH', `/api/v1/prompts/${prompt.id}`, { title: 'File a bug report' });
    expect(patched.json().title).toBe('File a bug report');
    expect((await send('DELETE', `/api/v1/prompts/${prompt.id}`)).statusCode).toBe(204);
    expect((await get(`/api/v1/prompts/${prompt.id}`)).statusCode).toBe(404);
    expect((await send('PATCH', `/api/v1/prompts/${prompt.id}`, { title: 'gone' })).statusCode).toBe(404);
  });

  it('pages through all prompts', async () => {
    const first = (await get('/api/v1/prompts?limit=100')).json<PageBody<{ id: string }>>();
    expect(first.items).toHaveLength(100);
    const second = (await get(`/api/v1/prompts?limit=100&cursor=${first.nextCursor}`)).json<PageBody<{ id: string }>>();
    expect(second.items[0]!.id > first.items[99]!.id).toBe(true);
  });

  it('errors: unknown tool, bad id, missing fields', async () => {
    const unknownTool = await send('POST', '/api/v1/prompts', { toolId: 'nope-nope', title: 'a', template: 'b' });
    expect(unknownTool.statusCode).toBe(400);
    expect(unknownTool.json().details[0]).toEqual({ field: 'body.toolId', reason: 'unknown tool' });
    expect((await get('/api/v1/prompts?toolId=nope-nope')).statusCode).toBe(404);
    const badId = await get('/api/v1/prompts/not-a-uuid');
    expect(badId.statusCode).toBe(400);
    expect(badId.json().details[0].field).toBe('params.id');
    const missing = await send('POST', '/api/v1/prompts', { toolId: 'github-create-issue', title: 'a' });
    expect(missing.json().details[0]).toEqual({ field: 'body.template', reason: 'is required' });
  });
});

describe('graph and plan', () => {
  it('returns the neighbourhood to the requested depth, bounded', async () => {
    const one = (await get('/api/v1/graph/tools/github-create-issue/neighbourhood')).json<{
      nodes: { slug: string; depth: number }[];
      edges: { source: string; target: string; kind: string }[];
      depth: number;
    }>();
    expect(one.depth).toBe(1);
    expect(one.nodes[0]).toMatchObject({ slug: 'github-create-issue', depth: 0 });
    expect(one.nodes).toContainEqual(expect.objectContaining({ slug: 'github-get-issue', depth: 1 }));
    expect(Math.max(...one.nodes.map((n) => n.depth))).toBe(1);
    const two = (await get('/api/v1/graph/tools/github-create-issue/neighbourhood?depth=2')).json<{
      nodes: { depth: number }[];
    }>();
    expect(two.nodes.length).toBeGreaterThan(one.nodes.length);
    expect(Math.max(...two.nodes.map((n) => n.depth))).toBe(2);
    const deep = await get('/api/v1/graph/tools/github-create-issue/neighbourhood?depth=9');
    expect(deep.statusCode).toBe(400);
    expect(deep.json().details[0]).toEqual({ field: 'query.depth', reason: 'must be <= 3' });
    expect((await get('/api/v1/graph/tools/no-such-tool/neighbourhood')).statusCode).toBe(404);
  });

  it('plans: ranked tools with prompts, and a path through related tools starting at the best', async () => {
    const res = await send('POST', '/api/v1/plan', { goal: 'open a github issue from a failing test report' });
    expect(res.statusCode).toBe(200);
    const plan = res.json<{
      goal: string;
      tools: (ToolBody & { score: number })[];
      path: { id: string; via: string | null }[];
    }>();
    expect(plan.tools.length).toBe(5);
    expect(plan.tools[0]!.score).toBe(1);
    const scores = plan.tools.map((x) => x.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(plan.tools.every((x) => x.prompts!.length > 0)).toBe(true);
    expect(plan.path[0]).toMatchObject({ id: plan.tools[0]!.id, via: null });
    expect(plan.path.slice(1).every((s) => s.via !== null)).toBe(true);
    const words = await send('POST', '/api/v1/plan', { goal: '!!! ???' });
    expect(words.statusCode).toBe(400);
    expect(words.json().details[0]).toEqual({ field: 'body.goal', reason: 'has no searchable words' });
    expect((await send('POST', '/api/v1/plan', {})).json().details[0]).toEqual({
      field: 'body.goal',
      reason: 'is required',
    });
    const none = (await send('POST', '/api/v1/plan', { goal: 'qwertyuiop asdfghjkl' })).json<{
      tools: unknown[];
      path: unknown[];
    }>();
    expect(none).toMatchObject({ tools: [], path: [] });
  });
});

describe('cache', () => {
  it('serves reads from Redis and invalidates them on writes', async () => {
    const first = await get('/api/v1/tools/slack-create-message');
    const second = await get('/api/v1/tools/slack-create-message');
    expect(first.headers['x-cache']).toBe('miss');
    expect(second.headers['x-cache']).toBe('hit');
    expect(second.json()).toEqual(first.json());
    const planA = await send('POST', '/api/v1/plan', { goal: 'post a slack message' });
    expect((await send('POST', '/api/v1/plan', { goal: 'post a slack message' })).headers['x-cache']).toBe('hit');

    await send('PATCH', '/api/v1/tools/slack-create-message', { name: 'Slack Post Message' });
    const after = await get('/api/v1/tools/slack-create-message');
    expect(after.headers['x-cache']).toBe('miss');
    expect(after.json<ToolBody>().name).toBe('Slack Post Message');
    const planB = await send('POST', '/api/v1/plan', { goal: 'post a slack message' });
    expect(planB.headers['x-cache']).toBe('miss');
    expect(planB.json()).not.toEqual(planA.json());

    // A new prompt shows up in the tool's (previously cached) detail.
    await get('/api/v1/tools/slack-create-message');
    await send('POST', '/api/v1/prompts', {
      toolId: 'slack-create-message',
      title: 'Announce',
      template: 'Announce {{input}}',
    });
    const withPrompt = (await get('/api/v1/tools/slack-create-message')).json<{ prompts: { title: string }[] }>();
    expect(withPrompt.prompts.map((p) => p.title)).toContain('Announce');
  });
});

describe('cache across replicas', () => {
  it('a write on one instance invalidates the in-process copies of another', async () => {
    const other = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '100000' }));
    try {
      const read = async () =>
        other.app.inject({ method: 'GET', url: '/api/v1/tools/jira-create-issue', headers: AUTH });
      await waitFor('subscriber', async () => {
        await read();
        return (await read()).headers['x-cache'] === 'hit';
      });
      expect((await read()).json<ToolBody>().name).toBe('Jira Create Issue');
      await send('PATCH', '/api/v1/tools/jira-create-issue', { name: 'Jira File Issue' });
      await waitFor(
        'invalidation on the other instance',
        async () => (await read()).json<ToolBody>().name === 'Jira File Issue',
        2_000,
      );
    } finally {
      await other.close();
    }
  });
});

describe('rate limit', () => {
  it('429 with Retry-After past the limit, counted in Redis across instances, per key', async () => {
    const config = testConfig(svc.current.env, {
      RATE_LIMIT_MAX: '3',
      REDIS_PREFIX: `${svc.current.env.REDIS_PREFIX}rl:`,
    });
    const a = await makeApp(config);
    const b = await makeApp(config);
    try {
      const statuses: number[] = [];
      for (const inst of [a, b, a])
        statuses.push(
          (await inst.app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: AUTH })).statusCode,
        );
      expect(statuses).toEqual([200, 200, 200]);
      const limited = await b.app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: AUTH });
      expect(limited.statusCode).toBe(429);
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json()).toEqual({
        statusCode: 429,
        error: 'too many requests',
        message: `rate limit of 3 requests per minute exceeded; retry in ${limited.headers['retry-after']} s`,
      });
      expect(limited.headers).toMatchObject({
        'x-ratelimit-limit': '3',
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': limited.headers['retry-after'],
      });
      // Another key has its own budget; health endpoints are never limited.
      expect(
        (await a.app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: { 'x-api-key': OTHER_KEY } }))
          .statusCode,
      ).toBe(200);
      expect((await a.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('rate limit far from the limit', () => {
  it('counts locally, adds the count to Redis in batches, and headers report the running total', async () => {
    const prefix = `${svc.current.env.REDIS_PREFIX}rl3:`;
    const a = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000', REDIS_PREFIX: prefix }));
    try {
      const remaining: number[] = [];
      for (let i = 0; i < 100; i++) {
        const res = await a.app.inject({ method: 'GET', url: '/healthz' });
        expect(res.statusCode).toBe(200);
        const api = await a.app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: AUTH });
        remaining.push(Number(api.headers['x-ratelimit-remaining']));
      }
      expect(remaining[0]).toBe(999);
      expect(remaining[99]).toBe(900);
      await waitFor(
        'batched count in Redis',
        async () => (await a.redis.get(`${prefix}ratelimit:key-0`)) === '100',
        2_000,
      );
    } finally {
      await a.close();
    }
  });
});

describe('rate limit without Redis', () => {
  it('falls back to a per-process window and still answers 429', async () => {
    const a = await makeApp(
      testConfig(svc.current.env, { RATE_LIMIT_MAX: '2', REDIS_PREFIX: `${svc.current.env.REDIS_PREFIX}rl2:` }),
    );
    try {
      a.redis.disconnect();
      await waitFor('redis down', () => a.redis.status !== 'ready');
      const codes: number[] = [];
      for (let i = 0; i < 3; i++)
        codes.push((await a.app.inject({ method: 'GET', url: '/api/v1/tools?limit=1', headers: AUTH })).statusCode);
      expect(codes).toEqual([200, 200, 429]);
      expect((await a.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({
        status: 'degraded',
        checks: { redis: 'down' },
      });
    } finally {
      await a.close();
    }
  });
});

describe('fault mode', () => {
  it('requires an API key, injects errors, latency and failing health, and clears', async () => {
    expect((await send('PUT', '/__faults', { errorRatio: 1 }, {})).statusCode).toBe(401);
    expect((await send('PUT', '/__faults', { errorRatio: 2 })).json().details[0].field).toBe('body.errorRatio');
    expect((await send('PUT', '/__faults', { errorRatio: 1, failHealth: true })).statusCode).toBe(200);
    const failed = await get('/api/v1/tools?limit=1');
    expect(failed.statusCode).toBe(503);
    expect(failed.json()).toEqual({ error: 'injected fault' });
    expect((await get('/healthz', {})).statusCode).toBe(503);
    await send('PUT', '/__faults', { errorRatio: 0, failHealth: false, latencyMs: 150 });
    const started = Date.now();
    expect((await get('/api/v1/tools?limit=1')).statusCode).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect((await get('/__faults')).json()).toEqual({
      latencyMs: 150,
      latencyPath: '',
      latencyKind: 'sleep',
      errorRatio: 0,
      failHealth: false,
      crash: false,
    });
    await send('DELETE', '/__faults');
    expect((await get('/__faults')).json()).toEqual({
      latencyMs: 0,
      latencyPath: '',
      latencyKind: 'sleep',
      errorRatio: 0,
      failHealth: false,
      crash: false,
    });
    expect((await get('/healthz', {})).statusCode).toBe(200);
  });

  it('holds added latency to one route, and spends it as CPU when asked (sub-millisecond precise)', async () => {
    // Bounds that survive a busy machine: lower bounds are the latency itself, upper bounds are a whole
    // second of latency (an untouched route answers well inside it; two timers in parallel inside two).
    expect((await send('PUT', '/__faults', { latencyMs: 1_000, latencyPath: '/api/v1/plan' })).statusCode).toBe(200);
    let t = performance.now();
    expect((await get('/api/v1/tools?limit=1')).statusCode).toBe(200);
    expect(performance.now() - t).toBeLessThan(1_000); // another route: untouched
    await send('PUT', '/__faults', { latencyMs: 120, latencyPath: '/api/v1/plan' });
    t = performance.now();
    expect((await send('POST', '/api/v1/plan', { goal: 'open a github issue' })).statusCode).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(115);
    // On a timer two requests wait side by side; on the CPU the second waits for the first's spin.
    const twoAtOnce = async () => {
      const t0 = performance.now();
      await Promise.all([
        send('POST', '/api/v1/plan', { goal: 'open a github issue' }),
        send('POST', '/api/v1/plan', { goal: 'open a github issue' }),
      ]);
      return performance.now() - t0;
    };
    await send('PUT', '/__faults', { latencyMs: 1_000 });
    const slept = await twoAtOnce();
    expect(slept).toBeGreaterThanOrEqual(995);
    expect(slept).toBeLessThan(2_000);
    await send('PUT', '/__faults', { latencyMs: 120.5, latencyKind: 'cpu' });
    expect(await twoAtOnce()).toBeGreaterThanOrEqual(240);
    expect((await send('PUT', '/__faults', { latencyKind: 'gpu' })).statusCode).toBe(400);
    expect((await send('PUT', '/__faults', { latencyPath: 'no-slash' })).statusCode).toBe(400);
    await send('DELETE', '/__faults');
  });

  it('does not exist unless enabled', async () => {
    const plain = await makeApp(testConfig(svc.current.env));
    try {
      expect(
        (await plain.app.inject({ method: 'PUT', url: '/__faults', headers: AUTH, payload: { errorRatio: 1 } }))
          .statusCode,
      ).toBe(404);
    } finally {
      await plain.close();
    }
  });
});
