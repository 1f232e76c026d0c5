/**
 * The head of a search's ranking, kept in process per generation, so the pages of one search (another
 * limit, the next cursor) do not rank every match again. Postgres ranks all matches of a query to answer any
 * page of it, so ranking 100 rows costs what ranking 1 does: the first page of a search (no cursor) asks for
 * the first PREFIX_ROWS rows of (q, tag, category) in the service's order (rank, then id) at once, with the
 * whole tool only for its own page and ids and ranks for the rest (repo.searchHead). A later page inside the
 * head is answered from it; the tools it has not seen yet are read by primary key (repo.toolsById), never by
 * ranking again, and kept serialised.
 *
 * Only what is known exactly is kept, and a page is answered from the head only when the page lies inside it:
 * - a head shorter than PREFIX_ROWS is the whole ranking (a "negative" search is one of these: no rows);
 * - a cursor is continued from the head only if it names a row of it (its rank and id as issued);
 *   a cursor into a search not ranked in this generation, or a page reaching past the head, goes to Postgres
 *   as before; so does a page whose tool was deleted since (a primary-key read that comes back short).
 * Entries carry the generation token they were computed under and are all dropped when it changes.
 */
import { JsonBytes } from './cache.js';
import {
  decodeCursor,
  encodeCursor,
  scoredTool,
  type HeadRow,
  type Page,
  type ScoredTool,
  type SearchParams,
  type Tool,
} from './repo.js';

/** The largest page limit: pages of up to 100 rows are answered from a full head. */
export const PREFIX_ROWS = 100;

export interface Prefix {
  readonly ids: readonly string[];
  readonly ranks: readonly number[];
  /** Each row as JSON, exactly as JSON.stringify writes it inside a page; undefined until its tool is read. */
  readonly items: (string | undefined)[];
  /** True when these are all the rows that match; false when more follow. */
  readonly complete: boolean;
  /** Characters of the rows held (grows as rows are read). */
  bytes: number;
}

/** A head as repo.searchHead returns it (PREFIX_ROWS + 1 rows asked, to know whether more follow). */
export function toPrefix(head: readonly HeadRow[]): Prefix {
  const rows = head.slice(0, PREFIX_ROWS);
  const items = rows.map((r) => (r.tool ? JSON.stringify(r.tool) : undefined));
  return {
    ids: rows.map((r) => r.id),
    ranks: rows.map((r) => r.rank),
    items,
    complete: head.length <= PREFIX_ROWS,
    bytes: items.reduce((n, s) => n + (s?.length ?? 0), 0),
  };
}

/** Rows [start, end) of the head make the page (limit, cursor); undefined when the head cannot say. */
interface PageRange {
  readonly start: number;
  readonly end: number;
  readonly more: boolean;
}

export function pageRange(p: Prefix, limit: number, cursor: string | undefined): PageRange | undefined {
  let start = 0;
  if (cursor !== undefined) {
    const c = decodeCursor(cursor, 'rank') as { r: number; id: string };
    const at = p.ids.indexOf(c.id);
    if (at < 0 || p.ranks[at] !== c.r) return undefined;
    start = at + 1;
  }
  const left = p.ids.length - start;
  // More rows follow the page if the head holds them, or (page ending at the head's end) if it is not complete.
  if (limit > left && !p.complete) return undefined;
  return { start, end: start + Math.min(limit, left), more: left > limit || (left === limit && !p.complete) };
}

/** The page's JSON bytes, identical to JSON.stringify of what searchTools returns; every row must be read. */
export function pageBytes(p: Prefix, r: PageRange): Buffer {
  const last = r.end - 1;
  const next = r.more ? encodeCursor({ k: 'rank', r: p.ranks[last]!, id: p.ids[last]! }) : null;
  return Buffer.from(`{"items":[${p.items.slice(r.start, r.end).join(',')}],"nextCursor":${JSON.stringify(next)}}`);
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
  private chars = 0;
  private token: string | undefined;

  constructor(private readonly opts: PrefixCacheOptions = DEFAULT_PREFIX_CACHE) {}

  /** The generation changed: nothing computed under the old one may answer again. */
  clear(): void {
    this.entries.clear();
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

  /** The head, ranked once however many requests want it at the same time. */
  async load(token: string, key: string, fetch: () => Promise<readonly HeadRow[]>): Promise<Prefix> {
    const kept = this.get(token, key);
    if (kept) return kept;
    const flight = `${token}:${key}`;
    let p = this.loading.get(flight);
    if (!p) {
      p = fetch()
        .then((head) => {
          const prefix = toPrefix(head);
          if (this.token === token) this.set(token, key, prefix);
          return prefix;
        })
        .finally(() => this.loading.delete(flight));
      this.loading.set(flight, p);
    }
    return p;
  }

  set(token: string, key: string, prefix: Prefix): void {
    this.adopt(token);
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.chars -= old.bytes;
    }
    if (prefix.bytes > this.opts.maxChars) return;
    this.entries.set(key, prefix);
    this.chars += prefix.bytes;
    this.evict(prefix);
  }

  /** Row `index` of the head kept under `key` was read: hold it serialised (a head no longer kept only grows). */
  fill(key: string, prefix: Prefix, index: number, json: string): void {
    if (prefix.items[index] !== undefined) return;
    prefix.items[index] = json;
    prefix.bytes += json.length;
    if (this.entries.get(key) === prefix) {
      this.chars += json.length;
      this.evict(prefix);
    }
  }

  // Oldest first out, by count and by size; `keep` (the entry just added or grown) last of all.
  private evict(keep: Prefix): void {
    for (const [k, v] of this.entries) {
      if (this.entries.size <= this.opts.maxEntries && this.chars <= this.opts.maxChars) return;
      if (v === keep) continue;
      this.entries.delete(k);
      this.chars -= v.bytes;
    }
  }
}

/** Where pages come from when the head cannot answer them: the service's pool behind repo's functions. */
export interface SearchSource {
  /** repo.searchTools: any page, ranked by Postgres. */
  readonly page: (p: SearchParams) => Promise<Page<ScoredTool>>;
  /** repo.searchHead: the first `rows` of a ranking, whole tools for the first `withTools`. */
  readonly head: (
    p: Pick<SearchParams, 'tag' | 'category'> & { q: string },
    rows: number,
    withTools: number,
  ) => Promise<readonly HeadRow[]>;
  /** repo.toolsById. */
  readonly tools: (ids: readonly string[]) => Promise<ReadonlyMap<string, Tool>>;
}

/**
 * A search page, from the head when it can answer (bytes), else from Postgres as before. `token` is the
 * cache generation now, or undefined (then nothing is kept or used).
 */
export async function searchPage(
  prefixes: PrefixCache,
  token: string | undefined,
  p: SearchParams,
  source: SearchSource,
): Promise<Page<ScoredTool> | JsonBytes> {
  const q = p.q?.trim();
  if (!q || token === undefined) return source.page(p);
  const key = JSON.stringify([q, p.tag ?? null, p.category ?? null]);
  let prefix = prefixes.get(token, key);
  if (!prefix) {
    // A cursor of a search not ranked here in this generation: its page alone, as before.
    if (p.cursor) return source.page(p);
    const search = { q, tag: p.tag, category: p.category };
    prefix = await prefixes.load(token, key, () => source.head(search, PREFIX_ROWS + 1, p.limit));
  }
  const range = pageRange(prefix, p.limit, p.cursor);
  if (!range || !(await readRows(prefixes, key, prefix, range, source))) return source.page(p);
  return new JsonBytes(pageBytes(prefix, range));
}

/** Reads the tools of the page's rows the head holds only ids for; false when one no longer exists. */
async function readRows(
  prefixes: PrefixCache,
  key: string,
  prefix: Prefix,
  r: { readonly start: number; readonly end: number },
  source: SearchSource,
): Promise<boolean> {
  const missing: number[] = [];
  for (let i = r.start; i < r.end; i++) if (prefix.items[i] === undefined) missing.push(i);
  if (missing.length === 0) return true;
  const tools = await source.tools(missing.map((i) => prefix.ids[i]!));
  if (tools.size < missing.length) return false;
  for (const i of missing)
    prefixes.fill(key, prefix, i, JSON.stringify(scoredTool(tools.get(prefix.ids[i]!)!, prefix.ranks[i]!)));
  return true;
}
