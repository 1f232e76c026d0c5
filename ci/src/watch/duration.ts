/** "90", "90s", "15m", "1h", "1h30m", "500ms" → seconds; anything else is a usage error naming the input. */
import { UsageError } from '../errors.js';

const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

export function parseDuration(text: string, what = 'duration'): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) {
    const v = Number(s);
    if (v > 0) return v;
  } else if (/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(s)) {
    let total = 0;
    for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT[m[2]!]!;
    if (total > 0) return total;
  }
  throw new UsageError(`invalid ${what} "${text}": expected a positive number of seconds or e.g. 90s, 15m, 1h30m`);
}
