/**
 * The runner with the result cache, over fixture pipelines in a temporary git repository: a hit
 * replays the output and restores the outputs without running anything; a miss runs and stores only
 * a pass; a change reaches exactly the steps that read it and their dependants.
 */
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunnableStep } from '../../../src/verify/runner/graph.js';
import { formatRunTable, runSummaryMarkdown } from '../../../src/verify/runner/report.js';
import { runPipeline, type RunOptions } from '../../../src/verify/runner/run.js';
import { openCacheSession } from '../../../src/verify/runner/cache/session.js';
import { captureStream, fixtureStep, noServices } from './fixtures/steps.js';
import { makeRepo, writeTree } from './fixtures/repo.js';

let repo: { dir: string; dispose: () => void };
let cacheDir: string;
beforeEach(() => {
  repo = makeRepo({ '.gitignore': 'out/\ncounts/\n.cache/\n', 'src/a.txt': 'A', 'docs/d.txt': 'D' });
  cacheDir = join(repo.dir, '.cache/kgraph-ci');
});
afterEach(() => repo.dispose());

/** A step that counts its runs in counts/<name>, prints a line, and copies its inputs into out/<name>/. */
const counted = (name: string, reads: string, extra: Partial<RunnableStep> = {}, script = ''): RunnableStep =>
  fixtureStep(
    name,
    `const fs = require('fs'); fs.mkdirSync('counts', { recursive: true });
     const c = 'counts/${name}'; fs.writeFileSync(c, String(Number(fs.existsSync(c) ? fs.readFileSync(c, 'utf8') : 0) + 1));
     console.log('${name} read ' + fs.readFileSync('${reads}', 'utf8')); console.error('${name} on stderr');
     fs.rmSync('out/${name}', { recursive: true, force: true }); fs.mkdirSync('out/${name}', { recursive: true });
     fs.writeFileSync('out/${name}/copy.txt', fs.readFileSync('${reads}')); ${script}`,
    {
      cache: { mode: 'inputs', files: [reads.replace(/\/[^/]+$/, '/**')], env: [], outputs: [`out/${name}`] },
      ...extra,
    },
  );
const runs = (name: string) =>
  existsSync(join(repo.dir, 'counts', name)) ? Number(readFileSync(join(repo.dir, 'counts', name), 'utf8')) : 0;

async function run(steps: RunnableStep[], extra: Partial<RunOptions> & { noCache?: boolean } = {}) {
  const out = captureStream();
  const opened = await openCacheSession({
    table: steps,
    cwd: repo.dir,
    env: process.env,
    params: {},
    dir: cacheDir,
    facts: { nodeVersion: 'v-test' },
  });
  if (!opened.ok) throw new Error(opened.reason);
  const cache = extra.noCache ? { off: '--no-cache' } : { session: opened.session };
  const report = await runPipeline({
    steps,
    concurrency: 2,
    cwd: repo.dir,
    env: process.env,
    out: out.stream,
    services: noServices,
    heartbeatMs: 0,
    cache,
    ...extra,
  });
  return { report, text: out.text(), by: Object.fromEntries(report.steps.map((s) => [s.name, s])) };
}

// Every test runs real processes and git; on a loaded 2-core machine 5 s is not enough.
describe('runner with the result cache', { timeout: 120_000 }, () => {
  it('a second run with nothing changed replays output and outputs and runs nothing', async () => {
    const steps = [counted('alpha', 'src/a.txt'), counted('beta', 'docs/d.txt', { dependsOn: ['alpha'] })];
    const first = await run(steps);
    expect(first.report.steps.map((s) => s.status)).toEqual(['passed', 'passed']);
    expect(first.report.cache).toEqual({ enabled: true, dir: cacheDir, hits: 0, savedMs: 0 });
    // The outputs drift after the run: one is deleted, one gets a stale file and an edit.
    rmSync(join(repo.dir, 'out/alpha'), { recursive: true });
    writeFileSync(join(repo.dir, 'out/beta/stale.txt'), 'stale');
    writeFileSync(join(repo.dir, 'out/beta/copy.txt'), 'edited');
    const second = await run(steps);
    expect(second.report.steps.map((s) => s.status)).toEqual(['cached', 'cached']);
    expect(second.report.ok).toBe(true);
    expect(runs('alpha')).toBe(1);
    expect(runs('beta')).toBe(1);
    expect(second.text).toMatch(/^alpha +│ alpha read A$/m);
    expect(second.text).toMatch(/^beta +│ beta on stderr$/m);
    expect(second.text).toMatch(/^alpha +│ cached: same inputs as a passing run at .* replaying its output$/m);
    expect(readFileSync(join(repo.dir, 'out/alpha/copy.txt'), 'utf8')).toBe('A');
    expect(readdirSync(join(repo.dir, 'out/beta'))).toEqual(['copy.txt']);
    expect(readFileSync(join(repo.dir, 'out/beta/copy.txt'), 'utf8')).toBe('D');
    expect(second.by.alpha!.savedMs).toBe(first.by.alpha!.durationMs);
    expect(second.by.alpha!.cacheKey).toBe(first.by.alpha!.cacheKey);
    expect(second.report.cache).toMatchObject({ enabled: true, hits: 2 });
    expect(formatRunTable(second.report)).toMatch(/^alpha +cached +\d+ms +saved \S+$/m);
    expect(formatRunTable(second.report)).toMatch(/^total +passed +\S+ +2 cached, saved \S+$/m);
    const md = runSummaryMarkdown(second.report);
    expect(md).toMatch(/\| alpha \| ♻️ cached \| \d+ms \| saved \S+ \|/);
    expect(md).toContain('Cache: 2 step(s) replayed');
    expect(md).toContain('title "Step duration: this run (bars), without the cache (line)"');
    const saved = second.report.steps.map((s) => String(Math.round(s.savedMs!) / 1000));
    expect(md).toContain(`line [${saved.join(', ')}]`);
  });

  it('a changed input re-runs the steps that read it and their dependants, and only those', async () => {
    const steps = [
      counted('alpha', 'src/a.txt'),
      counted('beta', 'docs/d.txt'),
      counted('gamma', 'docs/d.txt', { dependsOn: ['alpha'] }),
    ];
    await run(steps);
    writeTree(repo.dir, { 'src/a.txt': 'A2' });
    const { by, text } = await run(steps);
    expect([by.alpha!.status, by.beta!.status, by.gamma!.status]).toEqual(['passed', 'cached', 'passed']);
    expect(text).toMatch(/^alpha +│ alpha read A2$/m);
    expect([runs('alpha'), runs('beta'), runs('gamma')]).toEqual([2, 1, 2]);
    // An untracked new file under a glob counts; a change outside every glob does not.
    writeTree(repo.dir, { 'docs/new.txt': 'n', 'elsewhere.txt': 'x' });
    const third = await run(steps);
    expect([third.by.alpha!.status, third.by.beta!.status, third.by.gamma!.status]).toEqual([
      'cached',
      'passed',
      'passed',
    ]);
  });

  it('stores only passing results: a failed step runs again', async () => {
    const bad = counted('bad', 'src/a.txt', {}, 'process.exit(3)');
    expect((await run([bad])).by.bad!.status).toBe('failed');
    expect((await run([bad])).by.bad!.status).toBe('failed');
    expect(runs('bad')).toBe(2);
    expect(existsSync(join(cacheDir, 'entries')) ? readdirSync(join(cacheDir, 'entries')) : []).toEqual([]);
  });

  it('a damaged entry is a miss, reported in the output and the report, and replaced', async () => {
    const steps = [counted('alpha', 'src/a.txt')];
    await run(steps);
    const [file] = readdirSync(join(cacheDir, 'entries'));
    const raw = readFileSync(join(cacheDir, 'entries', file!));
    raw[raw.length - 3] = raw[raw.length - 3]! ^ 0x20;
    writeFileSync(join(cacheDir, 'entries', file!), raw);
    const second = await run(steps);
    expect(second.by.alpha).toMatchObject({
      status: 'passed',
      cacheNote: expect.stringMatching(
        /cache entry damaged \(content does not match its hash\): ran instead/,
      ) as unknown,
    });
    expect(second.text).toMatch(/alpha +│ warning: cache entry damaged/);
    expect(formatRunTable(second.report)).toMatch(/alpha +passed .*cache entry damaged/);
    expect(runs('alpha')).toBe(2);
    expect((await run(steps)).by.alpha!.status).toBe('cached');
  });

  it('does not store a result whose inputs changed while the step ran', async () => {
    const editsItsInput = counted('editor', 'src/a.txt', {}, `fs.writeFileSync('src/a.txt', 'edited during the run')`);
    const first = await run([editsItsInput]);
    expect(first.by.editor).toMatchObject({
      status: 'passed',
      cacheNote: 'not stored: its inputs changed while it ran',
    });
    expect(first.text).toMatch(/editor +│ cache: not stored: its inputs changed while it ran/);
    // The next run sees the edited file, runs, edits it again (same content): now it is stable and stored.
    expect((await run([editsItsInput])).by.editor!.status).toBe('passed');
    expect((await run([editsItsInput])).by.editor!.status).toBe('cached');
  });

  it('never caches a step that says so, nor what depends on it, and says why', async () => {
    const world = fixtureStep('world', 'console.log("measured")', {
      cache: { mode: 'never', reason: 'it measures the world' },
    });
    const after = counted('after', 'src/a.txt', { dependsOn: ['world'] });
    await run([world, after]);
    const second = await run([world, after]);
    expect(second.report.steps.map((s) => s.status)).toEqual(['passed', 'passed']);
    expect(second.text).toMatch(/world +│ not cached: it measures the world/);
    expect(second.text).toMatch(/after +│ not cached: depends on world, which is not cached/);
    expect(runs('after')).toBe(2);
  });

  it('--no-cache runs everything, replays nothing, stores nothing, and the report says the cache was off', async () => {
    const steps = [counted('alpha', 'src/a.txt')];
    const off = await run(steps, { noCache: true });
    expect(off.report.cache).toEqual({ enabled: false, reason: '--no-cache' });
    expect(existsSync(join(cacheDir, 'entries'))).toBe(false);
    await run(steps);
    expect((await run(steps, { noCache: true })).by.alpha!.status).toBe('passed');
    expect(runs('alpha')).toBe(3);
    expect(runSummaryMarkdown(off.report)).toContain('Cache off: --no-cache.');
  });

  it('a cache directory inside the tree that git does not ignore never reaches a key', async () => {
    const wide = fixtureStep('wide', 'console.log("reads everything")', {
      cache: { mode: 'inputs', files: ['**'], env: [], outputs: [] },
    });
    const inTree = join(repo.dir, 'my-cache');
    const runIn = async () => {
      const opened = await openCacheSession({
        table: [wide],
        cwd: repo.dir,
        env: process.env,
        params: {},
        dir: inTree,
      });
      if (!opened.ok) throw new Error(opened.reason);
      const out = captureStream();
      return runPipeline({
        steps: [wide],
        concurrency: 1,
        cwd: repo.dir,
        env: process.env,
        out: out.stream,
        services: noServices,
        heartbeatMs: 0,
        cache: { session: opened.session },
      });
    };
    expect((await runIn()).steps[0]!.status).toBe('passed');
    expect(readdirSync(join(inTree, 'entries'))).toHaveLength(1);
    expect((await runIn()).steps[0]!.status).toBe('cached');
  });

  it('two runs at once on the same cache both pass and leave whole entries', async () => {
    const steps = [counted('alpha', 'src/a.txt'), counted('beta', 'docs/d.txt')];
    const [a, b] = await Promise.all([run(steps), run(steps)]);
    for (const r of [a!, b!]) expect(r.report.ok).toBe(true);
    const third = await run(steps);
    expect(third.report.steps.map((s) => s.status)).toEqual(['cached', 'cached']);
  });

  it('replays the facts a step reported with its result', async () => {
    const reporter = counted(
      'reporter',
      'src/a.txt',
      {},
      `fs.writeFileSync(process.env.KGRAPH_STEP_FACTS, JSON.stringify({ digest: 'sha256:abc', bytes: 42 }))`,
    );
    const first = await run([reporter]);
    expect(first.by.reporter!.facts).toEqual({ digest: 'sha256:abc', bytes: '42' });
    const second = await run([reporter]);
    expect(second.by.reporter).toMatchObject({ status: 'cached', facts: { digest: 'sha256:abc', bytes: '42' } });
    expect(runs('reporter')).toBe(1);
  });

  it('the env values a step declares are part of its key, and never stored', async () => {
    const step = counted('envy', 'src/a.txt', {
      cache: { mode: 'inputs', files: ['src/**'], env: ['KGRAPH_TEST_LEVEL'], outputs: [] },
    });
    const withEnv = async (v: string) => {
      const out = captureStream();
      const env = { ...process.env, KGRAPH_TEST_LEVEL: v };
      const opened = await openCacheSession({ table: [step], cwd: repo.dir, env, params: {}, dir: cacheDir });
      if (!opened.ok) throw new Error(opened.reason);
      return runPipeline({
        steps: [step],
        concurrency: 1,
        cwd: repo.dir,
        env,
        out: out.stream,
        services: noServices,
        heartbeatMs: 0,
        cache: { session: opened.session },
      });
    };
    expect((await withEnv('secret-value-1')).steps[0]!.status).toBe('passed');
    expect((await withEnv('secret-value-1')).steps[0]!.status).toBe('cached');
    expect((await withEnv('secret-value-2')).steps[0]!.status).toBe('passed');
    for (const f of readdirSync(join(cacheDir, 'entries')))
      expect(readFileSync(join(cacheDir, 'entries', f), 'utf8')).not.toContain('secret-value');
  });
});
