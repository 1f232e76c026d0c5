/**
 * Where the rehearsal's failed answers came from, pure: the proxy's records of server errors grouped by
 * the instance that answered, each with what that instance logged at warn level or above (the service
 * logs JSON lines with pino's numeric levels: 40 warn, 50 error, 60 fatal). "none" is the proxy itself
 * (nothing in rotation); an instance the proxy could not reach is named as such. A failure with no log
 * line to explain it is still listed: the report never hides one.
 */
import type { ProxyRecord } from './proxy.js';

export interface FailureSource {
  readonly instance: string;
  readonly version: string;
  /** Failed answers by status, e.g. { "503": 1 }. */
  readonly statuses: Readonly<Record<string, number>>;
  /** Epoch ms of the first and last failed answer. */
  readonly first: number;
  readonly last: number;
  /** The instance's last warn-or-worse log lines (message and reason only), newest last. */
  readonly logLines: readonly string[];
}

const MAX_LINES = 5;

/** Pure: one pino JSON line to "time level msg: reason", or undefined when below warn or not JSON. */
export function warnLine(line: string): string | undefined {
  let o: { level?: unknown; time?: unknown; msg?: unknown; reason?: unknown; err?: { message?: unknown } };
  try {
    o = JSON.parse(line) as typeof o;
  } catch {
    return undefined;
  }
  if (typeof o.level !== 'number' || o.level < 40) return undefined;
  const why = [o.reason, o.err?.message].filter((x) => typeof x === 'string').join('; ');
  const time = typeof o.time === 'number' ? new Date(o.time).toISOString().slice(11, 23) : '?';
  return `${time} ${o.level >= 50 ? 'error' : 'warn'} ${String(o.msg ?? '')}${why ? `: ${why}` : ''}`.slice(0, 300);
}

export function failureSources(
  records: readonly Pick<ProxyRecord, 'at' | 'status' | 'version' | 'instance'>[],
  logsOf: (instance: string) => string | undefined,
): FailureSource[] {
  const byInstance = new Map<
    string,
    { version: string; statuses: Record<string, number>; first: number; last: number }
  >();
  for (const r of records) {
    if (r.status < 500) continue;
    const s = byInstance.get(r.instance) ?? { version: r.version, statuses: {}, first: r.at, last: r.at };
    s.statuses[r.status] = (s.statuses[r.status] ?? 0) + 1;
    s.first = Math.min(s.first, r.at);
    s.last = Math.max(s.last, r.at);
    byInstance.set(r.instance, s);
  }
  return [...byInstance.entries()].map(([instance, s]) => ({
    instance,
    ...s,
    logLines: (logsOf(instance) ?? '')
      .split('\n')
      .map(warnLine)
      .filter((l): l is string => l !== undefined)
      .slice(-MAX_LINES),
  }));
}

/** Markdown lines for the report (empty when nothing failed on the server side). */
export function failureSourcesText(sources: readonly FailureSource[]): string {
  if (sources.length === 0) return '';
  const out = ['### Where the server errors came from'];
  for (const s of sources) {
    const statuses = Object.entries(s.statuses)
      .map(([code, n]) => `${n}x ${code}`)
      .join(', ');
    const who = s.instance === 'none' ? 'the proxy (no instance in rotation)' : `${s.instance} (${s.version})`;
    out.push(`- ${who}: ${statuses}, ${new Date(s.first).toISOString()} to ${new Date(s.last).toISOString()}`);
    if (s.logLines.length === 0) out.push('  - (it logged nothing at warn or above)');
    for (const l of s.logLines) out.push(`  - \`${l.replace(/`/g, "'")}\``);
  }
  return out.join('\n');
}
