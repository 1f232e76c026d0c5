/**
 * Host-side directories and files the rehearsal hands to containers: a copy filtered by Dagger's
 * include/exclude globs, and a content hash (what an exec's cache key is made of).
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import picomatch from 'picomatch';

export interface Filter {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
}

/**
 * Copies `src` into `dest` (created). A path is left out when it or a parent directory matches an
 * exclude glob, or when include globs are given and neither it nor a parent matches one (a directory
 * is still walked when something below it may match), as Dagger's include/exclude do.
 */
export function copyFiltered(src: string, dest: string, filter: Filter = {}): void {
  const opts = { dot: true };
  const excluded = (filter.exclude ?? []).map((g) => picomatch(g, opts));
  const included = (filter.include ?? []).map((g) => picomatch(g, opts));
  const walk = (rel: string, parentIncluded: boolean) => {
    const from = join(src, rel);
    if (included.length === 0 || parentIncluded) mkdirSync(join(dest, rel), { recursive: true });
    for (const name of readdirSync(from)) {
      const childRel = rel ? `${rel}/${name}` : name;
      if (excluded.some((m) => m(childRel))) continue;
      const isIncluded = parentIncluded || included.length === 0 || included.some((m) => m(childRel));
      const st = lstatSync(join(src, childRel));
      if (st.isDirectory()) walk(childRel, isIncluded);
      else if (isIncluded) copyEntry(join(src, childRel), join(dest, childRel));
    }
  };
  walk('', false);
}

function copyEntry(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true });
  const st = lstatSync(from);
  if (st.isSymbolicLink()) symlinkSync(readlinkSync(from), to);
  else {
    copyFileSync(from, to);
    chmodSync(to, st.mode & 0o7777);
  }
}

/** sha256 over every path, mode and content below `path` (a file or a directory), in a stable order. */
export function contentHash(path: string): string {
  const hash = createHash('sha256');
  const visit = (p: string, rel: string) => {
    const st = lstatSync(p);
    if (st.isDirectory()) {
      hash.update(`d ${rel}\n`);
      for (const name of readdirSync(p).sort()) visit(join(p, name), `${rel}/${name}`);
    } else if (st.isSymbolicLink()) hash.update(`l ${rel} ${readlinkSync(p)}\n`);
    else {
      hash.update(`f ${rel} ${(st.mode & 0o111) !== 0 ? 'x' : '-'}\n`);
      hash.update(readFileSync(p));
    }
  };
  visit(path, '');
  return hash.digest('hex');
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Every temporary path of this process's rehearsals starts with this (removed when a rehearsal ends). */
export const TEMP_PREFIX = `kgraph-rh-${process.pid}-`;

export function tempDir(what: string): string {
  return mkdtempSync(join(tmpdir(), `${TEMP_PREFIX}${what}-`));
}
