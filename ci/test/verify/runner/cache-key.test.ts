/**
 * Cache keys: a change to any declared input reaches exactly the steps that read it and their
 * dependants; nothing else (mtimes, ignored files, the clone's location) moves a key.
 */
import {
  chmodSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
  mkdtempSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunnableStep } from '../../../src/verify/runner/graph.js';
import { computeKeys, fileMatcher, type KeyFacts } from '../../../src/verify/runner/cache/key.js';
import { snapshotTree, type TreeSnapshot } from '../../../src/verify/runner/cache/tree.js';
import { STEPS } from '../../../src/definitions/steps.js';
import { git, makeRepo, writeTree } from './fixtures/repo.js';

const step = (name: string, files: string[], extra: Partial<RunnableStep> = {}): RunnableStep => ({
  name,
  commands: [['node', '-e', `0 // ${name}`]],
  params: [],
  services: [],
  env: {},
  dependsOn: [],
  timeoutSeconds: 30,
  inAll: true,
  cache: { mode: 'inputs', files, env: [], outputs: [] },
  ...extra,
});

const table: RunnableStep[] = [
  step('src', ['src/**', 'package-lock.json']),
  step('docs', ['docs/**', '!docs/drafts/**']),
  step('conf', ['*.json'], { cache: { mode: 'inputs', files: ['*.json'], env: ['LEVEL'], outputs: [] } }),
  step('afterSrc', ['tools/**'], { dependsOn: ['src'] }),
  step('afterAfter', ['nothing/**'], { dependsOn: ['afterSrc'] }),
  step('world', [], { cache: { mode: 'never', reason: 'asks a server' } }),
  step('afterWorld', ['src/**'], { dependsOn: ['world'] }),
  step('param', ['src/**'], { params: ['env'], commands: [['node', '-e', '0', '${env}']] }),
];

const files: Record<string, string> = {
  'src/a.ts': 'a',
  'src/deep/b.ts': 'b',
  'docs/guide.md': 'g',
  'docs/drafts/wip.md': 'w',
  'tools/t.sh': 't',
  'package-lock.json': '{}',
  'settings.json': '{}',
  'README.md': 'r',
};

const facts: KeyFacts = {
  nodeVersion: 'v22.0.0',
  platform: 'linux',
  arch: 'x64',
  installed: 'i1',
  env: { LEVEL: '1' },
  params: { env: 'dev' },
};
const snap = (fs: Record<string, string>): TreeSnapshot =>
  new Map(Object.entries(fs).map(([p, c]) => [p, { kind: 'file' as const, sha256: `h(${c})` }]));
const keysOf = (tree: TreeSnapshot, f: KeyFacts = facts) => {
  const keys = computeKeys(table, tree, f);
  return Object.fromEntries([...keys].map(([n, k]) => [n, k.cacheable ? k.key : `uncached: ${k.reason}`]));
};
const changedSteps = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a)
    .filter((n) => a[n] !== b[n])
    .sort();

/** The steps that read path (by their globs) and everything depending on them, transitively. */
function expectedFor(path: string): string[] {
  const direct = table.filter((s) => s.cache?.mode === 'inputs' && fileMatcher(s.cache.files)(path)).map((s) => s.name);
  const out = new Set(direct);
  for (let grew = true; grew;) {
    grew = false;
    for (const s of table) {
      if (!out.has(s.name) && s.dependsOn.some((d) => out.has(d))) {
        out.add(s.name);
        grew = true;
      }
    }
  }
  return [...out].filter((n) => !keysOf(snap(files))[n]!.startsWith('uncached')).sort();
}

describe('fileMatcher', () => {
  it('lets the last matching glob decide and sees dotfiles', () => {
    const m = fileMatcher(['**', '!bench/**', '!**/*.md', 'README.md']);
    expect(['a.ts', '.github/workflows/ci.yml', 'README.md', 'x/.hidden'].every(m)).toBe(true);
    expect(['bench/x.ts', 'docs/notes.md'].some(m)).toBe(false);
    expect(fileMatcher([])('a')).toBe(false);
  });
});

describe('computeKeys', () => {
  const base = keysOf(snap(files));

  it('is deterministic and gives uncached steps (and their dependants) a reason instead of a key', () => {
    expect(keysOf(snap(files))).toEqual(base);
    expect(base.world).toBe('uncached: asks a server');
    expect(base.afterWorld).toBe('uncached: depends on world, which is not cached (asks a server)');
    expect(new Set(Object.values(base)).size).toBe(Object.keys(base).length);
  });

  it.each(Object.keys(files))('changing %s invalidates exactly the steps that read it and their dependants', (path) => {
    const changed = changedSteps(base, keysOf(snap({ ...files, [path]: `${files[path]}!` })));
    expect(changed).toEqual(expectedFor(path));
  });

  it('deleting, adding and renaming files count; an excluded path does not', () => {
    const { 'src/a.ts': _a, ...withoutA } = files;
    expect(changedSteps(base, keysOf(snap(withoutA)))).toEqual(['afterAfter', 'afterSrc', 'param', 'src']);
    expect(changedSteps(base, keysOf(snap({ ...files, 'src/new.ts': 'n' })))).toEqual([
      'afterAfter',
      'afterSrc',
      'param',
      'src',
    ]);
    expect(changedSteps(base, keysOf(snap({ ...withoutA, 'src/renamed.ts': 'a' })))).toEqual([
      'afterAfter',
      'afterSrc',
      'param',
      'src',
    ]);
    expect(changedSteps(base, keysOf(snap({ ...files, 'docs/drafts/new.md': 'x' })))).toEqual([]);
    expect(changedSteps(base, keysOf(snap({ ...files, 'elsewhere/x.ts': 'x' })))).toEqual([]);
  });

  it('a file mode or kind change counts', () => {
    const tree = new Map(snap(files));
    tree.set('src/a.ts', { kind: 'exec', sha256: 'h(a)' });
    expect(changedSteps(base, keysOf(tree))).toEqual(['afterAfter', 'afterSrc', 'param', 'src']);
  });

  it('an env var reaches only the steps that declare it; the Node version, platform and installed packages reach all', () => {
    expect(changedSteps(base, keysOf(snap(files), { ...facts, env: { LEVEL: '2' } }))).toEqual(['conf']);
    expect(changedSteps(base, keysOf(snap(files), { ...facts, env: {} }))).toEqual(['conf']);
    expect(changedSteps(base, keysOf(snap(files), { ...facts, env: { LEVEL: '1', OTHER: 'x' } }))).toEqual([]);
    const cached = Object.keys(base)
      .filter((n) => !base[n]!.startsWith('uncached'))
      .sort();
    expect(changedSteps(base, keysOf(snap(files), { ...facts, nodeVersion: 'v24.1.0' }))).toEqual(cached);
    expect(changedSteps(base, keysOf(snap(files), { ...facts, arch: 'arm64' }))).toEqual(cached);
    expect(changedSteps(base, keysOf(snap(files), { ...facts, installed: 'i2' }))).toEqual(cached);
  });

  it('a parameter reaches the steps whose commands use it', () => {
    expect(changedSteps(base, keysOf(snap(files), { ...facts, params: { env: 'prod' } }))).toEqual(['param']);
  });

  it("a step's own definition counts, its description does not", () => {
    const withDef = (patch: Partial<RunnableStep>) => {
      const t = table.map((s) => (s.name === 'src' ? { ...s, ...patch } : s));
      const keys = computeKeys(t, snap(files), facts);
      return Object.fromEntries([...keys].map(([n, k]) => [n, k.cacheable ? k.key : `uncached: ${k.reason}`]));
    };
    expect(changedSteps(base, withDef({ commands: [['node', '-e', '1']] }))).toEqual(['afterAfter', 'afterSrc', 'src']);
    expect(changedSteps(base, withDef({ env: { NODE_ENV: 'test' } }))).toEqual(['afterAfter', 'afterSrc', 'src']);
    expect(changedSteps(base, withDef({ timeoutSeconds: 31 }))).toEqual(['afterAfter', 'afterSrc', 'src']);
    expect(changedSteps(base, withDef({ description: 'new words' } as Partial<RunnableStep>))).toEqual([]);
  });
});

describe('snapshotTree over a real work tree', { timeout: 120_000 }, () => {
  const disposers: (() => void)[] = [];
  afterEach(() => disposers.splice(0).forEach((d) => d()));
  const repo = (fs: Record<string, string> = files) => {
    const r = makeRepo({ ...fs, '.gitignore': 'node_modules/\ndist/\n' });
    disposers.push(r.dispose);
    return r.dir;
  };
  const keysAt = async (dir: string, t: readonly RunnableStep[] = table) => {
    const tree = await snapshotTree(dir);
    expect(tree).toBeDefined();
    return Object.fromEntries([...computeKeys(t, tree!, facts)].map(([n, k]) => [n, k.cacheable ? k.key : 'uncached']));
  };

  it('is undefined outside a git work tree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kgraph-nogit-'));
    disposers.push(() => rmSync(dir, { recursive: true, force: true }));
    expect(await snapshotTree(dir)).toBeUndefined();
  });

  it('the same tree in two clones at different paths gives the same keys, whatever is ignored or when files were written', async () => {
    const a = repo();
    const b = mkdtempSync(join(tmpdir(), 'kgraph-clone-other-place-'));
    disposers.push(() => rmSync(b, { recursive: true, force: true }));
    git(b, 'clone', '-q', a, 'deeper');
    const clone = join(b, 'deeper');
    // Junk a clone accumulates: installed packages, build output, old mtimes.
    writeTree(clone, { 'node_modules/left-pad/index.js': 'x', 'dist/a.js': 'y', 'src/dist/keep-ignored.js': 'z' });
    utimesSync(join(clone, 'src/a.ts'), new Date(0), new Date(0));
    expect(await keysAt(clone)).toEqual(await keysAt(a));
  });

  it('an untracked new file matched by a glob counts; an ignored one does not', async () => {
    const dir = repo();
    const before = await keysAt(dir);
    writeTree(dir, { 'node_modules/x/src/a.ts': 'junk', 'src/dist/x.js': 'ignored' });
    expect(changedSteps(before, await keysAt(dir))).toEqual([]);
    writeTree(dir, { 'src/untracked.ts': 'new' });
    expect(changedSteps(before, await keysAt(dir))).toEqual(['afterAfter', 'afterSrc', 'param', 'src']);
  });

  it('a deleted file, a renamed file and a mode change count; touching does not', async () => {
    const dir = repo();
    const before = await keysAt(dir);
    utimesSync(join(dir, 'docs/guide.md'), new Date(), new Date(Date.now() + 5000));
    expect(changedSteps(before, await keysAt(dir))).toEqual([]);
    unlinkSync(join(dir, 'docs/guide.md'));
    expect(changedSteps(before, await keysAt(dir))).toEqual(['docs']);
    const afterDelete = await keysAt(dir);
    renameSync(join(dir, 'tools/t.sh'), join(dir, 'tools/u.sh'));
    expect(changedSteps(afterDelete, await keysAt(dir))).toEqual(['afterAfter', 'afterSrc']);
    const afterRename = await keysAt(dir);
    chmodSync(join(dir, 'tools/u.sh'), 0o755);
    expect(changedSteps(afterRename, await keysAt(dir))).toEqual(['afterAfter', 'afterSrc']);
  });

  it('a symlink counts by its target and by what it points to, also outside the tree', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'kgraph-outside-'));
    disposers.push(() => rmSync(outside, { recursive: true, force: true }));
    writeFileSync(join(outside, 'shared.ts'), 'v1');
    const dir = repo();
    symlinkSync(join(outside, 'shared.ts'), join(dir, 'src/shared.ts'));
    const before = await keysAt(dir);
    writeFileSync(join(outside, 'shared.ts'), 'v2');
    expect(changedSteps(before, await keysAt(dir))).toEqual(['afterAfter', 'afterSrc', 'param', 'src']);
    const v2 = await keysAt(dir);
    unlinkSync(join(dir, 'src/shared.ts'));
    symlinkSync('a.ts', join(dir, 'src/shared.ts'));
    expect(changedSteps(v2, await keysAt(dir))).toEqual(['afterAfter', 'afterSrc', 'param', 'src']);
  });

  it('the real step table keys lint, typecheck, test, integrationTest and build, and never the steps that measure or change the world', async () => {
    const dir = repo({
      'app/src/main.ts': 'x',
      'ci/src/definitions/steps.ts': 'y',
      'package-lock.json': '{}',
      'README.md': 'r',
    });
    const keys = await keysAt(dir, Object.values(STEPS));
    for (const s of ['lint', 'typecheck', 'test', 'integrationTest', 'build'])
      expect(keys[s]).toMatch(/^[0-9a-f]{64}$/);
    for (const s of ['scan', 'latencyGate', 'deploy', 'rollback', 'release']) expect(keys[s]).toBe('uncached');
    for (const s of Object.values(STEPS))
      if (s.cache.mode === 'never') expect(s.cache.reason.length).toBeGreaterThan(10);
  });
});
