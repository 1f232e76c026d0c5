/**
 * One step through the result cache: a hit restores its outputs and replays the stored output lines
 * under the step's prefix without running anything; a miss (or a damaged, forged or unsafe entry, or
 * one whose outputs could not be restored: reported, removed) runs the step, and a pass is stored
 * unless its inputs changed while it ran.
 */
import type { CacheSession } from './cache/session.js';
import type { CacheEntry, CachedLine } from './cache/entry.js';
import type { RunnableStep } from './graph.js';
import type { StepResult } from './types.js';

export type Execute = (onOutput: (stream: 'stdout' | 'stderr', line: string) => void) => Promise<StepResult>;

export async function runThroughCache(
  step: RunnableStep,
  session: CacheSession | undefined,
  say: (line: string) => void,
  execute: Execute,
): Promise<StepResult> {
  const key = session?.keyOf(step.name);
  const plain = (stream: 'stdout' | 'stderr', line: string) => say(line);
  if (!session || !key) return execute(plain);
  if (!key.cacheable) {
    say(`not cached: ${key.reason}`);
    return execute(plain);
  }
  const started = Date.now();
  const found = await session.lookup(step.name).catch((e: unknown) => ({
    hit: false as const,
    damaged: `could not be read: ${(e as Error).message}`,
  }));
  let damaged = found.hit ? undefined : found.damaged;
  if (found.hit) {
    const replayed = await replay(step.name, found.entry, started, say, session, key.key);
    if (typeof replayed !== 'string') return replayed;
    damaged = replayed;
  }
  const notes: string[] = [];
  if (damaged) {
    notes.push(`cache entry damaged (${damaged}): ran instead`);
    say(`warning: ${notes[0]}`);
  }
  const lines: CachedLine[] = [];
  const result = await execute((stream, line) => {
    lines.push([stream, line]);
    say(line);
  });
  if (result.status === 'passed') {
    const notStored = await session
      .save(step, lines, result.durationMs, result.facts)
      .catch((e: unknown) => `not stored: ${(e as Error).message}`);
    if (notStored) {
      say(`cache: ${notStored}`);
      notes.push(notStored);
    }
  }
  return { ...result, cacheKey: key.key, ...(notes.length > 0 ? { cacheNote: notes.join('; ') } : {}) };
}

/** The cached result, or why the entry's outputs could not be restored (it is dropped; the step runs). */
async function replay(
  name: string,
  entry: CacheEntry,
  started: number,
  say: (line: string) => void,
  session: CacheSession,
  key: string,
): Promise<StepResult | string> {
  let files: number;
  try {
    files = await session.restore(name, entry);
  } catch (err) {
    await session.discard(name);
    return `restoring its outputs: ${(err as Error).message}`;
  }
  say(`cached: same inputs as a passing run at ${entry.createdAt} (key ${key.slice(0, 12)}); replaying its output`);
  for (const [, line] of entry.lines) say(line);
  if (entry.outputs.roots.length > 0) say(`cached: restored ${files} file(s) under ${entry.outputs.roots.join(', ')}`);
  return {
    name,
    status: 'cached',
    durationMs: Date.now() - started,
    exitCode: 0,
    savedMs: entry.durationMs,
    cacheKey: key,
    ...(entry.facts ? { facts: entry.facts } : {}),
  };
}
