import { existsSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/definitions/errors.js';
import { resolveBaselineRef, run, withRefWorktree, type Run } from '../../src/gate/baseline.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';

// The Dagger module runs the tests on a copy of the source without .git: there is no ref to check out.
const inGit = existsSync(join(REPO_ROOT, '.git'));

describe('baseline ref', () => {
  it.skipIf(!inGit)(
    'resolves a ref git knows to its commit, and refuses one it does not (a usage error, exit 2)',
    async () => {
      const head = (await run('git', ['rev-parse', 'HEAD'], REPO_ROOT)).stdout.trim();
      expect(await resolveBaselineRef('HEAD', REPO_ROOT)).toEqual({ ref: 'HEAD', sha: head });
      await expect(resolveBaselineRef('v0.0.0-no-such-release', REPO_ROOT)).rejects.toThrow(UsageError);
      await expect(resolveBaselineRef('--upload-pack=x', REPO_ROOT)).rejects.toThrow(/not a git ref name/);
    },
  );

  it('defaults to the highest v* tag by version; none (with why) without tags or without git', async () => {
    const fake =
      (tags: string): Run =>
      async (_cmd, args) => {
        if (args[0] === 'rev-parse' && args[1] === '--is-inside-work-tree')
          return { code: 0, stdout: 'true\n', stderr: '' };
        if (args[0] === 'tag') return { code: 0, stdout: tags, stderr: '' };
        if (args[0] === 'rev-parse') return { code: 0, stdout: `${'a'.repeat(40)}\n`, stderr: '' };
        return { code: 1, stdout: '', stderr: '' };
      };
    // git sorts by version (--sort=-v:refname): the first line is the newest release.
    expect(await resolveBaselineRef(undefined, '/x', fake('v1.10.0\nv1.9.2\n'))).toEqual({
      ref: 'v1.10.0',
      sha: 'a'.repeat(40),
    });
    expect(await resolveBaselineRef(undefined, '/x', fake(''))).toEqual({
      none: 'no v* tag in this repository: nothing released to compare with',
    });
    // SHA-1 ids only: a SHA-256 repository's 64-digit commit is refused by name, not taken for a baseline.
    const sha256Repo: Run = async (cmd, args, cwd) =>
      args[0] === 'rev-parse' && args[1] === '--verify'
        ? { code: 0, stdout: `${'a'.repeat(64)}\n`, stderr: '' }
        : fake('v1.0.0\n')(cmd, args, cwd);
    await expect(resolveBaselineRef('v1.0.0', '/x', sha256Repo)).rejects.toThrow(
      new UsageError(
        '--baseline-ref v1.0.0: its commit id is not a SHA-1 git object id (SHA-256 repositories are not supported)',
      ),
    );
    const noGit: Run = async () => ({ code: 128, stdout: '', stderr: 'not a git repository' });
    expect(await resolveBaselineRef(undefined, '/x', noGit)).toMatchObject({
      none: expect.stringMatching(/not a git checkout/),
    });
    await expect(resolveBaselineRef('v1.0.0', '/x', noGit)).rejects.toThrow(/not a git checkout/);
  });
});

describe.skipIf(!inGit)('withRefWorktree', () => {
  it("checks the ref out in a detached worktree with this checkout's dependencies, and removes it afterwards, also on failure", async () => {
    const head = (await run('git', ['rev-parse', 'HEAD'], REPO_ROOT)).stdout.trim();
    let seen = '';
    await expect(
      withRefWorktree(
        REPO_ROOT,
        head,
        async (root) => {
          seen = root;
          expect(existsSync(join(root, 'app/src/main.ts'))).toBe(true);
          expect(lstatSync(join(root, 'node_modules')).isSymbolicLink()).toBe(true);
          expect((await run('git', ['rev-parse', 'HEAD'], root)).stdout.trim()).toBe(head);
          throw new Error('the gate failed');
        },
        { build: false },
      ),
    ).rejects.toThrow('the gate failed');
    expect(seen).not.toBe('');
    expect(existsSync(seen)).toBe(false);
    expect((await run('git', ['worktree', 'list'], REPO_ROOT)).stdout).not.toContain(seen);
  }, 30_000);
});
