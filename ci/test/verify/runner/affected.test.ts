/**
 * `run --affected`: the base (given, or the merge base with develop; a ref that names nothing is
 * exit 2), the changes since it (committed, staged, unstaged, untracked, renames as both names), and
 * the steps they reach plus their dependants, each with the inputs that changed.
 */
import { chmodSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/definitions/errors.js';
import { runCli } from '../../../src/cli/program.js';
import { chooseAffected, describeAffected, planAffected } from '../../../src/verify/runner/affected.js';
import type { HistoryEntry } from '../../../src/verify/runner/history.js';
import type { RunnableStep } from '../../../src/verify/runner/graph.js';
import { captureIo } from '../../cli/io.js';
import { fixtureStep } from './fixtures/steps.js';
import { git, makeRepo, writeTree } from './fixtures/repo.js';

const reads = (name: string, files: string[], extra: Partial<RunnableStep> = {}) =>
  fixtureStep(name, '0', { cache: { mode: 'inputs', files, env: [], outputs: [] }, ...extra });
const table: RunnableStep[] = [
  reads('app', ['app/**']),
  reads('docs', ['docs/**']),
  reads('build', ['app/src/**'], { dependsOn: ['app'] }),
  reads('package', ['nothing/**'], { dependsOn: ['build'] }),
  fixtureStep('gate', '0', { cache: { mode: 'never', reason: 'it measures the world' } }),
];

let repo: { dir: string; dispose: () => void };
beforeEach(() => {
  repo = makeRepo({ 'app/src/a.ts': 'a', 'app/README.txt': 'r', 'docs/d.md': 'd', 'other.txt': 'o' });
  git(repo.dir, 'branch', 'develop');
  git(repo.dir, 'checkout', '-q', '-b', 'feat/x');
});
afterEach(() => repo.dispose());
const names = (steps: readonly RunnableStep[]) => steps.map((s) => s.name);

describe('planAffected', { timeout: 120_000 }, () => {
  it('defaults to the merge base with develop and takes committed, staged, unstaged and untracked changes', async () => {
    writeTree(repo.dir, { 'app/src/a.ts': 'a2' });
    git(repo.dir, 'commit', '-qam', 'change app');
    let plan = await planAffected(repo.dir, table, table, undefined);
    expect(plan.base.ref).toBe('merge-base(HEAD, develop)');
    expect(plan.base.commit).toBe(git(repo.dir, 'rev-parse', 'develop'));
    expect(plan.changed).toEqual(['app/src/a.ts']);
    expect(names(plan.steps)).toEqual(['app', 'build', 'package', 'gate']);
    expect(plan.why.get('build')).toEqual({ changed: ['app/src/a.ts'], because: ['app'] });
    expect(plan.why.get('package')).toEqual({ changed: [], because: ['build'] });
    expect(plan.why.get('gate')).toEqual({ changed: [], because: [], world: 'it measures the world' });
    writeTree(repo.dir, { 'docs/new.md': 'untracked', 'other.txt': 'unstaged' });
    plan = await planAffected(repo.dir, table, table, undefined);
    expect(plan.changed).toEqual(['app/src/a.ts', 'docs/new.md', 'other.txt']);
    expect(names(plan.steps)).toEqual(['app', 'docs', 'build', 'package', 'gate']);
    const lines = describeAffected(plan, table);
    expect(lines[0]).toMatch(/^affected since merge-base\(HEAD, develop\) \([0-9a-f]{12}\): 3 changed path\(s\)$/);
    expect(lines).toContain('  app: inputs changed: app/src/a.ts');
    expect(lines).toContain('  build: inputs changed: app/src/a.ts; depends on affected app');
    expect(lines).toContain('  package: depends on affected build');
    expect(lines).toContain('  docs: inputs changed: docs/new.md');
    expect(lines).toContain('  gate: always runs: it measures the world');
  });

  it('a rename counts under both names, a deletion and a mode change count, and nothing changed runs only what cannot be judged', async () => {
    expect(names((await planAffected(repo.dir, table, table, 'develop')).steps)).toEqual(['gate']);
    renameSync(join(repo.dir, 'app/src/a.ts'), join(repo.dir, 'docs/a.ts'));
    git(repo.dir, 'add', '-A');
    expect((await planAffected(repo.dir, table, table, 'develop')).changed).toEqual(['app/src/a.ts', 'docs/a.ts']);
    git(repo.dir, 'commit', '-qm', 'move');
    git(repo.dir, 'checkout', '-q', 'develop');
    unlinkSync(join(repo.dir, 'docs/d.md'));
    expect(names((await planAffected(repo.dir, table, table, 'HEAD')).steps)).toEqual(['docs', 'gate']);
    git(repo.dir, 'checkout', '-q', '--', 'docs/d.md');
    chmodSync(join(repo.dir, 'app/README.txt'), 0o755);
    expect((await planAffected(repo.dir, table, table, 'HEAD')).changed).toEqual(['app/README.txt']);
  });

  it('only looks at the selected steps, but a dependency outside the selection still pulls its dependant in', async () => {
    writeTree(repo.dir, { 'app/README.txt': 'r2' });
    const selected = table.filter((s) => s.name === 'build' || s.name === 'docs');
    expect(names((await planAffected(repo.dir, table, selected, 'HEAD')).steps)).toEqual(['build']);
  });

  it('fails as bad usage on a ref that names nothing, an option-like ref, or no develop to default to', async () => {
    await expect(planAffected(repo.dir, table, table, 'no-such-branch')).rejects.toThrow(UsageError);
    await expect(planAffected(repo.dir, table, table, 'no-such-branch')).rejects.toThrow(
      '--base "no-such-branch" names no commit in this repository',
    );
    await expect(planAffected(repo.dir, table, table, '--output=/tmp/x')).rejects.toThrow(/names no commit/);
    git(repo.dir, 'branch', '-D', 'develop');
    await expect(planAffected(repo.dir, table, table, undefined)).rejects.toThrow(
      /no develop or origin\/develop branch .* pass --base REF/,
    );
  });
});

describe('chooseAffected: the world only when asked, nothing again that passed at this commit', () => {
  const entry = (step: string, over: Partial<HistoryEntry> = {}): HistoryEntry => ({
    version: 1,
    commit: 'a'.repeat(40),
    step,
    status: 'passed',
    finishedAt: '2026-12-06T12:00:00.000Z',
    durationMs: 1000,
    source: 'npm test',
    tree: 'clean',
    ...over,
  });
  it('leaves out a world step nothing reaches unless --with-world, and a step that passed here on a clean tree', async () => {
    writeTree(repo.dir, { 'app/src/a.ts': 'a2' });
    const plan = await planAffected(repo.dir, table, table, 'HEAD');
    const none = new Map<string, HistoryEntry>();
    const plain = chooseAffected(plan, { withWorld: false, tree: 'dirty', history: none });
    expect(names(plain.run)).toEqual(['app', 'build', 'package']);
    expect(plain.left).toEqual([
      {
        name: 'gate',
        why: 'nothing it reads changed; it measures the world (it measures the world): --with-world runs it',
      },
    ]);
    expect(names(chooseAffected(plan, { withWorld: true, tree: 'dirty', history: none }).run)).toContain('gate');
    const history = new Map([
      ['app', entry('app')],
      ['build', entry('build', { tree: 'dirty' })],
      ['package', entry('package', { status: 'failed' })],
    ]);
    const clean = chooseAffected(plan, { withWorld: false, tree: 'clean', history });
    expect(names(clean.run)).toEqual(['build', 'package']);
    expect(clean.left[0]).toEqual({
      name: 'app',
      why: `already passed at ${'a'.repeat(12)} (npm test, 2026-12-06T12:00:00.000Z): run it by name to run it again`,
    });
    // A dirty tree is not the commit: its history does not count.
    expect(names(chooseAffected(plan, { withWorld: false, tree: 'dirty', history }).run)).toEqual([
      'app',
      'build',
      'package',
    ]);
  });
});

describe('kgraph-ci run --affected', { timeout: 120_000 }, () => {
  const cli = async (...argv: string[]) => {
    const io = captureIo({ ...process.env, GITHUB_STEP_SUMMARY: '' });
    return { code: await runCli(argv, io), err: io.err(), out: io.out() };
  };
  it('exits 2 naming the ref when --base names nothing, before running anything', async () => {
    const r = await cli('run', 'lint', '--affected', '--base', 'refs/heads/does-not-exist-kgraph');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--base "refs\/heads\/does-not-exist-kgraph" names no commit/);
    expect(r.out).not.toMatch(/▶/);
  });
  it('exits 2 for --base without --affected and for a bad --cache-max-mb', async () => {
    expect((await cli('run', 'lint', '--base', 'HEAD')).err).toMatch(/--base only makes sense with --affected/);
    const r = await cli('run', 'lint', '--cache-max-mb', 'lots');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--cache-max-mb must be a number of MiB/);
  });
  it('in a clean checkout with HEAD as the base, runs nothing and says so per step (exit 0)', async () => {
    const io = captureIo({ ...process.env, GITHUB_STEP_SUMMARY: '' }, repo.dir);
    expect(await runCli(['run', 'lint', 'build', '--affected', '--base', 'HEAD'], io)).toBe(0);
    expect(io.out()).toMatch(/^affected since HEAD \([0-9a-f]{12}\): 0 changed path\(s\)$/m);
    expect(io.out()).toMatch(/^ {2}lint: not affected, skipped$/m);
    expect(io.out()).toMatch(/^ {2}typecheck: not affected, skipped$/m);
    expect(io.out()).toMatch(/^ {2}build: not affected, skipped$/m);
    expect(io.out()).toMatch(/nothing affected, nothing to run/);
    expect(io.out()).not.toMatch(/▶/);
  });
  it('with nothing changed, run all --affected leaves out scan and latencyGate too, and says how to run them', async () => {
    const io = captureIo({ ...process.env, GITHUB_STEP_SUMMARY: '' }, repo.dir);
    expect(await runCli(['run', 'all', '--affected', '--base', 'HEAD'], io)).toBe(0);
    expect(io.out()).toMatch(
      /^ {2}scan: left out: nothing it reads changed; it measures the world .*--with-world runs it$/m,
    );
    expect(io.out()).toMatch(/^ {2}latencyGate: left out: .*--with-world runs it$/m);
    expect(io.out()).toMatch(/nothing affected, nothing to run/);
    expect(io.out()).not.toMatch(/▶/);
    expect((await cli('run', 'lint', '--with-world')).err).toMatch(/--with-world only makes sense with --affected/);
  });
});
