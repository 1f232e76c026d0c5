/** "90", "90s", "15m", "1h", "1h30m", "500ms" → seconds; anything else is a usage error naming the input. */
import { UsageError } from '../../definitions/errors.js';

/**
 * The grammar as plain data (regular expression sources and unit sizes), so the Dagger module, which
 * cannot import ci/, checks `--duration` with the very same rules through dagger/src/ci.generated.ts.
 */
export const DURATION_GRAMMAR = {
  plainSeconds: '^\\d+(\\.\\d+)?$',
  withUnits: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$',
  part: '(\\d+(?:\\.\\d+)?)(ms|s|m|h)',
  unitSeconds: { ms: 0.001, s: 1, m: 60, h: 3600 },
} as const;

/** Seconds for a valid, positive duration; undefined for anything else. */
export function durationSeconds(text: string): number | undefined {
  const s = text.trim();
  let total = 0;
  if (new RegExp(DURATION_GRAMMAR.plainSeconds).test(s)) total = Number(s);
  else if (new RegExp(DURATION_GRAMMAR.withUnits).test(s)) {
    for (const m of s.matchAll(new RegExp(DURATION_GRAMMAR.part, 'g')))
      total += Number(m[1]) * DURATION_GRAMMAR.unitSeconds[m[2] as keyof typeof DURATION_GRAMMAR.unitSeconds];
  }
  return total > 0 ? total : undefined;
}

export function parseDuration(text: string, what = 'duration'): number {
  const seconds = durationSeconds(text);
  if (seconds === undefined)
    throw new UsageError(`invalid ${what} "${text}": expected a positive number of seconds or e.g. 90s, 15m, 1h30m`);
  return seconds;
}
