/**
 * The previous and the candidate release serving one database and one Redis side by side, judged as
 * clients see them, pure where it can be: the same reads must give equal answers (where the API did not
 * change), a write through either must be read back through the other, and after a write through one, the
 * other (its cache primed with the old answer) must answer the new one within `maxStaleMs`.
 */

export interface Side {
  readonly name: string;
  readonly url: string;
}

export interface SideBySideResult {
  readonly reasons: string[];
  readonly figures: Record<string, number>;
}

type Fetch = typeof fetch;

/** Reads whose answers must be equal on both sides (cached and uncached routes). */
export const EQUAL_READS: readonly {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: unknown;
}[] = [
  { method: 'GET', path: '/api/v1/tools?q=github%20issue&limit=20' },
  { method: 'GET', path: '/api/v1/tools?limit=50' },
  { method: 'GET', path: '/api/v1/tools/github-create-issue' },
  { method: 'GET', path: '/api/v1/prompts?limit=20' },
  { method: 'GET', path: '/api/v1/graph/tools/github-create-issue/neighbourhood?depth=2' },
  { method: 'POST', path: '/api/v1/plan', body: { goal: 'open a github issue from a failing test report' } },
];

/** JSON with object keys sorted, so two equal answers compare equal whatever order each side wrote keys in. */
export function canonical(value: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(value));
}

async function call(
  f: Fetch,
  side: Side,
  headers: Readonly<Record<string, string>>,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await f(new URL(path, side.url), {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: compared as text
  }
  return { status: res.status, json };
}

/** How long until `check` holds, polling every 20 ms; undefined when it did not within `limitMs`. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number | undefined> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > limitMs) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function equalReads(f: Fetch, a: Side, b: Side, h: Record<string, string>, reasons: string[]): Promise<number> {
  let compared = 0;
  for (const r of EQUAL_READS) {
    // Twice each: the second answer may come from the cache, which must agree too.
    for (let i = 0; i < 2; i++) {
      const [x, y] = await Promise.all([
        call(f, a, h, r.method, r.path, r.body),
        call(f, b, h, r.method, r.path, r.body),
      ]);
      compared++;
      if (x.status !== y.status || canonical(x.json) !== canonical(y.json))
        reasons.push(
          `${r.method} ${r.path}: ${a.name} answered ${x.status}, ${b.name} ${y.status}${x.status === y.status ? ' with a different body' : ''}`,
        );
    }
  }
  return compared;
}

/**
 * A tool created through `writer`, read through `reader`; renamed through `writer` while `reader` has it
 * cached; deleted through `writer`. Returns the slowest time `reader` took to show each change.
 */
async function coherence(
  f: Fetch,
  writer: Side,
  reader: Side,
  h: Record<string, string>,
  maxStaleMs: number,
  reasons: string[],
): Promise<number> {
  const slug = `compat-${writer.name}-${Date.now().toString(36)}`;
  const path = `/api/v1/tools/${slug}`;
  const created = await call(f, writer, h, 'POST', '/api/v1/tools', {
    name: `Compat ${slug}`,
    slug,
    category: 'testing',
  });
  if (created.status !== 201 && created.status !== 200) {
    reasons.push(`POST /api/v1/tools through ${writer.name}: ${created.status}`);
    return 0;
  }
  const steps: [string, () => Promise<unknown>, (r: { status: number; json: unknown }) => boolean][] = [
    ['create', async () => undefined, (r) => r.status === 200],
    [
      'rename',
      () => call(f, writer, h, 'PATCH', path, { name: `Renamed ${slug}` }),
      (r) => r.status === 200 && (r.json as { name?: string }).name === `Renamed ${slug}`,
    ],
    ['delete', () => call(f, writer, h, 'DELETE', path), (r) => r.status === 404],
  ];
  let slowest = 0;
  for (const [what, act, shows] of steps) {
    // Prime the reader's cache with the answer before the change.
    await call(f, reader, h, 'GET', path);
    await call(f, reader, h, 'GET', path);
    await act();
    const took = await within(maxStaleMs, async () => shows(await call(f, reader, h, 'GET', path)));
    if (took === undefined)
      reasons.push(
        `${what} through ${writer.name}: ${reader.name} still answered the old value after ${maxStaleMs} ms`,
      );
    else slowest = Math.max(slowest, took);
  }
  return slowest;
}

export async function sideBySide(
  previous: Side,
  candidate: Side,
  headers: Record<string, string>,
  maxStaleMs: number,
  f: Fetch = fetch,
): Promise<SideBySideResult> {
  const reasons: string[] = [];
  const compared = await equalReads(f, previous, candidate, headers, reasons);
  const toPrevious = await coherence(f, candidate, previous, headers, maxStaleMs, reasons);
  const toCandidate = await coherence(f, previous, candidate, headers, maxStaleMs, reasons);
  return {
    reasons,
    figures: { readsCompared: compared, stalestToPreviousMs: toPrevious, stalestToCandidateMs: toCandidate },
  };
}
