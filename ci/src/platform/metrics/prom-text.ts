/**
 * A parser for the Prometheus text exposition format (version 0.0.4), enough for what prom-client and
 * Prometheus servers emit: HELP/TYPE comments, labels with escapes, +Inf/-Inf/NaN, optional timestamps.
 */

export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class PromParseError extends Error {
  override readonly name = 'PromParseError';
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(text: string): number {
  // Prometheus reads values with Go's strconv.ParseFloat, whose special values are case-insensitive: prom-client
  // writes NaN as "Nan" (a gauge or quantile with nothing observed yet), and Prometheus accepts it.
  switch (text.toLowerCase()) {
    case '+inf':
    case 'inf':
    case '+infinity':
    case 'infinity':
      return Number.POSITIVE_INFINITY;
    case '-inf':
    case '-infinity':
      return Number.NEGATIVE_INFINITY;
    case 'nan':
      return Number.NaN;
  }
  // Number('') is 0 and Number('0x1') is 1; the format allows neither.
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new PromParseError(`invalid sample value "${text}"`);
  return Number(text);
}

function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1; // past '{'
  const fail = (why: string): never => {
    throw new PromParseError(`line ${line}: ${why}`);
  };
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const m = LABEL_NAME.exec(text.slice(i));
    if (!m) fail('expected a label name');
    const name = m![0];
    i += name.length;
    while (text[i] === ' ') i++;
    if (text[i] !== '=') fail(`expected "=" after label ${name}`);
    i++;
    while (text[i] === ' ') i++;
    if (text[i] !== '"') fail(`expected a quoted value for label ${name}`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) fail(`unterminated value for label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = text[i + 1];
        value += n === 'n' ? '\n' : n === '"' ? '"' : n === '\\' ? '\\' : `\\${n ?? ''}`;
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    labels[name] = value;
  }
}

/** Every sample in the text, in order. Comments and blank lines are skipped; malformed lines throw. */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = NAME.exec(line);
    if (!m) throw new PromParseError(`line ${n + 1}: expected a metric name`);
    const name = m[0];
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, n + 1));
    const parts = rest.trim().split(/\s+/);
    if (parts.length < 1 || parts.length > 2 || parts[0] === '') {
      throw new PromParseError(`line ${n + 1}: expected "value [timestamp]" after ${name}`);
    }
    let value: number;
    try {
      value = parseValue(parts[0]!);
    } catch (err) {
      throw new PromParseError(`line ${n + 1}: ${(err as Error).message}`);
    }
    out.push({ name, labels, value });
  }
  return out;
}
