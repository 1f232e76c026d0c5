/** `kgraph-ci scan` over a fixture repository (real git, real files, real npm). */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import type { ScanReport } from '../../../src/verify/scan/index.js';
import { captureIo } from '../../cli/io.js';

let root: string;
const token = ['gh', 'p_', 'Q'.repeat(36)].join('');

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'kgraph-scan-'));
  execFileSync('git', ['init', '-q'], { cwd: root });
  await mkdir(join(root, 'app'));
  await mkdir(join(root, 'node_modules/pkg'), { recursive: true });
  await copyFile(new URL('./fixtures/Dockerfile.good', import.meta.url), join(root, 'app/Dockerfile'));
  await writeFile(join(root, 'app/config.ts'), `export const token = '${token}';\n`);
  await writeFile(join(root, 'node_modules/pkg/index.js'), `'${token}'`); // ignored by .gitignore
  await writeFile(join(root, '.gitignore'), 'node_modules/\n');
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const scan = async (...args: string[]) => {
  // The caller's own switches must not leak in (a run with KGRAPH_SCAN_ALLOW_OFFLINE=1 runs these tests too).
  const io = captureIo(
    { ...process.env, GITHUB_STEP_SUMMARY: '', KGRAPH_SCAN_ALLOW_OFFLINE: '', KGRAPH_SCAN_REPORT: '' },
    root,
  );
  const code = await runCli(['scan', '--json', 'scan.json', ...args], io);
  return { code, out: io.out(), err: io.err() };
};

describe('kgraph-ci scan', () => {
  it('finds the secret (not in ignored files), never prints it, and exits 1', async () => {
    const r = await scan('--allow-offline');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/secrets\s+failed\s+1 finding\(s\): app\/config.ts:1 github-token fingerprint:[0-9a-f]{16}/);
    expect(r.out + r.err).not.toContain(token);
    const report = JSON.parse(await readFile(join(root, 'scan.json'), 'utf8')) as ScanReport;
    expect(report.outcome).toBe('failed');
    expect(report.reasons).toEqual([
      expect.stringMatching(/^secrets: 1 finding\(s\): app\/config.ts:1 github-token fingerprint:/),
    ]);
    expect(JSON.stringify(report)).not.toContain(token);
    expect(report.checks.find((c) => c.name === 'audit')!.outcome).toBe('skipped');
  });
  it('passes once the finding is allowlisted by fingerprint', async () => {
    const fp = /fingerprint:([0-9a-f]{16})/.exec((await scan('--allow-offline')).out)![1]!;
    await writeFile(join(root, '.kgraph-scan-allowlist'), `fingerprint:${fp}\n`);
    const r = await scan('--allow-offline');
    expect(r.out).toMatch(/secrets\s+passed\s+\d+ files, no findings \(1 allowlisted\)/);
    expect(r.code).toBe(0);
  });
  it('fails closed without --allow-offline when the audit gives no result', async () => {
    const r = await scan();
    expect(r.code).toBe(1);
    expect(r.out).toMatch(
      /audit\s+failed\s+no audit result .*failing closed: to skip the audit, pass --allow-offline to kgraph-ci scan or set KGRAPH_SCAN_ALLOW_OFFLINE=1/,
    );
  }, 60_000);
  it('fails a missing Dockerfile and rejects bad options with exit 2', async () => {
    expect((await scan('--allow-offline', '--dockerfile', 'nope/Dockerfile')).out).toMatch(
      /dockerfile\s+failed\s+nope\/Dockerfile not found/,
    );
    expect((await scan('--audit-level', 'severe')).code).toBe(2);
    await writeFile(join(root, 'bad-allowlist'), 'a b c\n');
    const r = await scan('--allow-offline', '--allowlist', 'bad-allowlist');
    expect(r).toMatchObject({ code: 2, err: expect.stringMatching(/bad-allowlist: allowlist line 1/) });
  });
});

describe('kgraph-ci scan without .git (the Dagger module leaves it out)', () => {
  it('walks the tree with its .gitignore rules: the secret in source is found, the ignored copy is not', async () => {
    const bare = await mkdtemp(join(tmpdir(), 'kgraph-scan-nogit-'));
    try {
      await mkdir(join(bare, 'app'));
      await mkdir(join(bare, 'node_modules/pkg'), { recursive: true });
      await copyFile(new URL('./fixtures/Dockerfile.good', import.meta.url), join(bare, 'app/Dockerfile'));
      await writeFile(join(bare, 'app/config.ts'), `export const token = '${token}';\n`);
      await writeFile(join(bare, 'node_modules/pkg/index.js'), `'${token}'`);
      await writeFile(join(bare, '.gitignore'), 'node_modules/\n');
      const io = captureIo(
        { ...process.env, GITHUB_STEP_SUMMARY: '', KGRAPH_SCAN_ALLOW_OFFLINE: '', KGRAPH_SCAN_REPORT: '' },
        bare,
      );
      const code = await runCli(['scan', '--allow-offline', '--json', 'scan.json'], io);
      expect(io.err()).toMatch(/no \.git here, walking the tree with its \.gitignore rules/);
      expect(io.out()).toMatch(/secrets\s+failed\s+1 finding\(s\): app\/config.ts:1 github-token/);
      expect(io.out() + io.err()).not.toContain(token);
      expect(code).toBe(1);
    } finally {
      await rm(bare, { recursive: true, force: true });
    }
  });
});
