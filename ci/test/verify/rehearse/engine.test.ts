/**
 * The rehearsal engine against a recording Docker client: what it asks Docker for each Dagger operation,
 * and what it never puts on a command line (secrets).
 */
import { describe, expect, it } from 'vitest';
import type { Docker, DockerCall } from '../../../src/verify/image/docker.js';
import { RehearsalEngine, UnsupportedOperation, StopReached } from '../../../src/verify/rehearse/engine.js';
import { loopbackAllocator, serviceStarter } from '../../../src/verify/rehearse/services.js';
import { stopRule } from '../../../src/verify/rehearse/run.js';
import { parseChain } from '../../../src/verify/rehearse/query.js';

const SECRET = 's3cr3t-plaintext-81f';

function recordingDocker() {
  const calls: { args: string[]; env: Record<string, string> }[] = [];
  const docker: Docker = async (args, call: DockerCall = {}) => {
    calls.push({ args: [...args], env: { ...call.env } });
    const ok = (stdout = '') => ({ code: 0, stdout, stderr: '', timedOut: false });
    if (args[0] === 'image') return ok('["/bin/sh"] null');
    if (args[0] === 'start') return ok('hello from the exec\n');
    if (args[0] === 'commit') return ok(`sha256:committed${calls.length}`);
    if (args[0] === 'inspect') return ok('true');
    return ok();
  };
  return { docker, calls };
}

function engineWith(docker: Docker) {
  return new RehearsalEngine({
    session: { docker, runId: 'test', containers: [] },
    cache: false,
    cacheDir: '/nonexistent',
    stopAt: stopRule,
    log: () => undefined,
    services: serviceStarter(loopbackAllocator(4242)),
    baseImage: async (address) =>
      address.startsWith('aquasec/') ? undefined : { id: `sha256:${address}`, workdir: undefined },
  });
}

const idOf = (answer: unknown): string => JSON.stringify(answer).match(/"(rh:\d+)"/)![1]!;

describe('rehearsal engine', () => {
  it('parses one chain per query, arguments as values', () => {
    expect(
      parseChain('{ container { from (address: "node:22") { withExec (args: ["a","b"],expect: ANY) { exitCode } } } }'),
    ).toEqual([
      { field: 'container', args: {} },
      { field: 'from', args: { address: 'node:22' } },
      { field: 'withExec', args: { args: ['a', 'b'], expect: 'ANY' } },
      { field: 'exitCode', args: {} },
    ]);
  });

  it('runs an exec with env, a secret variable (never on a command line) and a bound service reached under its alias', async () => {
    const { docker, calls } = recordingDocker();
    const e = engineWith(docker);
    const secret = idOf(await e.answer(`{ setSecret (name: "tok",plaintext: "${SECRET}") { id } }`));
    const svc = idOf(
      await e.answer(
        '{ container { from (address: "postgres:16") { withExposedPort (port: 5432) { withDockerHealthcheck (args: ["pg_isready","-h","127.0.0.1"],interval: "1s") { asService { id } } } } } }',
      ),
    );
    const out = await e.answer(
      `{ container { from (address: "node:22") { withEnvVariable (name: "CI",value: "true") { withSecretVariable (name: "TOKEN",secret: "${secret}") { withServiceBinding (alias: "db",service: "${svc}") { withExec (args: ["sh","-c","echo hi"]) { stdout } } } } } } }`,
    );
    expect(JSON.stringify(out)).toContain('hello from the exec');
    for (const c of calls) expect(c.args.join(' ')).not.toContain(SECRET);
    const run = calls.find((c) => c.args[0] === 'run')!; // the service
    const ip = run.args.find((a) => a.startsWith('HOST='))!.slice('HOST='.length);
    expect(ip).toMatch(/^127\.(?!0\.0\.1$)\d+\.\d+\.\d+$/);
    expect(run.args).toEqual(expect.arrayContaining(['--network', 'host']));
    // Its healthcheck's 127.0.0.1 is the service itself: its own address.
    expect(calls.find((c) => c.args[0] === 'exec')!.args).toEqual(expect.arrayContaining(['pg_isready', '-h', ip]));
    const create = calls.find((c) => c.args[0] === 'create' && c.args.includes('sh'))!;
    expect(create.args).toEqual(
      expect.arrayContaining(['--add-host', `db:${ip}`, '-e', 'CI=true', '-e', 'TOKEN', '--entrypoint', 'sh']),
    );
    expect(calls.find((c) => c.args[0] === 'start')!.env.TOKEN).toBe(SECRET);
    // The committed image keeps no secret value in its config.
    expect(calls.find((c) => c.args[0] === 'commit')!.args).toEqual(expect.arrayContaining(['--change', 'ENV TOKEN=']));
  });

  it('an operation it has no implementation for fails by name', async () => {
    const e = engineWith(recordingDocker().docker);
    await expect(
      e.answer('{ container { from (address: "node:22") { withUser (name: "x") { sync } } } }'),
    ).rejects.toThrow(new UnsupportedOperation('Container.withUser'));
  });

  it('stops at a push and at trivy (no stand-in), after building what they would use', async () => {
    const e = engineWith(recordingDocker().docker);
    await expect(
      e.answer(
        '{ container { from (address: "node:22") { withLabel (name: "l",value: "v") { publish (address: "ghcr.io/x/y:1") } } } }',
      ),
    ).rejects.toThrow(StopReached);
    await expect(
      e.answer(
        '{ container { from (address: "aquasec/trivy:0.67.2") { withExec (args: ["trivy","image"]) { exitCode } } } }',
      ),
    ).rejects.toThrow(/trivy \(trivy image: no trivy image/);
  });
});
