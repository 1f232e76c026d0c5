/**
 * The scan's listing without .git: the walk must list what git itself lists, so each case is checked
 * against a real `git ls-files --cached --others --exclude-standard` of the same tree.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { walkTree } from '../../../src/verify/scan/tree.js';

const roots: string[] = [];
afterEach(async () => {
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'kgraph-tree-'));
  roots.push(root);
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
  }
  return root;
}

function gitListing(root: string): string[] {
  execFileSync('git', ['init', '-q'], { cwd: root });
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  });
  return out.split('\0').filter(Boolean).sort();
}

describe('walkTree (the scan without .git)', () => {
  it('lists what git lists: nested .gitignore files, negations, anchors, directory-only and glob rules', async () => {
    const root = await tree({
      '.gitignore': 'node_modules/\n*.log\n/build\n!keep.log\ncoverage\ndocs/**/*.tmp\n',
      'a.ts': '',
      'error.log': '',
      'keep.log': '',
      'build/out.js': '',
      'src/build/kept.js': '', // /build is anchored to the root
      'node_modules/pkg/index.js': '',
      'app/node_modules/x/y.js': '',
      'coverage/index.html': '',
      'app/coverage': '', // a file named like an ignored directory rule without the slash: ignored too
      'docs/a/b/c.tmp': '',
      'docs/a/b/c.md': '',
      'dagger/.gitignore': '/sdk\n!*.log\ngenerated/\n',
      'dagger/sdk/index.ts': '',
      'dagger/src/sdk/kept.ts': '',
      'dagger/debug.log': '', // the deeper file re-includes it
      'dagger/generated/x.ts': '',
      'dagger/src/index.ts': '',
      'weird name with spaces.txt': '',
    });
    await symlink('a.ts', join(root, 'link.ts'));
    const walked = await walkTree(root);
    expect(walked).toEqual(gitListing(root));
    // The cases above really exercise the rules (a listing that ignores nothing would differ).
    expect(walked).toContain('dagger/debug.log');
    expect(walked).toContain('src/build/kept.js');
    expect(walked).toContain('link.ts');
    expect(walked).not.toContain('node_modules/pkg/index.js');
    expect(walked).not.toContain('error.log');
  });

  it('never enters .git and lists nothing for an empty tree', async () => {
    const root = await tree({ '.git/config': '[core]\n', '.git/objects/ab/cd': 'x' });
    expect(await walkTree(root)).toEqual([]);
  });

  it('a file inside an ignored directory stays out even when a rule would re-include it (as in git)', async () => {
    const root = await tree({ '.gitignore': 'out/\n!out/keep.txt\n', 'out/keep.txt': '', 'in.txt': '' });
    const walked = await walkTree(root);
    expect(walked).toEqual(['.gitignore', 'in.txt']);
    expect(walked).toEqual(gitListing(root));
  });

  it('fails on an unreadable root instead of listing nothing', async () => {
    await expect(walkTree(join(tmpdir(), 'kgraph-tree-does-not-exist'))).rejects.toThrow(/ENOENT/);
  });
});
