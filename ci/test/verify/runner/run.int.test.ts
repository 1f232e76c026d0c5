/**
 * The runner with real Postgres and Redis: ephemeral services per step, removed at the end (also on
 * failure, --keep aside), and on SIGINT/SIGTERM of a real child process; plus a real project step.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL } from '../../../src/platform/services/ephemeral.js';
import { runPipeline, type RunReport } from '../../../src/verify/runner/run.js';
import { ephemeralProvider, externalProvider } from '../../../src/verify/runner/services.js';
import { alive, captureStream, fixtureStep, serviceUserScript } from './fixtures/steps.js';

const repo = resolve(import.meta.dirname, '../../../..');
// The Dagger module's source has no .git: the report then carries no commit rather than a made-up one.
const checkout = spawnSync('git', ['rev-parse', '--verify', '-q', 'HEAD'], { cwd: repo }).status === 0;
const serverUrl = process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL;
const redisUrl = process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
let dir: string;
let admin: pg.Client;
let redis: Redis;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kgraph-runner-int-'));
  admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  redis = new Redis(redisUrl);
});
afterAll(async () => {
  await admin?.end();
  redis?.disconnect();
  await rm(dir, { recursive: true, force: true });
});

const dbExists = async (name: string) =>
  (await admin.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
const readyLine = (text: string) => {
  const m = /│ READY (\S+) (\S+) (\d+)/.exec(text);
  if (!m) throw new Error(`no READY line in:\n${text}`);
  return { db: m[1]!, prefix: m[2]!, pid: Number(m[3]) };
};
// Sub-ids of the test run, so the global sweep also catches anything a failing test leaves.
const subRunId = (tag: string) => `${inject('kgraphRunId')}x${tag}`.slice(0, 40);

describe('runner services', () => {
  it('gives a step a fresh database and Redis prefix and removes them after, also when it fails', async () => {
    const out = captureStream();
    const report = await runPipeline({
      steps: [
        fixtureStep('user', serviceUserScript(0), { services: ['postgres', 'redis'] }),
        fixtureStep('failer', serviceUserScript(300, 4), {
          services: ['postgres', 'redis'],
        }),
      ],
      concurrency: 2,
      cwd: repo,
      env: process.env,
      out: out.stream,
      services: ephemeralProvider(process.env),
      heartbeatMs: 0,
      runId: subRunId('a'),
    });
    expect(report.steps.map((s) => s.status)).toEqual(['passed', 'failed']);
    const lines = out
      .text()
      .split('\n')
      .filter((l) => /│ READY /.test(l));
    expect(lines).toHaveLength(2);
    const [a, b] = lines.map(readyLine);
    expect(a!.db).not.toBe(b!.db);
    expect(a!.db).toMatch(/^kgraph_eph_/);
    for (const r of [a!, b!]) {
      expect(await dbExists(r.db)).toBe(false);
      expect(await redis.keys(`${r.prefix}*`)).toEqual([]);
    }
  });

  it('keeps them with keep, says how to connect, and the sweep removes them', async () => {
    const out = captureStream();
    const runId = subRunId('k');
    const report = await runPipeline({
      steps: [fixtureStep('user', serviceUserScript(0), { services: ['postgres', 'redis'] })],
      concurrency: 1,
      cwd: repo,
      env: process.env,
      out: out.stream,
      services: ephemeralProvider(process.env),
      heartbeatMs: 0,
      keep: true,
      runId,
    });
    const r = readyLine(out.text());
    expect(report.keptServices?.join('\n')).toContain(r.db);
    expect(out.text()).toContain(`kgraph-ci run --sweep ${runId}`);
    expect(await dbExists(r.db)).toBe(true);
    expect(await redis.get(`${r.prefix}marker`)).toBe('1');
    await ephemeralProvider(process.env).sweep(runId);
    expect(await dbExists(r.db)).toBe(false);
    expect(await redis.keys(`${r.prefix}*`)).toEqual([]);
  });

  it("isolates steps' test-run ids: one step's sweep spares another's services, and the run sweeps both", async () => {
    // What a vitest teardown does for its run id (testkit/global-setup.ts), done by a step itself.
    const sweepOwn = `const pg = require('pg'); (async () => {
      const c = new pg.Client({ connectionString: process.env.DATABASE_URL }); await c.connect();
      const id = process.env.KGRAPH_TEST_RUN_ID;
      await c.query('CREATE DATABASE kgraph_eph_' + id + '_leftover');
      const rows = (await c.query("select datname from pg_database where datname like 'kgraph_eph_' || $1 || '\\_%'", [id])).rows;
      console.log('SWEPT ' + rows.map((r) => r.datname).join(','));
      await c.end();
    })().catch((e) => { console.error(e.message); process.exit(1); });`;
    const out = captureStream();
    const runId = subRunId('i');
    const report = await runPipeline({
      steps: [
        fixtureStep('holder', serviceUserScript(1500), { services: ['postgres', 'redis'] }),
        fixtureStep('sweeper', `setTimeout(() => { ${sweepOwn} }, 500)`, { services: ['postgres'] }),
      ],
      concurrency: 2,
      cwd: repo,
      env: process.env,
      out: out.stream,
      services: ephemeralProvider(process.env),
      heartbeatMs: 0,
      runId,
    });
    expect(report.steps.map((s) => s.status)).toEqual(['passed', 'passed']);
    const holderDb = readyLine(out.text()).db;
    const swept = /SWEPT (\S+)/.exec(out.text())![1]!.split(',');
    // The sweeper's own id covers its databases only, never the holder's.
    expect(swept).toContain(`kgraph_eph_${runId}x1_leftover`);
    expect(swept).not.toContain(holderDb);
    expect(holderDb.startsWith(`kgraph_eph_${runId}x0_`)).toBe(true);
    // The run's final sweep removes what the step left behind.
    expect(await dbExists(`kgraph_eph_${runId}x1_leftover`)).toBe(false);
  });

  it('uses external services as given, and fails a step clearly when they are missing', async () => {
    const out = captureStream();
    const report = await runPipeline({
      steps: [fixtureStep('ext', 'console.log("DB=" + process.env.DATABASE_URL)', { services: ['postgres'] })],
      concurrency: 1,
      cwd: repo,
      env: { ...process.env, DATABASE_URL: 'postgres://u@db.example:5432/given' },
      out: out.stream,
      services: externalProvider({ DATABASE_URL: 'postgres://u@db.example:5432/given' }),
      heartbeatMs: 0,
    });
    expect(report.ok).toBe(true);
    expect(out.text()).toContain('DB=postgres://u@db.example:5432/given');
    const missing = await runPipeline({
      steps: [fixtureStep('ext', '0', { services: ['postgres', 'redis'] })],
      concurrency: 1,
      cwd: repo,
      env: {},
      out: captureStream().stream,
      services: externalProvider({}),
      heartbeatMs: 0,
    });
    expect(missing.steps[0]!.reason).toBe(
      'services: external services: DATABASE_URL, REDIS_URL not set (needed by postgres, redis)',
    );
  });
});

describe.each(['SIGTERM', 'SIGINT'] as const)('a real child runner receiving %s', (sig) => {
  it('stops the step, skips the rest and removes its services', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'ci/test/verify/runner/fixtures/interrupt-pipeline.ts', subRunId(sig.slice(3).toLowerCase())],
      {
        cwd: repo,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // The child is a whole kgraph-ci (tsx compiles it first): minutes on a busy machine, so wait for READY or its exit.
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + 150_000;
    while (!text.includes('│ READY') && !gone && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const r = readyLine(text);
    expect(await dbExists(r.db)).toBe(true);
    child.kill(sig);
    expect(await exited).toBe(130);
    const report = JSON.parse(/REPORT (.*)/.exec(text)![1]!) as RunReport;
    expect(report.interrupted).toBe(sig);
    expect(report.steps.map((s) => s.status)).toEqual(['cancelled', 'skipped']);
    expect(text).toContain(`received ${sig}`);
    expect(text).not.toContain('after ran');
    expect(await dbExists(r.db)).toBe(false);
    expect(await redis.keys(`${r.prefix}*`)).toEqual([]);
    expect(alive(r.pid)).toBe(false);
  });
});

describe('kgraph-ci run on this project', () => {
  it('runs a real step (scan, without its dependencies) and writes the JSON report and job summary', async () => {
    const json = join(dir, 'run.json');
    const summary = join(dir, 'summary.md');
    const junit = join(dir, 'run.junit.xml');
    const child = spawn(
      process.execPath,
      ['ci/bin/kgraph-ci.js', 'run', 'scan', '--no-deps', '--json', json, '--junit', junit],
      {
        cwd: repo,
        // The scan writes its own report; keep it out of the repository's .reports/.
        env: {
          ...process.env,
          GITHUB_STEP_SUMMARY: summary,
          KGRAPH_SCAN_ALLOW_OFFLINE: '1',
          KGRAPH_SCAN_REPORT: join(dir, 'scan.json'),
          KGRAPH_HISTORY_DIR: join(dir, 'history'),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let text = '';
    child.stdout.on('data', (d: Buffer) => (text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (text += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    // The tree may legitimately fail the scan (no app/Dockerfile yet); the runner must then say so with exit 1.
    const report = JSON.parse(await readFile(json, 'utf8')) as RunReport;
    expect(report.steps.map((s) => s.name)).toEqual(['scan']);
    expect(await readFile(junit, 'utf8')).toMatch(/<testcase classname="kgraph-ci.run" name="scan"/);
    expect(code).toBe(report.ok ? 0 : 1);
    expect(text).toMatch(/^scan │ \$ npx --no-install kgraph-ci scan$/m);
    // The secret scan lists the tree with git, or without a checkout (the Dagger module's source) walks it
    // with its .gitignore rules: either way the secrets check runs and says so.
    expect(text).toMatch(/^scan │ secrets +(passed|failed) /m);
    if (!checkout) expect(text).toMatch(/^scan │ scan: secrets: no \.git here, walking the tree/m);
    expect(text).toMatch(/^scan +(passed|failed) +\d/m);
    if (checkout) expect(report.commit).toMatch(/^[0-9a-f]{40}$/);
    else expect(report.commit).toBeUndefined();
    expect(JSON.parse(await readFile(join(dir, 'scan.json'), 'utf8'))).toHaveProperty('checks');
    expect(await readFile(summary, 'utf8')).toMatch(/\| scan \| (✅ passed|❌ failed) \|/);
  }, 180_000);
});
