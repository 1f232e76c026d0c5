/** Tag reachability with real git in a temporary repository, through the library and the CLI. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { isTagReachableFromMain, resolveMainRef } from '../../../src/verify/policy/git.js';
import { captureIo } from '../../cli/io.js';

let repo: string;
const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();

beforeAll(async () => {
  repo = await mkdtemp(join(tmpdir(), 'kgraph-policy-'));
  git('init', '-q', '-b', 'main');
  git('config', 'user.email', 't@example.com');
  git('config', 'user.name', 'T');
  git('commit', '-q', '--allow-empty', '-m', 'one');
  git('tag', 'v1.0.0');
  git('checkout', '-q', '-b', 'develop');
  git('commit', '-q', '--allow-empty', '-m', 'on develop only');
  git('tag', 'v1.1.0');
  git('tag', '-a', 'v1.1.1', '-m', 'annotated, off main');
  git('checkout', '-q', 'main');
  git('commit', '-q', '--allow-empty', '-m', 'two');
  git('tag', '-a', 'v1.2.0', '-m', 'annotated on main');
});
afterAll(async () => {
  await rm(repo, { recursive: true, force: true });
});

describe('isTagReachableFromMain', () => {
  it('follows main (lightweight and annotated tags)', async () => {
    expect(await resolveMainRef(repo)).toBe('refs/heads/main');
    expect(await isTagReachableFromMain(repo, 'v1.0.0')).toBe(true);
    expect(await isTagReachableFromMain(repo, 'v1.2.0')).toBe(true);
    expect(await isTagReachableFromMain(repo, 'v1.1.0')).toBe(false);
    expect(await isTagReachableFromMain(repo, 'v1.1.1')).toBe(false);
  });
  it('is unknown for a missing tag or outside a repository', async () => {
    expect(await isTagReachableFromMain(repo, 'v9.9.9')).toBeUndefined();
    expect(await isTagReachableFromMain(tmpdir(), 'v1.0.0')).toBeUndefined();
  });
  it('prefers origin/main when the remote branch exists', async () => {
    git('update-ref', 'refs/remotes/origin/main', git('rev-parse', 'develop'));
    try {
      expect(await resolveMainRef(repo)).toBe('refs/remotes/origin/main');
      expect(await isTagReachableFromMain(repo, 'v1.1.0')).toBe(true);
    } finally {
      git('update-ref', '-d', 'refs/remotes/origin/main');
    }
  });
});

describe('kgraph-ci policy', () => {
  const cli = async (...argv: string[]) => {
    const io = captureIo();
    const code = await runCli(argv, io);
    return { code, out: io.out(), err: io.err() };
  };
  it('tag: 0 on main, 1 off main, 2 for a malformed or unsafe name', async () => {
    expect(await cli('policy', 'tag', 'v1.2.0', '--repo', repo)).toMatchObject({
      code: 0,
      out: expect.stringMatching(/reachable from main/),
    });
    expect(await cli('policy', 'tag', 'v1.1.0', '--repo', repo)).toMatchObject({
      code: 1,
      err: expect.stringMatching(/not reachable from main/),
    });
    expect(await cli('policy', 'tag', 'v9.9.9', '--repo', repo)).toMatchObject({
      code: 1,
      err: expect.stringMatching(/cannot tell/),
    });
    expect(await cli('policy', 'tag', '1.2.0', '--repo', repo)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/not v<semver>/),
    });
    expect(await cli('policy', 'tag', 'v1.0.0;id', '--repo', repo)).toMatchObject({
      code: 2,
      err: expect.stringMatching(/unsafe tag name/),
    });
  });
  it('pr: 0 when allowed, 1 with the reason when not, 2 without arguments', async () => {
    expect(await cli('policy', 'pr', '--source', 'feat/KG-7_login', '--target', 'develop')).toMatchObject({ code: 0 });
    const bad = await cli('policy', 'pr', '--source', 'develop', '--target', 'main');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/develop → main rejected: develop → develop|develop never goes to main/);
    const unsafe = await cli('policy', 'pr', '--source', 'feat/$(id)', '--target', 'develop');
    expect(unsafe).toMatchObject({ code: 1, err: expect.stringMatching(/unsafe branch name/) });
    expect((await cli('policy', 'pr', '--source', 'x')).code).toBe(2);
  });
});
