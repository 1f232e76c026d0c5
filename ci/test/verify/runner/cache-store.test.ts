/**
 * The result store: verified on read (a damaged entry is a miss, reported and removed), bounded with
 * least-recently-used eviction, atomic under two processes writing and reading the same keys, and
 * outputs restored exactly (no stale files, modes and symlinks kept, nothing outside the roots).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { captureOutputs, restoreOutputs } from '../../../src/verify/runner/cache/outputs.js';
import { openStore, type CacheEntry } from '../../../src/verify/runner/cache/store.js';

const run = promisify(execFile);
const key = (s: string) => createHash('sha256').update(s).digest('hex');
const entry = (k: string, text = 'hello', size = 0): CacheEntry => ({
  key: k,
  step: 'lint',
  createdAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1234,
  lines: [
    ['stdout', text.padEnd(size, '.')],
    ['stderr', 'warn'],
  ],
  outputs: { roots: [], files: [] },
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kgraph-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const entryFile = (k: string) => join(dir, 'entries', `${k}.entry`);

describe('openStore', () => {
  it('returns what was put, and a miss for an unknown key', async () => {
    const store = openStore(dir);
    await store.put(entry(key('a')));
    expect(await store.get(key('a'))).toEqual({ hit: true, entry: entry(key('a')) });
    expect(await store.get(key('b'))).toEqual({ hit: false });
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  });

  it.each([
    [
      'one flipped byte in the body',
      (b: Buffer) => {
        b[b.length - 5] = b[b.length - 5]! ^ 1;
        return b;
      },
      /content does not match its hash/,
    ],
    ['a truncated write', (b: Buffer) => b.subarray(0, b.length - 10), /content does not match its hash/],
    ['a foreign file', () => Buffer.from('{"key":1}'), /bad header/],
    ['an empty file', () => Buffer.alloc(0), /bad header/],
  ])('treats %s as a damaged miss and removes the entry', async (_what, damage, reason) => {
    const store = openStore(dir);
    await store.put(entry(key('a')));
    writeFileSync(entryFile(key('a')), damage(readFileSync(entryFile(key('a')))));
    const got = await store.get(key('a'));
    expect(got.hit).toBe(false);
    expect(!got.hit && got.damaged).toMatch(reason);
    expect(existsSync(entryFile(key('a')))).toBe(false);
  });

  it('does not serve an intact entry filed under another key', async () => {
    const store = openStore(dir);
    await store.put(entry(key('a')));
    mkdirSync(join(dir, 'entries'), { recursive: true });
    writeFileSync(entryFile(key('b')), readFileSync(entryFile(key('a'))));
    const got = await store.get(key('b'));
    expect(!got.hit && got.damaged).toMatch(/holds key/);
  });

  it('refuses a key that is not a sha256 (no path tricks)', async () => {
    await expect(openStore(dir).get('../../etc/passwd')).rejects.toThrow(/not a cache key/);
  });

  it('stays under its size bound by evicting the least recently used entry', async () => {
    const { utimes } = await import('node:fs/promises');
    const base = Date.now() - 100_000;
    const store = openStore(dir, { maxBytes: 25_000, now: () => new Date(base + 3_000) });
    // Three entries of ~10 kB each: two fit.
    await store.put(entry(key('a'), 'a', 10_000));
    await store.put(entry(key('b'), 'b', 10_000));
    await utimes(entryFile(key('a')), new Date(base + 1_000), new Date(base + 1_000));
    await utimes(entryFile(key('b')), new Date(base + 2_000), new Date(base + 2_000));
    // Reading a makes it the most recently used, so b is the one to go.
    expect((await store.get(key('a'))).hit).toBe(true);
    expect(Math.round(statSync(entryFile(key('a'))).mtimeMs)).toBe(base + 3_000);
    await store.put(entry(key('c'), 'c', 10_000));
    const left = readdirSync(join(dir, 'entries')).sort();
    expect(left.reduce((n, f) => n + statSync(join(dir, 'entries', f)).size, 0)).toBeLessThanOrEqual(25_000);
    expect(left).toEqual([`${key('a')}.entry`, `${key('c')}.entry`].sort());
  });

  it('two processes writing and reading the same keys at once never see a damaged or mixed entry', async () => {
    const tsx = resolve(import.meta.dirname, '../../../../node_modules/.bin/tsx');
    const writer = resolve(import.meta.dirname, 'fixtures/cache-writer.ts');
    // A bound that forces evictions while the other process writes and reads.
    const procs = ['1', '2', '3'].map((id) => run(tsx, [writer, dir, id, '400', '40000'], { encoding: 'utf8' }));
    const counts = (await Promise.all(procs)).map(
      (r) => JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Record<string, number>,
    );
    for (const c of counts) {
      expect(c.damaged).toBe(0);
      expect(c.wrong).toBe(0);
      expect(c.hit! + c.miss!).toBe(400);
    }
    expect(counts.reduce((n, c) => n + c.hit!, 0)).toBeGreaterThan(0);
    // What is left is whole.
    const store = openStore(dir);
    for (const f of readdirSync(join(dir, 'entries'))) {
      const got = await store.get(f.replace(/\.entry$/, ''));
      expect(got.hit).toBe(true);
    }
    expect(readdirSync(join(dir, 'tmp'))).toEqual([]);
  }, 60_000);
});

describe('captureOutputs and restoreOutputs', () => {
  it('put the output roots back exactly: contents, modes, symlinks, empty dirs, and no stale files', async () => {
    writeFileSync(join(dir, 'outside.txt'), 'keep me');
    mkdirSync(join(dir, 'out/sub/empty'), { recursive: true });
    writeFileSync(join(dir, 'out/a.js'), 'A');
    writeFileSync(join(dir, 'out/sub/run.sh'), '#!/bin/sh\n');
    chmodSync(join(dir, 'out/sub/run.sh'), 0o755);
    symlinkSync('a.js', join(dir, 'out/link.js'));
    writeFileSync(join(dir, 'single.txt'), 'S');
    const captured = await captureOutputs(dir, ['out', 'single.txt', 'absent']);
    // The tree drifts: files change, a stale one appears, one goes.
    writeFileSync(join(dir, 'out/a.js'), 'changed');
    writeFileSync(join(dir, 'out/stale.js'), 'stale');
    rmSync(join(dir, 'single.txt'));
    mkdirSync(join(dir, 'absent'));
    writeFileSync(join(dir, 'absent/x'), 'x');
    const back = JSON.parse(JSON.stringify(captured)) as CacheEntry['outputs'];
    const n = await restoreOutputs(dir, ['out', 'single.txt', 'absent'], back.files);
    expect(n).toBe(4);
    expect(readFileSync(join(dir, 'out/a.js'), 'utf8')).toBe('A');
    expect(existsSync(join(dir, 'out/stale.js'))).toBe(false);
    expect(statSync(join(dir, 'out/sub/run.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(dir, 'out/a.js')).mode & 0o111).toBe(0);
    expect(lstatSync(join(dir, 'out/link.js')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'out/link.js'))).toBe('a.js');
    expect(statSync(join(dir, 'out/sub/empty')).isDirectory()).toBe(true);
    expect(readFileSync(join(dir, 'single.txt'), 'utf8')).toBe('S');
    expect(existsSync(join(dir, 'absent'))).toBe(false);
    expect(readFileSync(join(dir, 'outside.txt'), 'utf8')).toBe('keep me');
  });

  it.each([
    [{ roots: ['../escape'], files: [] }, /not a plain relative path/],
    [{ roots: ['/etc'], files: [] }, /not a plain relative path/],
    [{ roots: ['.git/hooks'], files: [] }, /not a plain relative path/],
    [{ roots: ['out'], files: [{ path: 'out/../../x', kind: 'file', data: '' }] }, /not under a declared output/],
    [{ roots: ['out'], files: [{ path: 'other/x', kind: 'file', data: '' }] }, /not under a declared output/],
  ])('refuses an entry that writes outside its roots: %j', async (outputs, message) => {
    writeFileSync(join(dir, 'x'), 'untouched');
    const { roots, files } = outputs as CacheEntry['outputs'];
    await expect(restoreOutputs(join(dir, 'repo'), roots, files)).rejects.toThrow(message);
    expect(readFileSync(join(dir, 'x'), 'utf8')).toBe('untouched');
  });
});
