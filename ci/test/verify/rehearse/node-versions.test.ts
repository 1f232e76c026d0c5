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
});
