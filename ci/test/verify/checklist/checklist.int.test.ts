/**
 * runChecklist and `kgraph-ci checklist` with real edges: Postgres (the app's real migrations applied to
 * an ephemeral database), a real Octokit against a local HTTP server, run and scan reports on disk.
 */
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPass } from '../../../src/definitions/verdict.js';
import { useEphemeralServices } from '../../../../testkit/services.js';
import { runChecklist } from '../../../src/verify/checklist/index.js';
import { runCli } from '../../../src/cli/program.js';
import { migrate, MIGRATIONS_DIR } from '../../../../app/src/migrate.js';
import { captureIo } from '../../cli/io.js';

const svc = useEphemeralServices(['postgres']);
const commit = 'c'.repeat(40);
let root: string;
let server: Server;
let baseUrl: string;
const requests: string[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kgraph-checklist-'));
  await mkdir(join(root, '.reports'));
  await writeFile(
    join(root, '.reports/run.json'),
    JSON.stringify({
      commit,
      steps: [
        { name: 'test', status: 'passed' },
        { name: 'integrationTest', status: 'passed' },
      ],
    }),
  );
  await writeFile(
    join(root, '.reports/scan.json'),
    JSON.stringify({ outcome: 'passed', checks: [{ name: 'secrets', outcome: 'passed' }] }),
  );
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    res.setHeader('content-type', 'application/json');
    // The commit's check runs: what "tests passed" reads when GitHub is configured and no local history has it.
    if (req.url?.startsWith(`/repos/acme/kgraph/commits/${commit}/check-runs?`))
      return res.end(
        JSON.stringify({
          total_count: 1,
          check_runs: [
            {
              id: 1,
              name: 'checks (node 22)',
              status: 'completed',
              conclusion: 'success',
              app: { slug: 'github-actions' },
            },
          ],
        }),
      );
    if (req.url === `/repos/acme/kgraph/commits/${commit}/pulls`)
      return res.end(JSON.stringify([{ number: 42, merged_at: '2026-01-01T00:00:00Z', state: 'closed' }]));
    if (req.url?.startsWith('/repos/acme/kgraph/pulls/42/reviews'))
      return res.end(JSON.stringify([{ user: { login: 'ann' }, state: 'APPROVED' }]));
    if (req.url?.startsWith('/repos/acme/kgraph/pulls/7/reviews'))
      return res.end(JSON.stringify([{ user: { login: 'bob' }, state: 'CHANGES_REQUESTED' }]));
    res.statusCode = 404;
    res.end(JSON.stringify({ message: 'Not Found' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server?.close();
  await rm(root, { recursive: true, force: true });
});

const prodEnv = () => ({
  APP_NAME: 'kgraph',
  ENVIRONMENT: 'prod',
  LOG_LEVEL: 'warn',
  DEBUG: 'false',
  DATABASE_URL: svc.current.env.DATABASE_URL!,
  REDIS_URL: 'redis://secret-host:6379/0',
  API_KEYS: 'k1-very-secret',
  SENTRY_DSN: 'https://key@sentry.example/1',
  GITHUB_TOKEN: 'test-token-123',
  GITHUB_REPOSITORY: 'acme/kgraph',
  GITHUB_API_URL: '',
  GITHUB_SHA: commit,
});

describe('runChecklist with real edges', () => {
  it('lists the pending migrations of a fresh database, then none once migrated', async () => {
    const octokit = new Octokit({ auth: 'test-token-123', baseUrl });
    const before = await runChecklist({ env: 'prod', processEnv: prodEnv(), root, octokit });
    const byName = Object.fromEntries(before.items.map((i) => [i.name, i]));
    expect(byName['migrations prepared']).toMatchObject({
      outcome: 'passed',
      reasons: [expect.stringMatching(/^\d+ pending, will run on deploy: 1700000000000_schema/)],
    });
    expect(byName['review approved']).toMatchObject({
      outcome: 'passed',
      reasons: ['PR #42: 1 approval(s) (ann), 1 required'],
    });
    expect(byName['tests passed']).toMatchObject({
      outcome: 'passed',
      reasons: [
        'check runs on cccccccccccc: test passed (checks (node 22)); integrationTest passed (checks (node 22))',
      ],
    });
    // The scan report is on disk: it decides, not GitHub.
    expect(byName['scan passed']).toMatchObject({ outcome: 'passed', reasons: ['1 checks passed'] });
    expect(requests.some((r) => r.includes('token test-token-123'))).toBe(true);
    expect(isPass(before)).toBe(true);

    await migrate(svc.current.env.DATABASE_URL!);
    const after = await runChecklist({
      env: 'prod',
      processEnv: prodEnv(),
      root,
      octokit,
      migrationsDir: MIGRATIONS_DIR,
    });
    expect(after.items.find((i) => i.name === 'migrations prepared')!.reasons.join('; ')).toMatch(
      /^up to date \(\d+ applied\)$/,
    );

    const c = new pg.Client({ connectionString: svc.current.env.DATABASE_URL });
    await c.connect();
    await c.query("INSERT INTO pgmigrations (name, run_on) VALUES ('1999999999999_from_the_future', now())");
    try {
      const ahead = await runChecklist({ env: 'prod', processEnv: prodEnv(), root, octokit });
      expect(isPass(ahead)).toBe(false);
      expect(ahead.items.find((i) => i.name === 'migrations prepared')!.reasons.join('; ')).toMatch(
        /1999999999999_from_the_future/,
      );
    } finally {
      await c.query("DELETE FROM pgmigrations WHERE name = '1999999999999_from_the_future'");
      await c.end();
    }
  });

  it('fails closed for prod when the review cannot be read, and never prints values', async () => {
    const penv = { ...prodEnv(), GITHUB_TOKEN: '', DATABASE_URL: 'postgres://u:pw-should-not-leak@127.0.0.1:1/x' };
    const io = captureIo(penv, root);
    const code = await runCli(['checklist', '--env', 'prod'], io);
    expect(code).toBe(1);
    expect(io.out()).toMatch(/review approved\s+required\s+inconclusive\s+no GITHUB_TOKEN/);
    expect(io.out()).toMatch(/migrations prepared\s+required\s+inconclusive\s+database unreachable/);
    expect(io.err()).toMatch(
      /checklist for prod failed: review approved \(inconclusive\), migrations prepared \(inconclusive\)/,
    );
    const all = io.out() + io.err();
    for (const secret of ['pw-should-not-leak', 'k1-very-secret', 'secret-host', 'test-token-123'])
      expect(all).not.toContain(secret);
  });

  it('counts reviews of a given PR through the real Octokit', async () => {
    const r = await runChecklist({
      env: 'prod',
      processEnv: { ...prodEnv(), GITHUB_API_URL: baseUrl },
      root,
      pullNumber: 7,
    });
    expect(r.items.find((i) => i.name === 'review approved')).toMatchObject({
      outcome: 'failed',
      reasons: ['PR #7: 0 approval(s), 1 required'],
    });
  });

  it('passes dev without a token; exits 2 for a bad environment', async () => {
    const io = captureIo({ ...prodEnv(), GITHUB_TOKEN: '', ENVIRONMENT: 'dev' }, root);
    expect(await runCli(['checklist', '--env', 'dev'], io)).toBe(0);
    expect(io.out()).toMatch(/review approved\s+optional\s+inconclusive/);
    const bad = captureIo({}, root);
    expect(await runCli(['checklist', '--env', 'qa'], bad)).toBe(2);
    expect(bad.err()).toMatch(/unknown environment "qa"/);
  });
});
