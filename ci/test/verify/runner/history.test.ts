/**
 * Run history per commit: one record per step, written whole by concurrent writers, read back per commit;
 * the checklist's "tests passed" from it; a run report as JUnit XML.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { testsFromHistory } from '../../../src/verify/checklist/items.js';
import { readCommitHistory, recordResult, treeState, type HistoryEntry } from '../../../src/verify/runner/history.js';
import { runJunitXml } from '../../../src/verify/runner/junit.js';
import type { RunReport } from '../../../src/verify/runner/types.js';
import { git, makeRepo, writeTree } from './fixtures/repo.js';

const commit = 'b'.repeat(40);
const entry = (step: string, over: Partial<HistoryEntry> = {}): HistoryEntry => ({
  version: 1,
  commit,
  step,
  status: 'passed',
  finishedAt: '2026-12-06T12:00:00.000Z',
  durationMs: 1000,
  source: 'kgraph-ci run',
  tree: 'clean',
  ...over,
});

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'kgraph-history-'));
  dirs.push(d);
  return d;
};

describe('run history per commit', () => {
  it('keeps the last result of each step: a later run of another step erases nothing', async () => {
    const root = tmp();
    await recordResult(root, entry('test', { status: 'failed', source: 'npm test' }));
    await recordResult(root, entry('integrationTest'));
    await recordResult(root, entry('test', { source: 'npm test' }));
    await recordResult(root, entry('lint', { commit: 'c'.repeat(40) }));
    const h = await readCommitHistory(root, commit);
    expect([...h.keys()].sort()).toEqual(['integrationTest', 'test']);
    expect(h.get('test')).toMatchObject({ status: 'passed', source: 'npm test' });
    expect((await readCommitHistory(root, 'c'.repeat(40))).get('lint')?.status).toBe('passed');
  });
  it('refuses what is not a SHA-1 commit id (a 64-digit id included) and reads nothing for it', async () => {
    const root = tmp();
    await expect(recordResult(root, entry('test', { commit: 'c'.repeat(64) }))).rejects.toThrow(/not a commit id/);
    await expect(recordResult(root, entry('test', { commit: '../x' }))).rejects.toThrow(/not a commit id/);
    expect((await readCommitHistory(root, 'c'.repeat(64))).size).toBe(0);
  });
  it('many writers at once leave whole records and no temporary files', async () => {
    const root = tmp();
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        recordResult(root, entry('test', { durationMs: i, reason: 'x'.repeat(5000) })),
      ),
    );
    const h = await readCommitHistory(root, commit);
    expect(h.get('test')?.reason).toHaveLength(5000);
    expect(readdirSync(join(root, '.reports/history', commit))).toEqual(['test.json']);
  });
  it('refuses a commit or step name that could leave the directory', async () => {
    await expect(recordResult(tmp(), entry('test', { commit: '../../etc' }))).rejects.toThrow(/not a commit id/);
    await expect(recordResult(tmp(), entry('../x'))).rejects.toThrow(/not a step name/);
    expect((await readCommitHistory(tmp(), '../..')).size).toBe(0);
  });
  it('tells a clean tree from one with uncommitted changes (ignored files aside)', async () => {
    const repo = makeRepo({ 'a.txt': 'a', '.gitignore': '.reports/\n' });
    try {
      expect(await treeState(repo.dir)).toBe('clean');
      writeTree(repo.dir, { '.reports/x.json': '{}' });
      expect(await treeState(repo.dir)).toBe('clean');
      writeTree(repo.dir, { 'a.txt': 'b' });
      expect(await treeState(repo.dir)).toBe('dirty');
      git(repo.dir, 'commit', '-qam', 'b');
      expect(await treeState(repo.dir)).toBe('clean');
    } finally {
      repo.dispose();
    }
  });
});

describe("the checklist's tests item from the history", () => {
  it('passes when both test steps passed at the commit on a clean tree, from run and npm test alike', () => {
    const h = new Map([
      ['test', entry('test', { source: 'npm test' })],
      ['integrationTest', entry('integrationTest')],
    ]);
    const item = testsFromHistory(h, commit)!;
    expect(item.outcome).toBe('passed');
    expect(item.reasons.join('; ')).toContain('test passed at bbbbbbbbbbbb (npm test');
    expect(item.reasons.join('; ')).toContain('integrationTest passed at bbbbbbbbbbbb (kgraph-ci run');
  });
  it('fails a missing step, a failure or a dirty tree, naming which; no history for the commit defers to the report', () => {
    const missing = testsFromHistory(new Map([['test', entry('test')]]), commit)!;
    expect(missing.outcome).toBe('failed');
    expect(missing.reasons.join('; ')).toContain('integrationTest: no result at bbbbbbbbbbbb');
    const dirty = testsFromHistory(
      new Map([
        ['test', entry('test', { tree: 'dirty' })],
        ['integrationTest', entry('integrationTest')],
      ]),
      commit,
    )!;
    expect(dirty.outcome).toBe('failed');
    expect(dirty.reasons.join('; ')).toContain('on a tree with uncommitted changes');
    expect(testsFromHistory(new Map(), commit)).toBeUndefined();
  });
});

describe('run report as JUnit XML', () => {
  it('one test case per step: failures with their reason (escaped), skips, cached passes', () => {
    const report: RunReport = {
      version: 1,
      runId: 'r1',
      startedAt: '2026-01-01T00:00:00.000Z',
      durationMs: 4000,
      ok: false,
      concurrency: 2,
      servicesMode: 'ephemeral',
      params: {},
      steps: [
        { name: 'lint', status: 'passed', durationMs: 1500 },
        { name: 'typecheck', status: 'cached', durationMs: 10, savedMs: 9000 },
        { name: 'build', status: 'failed', durationMs: 800, reason: 'exit 2 <"&">' },
        { name: 'scan', status: 'skipped', durationMs: 0, reason: 'build failed' },
      ],
    };
    const xml = runJunitXml(report);
    expect(xml).toContain('tests="4" failures="1" skipped="1"');
    expect(xml).toContain('<testcase classname="kgraph-ci.run" name="lint" time="1.500"/>');
    expect(xml).toContain('<failure message="failed: exit 2 &lt;&quot;&amp;&quot;&gt;" type="failed"/>');
    expect(xml).toContain('<skipped message="build failed"/>');
    expect(xml).toContain('cached: replayed a pass');
  });
});
