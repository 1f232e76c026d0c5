/**
 * The doctor's judgements over measured facts (pure), runDoctor over fake probes, and `kgraph-ci doctor` /
 * `kgraph-ci run` against a Postgres that is not there (a closed port on this machine).
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import {
  advisoryLine,
  baseImageLine,
  checksFor,
  doctorOk,
  formatDoctorLine,
  githubTokenLine,
  kubectlLine,
  nodeLine,
  runDoctor,
  serviceLine,
  sinking,
  type DoctorProbes,
} from '../../../src/operate/doctor/index.js';
import { STEPS } from '../../../src/definitions/steps.js';
import { captureIo } from '../../cli/io.js';

const table = Object.values(STEPS);
const spec = { maxBytes: 300e6, maxBytesOverBase: 40e6 };

describe('doctor judgements', () => {
  it('node: below the floor fails every step; a locked package that needs more is a warning naming it', () => {
    const below = nodeLine('v18.20.0', '>=20.19', [], table);
    expect(below).toMatchObject({ status: 'fail', sinks: table.map((s) => s.name) });
    expect(below.fix).toMatch(/Node 20\.19\.0 or later/);
    const unmet = nodeLine('v20.20.2', '>=20.19', [{ name: 'cookie', version: '2.0.2', node: '>=22' }], table);
    expect(unmet).toMatchObject({ status: 'warn', sinks: [] });
    expect(unmet.detail).toContain('cookie@2.0.2 (>=22)');
    expect(unmet.fix).toMatch(/overrides/);
    expect(nodeLine('v20.20.2', '>=20.19', [{ name: 'x', version: '1.0.0', node: '>=18' }], table).status).toBe('ok');
  });

  it('services: unreachable or unable to create databases fails the steps the table says need them', () => {
    const down = serviceLine('postgres', 'postgres://h/db', { reachable: false, error: 'ECONNREFUSED' }, table);
    expect(down).toMatchObject({
      status: 'fail',
      sinks: ['integrationTest', 'rolloutRehearsal', 'coverage', 'latencyGate'],
    });
    expect(down.fix).toMatch(/DATABASE_URL/);
    const noCreate = serviceLine(
      'postgres',
      'postgres://h/db',
      { reachable: true, version: 'PostgreSQL 15', problem: 'this role may not create databases' },
      table,
    );
    expect(noCreate.status).toBe('fail');
    expect(noCreate.fix).toMatch(/CREATEDB/);
    expect(serviceLine('redis', 'redis://h', { reachable: true, version: 'Redis 7' }, table).status).toBe('ok');
  });

  it('base images: a base alone over the image budget is a warning naming both sizes; a missing one says how it is made', () => {
    const heavy = baseImageLine({ name: 'node:22', present: true, sizeBytes: 310e6, standin: 'stand-in' }, spec);
    expect(heavy.status).toBe('warn');
    expect(heavy.detail).toContain('310.0 MB: alone over the 300.0 MB image budget');
    expect(baseImageLine({ name: 'node:22', present: true, sizeBytes: 217e6 }, spec).detail).toContain(
      '83.0 MB left of the 300.0 MB budget',
    );
    expect(baseImageLine({ name: 'node:22', present: false }, spec).fix).toContain('standin-base.sh node:22');
  });

  it('advisory service down sinks scan; GITHUB_TOKEN is never shown; kubectl without context sinks delivery', () => {
    expect(advisoryLine('https://r/', { answered: false, error: '405' })).toMatchObject({
      status: 'fail',
      sinks: ['scan'],
    });
    expect(advisoryLine('https://r/', { answered: false, error: '405' }).fix).toContain('KGRAPH_SCAN_ALLOW_OFFLINE=1');
    expect(githubTokenLine(true)).toMatchObject({ status: 'ok', detail: 'set (value not shown)' });
    expect(githubTokenLine(false)).toMatchObject({ status: 'warn', sinks: ['release'] });
    expect(kubectlLine({ client: true, version: 'v1.32.4' })).toMatchObject({
      status: 'warn',
      sinks: ['deploy', 'rollback'],
    });
    expect(kubectlLine({ client: true, version: 'v1.32.4', context: 'kind-dev' }).status).toBe('ok');
  });

  it('run asks only what its steps need, and prints only what sinks one of them', () => {
    expect(checksFor([STEPS.lint], {})).toEqual(['node']);
    expect(checksFor([STEPS.integrationTest, STEPS.scan], {})).toEqual(['node', 'postgres', 'redis', 'advisory']);
    expect(checksFor([STEPS.scan], { KGRAPH_SCAN_ALLOW_OFFLINE: '1' })).toEqual(['node']);
    expect(checksFor([STEPS.deploy, STEPS.release], {})).toEqual(['node', 'github', 'kubectl']);
    const lines = [
      advisoryLine('https://r/', { answered: false, error: '405' }),
      githubTokenLine(false),
      serviceLine('redis', 'redis://h', { reachable: true, version: 'Redis 7' }, table),
    ];
    expect(sinking(lines, ['lint', 'scan']).map((l) => l.name)).toEqual(['advisory service']);
    expect(doctorOk(lines)).toBe(false);
    expect(formatDoctorLine(lines[0]!)).toMatch(/^FAIL {2}advisory service: .*\n {6}fix: .*\n {6}sinks: scan$/);
  });
});

const fakeProbes = (over: Partial<DoctorProbes> = {}): DoctorProbes => ({
  lockfileEngines: () => Promise.resolve({ floor: '>=20.19', locked: [] }),
  postgres: () => Promise.resolve({ reachable: true, version: 'PostgreSQL 15' }),
  redis: () => Promise.resolve({ reachable: true, version: 'Redis 7' }),
  engine: () => Promise.resolve({ available: true, version: '20.10' }),
  baseImages: () => Promise.resolve([{ name: 'node:22', present: true, sizeBytes: 200e6 }]),
  advisory: () => Promise.resolve({ answered: true, ms: 12 }),
  kubectl: () => Promise.resolve({ client: true, version: 'v1.32.4', context: 'dev' }),
  ...over,
});

describe('runDoctor', () => {
  it('one line per check in a fixed order, every base image included, never the token or a password', async () => {
    const lines = await runDoctor({
      env: { GITHUB_TOKEN: 'ghp_secretvalue', DATABASE_URL: 'postgres://u:hunter2@db/x' },
      root: '/repo',
      probes: fakeProbes(),
      nodeVersion: 'v20.20.2',
    });
    expect(lines.map((l) => [l.name, l.status])).toEqual([
      ['node', 'ok'],
      ['postgres', 'ok'],
      ['redis', 'ok'],
      ['docker engine', 'ok'],
      ['base node:22', 'ok'],
      ['advisory service', 'ok'],
      ['GITHUB_TOKEN', 'ok'],
      ['kubectl context', 'ok'],
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('ghp_secretvalue');
    expect(text).not.toContain('hunter2');
  });
  it('a probe that throws is a line that says it could not check, not a crash', async () => {
    const lines = await runDoctor({
      env: {},
      root: '/repo',
      checks: ['kubectl'],
      probes: fakeProbes({ kubectl: () => Promise.reject(new Error('boom')) }),
    });
    expect(lines).toEqual([{ name: 'kubectl', status: 'warn', detail: 'could not check: boom', sinks: [] }]);
  });
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('kgraph-ci doctor and run against a Postgres that is not there', () => {
  it('doctor exits 1 with the fix; run prints the failure that sinks its step before the step starts', async () => {
    const port = await closedPort();
    const env = {
      ...process.env,
      DATABASE_URL: `postgres://postgres:pw-not-shown@127.0.0.1:${port}/postgres`,
      GITHUB_STEP_SUMMARY: '',
      KGRAPH_SCAN_ALLOW_OFFLINE: '1',
      // The step leases its database from that server and fails at once. The module's containers set
      // KGRAPH_SERVICES=external, where the step would run the whole integration project against it instead.
      KGRAPH_SERVICES: 'ephemeral',
    };
    const io = captureIo(env);
    expect(await runCli(['run', 'integrationTest', '--no-cache', '--json', '/dev/null'], io)).toBe(1);
    const out = io.out();
    const warned = out.indexOf('FAIL  postgres:');
    expect(warned, out).toBeGreaterThan(-1);
    expect(out.indexOf('kgraph-ci run: integrationTest (concurrency')).toBeGreaterThan(warned);
    expect(out).toMatch(/fix: start it \(pg_ctlcluster 15 main start\) or point DATABASE_URL at one/);
    expect(out).not.toContain('pw-not-shown');
  }, 120_000);
});
