/**
 * The deploy path as a user runs it: `kgraph-ci deploy|promotion candidate` with the real wiring (kubectl
 * kustomize for real, GitHub = a local fake holding the ledger), exit codes and what is printed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import type { FakeLedger } from '../../platform/github/fake-ledger.js';
import { DIGEST, stagedLedger, TOKEN } from './staged-ledger.js';

let fake: FakeLedger | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

export async function cli(
  args: string[],
  env: Record<string, string>,
  cwd = mkdtempSync(join(tmpdir(), 'kgraph-cli-')),
) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (to: string[]) => new Writable({ write: (c: Buffer, _e, cb) => (to.push(c.toString()), cb()) });
  const code = await runCli(args, { stdout: sink(out), stderr: sink(err), env, cwd });
  return { code, out: out.join(''), err: err.join('') };
}

const ghEnv = (f: FakeLedger) => ({
  GITHUB_TOKEN: TOKEN,
  GITHUB_API_URL: f.url,
  GITHUB_REPOSITORY: 'acme/kgraph',
  PATH: process.env.PATH ?? '',
});

describe('kgraph-ci deploy --env prod (dry-run) against the ledger', () => {
  it('accepts the digest that passed staging for v1.4.0, prints the policy verdict and the plan, exit 0, changes nothing', async () => {
    fake = await stagedLedger();
    const res = await cli(['deploy', '--env', 'prod', '--version', 'v1.4.0', '--dry-run'], ghEnv(fake));
    expect(res.code).toBe(0);
    expect(res.out).toContain(`release policy for prod: ELIGIBLE: ghcr.io/kgraph-mcp/kgraph-mcp@${DIGEST}`);
    expect(res.out).toContain(
      `deploy v1.4.0 (ghcr.io/kgraph-mcp/kgraph-mcp@${DIGEST}) to prod (namespace kgraph-prod)`,
    );
    expect(res.out).toContain('kubectl --namespace kgraph-prod rollout status deployment/kgraph-mcp --timeout=300s');
    expect(fake.seen.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(res.out + res.err).not.toContain(TOKEN);
  });

  it.each([
    [
      ['--image', 'ghcr.io/evil/other:1.0.0'],
      1,
      /rule "repository": ghcr\.io\/evil\/other is not ghcr\.io\/kgraph-mcp\/kgraph-mcp/,
    ],
    [
      ['--image', 'ghcr.io/kgraph-mcp/kgraph-mcp:staging-abc123'],
      1,
      /rule "digest": prod deploys only by @sha256 digest/,
    ],
    [['--version', 'v1.4.1'], 1, /no digest to promote for v1\.4\.1: nothing passed staging for tree b2b2/],
    [
      ['--image', `ghcr.io/kgraph-mcp/kgraph-mcp@${DIGEST}`, '--version', 'v1.4.1'],
      1,
      /rule "promotion": digest 4f4f4f4f4f4f was built from tree a1a1a1a1a1a1, but v1\.4\.1 is tree b2b2b2b2b2b2/,
    ],
    [['--image', 'ghcr.io/kgraph-mcp/kgraph-mcp@sha256:abc'], 2, /malformed digest "sha256:abc"/],
    [['--image', 'ghcr.io/kgraph-mcp/kgraph-mcp:v1;rm -rf /'], 2, /characters no image reference has/],
    [['--version', '1.4'], 2, /"1\.4" is not a release tag/],
  ])('deploy --env prod %j exits %i naming why, before anything changes', async (args, code, why) => {
    fake = await stagedLedger();
    const res = await cli(['deploy', '--env', 'prod', ...args, '--dry-run'], ghEnv(fake));
    expect(res.code).toBe(code);
    expect(res.err).toMatch(why);
    expect(res.out).not.toContain('kubectl');
    expect(fake.seen.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(res.out + res.err).not.toContain(TOKEN);
  });
});

describe('kgraph-ci promotion candidate', () => {
  it('prints the staged digest for a tag of the same tree, `none` for a tag of another tree, exit 1 when the ledger is down', async () => {
    fake = await stagedLedger();
    const same = await cli(['promotion', 'candidate', '--version', 'v1.4.0'], ghEnv(fake));
    expect([same.code, same.out]).toEqual([0, `ghcr.io/kgraph-mcp/kgraph-mcp@${DIGEST}\n`]);
    const other = await cli(['promotion', 'candidate', '--version', 'v1.4.1'], ghEnv(fake));
    expect([other.code, other.out]).toEqual([0, 'none\n']);
    expect(other.err).toContain('nothing passed staging for tree b2b2');
    fake.down = true;
    const down = await cli(['promotion', 'candidate', '--version', 'v1.4.0'], ghEnv(fake));
    expect(down.code).toBe(1);
    expect(down.out).toBe('');
    expect(down.err + down.out).not.toContain(TOKEN);
    expect((await cli(['promotion', 'candidate', '--env', 'staging', '--version', 'v1.4.0'], ghEnv(fake))).code).toBe(
      2,
    );
  });
});

describe('the host runner path', () => {
  it('kgraph-ci run deploy --env prod refuses a foreign image through the same policy (step fails, exit 1)', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'kgraph-run-')), 'run.json');
    const res = await cli(
      [
        'run',
        'deploy',
        '--no-deps',
        '--env',
        'prod',
        '--param',
        'image=ghcr.io/evil/other:1.0.0',
        '--json',
        json,
        '--no-cache',
      ],
      { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' },
      REPO_ROOT,
    );
    expect(res.code).toBe(1);
    expect(res.out + res.err).toContain('release policy refuses ghcr.io/evil/other:1.0.0 for prod: rule "repository"');
    // Nothing ran past the policy: no render, no kubectl call (the step's own description names kubectl apply).
    expect(res.out + res.err).not.toMatch(/rendering: kubectl|\[\d+\/\d+\] (checklist|current-image)/);
  }, 60_000);
});
