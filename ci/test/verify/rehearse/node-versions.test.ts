/**
 * ci/scripts/node-versions.sh (the Node 22/24 step of .ci/run) without an engine: it says the runs did not
 * happen and exits 1. It never reports a pass, and never starts a rehearsal it cannot run.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';

const bin = mkdtempSync(join(tmpdir(), 'kgraph-node-versions-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe('ci/scripts/node-versions.sh', () => {
  it('with no engine answering: names it, says the Node 22/24 runs did not run, exit 1', () => {
    // A docker client whose daemon is down; and an npx that records being called (it must not be).
    writeFileSync(join(bin, 'docker'), '#!/bin/sh\necho "Cannot connect to the Docker daemon" >&2\nexit 1\n');
    writeFileSync(join(bin, 'npx'), `#!/bin/sh\ntouch ${join(bin, 'npx-called')}\nexit 0\n`);
    for (const f of ['docker', 'npx']) chmodSync(join(bin, f), 0o755);
    const res = spawnSync('bash', [join(REPO_ROOT, 'ci/scripts/node-versions.sh')], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
      encoding: 'utf8',
    });
    expect(res.status, res.stderr).toBe(1);
    expect(res.stderr).toMatch(/no container engine answers/);
    expect(res.stderr).toMatch(/did NOT run/);
    expect(res.stdout + res.stderr).not.toMatch(/passed/);
    expect(spawnSync('test', ['-e', join(bin, 'npx-called')]).status).toBe(1);
  });

  it('starts no run once .ci/run is over its budget: each is NOT RUN in the summary, never passed', () => {
    const dir = mkdtempSync(join(bin, 'budget-'));
    const calls = join(dir, 'npx-calls');
    writeFileSync(join(dir, 'docker'), '#!/bin/sh\necho 28.2.2\n');
    writeFileSync(join(dir, 'npx'), `#!/bin/sh\necho "$*" >> ${calls}\nexit 0\n`);
    for (const f of ['docker', 'npx']) chmodSync(join(dir, f), 0o755);
    const run = (started: number) =>
      spawnSync('bash', [join(REPO_ROOT, 'ci/scripts/node-versions.sh')], {
        env: {
          ...process.env,
          PATH: `${dir}:${process.env.PATH}`,
          KGRAPH_NODE_RUNS: 'test:22 integration-test:24',
          KGRAPH_CI_STARTED: String(started),
          KGRAPH_NODE_BUDGET_S: '600',
        },
        encoding: 'utf8',
      });
    const late = run(Math.floor(Date.now() / 1000) - 601);
    expect(late.status, late.stderr).toBe(0);
    expect(late.stdout).toMatch(/test on Node 22: NOT RUN \(budget/);
    expect(late.stdout).toMatch(/integration-test on Node 24: NOT RUN \(budget/);
    expect(late.stdout).not.toMatch(/passed/);
    expect(spawnSync('test', ['-e', calls]).status).toBe(1);
    // Within the budget both start (the fake npx passes them).
    const early = run(Math.floor(Date.now() / 1000));
    expect(early.status, early.stderr).toBe(0);
    expect(early.stdout).toMatch(/test on Node 22: passed/);
    expect(early.stdout).toMatch(/integration-test on Node 24: passed/);
  });
});
