/**
 * The result cache read as untrusted input: entries written the way someone with write access to the
 * cache directory would (a shared, restored or synced cache), with a valid checksum. Every one must be
 * a miss: reported with the reason, the entry removed, the step run, nothing written outside the
 * step's declared outputs, .git untouched. With KGRAPH_CACHE_KEY only signed entries are replayed; a
 * cache from another machine without a key is refused.
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunnableStep } from '../../../src/verify/runner/graph.js';
import { runPipeline } from '../../../src/verify/runner/run.js';
import { openCacheSession } from '../../../src/verify/runner/cache/session.js';
import { captureStream, fixtureStep, noServices } from './fixtures/steps.js';
import { makeRepo } from './fixtures/repo.js';

let repo: { dir: string; dispose: () => void };
let outside: string;
let cacheDir: string;
beforeEach(() => {
  repo = makeRepo({ '.gitignore': 'out/\ncounts/\n.cache/\n', 'src/a.txt': 'A' });
  outside = mkdtempSync(join(tmpdir(), 'kgraph-outside-'));
  cacheDir = join(repo.dir, '.cache/kgraph-ci');
});
afterEach(() => {
  repo.dispose();
  rmSync(outside, { recursive: true, force: true });
});

/** Counts its runs, prints a line, writes out/<name>/copy.txt (without removing anything first). */
const step = (name: string, outputs: string[]): RunnableStep =>
  fixtureStep(
    name,
    `const fs = require('fs'); fs.mkdirSync('counts', { recursive: true });
     const c = 'counts/${name}'; fs.writeFileSync(c, String(Number(fs.existsSync(c) ? fs.readFileSync(c, 'utf8') : 0) + 1));
     console.log('${name} ran');
     ${outputs.length > 0 ? `fs.mkdirSync('out/${name}', { recursive: true }); fs.writeFileSync('out/${name}/copy.txt', 'real');` : ''}`,
    { cache: { mode: 'inputs', files: ['src/**'], env: [], outputs } },
  );
const runs = (name: string) =>
  existsSync(join(repo.dir, 'counts', name)) ? Number(readFileSync(join(repo.dir, 'counts', name), 'utf8')) : 0;

async function run(steps: RunnableStep[], env: NodeJS.ProcessEnv = process.env) {
  const out = captureStream();
  const opened = await openCacheSession({ table: steps, cwd: repo.dir, env, params: {}, dir: cacheDir });
  if (!opened.ok) throw new Error(opened.reason);
  const report = await runPipeline({
    steps,
    concurrency: 1,
    cwd: repo.dir,
    env,
    out: out.stream,
    services: noServices,
    heartbeatMs: 0,
    cache: { session: opened.session },
  });
  return { report, text: out.text(), first: report.steps[0]! };
}

type Json = Record<string, unknown>;
const entryFiles = () => readdirSync(join(cacheDir, 'entries')).map((f) => join(cacheDir, 'entries', f));
/** Rewrites the one entry in the cache as an attacker would: new body, checksum recomputed. */
function forge(change: (entry: Json) => Json): string {
  const [file] = entryFiles();
  const raw = readFileSync(file!);
  const body = Buffer.from(JSON.stringify(change(JSON.parse(raw.subarray(raw.indexOf(0x0a) + 1).toString()) as Json)));
  const sum = createHash('sha256').update(body).digest('hex');
  writeFileSync(file!, Buffer.concat([Buffer.from(`kgraph-ci-cache v1 ${sum}\n`), body]));
  return file!;
}
const withFiles = (files: Json[], roots?: string[]) => (e: Json) => ({
  ...e,
  lines: [['stdout', 'forged output']],
  outputs: { roots: roots ?? (e.outputs as Json).roots, files },
});
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A forged entry was a miss: said why, ran the step, removed the entry, stored the real result. */
async function expectMissThenHeal(steps: RunnableStep[], file: string, reason: RegExp) {
  const second = await run(steps);
  expect(second.first.status).toBe('passed');
  expect(second.first.cacheNote).toMatch(reason);
  expect(second.text).toMatch(/warning: cache entry damaged/);
  expect(second.text).not.toContain('forged output');
  expect(runs(steps[0]!.name)).toBe(2);
  expect(existsSync(file) && readFileSync(file, 'utf8').includes('forged output')).toBe(false);
  const third = await run(steps);
  expect(third.first.status).toBe('cached');
  expect(runs(steps[0]!.name)).toBe(2);
}

describe('a forged cache entry is a miss, never a write outside the outputs', { timeout: 180_000 }, () => {
  it.each([
    ['an absolute symlink', () => outside],
    ['a ../ symlink', () => '../../..'],
  ])('%s in the entry, with a file written through it, stays in the cache', async (_what, target) => {
    const steps = [step('alpha', ['out/alpha'])];
    await run(steps);
    // A name of this run's own, so nothing another run left can stand in for it.
    const planted = `pwned-${basename(repo.dir)}`;
    const file = forge(
      withFiles([
        { path: 'out/alpha', kind: 'dir' },
        { path: 'out/alpha/evil', kind: 'symlink', data: target() },
        { path: `out/alpha/evil/${planted}`, kind: 'exec', data: b64('#!/bin/sh\necho pwned\n') },
      ]),
    );
    await expectMissThenHeal(steps, file, /link out\/alpha\/evil|lies under out\/alpha\/evil/);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(repo.dir, '..', planted))).toBe(false);
  });

  it('a link whose target passes through another link out of the outputs is refused', async () => {
    const steps = [step('alpha', ['out/alpha'])];
    await run(steps);
    // Lexically out/alpha/a/up/../.. is out/alpha; followed, up is out/alpha, so it lands in out/.
    const file = forge(
      withFiles([
        { path: 'out/alpha', kind: 'dir' },
        { path: 'out/alpha/a', kind: 'dir' },
        { path: 'out/alpha/a/up', kind: 'symlink', data: '..' },
        { path: 'out/alpha/escape', kind: 'symlink', data: 'a/up/../..' },
      ]),
    );
    await expectMissThenHeal(
      steps,
      file,
      /link out\/alpha\/escape -> a\/up\/\.\.\/\.\.: .*outside the declared outputs/,
    );
  });

  it('an output whose parent is a symlink in the checkout deletes and writes nothing outside it', async () => {
    const steps = [step('alpha', ['out/alpha'])];
    await run(steps);
    rmSync(join(repo.dir, 'out'), { recursive: true });
    mkdirSync(join(outside, 'alpha'));
    writeFileSync(join(outside, 'alpha', 'precious.txt'), 'keep');
    symlinkSync(outside, join(repo.dir, 'out'));
    const second = await run(steps);
    expect(second.first.status).toBe('passed');
    expect(second.first.cacheNote).toMatch(/out is a symlink in the checkout/);
    // The cache deleted nothing through the link (the step itself then wrote where the checkout points).
    expect(readFileSync(join(outside, 'alpha', 'precious.txt'), 'utf8')).toBe('keep');
    expect(runs('alpha')).toBe(2);
  });

  it('an entry for a step without outputs that names .git/hooks plants no hook', async () => {
    const steps = [step('lint', [])];
    await run(steps);
    mkdirSync(join(repo.dir, '.git/hooks'), { recursive: true });
    writeFileSync(join(repo.dir, '.git/hooks/keep.sample'), 'sample');
    const file = forge(
      withFiles(
        [
          { path: '.git/hooks', kind: 'dir' },
          { path: '.git/hooks/pre-commit', kind: 'exec', data: b64('#!/bin/sh\necho pwned\n') },
        ],
        ['.git/hooks'],
      ),
    );
    await expectMissThenHeal(steps, file, /names outputs \[\.git\/hooks\], the step declares \[\]/);
    expect(existsSync(join(repo.dir, '.git/hooks/pre-commit'))).toBe(false);
    expect(readFileSync(join(repo.dir, '.git/hooks/keep.sample'), 'utf8')).toBe('sample');
  });

  it.each([
    ['a ../ path', withFiles([{ path: 'out/alpha/../../escape', kind: 'file', data: b64('x') }])],
    ['an absolute root', withFiles([{ path: '/tmp/escape', kind: 'file', data: b64('x') }], ['/tmp'])],
    ['a path under .git inside the outputs', withFiles([{ path: 'out/alpha/.git/config', kind: 'file', data: '' }])],
    [
      'the same path twice',
      withFiles([
        { path: 'out/alpha', kind: 'dir' },
        { path: 'out/alpha', kind: 'dir' },
      ]),
    ],
  ])('%s is a miss that heals, not a failure that stays', async (_what, change) => {
    const steps = [step('alpha', ['out/alpha'])];
    await run(steps);
    const file = forge(change);
    await expectMissThenHeal(steps, file, /cache entry damaged \(.+\): ran instead/);
  });

  it.each([
    ['no lines', (e: Json) => ({ ...e, lines: undefined })],
    ['lines not pairs', (e: Json) => ({ ...e, lines: [['stdout']] })],
    ['no outputs', (e: Json) => ({ ...e, outputs: undefined })],
    ['files not a list', (e: Json) => ({ ...e, outputs: { roots: [], files: 'x' } })],
    ['a file without a path', (e: Json) => ({ ...e, outputs: { roots: [], files: [{ kind: 'file' }] } })],
    ['no durationMs', (e: Json) => ({ ...e, durationMs: 'soon' })],
    ['not an object', () => [] as unknown as Json],
  ])('an entry with %s is a miss with a report, every run', async (_what, change) => {
    const steps = [step('alpha', [])];
    await run(steps);
    const file = forge(change);
    await expectMissThenHeal(steps, file, /malformed entry/);
  });
});

describe('KGRAPH_CACHE_KEY: only signed entries are replayed', { timeout: 180_000 }, () => {
  const keyed = { ...process.env, KGRAPH_CACHE_KEY: 'k'.repeat(40) };

  it('a signed entry is a hit; a forged one with a valid checksum is a miss', async () => {
    const steps = [step('alpha', ['out/alpha'])];
    await run(steps, keyed);
    expect((await run(steps, keyed)).first.status).toBe('cached');
    forge(withFiles([{ path: 'out/alpha', kind: 'dir' }]));
    const forged = await run(steps, keyed);
    expect(forged.first.status).toBe('passed');
    expect(forged.first.cacheNote).toMatch(/not signed, and KGRAPH_CACHE_KEY is set/);
    expect(forged.text).not.toContain('forged output');
    expect((await run(steps, keyed)).first.status).toBe('cached');
  });

  it('an entry signed with another key is a miss', async () => {
    const steps = [step('alpha', [])];
    await run(steps, { ...keyed, KGRAPH_CACHE_KEY: 'o'.repeat(40) });
    const other = await run(steps, keyed);
    expect(other.first.status).toBe('passed');
    expect(other.first.cacheNote).toMatch(/signature does not verify/);
  });

  it('the key never reaches the steps', async () => {
    const leak = fixtureStep('leak', 'console.log("key=" + (process.env.KGRAPH_CACHE_KEY ?? "none"))', {
      cache: { mode: 'inputs', files: ['src/**'], env: [], outputs: [] },
    });
    const { text } = await run([leak], keyed);
    expect(text).toContain('key=none');
  });

  it('a short key is refused with a clear message', async () => {
    const opened = await openCacheSession({
      table: [step('alpha', [])],
      cwd: repo.dir,
      env: { ...process.env, KGRAPH_CACHE_KEY: 'short' },
      params: {},
      dir: cacheDir,
    });
    expect(opened).toEqual({ ok: false, reason: expect.stringMatching(/KGRAPH_CACHE_KEY is 5 characters/) as unknown });
  });
});

describe('a cache shared between machines', { timeout: 180_000 }, () => {
  const open = (machine: string, env: NodeJS.ProcessEnv = { ...process.env, KGRAPH_CACHE_KEY: '' }) =>
    openCacheSession({ table: [step('alpha', [])], cwd: repo.dir, env, params: {}, dir: cacheDir, machine });

  it('is refused without a key, with a message that says what to do', async () => {
    expect((await open('builder-1')).ok).toBe(true);
    const other = await open('builder-2');
    expect(other.ok).toBe(false);
    expect(!other.ok && other.reason).toMatch(
      /written on machine "builder-1", this is "builder-2"; a cache shared between machines is replayed only with KGRAPH_CACHE_KEY/,
    );
    expect((await open('builder-1')).ok).toBe(true);
  });

  it('holding entries but no machine record is refused; with a key it is used', async () => {
    mkdirSync(join(cacheDir, 'entries'), { recursive: true });
    writeFileSync(join(cacheDir, 'entries', `${'a'.repeat(64)}.entry`), 'x');
    const unknown = await open('builder-1');
    expect(!unknown.ok && unknown.reason).toMatch(/unknown origin/);
    expect((await open('builder-2', { ...process.env, KGRAPH_CACHE_KEY: 'k'.repeat(40) })).ok).toBe(true);
    expect(lstatSync(cacheDir).isDirectory()).toBe(true);
  });
});
