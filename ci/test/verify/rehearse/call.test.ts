/**
 * The rehearsal's reading of `dagger call` against the module's surface, and of every workflow `call:`.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/definitions/errors.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { callSpec, parseCall, type ValueSources } from '../../../src/verify/rehearse/call.js';
import { readSurface } from '../../../src/verify/rehearse/surface.js';
import { shellWords, workflowCalls } from '../../../src/verify/rehearse/workflows.js';
import { runCli } from '../../../src/cli/program.js';

const surface = readSurface(join(REPO_ROOT, 'dagger/src'));
const sources: ValueSources = {
  secret: (flag) => `test-${flag}`,
  directory: (_flag, given) => ({ path: given }),
  defaultPath: (path, ignore) => ({ path: join(REPO_ROOT, path).replace(/\/$/, ''), exclude: [...ignore] }),
};
const words = (line: string) => line.split(' ');

describe('parseCall', () => {
  it('reads module flags, an area function and its flags; enum values as the CLI matches them', () => {
    const call = parseCall(
      surface,
      words('--node-version=24 delivery deploy --environment=STAGING --image=x --kubeconfig=env://K'),
    );
    expect(call.key).toBe('delivery deploy');
    expect(call.moduleFlags.get('node-version')).toBe('24');
    const spec = callSpec(surface, call, 'index.ts', sources);
    expect(spec.path).toEqual(['delivery', 'deploy']);
    expect(spec.args.slice(0, 3)).toEqual([
      { kind: 'string', value: 'staging' },
      { kind: 'string', value: 'x' },
      { kind: 'secret', name: 'kubeconfig', value: 'test-kubeconfig' },
    ]);
    // The module's source is the repository without what its @argument ignores.
    expect(spec.constructorArgs[0]).toMatchObject({ kind: 'directory', path: REPO_ROOT });
    expect((spec.constructorArgs[0] as unknown as { exclude: string[] }).exclude).toEqual(
      expect.arrayContaining(['**/node_modules', '.git']),
    );
    // The area accessor gets its defaultPath argument as from the engine: delivery's repo, .git kept.
    expect(spec.accessorArgs).toHaveLength(1);
    expect(spec.accessorArgs[0]).toMatchObject({ kind: 'directory', path: REPO_ROOT });
    expect((spec.accessorArgs[0] as unknown as { exclude: string[] }).exclude).not.toContain('.git');
    // Accessors without parameters get none.
    expect(callSpec(surface, parseCall(surface, words('image build')), 'index.ts', sources).accessorArgs).toEqual([]);
  });

  it('reads a flag whose type the module gives only by its default (`allowOffline = false`) as a boolean, bare or with a value', () => {
    const args = (line: string) => callSpec(surface, parseCall(surface, words(line)), 'index.ts', sources).args;
    expect(args('image scan --allow-offline')).toEqual([
      { kind: 'undefined' },
      { kind: 'undefined' },
      { kind: 'boolean', value: true },
    ]);
    expect(args('image scan --allow-offline=false --severity=critical').slice(1)).toEqual([
      { kind: 'string', value: 'CRITICAL' },
      { kind: 'boolean', value: false },
    ]);
  });

  it.each([
    ['nope', /no function "nope"/],
    ['delivery nope', /no function "delivery nope"/],
    [
      'delivery deploy --environment=dev --image=x --kubeconfig=env://K --force=true',
      /delivery deploy takes no flag --force/,
    ],
    [
      'delivery deploy --environment=qa --image=x --kubeconfig=env://K',
      /--environment qa of delivery deploy is not one of dev, staging, prod/,
    ],
    ['delivery rollback --environment=dev', /delivery rollback needs --kubeconfig/],
    ['--node=22 test', /the module takes no flag --node/],
    ['', /no function ""|name a function/],
  ])('refuses %j as a usage error before anything runs', (line, message) => {
    const err = (() => {
      try {
        parseCall(surface, line ? words(line) : []);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(message);
  });

  it('the force follows the return type: a container is synced, a directory listed, a service started, a terminal opened', () => {
    const force = (line: string) => callSpec(surface, parseCall(surface, words(line)), 'index.ts', sources).force;
    expect(force('image build')).toBe('sync');
    expect(force('coverage export --path coverage')).toBe('entries');
    expect(force('serve up --ports 8000:8000')).toBe('up');
    expect(force('debug --step test terminal')).toBe('terminal');
    expect(force('test')).toBe('none');
  });
});

describe('workflow calls', () => {
  it('bash splitting: quotes joined, $VARS expanded, an unknown variable named', () => {
    expect(shellWords('deploy --image="$IMAGE" --x=a', { IMAGE: 'r@sha256:1' })).toEqual([
      'deploy',
      '--image=r@sha256:1',
      '--x=a',
    ]);
    expect(() => shellWords('x "$NOPE"', {})).toThrow(/no test value for \$NOPE/);
  });

  it('every call: of every workflow binds to a function and flags of the module (a matrix once per Node)', () => {
    const calls = workflowCalls(REPO_ROOT);
    expect(calls.length).toBeGreaterThan(20);
    const onNode = (v: string) => calls.filter((c) => c.where.includes(`(node ${v})`)).length;
    expect(onNode('24')).toBeGreaterThan(0);
    expect(onNode('24')).toBe(onNode('22'));
    for (const c of calls) expect(() => parseCall(surface, c.words), c.where).not.toThrow();
  });

  it('kgraph-ci rehearse dagger exits 2 naming an unknown function or flag, before any engine is asked', async () => {
    const out: string[] = [];
    const stream = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
    const io = { stdout: stream, stderr: stream, env: { KGRAPH_DOCKER: '/nonexistent/docker' }, cwd: REPO_ROOT };
    expect(await runCli(['rehearse', 'dagger', 'deploy-all'], io)).toBe(2);
    expect(await runCli(['rehearse', 'dagger', 'image', 'scan', '--sevrity=HIGH'], io)).toBe(2);
    expect(await runCli(['rehearse', 'dagger', 'test', '--node', '18'], io)).toBe(2);
    expect(out.join('')).toMatch(
      /no function "deploy-all"[\s\S]*image scan takes no flag --sevrity[\s\S]*--node 18: expected 22 or 24/,
    );
  });

  it('no engine answering is a message naming why and exit 1, never a pass (no client; a daemon that does not answer)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kgraph-rehearse-noengine-'));
    try {
      // A client whose daemon is down, as docker says it.
      const down = join(dir, 'docker');
      writeFileSync(
        down,
        '#!/bin/sh\necho "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2\nexit 1\n',
      );
      chmodSync(down, 0o755);
      for (const [client, why] of [
        [join(dir, 'no-such-docker'), /no docker client/],
        [down, /no docker engine answers \(Cannot connect to the Docker daemon/],
      ] as const) {
        const out: string[] = [];
        const stream = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
        const io = { stdout: stream, stderr: stream, env: { ...process.env, KGRAPH_DOCKER: client }, cwd: REPO_ROOT };
        expect(await runCli(['rehearse', 'dagger', 'lint', '--node', '24'], io), out.join('')).toBe(1);
        expect(out.join('')).toMatch(/no container engine answers, so nothing was rehearsed/);
        expect(out.join('')).toMatch(why);
        expect(out.join('')).not.toMatch(/PASSED|REACHED/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
