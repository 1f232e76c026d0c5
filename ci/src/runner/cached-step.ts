/**
 * One step through the result cache: a hit replays the stored output lines under the step's prefix
 * and restores its outputs without running anything; a miss (or a damaged entry, reported) runs the
 * step, and a pass is stored unless its inputs changed while it ran.
 */
import type { CacheSession } from './cache/session.js';
import type { CacheEntry, CachedLine } from './cache/store.js';
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
  const found = await session.lookup(step.name);
  if (found.hit) return replay(step.name, found.entry, started, say, session, key.key);
  const notes: string[] = [];
  if (found.damaged) {
    notes.push(`cache entry damaged (${found.damaged}): ran instead`);
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

async function replay(
  name: string,
  entry: CacheEntry,
  started: number,
  say: (line: string) => void,
  session: CacheSession,
  key: string,
): Promise<StepResult> {
  say(`cached: same inputs as a passing run at ${entry.createdAt} (key ${key.slice(0, 12)}); replaying its output`);
  for (const [, line] of entry.lines) say(line);
  try {
    const files = await session.restore(entry);
    if (entry.outputs.roots.length > 0)
      say(`cached: restored ${files} file(s) under ${entry.outputs.roots.join(', ')}`);
  } catch (err) {
    return {
      name,
      status: 'failed',
      durationMs: Date.now() - started,
      reason: `restoring cached outputs: ${(err as Error).message}`,
      cacheKey: key,
    };
  }
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
