/**
 * The uncached search mix of bench/app-latency.ts, shared with bench/search-plans.ts so the plans examined
 * are those of the very queries the latency bench sends: request i asks a word pair (AND), a limit of
 * 1-100 and a tag, so no two requests in a 25,600-request window share a cache key.
 */
export const WORDS = [
  'github',
  'issue',
  'slack',
  'message',
  'report',
  'test',
  'deploy',
  'build',
  'jira',
  'postgres',
  'query',
  'alert',
  'incident',
  'file',
  'sync',
  'export',
] as const;

export interface SearchRequest {
  readonly q: string;
  readonly limit: number;
  readonly tag: string;
}

export function uncachedSearch(i: number): SearchRequest {
  return {
    q: `${WORDS[i % WORDS.length]} ${WORDS[Math.floor(i / WORDS.length) % WORDS.length]}`,
    limit: (Math.floor(i / 256) % 100) + 1,
    tag: WORDS[(i * 7) % WORDS.length]!,
  };
}

export function searchPath(r: SearchRequest): string {
  return `/api/v1/tools?q=${encodeURIComponent(r.q)}&limit=${r.limit}&tag=${r.tag}`;
}

/**
 * A stricter mix: request i asks a (word pair, tag) no earlier request asked (4,096 of them), at the default
 * limit, so nothing the service keeps per search (the body, the ranking prefix) can answer it.
 */
export const NEW_SEARCHES = WORDS.length ** 3;

export function newSearch(i: number): SearchRequest {
  const n = i % NEW_SEARCHES;
  return {
    q: `${WORDS[n % WORDS.length]} ${WORDS[Math.floor(n / WORDS.length) % WORDS.length]}`,
    limit: 20,
    tag: WORDS[Math.floor(n / WORDS.length ** 2)]!,
  };
}
