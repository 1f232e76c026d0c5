/**
 * Run history per commit: the last result of each step for each commit, in the report directory
 * (`.reports/history/<commit>/<step>.json`), written by `kgraph-ci run` and by `npm test` (the vitest
 * reporter in testkit/) alike, and read by the checklist and `run --affected`. One file per step, each
 * written whole (temporary file, then rename), so two writers at once never leave a torn record and a later
 * `run <other step>` never erases an earlier step's result.
 *
 * A result from a tree with uncommitted changes is kept, marked dirty: it proves nothing about the commit.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runProcess } from '../../platform/process/run.js';
import { isSuccess } from '../../platform/outcome.js';
import { GIT_OBJECT_ID } from '../../definitions/release-policy.js';
import type { StepStatus } from './types.js';

export const DEFAULT_HISTORY_DIR = '.reports/history';

/** Where history goes: $KGRAPH_HISTORY_DIR (tests keep theirs out of the repository's), else the default. */
export const historyDir = (env: NodeJS.ProcessEnv): string => env.KGRAPH_HISTORY_DIR || DEFAULT_HISTORY_DIR;

export interface HistoryEntry {
  readonly version: 1;
  readonly commit: string;
  readonly step: string;
  readonly status: StepStatus;
  readonly finishedAt: string;
  readonly durationMs: number;
  /** Who ran it: `kgraph-ci run` or `npm test` (vitest). */
  readonly source: 'kgraph-ci run' | 'npm test';
  /** `dirty`: the working tree had uncommitted changes, so the result is not the commit's. */
  readonly tree: 'clean' | 'dirty';
  readonly runId?: string;
  readonly reason?: string;
}

const STEP = /^[A-Za-z][\w-]{0,63}$/;

/** Whether the working tree has changes git would commit (ignored files such as .reports/ aside). */
export async function treeState(root: string): Promise<'clean' | 'dirty' | undefined> {
  const r = await runProcess({ argv: ['git', 'status', '--porcelain', '--untracked-files=normal'], cwd: root });
  if (r.exitCode !== 0) return undefined;
  return r.stdout.trim() === '' ? 'clean' : 'dirty';
}

export async function recordResult(root: string, entry: HistoryEntry, dir = DEFAULT_HISTORY_DIR): Promise<void> {
  if (!GIT_OBJECT_ID.test(entry.commit)) throw new Error(`history: not a commit id: ${entry.commit}`);
  if (!STEP.test(entry.step)) throw new Error(`history: not a step name: ${entry.step}`);
  const folder = resolve(root, dir, entry.commit);
  await mkdir(folder, { recursive: true });
  const tmp = join(folder, `.${entry.step}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  await writeFile(tmp, `${JSON.stringify(entry, null, 2)}\n`, 'utf8');
  await rename(tmp, join(folder, `${entry.step}.json`));
}

/** The last result of each step at `commit` (an empty map when nothing ran there). Unreadable records are skipped. */
export async function readCommitHistory(
  root: string,
  commit: string,
  dir = DEFAULT_HISTORY_DIR,
): Promise<Map<string, HistoryEntry>> {
  const out = new Map<string, HistoryEntry>();
  if (!GIT_OBJECT_ID.test(commit)) return out;
  const folder = resolve(root, dir, commit);
  const names = await readdir(folder).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.json') && !n.startsWith('.'))) {
    try {
      const e = JSON.parse(await readFile(join(folder, name), 'utf8')) as HistoryEntry;
      if (e.version === 1 && e.commit === commit && typeof e.step === 'string') out.set(e.step, e);
    } catch {
      // a record being replaced or damaged: as if absent
    }
  }
  return out;
}

/** A step's result counts for the commit only when it passed (or replayed a pass) on a clean tree. */
export const passedForCommit = (e: HistoryEntry | undefined): boolean =>
  e !== undefined && e.tree === 'clean' && isSuccess(e.status);

/** One phrase for a history entry: `passed at 1a2b3c4d5e6f (npm test, 2026-…)`. */
export function describeEntry(e: HistoryEntry): string {
  const dirty = e.tree === 'dirty' ? ', on a tree with uncommitted changes' : '';
  return `${e.status} at ${e.commit.slice(0, 12)} (${e.source}, ${e.finishedAt}${dirty})`;
}
