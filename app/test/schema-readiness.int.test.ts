/**
 * Readiness follows the schema: until every migration this code knows is applied, /readyz is 503 with
 * "schema at X, expected Y" and the API answers 503, never 500 (empty database, one migration behind).
 * Newer migrations (a later release ran first) are allowed and listed. A schema that drifted from what
 * the code needs (a column or the slug unique constraint gone) also answers 503, and accepts no write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { useEphemeralServices } from '../../testkit/services.js';
import { migrate, MIGRATIONS_TABLE } from '../src/migrate.js';
import { knownMigrations } from '../src/schema-state.js';
import { seed } from '../src/seed.js';
import { AUTH, makeApp, testConfig, waitFor, type TestApp } from './support.js';

const svc = useEphemeralServices();
let t: TestApp;
let admin: pg.Client;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: svc.current.env.DATABASE_URL });
  await admin.connect();
  t = await makeApp(testConfig(svc.current.env, { RATE_LIMIT_MAX: '1000000' }));
});
afterAll(async () => {
  await t?.close();
  await admin?.end();
});

interface Ready {
  status: string;
  reasons?: string[];
  schema?: { at: string | null; expected: string; missing: string[]; newer: string[] };
}
const readyz = async () => {
  const res = await t.app.inject({ method: 'GET', url: '/readyz' });
  return { status: res.statusCode, body: res.json<Ready>() };
};
const calls = [
  () => t.app.inject({ method: 'GET', url: '/api/v1/tools?q=github', headers: AUTH }),
  () => t.app.inject({ method: 'GET', url: '/api/v1/tools', headers: AUTH }),
  () => t.app.inject({ method: 'GET', url: '/api/v1/tools/github-create-issue', headers: AUTH }),
  () => t.app.inject({ method: 'GET', url: '/api/v1/prompts', headers: AUTH }),
  () => t.app.inject({ method: 'GET', url: '/api/v1/graph/tools/github-create-issue/neighbourhood', headers: AUTH }),
  () =>
    t.app.inject({ method: 'POST', url: '/api/v1/plan', headers: AUTH, payload: { goal: 'create a github issue' } }),
  () =>
    t.app.inject({
      method: 'POST',
      url: '/api/v1/tools',
      headers: AUTH,
      payload: { name: 'Schema Probe', category: 'testing' },
    }),
];
const statuses = async () => Promise.all(calls.map(async (c) => (await c()).statusCode));
const known = knownMigrations();
const expected = known[known.length - 1]!;

describe('readiness reflects the schema', () => {
  it('empty database: 503 "schema at none, expected Y", and every API call 503', async () => {
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.reasons).toContain(`schema at none, expected ${expected}`);
    expect(r.body.schema).toMatchObject({ at: null, expected, missing: known, newer: [] });
    expect(await statuses()).toEqual(calls.map(() => 503));
  });

  it.runIf(known.length > 1)('one migration behind: still 503 naming both versions', async () => {
    await migrate(svc.current.env.DATABASE_URL!, undefined, { count: known.length - 1 });
    await seed(svc.current.env.DATABASE_URL!, 20);
    await waitFor('schema re-checked', async () => (await readyz()).body.schema?.at === known[known.length - 2], 5_000);
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.reasons).toContain(`schema at ${known[known.length - 2]}, expected ${expected}`);
    expect(await statuses()).toEqual(calls.map(() => 503));
  });

  it('migrated: ready within seconds, without a restart', async () => {
    await migrate(svc.current.env.DATABASE_URL!);
    await seed(svc.current.env.DATABASE_URL!, 20);
    await waitFor('ready', async () => (await readyz()).status === 200, 5_000);
    expect((await readyz()).body).toMatchObject({
      status: 'ready',
      schema: { at: expected, expected, missing: [], newer: [] },
    });
    expect(await statuses()).toEqual([200, 200, 200, 200, 200, 200, 201]);
  });

  it('a newer migration than this code knows is allowed and listed', async () => {
    await admin.query(
      `INSERT INTO ${MIGRATIONS_TABLE} (name, run_on) VALUES ('9999999999999_from_a_later_release', now())`,
    );
    await waitFor('listed', async () => ((await readyz()).body.schema?.newer ?? []).length > 0, 12_000);
    const r = await readyz();
    expect(r.status).toBe(200);
    expect(r.body.schema).toMatchObject({ expected, newer: ['9999999999999_from_a_later_release'] });
    await admin.query(`DELETE FROM ${MIGRATIONS_TABLE} WHERE name = '9999999999999_from_a_later_release'`);
  });

  it('a column the code needs is gone: 503, never 500', async () => {
    await admin.query('ALTER TABLE prompts DROP COLUMN template');
    try {
      const codes = await statuses();
      expect(codes.filter((c) => c >= 500 && c !== 503)).toEqual([]);
      await waitFor('not ready', async () => (await readyz()).status === 503, 12_000);
      expect((await readyz()).body.reasons).toContain('schema: prompts.template is missing');
      expect(await statuses()).toEqual(calls.map(() => 503));
    } finally {
      await admin.query("ALTER TABLE prompts ADD COLUMN template text NOT NULL DEFAULT 'restored'");
    }
    await waitFor('ready again', async () => (await readyz()).status === 200, 12_000);
  });

  it('the slug unique constraint is gone: 503, and no duplicate slug is accepted', async () => {
    await admin.query('ALTER TABLE tools DROP CONSTRAINT tools_slug_key');
    try {
      await waitFor('not ready', async () => (await readyz()).status === 503, 12_000);
      expect((await readyz()).body.reasons).toContain('schema: no unique index on tools (slug)');
      const dup = await t.app.inject({
        method: 'POST',
        url: '/api/v1/tools',
        headers: AUTH,
        payload: { name: 'Github Create Issue', category: 'testing' },
      });
      expect(dup.statusCode).toBe(503);
      expect(
        (await admin.query("SELECT count(*)::int AS n FROM tools WHERE slug = 'github-create-issue'")).rows[0],
      ).toEqual({ n: 1 });
    } finally {
      await admin.query('ALTER TABLE tools ADD CONSTRAINT tools_slug_key UNIQUE (slug)');
    }
    await waitFor('ready again', async () => (await readyz()).status === 200, 12_000);
  });
});
