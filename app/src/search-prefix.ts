/**
 * The head of a search's ranking, kept in process per generation, so the pages of one search (another
 * limit, the next cursor) do not rank every match again. Postgres ranks all matches of a query to answer any
 * page of it; this keeps what that work found: the first PREFIX_ROWS rows of (q, tag, category), in the
 * service's order (rank, then id), each already serialised.
 *
 * Only what is known exactly is kept, and a page is answered from it only when the page lies inside it:
 * - a page that came back shorter than its limit is the whole ranking (a "negative" search is one of
 *   these: no rows at all), so it is kept as complete, at no extra cost;
 * - the second distinct page asked of a search within a generation fetches PREFIX_ROWS rows once (the
 *   first only marks the search as seen, so one-off searches pay nothing more than today);
 * - a cursor is continued from the prefix only if it names a row of it (its rank and id as issued);
 *   anything else, or a page reaching past the prefix, goes to Postgres as before.
 * Entries carry the generation token they were computed under and are all dropped when it changes.
 */
import { JsonBytes } from './cache.js';
import { decodeCursor, encodeCursor, type Page, type ScoredTool, type SearchParams } from './repo.js';

/** The largest page limit plus nothing: pages of up to 100 rows are answered from a full prefix. */
export const PREFIX_ROWS = 100;

export interface Prefix {
  readonly ids: readonly string[];
  readonly ranks: readonly number[];
  /** Each row as JSON, exactly as JSON.stringify writes it inside a page. */
  readonly items: readonly string[];
  /** True when these are all the rows that match; false when more follow. */
  readonly complete: boolean;
  readonly bytes: number;
}

export function toPrefix(page: Page<ScoredTool>): Prefix {
  const items = page.items.map((t) => JSON.stringify(t));
  return {
    ids: page.items.map((t) => t.id),
    ranks: page.items.map((t) => t.score ?? 0),
    items,
    complete: page.nextCursor === null,
    bytes: items.reduce((n, s) => n + s.length, 0),
  };
}

/**
 * The page (limit, cursor) as JSON bytes, identical to JSON.stringify of what searchTools returns, or
 * undefined when the prefix cannot say (the cursor is not one of its rows, or the page reaches past it).
 */
export function pageFromPrefix(p: Prefix, limit: number, cursor: string | undefined): Buffer | undefined {
  let start = 0;
  if (cursor !== undefined) {
    const c = decodeCursor(cursor, 'rank') as { r: number; id: string };
    const at = p.ids.indexOf(c.id);
    if (at < 0 || p.ranks[at] !== c.r) return undefined;
    start = at + 1;
  }
  const left = p.items.length - start;
  // More rows follow the page if the prefix holds them, or (page ending at the prefix's end) if it is not complete.
  if (limit > left && !p.complete) return undefined;
  const end = start + Math.min(limit, left);
  const more = left > limit || (left === limit && !p.complete);
  const last = end - 1;
  const next = more ? encodeCursor({ k: 'rank', r: p.ranks[last]!, id: p.ids[last]! }) : null;
  return Buffer.from(`{"items":[${p.items.slice(start, end).join(',')}],"nextCursor":${JSON.stringify(next)}}`, 'utf8');
}

export interface PrefixCacheOptions {
  readonly maxEntries: number;
  /** Bound on the serialised rows held (characters). */
  readonly maxChars: number;
}

export const DEFAULT_PREFIX_CACHE: PrefixCacheOptions = { maxEntries: 1_000, maxChars: 32 * 1024 * 1024 };

export class PrefixCache {
  private readonly entries = new Map<string, Prefix>();
  private readonly loading = new Map<string, Promise<Prefix>>();
  private readonly seen = new Set<string>();
  private chars = 0;
  private token: string | undefined;

  constructor(private readonly opts: PrefixCacheOptions = DEFAULT_PREFIX_CACHE) {}

  /** The generation changed: nothing computed under the old one may answer again. */
  clear(): void {
    this.entries.clear();
    this.seen.clear();
    this.chars = 0;
  }

  private adopt(token: string): void {
    if (token !== this.token) {
      this.clear();
      this.token = token;
    }
  }

  get(token: string, key: string): Prefix | undefined {
    this.adopt(token);
    return this.entries.get(key);
  }

  /** The prefix, fetched once however many requests want it at the same time. */
  async load(token: string, key: string, fetch: () => Promise<Page<ScoredTool>>): Promise<Prefix> {
    const kept = this.get(token, key);
    if (kept) return kept;
    const flight = `${token}:${key}`;
    let p = this.loading.get(flight);
    if (!p) {
      p = fetch()
        .then((page) => {
          const prefix = toPrefix(page);
          if (this.token === token) this.set(token, key, prefix);
          return prefix;
        })
        .finally(() => this.loading.delete(flight));
      this.loading.set(flight, p);
    }
    return p;
  }

  /** True the first time a search is asked for in this generation (then it is only remembered as seen). */
  firstSight(token: string, key: string): boolean {
    this.adopt(token);
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.opts.maxEntries * 10) this.seen.clear();
    this.seen.add(key);
    return true;
  }

  set(token: string, key: string, prefix: Prefix): void {
    this.adopt(token);
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.chars -= old.bytes;
    }
    // Oldest first out, by count and by size.
    for (const [k, v] of this.entries) {
      if (this.entries.size < this.opts.maxEntries && this.chars + prefix.bytes <= this.opts.maxChars) break;
      this.entries.delete(k);
      this.chars -= v.bytes;
    }
    if (prefix.bytes > this.opts.maxChars) return;
    this.entries.set(key, prefix);
    this.chars += prefix.bytes;
  }
}

/**
 * A search page, from the prefix when it can answer (bytes), else from Postgres as before (`run` is
 * repo.searchTools over the service's pool). `token` is the cache generation now, or undefined (then
 * nothing is kept or used).
 */
export async function searchPage(
  prefixes: PrefixCache,
  token: string | undefined,
  p: SearchParams,
  run: (p: SearchParams) => Promise<Page<ScoredTool>>,
): Promise<Page<ScoredTool> | JsonBytes> {
  const q = p.q?.trim();
  if (!q || token === undefined) return run(p);
  const key = JSON.stringify([q, p.tag ?? null, p.category ?? null]);
  const whole = { q, tag: p.tag, category: p.category, limit: PREFIX_ROWS };
  if (!prefixes.get(token, key)) {
    if (!p.cursor && p.limit >= PREFIX_ROWS) {
      const page = await run(p);
      prefixes.set(token, key, toPrefix(page));
      return page;
    }
    if (prefixes.firstSight(token, key)) {
      const page = await run(p);
      // A first page shorter than its limit is every match: known exactly, kept for the other pages.
      if (!p.cursor && page.nextCursor === null) prefixes.set(token, key, toPrefix(page));
      return page;
    }
  }
  const prefix = await prefixes.load(token, key, () => run(whole));
  const body = pageFromPrefix(prefix, p.limit, p.cursor);
  return body ? new JsonBytes(body) : run(p);
}
