/**
 * The SQL behind the API. Functions take a pool (or client) and plain values, and return plain rows;
 * HTTP concerns stay in the routes. Every graph query is timed for graph_query_duration_seconds.
 */
import type pg from 'pg';
import { badRequest, conflict, notFound } from './errors.js';

export type Queryable = Pick<pg.Pool, 'query'>;
export type Timer = <T>(query: string, fn: () => Promise<T>) => Promise<T>;
export const noTimer: Timer = (_q, fn) => fn();

export const RELATION_KINDS = ['related', 'requires', 'alternative'] as const;
export type RelationKind = (typeof RELATION_KINDS)[number];

/** What a tool is, apart from its timestamps (the seeder produces exactly this). */
export interface ToolFields {
  id: string;
  slug: string;
  name: string;
  description: string;
  category: string;
  tags: string[];
}
export interface PromptFields {
  id: string;
  toolId: string;
  title: string;
  template: string;
}
interface Timestamps {
  createdAt: string;
  updatedAt: string;
}
export interface Tool extends ToolFields, Timestamps {}
export interface Prompt extends PromptFields, Timestamps {}

const TOOL_COLS = 'id, slug, name, description, category, tags, created_at, updated_at';
const PROMPT_COLS = 'id, tool_id, title, template, created_at, updated_at';

/** A tools row as pg returns it: the same fields, timestamps as Dates in snake_case. */
interface ToolRow extends ToolFields {
  created_at: Date;
  updated_at: Date;
}
interface PromptRow {
  id: string;
  tool_id: string;
  title: string;
  template: string;
  created_at: Date;
  updated_at: Date;
}
const toTool = (r: ToolRow): Tool => ({
  id: r.id,
  slug: r.slug,
  name: r.name,
  description: r.description,
  category: r.category,
  tags: r.tags,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});
const toPrompt = (r: PromptRow): Prompt => ({
  id: r.id,
  toolId: r.tool_id,
  title: r.title,
  template: r.template,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SLUG_RE = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 100)
    .replace(/-+$/g, '');
}

/** Cursors are opaque to clients: base64url JSON of the last row's sort key. */
type SearchCursor =
  { k: 'rank'; r: number; id: string } | { k: 'name'; n: string; id: string } | { k: 'id'; id: string };

export function encodeCursor(c: SearchCursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

/** A rank goes back to Postgres as a `real`: it must be 0 or within float4's normal range. */
const REAL_MAX = 3.4028234663852886e38;
const REAL_MIN_NORMAL = 1.1754943508222875e-38;
export const isStorableReal = (r: number) =>
  Number.isFinite(r) && (r === 0 || (Math.abs(r) >= REAL_MIN_NORMAL && Math.abs(r) <= REAL_MAX));

export function decodeCursor(raw: string, kind: SearchCursor['k']): SearchCursor {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
  } catch {
    throw badRequest('query.cursor', 'is not a valid cursor');
  }
  const c = parsed as Record<string, unknown> | null;
  const ok =
    c !== null &&
    typeof c === 'object' &&
    c.k === kind &&
    typeof c.id === 'string' &&
    UUID_RE.test(c.id) &&
    (kind !== 'rank' || (typeof c.r === 'number' && isStorableReal(c.r))) &&
    (kind !== 'name' || (typeof c.n === 'string' && !c.n.includes('\u0000')));
  if (!ok) throw badRequest('query.cursor', 'is not a valid cursor for this query');
  return c as SearchCursor;
}

export interface SearchParams {
  q?: string | undefined;
  tag?: string | undefined;
  category?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export type ScoredTool = Tool & { score?: number };

/** A search result: the tool and its rank, in this key order (pages from memory are compared byte for byte). */
export const scoredTool = (tool: Tool, rank: number): ScoredTool => ({ ...tool, score: rank });

/** The filters of a search, as SQL over $1 (tag) and $2 (category): only those asked for, so the planner sees
 * plain predicates it can match to indexes. */
const searchFilters = (p: Pick<SearchParams, 'tag' | 'category'>) =>
  [p.tag ? 'tags @> ARRAY[$1::text]' : '$1::text IS NULL', p.category ? 'category = $2' : '$2::text IS NULL'].join(
    ' AND ',
  );

/** Every match of $4 (websearch syntax) under the filters, ranked: the columns of a tool and its rank. */
const rankedMatches = (p: Pick<SearchParams, 'tag' | 'category'>) => `
        SELECT ${TOOL_COLS}, ts_rank(search, query) AS rank
        FROM tools, websearch_to_tsquery('english', $4) AS query
        WHERE search @@ query AND ${searchFilters(p)}`;

export async function searchTools(db: Queryable, p: SearchParams, time: Timer = noTimer): Promise<Page<ScoredTool>> {
  const q = p.q?.trim();
  const values: unknown[] = [p.tag ?? null, p.category ?? null, p.limit + 1];
  if (q) {
    values.push(q);
    let after = '';
    if (p.cursor) {
      const c = decodeCursor(p.cursor, 'rank') as Extract<SearchCursor, { k: 'rank' }>;
      values.push(c.r, c.id);
      after = 'WHERE rank < $5::real OR (rank = $5::real AND id > $6::uuid)';
    }
    const sql = `SELECT * FROM (${rankedMatches(p)}) s ${after} ORDER BY rank DESC, id LIMIT $3`;
    const res = await time('search', () => db.query<ToolRow & { rank: number }>(sql, values));
    const rows = res.rows.slice(0, p.limit);
    const last = rows[rows.length - 1];
    return {
      items: rows.map((r) => scoredTool(toTool(r), r.rank)),
      nextCursor: res.rows.length > p.limit && last ? encodeCursor({ k: 'rank', r: last.rank, id: last.id }) : null,
    };
  }
  let after = '';
  if (p.cursor) {
    const c = decodeCursor(p.cursor, 'name') as Extract<SearchCursor, { k: 'name' }>;
    values.push(c.n, c.id);
    after = 'AND (name, id) > ($4::text, $5::uuid)';
  }
  const sql = `SELECT ${TOOL_COLS} FROM tools WHERE ${searchFilters(p)} ${after} ORDER BY name, id LIMIT $3`;
  const res = await time('list', () => db.query<ToolRow>(sql, values));
  const rows = res.rows.slice(0, p.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(toTool),
    nextCursor: res.rows.length > p.limit && last ? encodeCursor({ k: 'name', n: last.name, id: last.id }) : null,
  };
}

/** One row of a search's ranking head: every row has its id and rank, the first rows the tool as well. */
export interface HeadRow {
  readonly id: string;
  readonly rank: number;
  readonly tool?: ScoredTool;
}

const TOOL_FIELDS = ['slug', 'name', 'description', 'category', 'tags', 'created_at', 'updated_at'] as const;

/**
 * The first `rows` of a search's ranking (in the order searchTools pages it: rank, then id), in one ranking:
 * ids and ranks of all of them, the whole tool only for the first `withTools`. Ranking costs the same for 1 row
 * as for 100 (every match is ranked), so the first page of a search learns the order of the next ones too;
 * sending only ids past the page keeps a one-off search's transfer and parsing at its own page.
 */
export async function searchHead(
  db: Queryable,
  p: Pick<SearchParams, 'q' | 'tag' | 'category'> & { q: string },
  rows: number,
  withTools: number,
  time: Timer = noTimer,
): Promise<HeadRow[]> {
  const fields = TOOL_FIELDS.map((c) => `CASE WHEN n <= $5 THEN ${c} END AS ${c}`).join(', ');
  const sql = `SELECT id, rank, ${fields} FROM (
      SELECT s.*, row_number() OVER (ORDER BY rank DESC, id) AS n
      FROM (${rankedMatches(p)} ORDER BY rank DESC, id LIMIT $3) s
    ) w ORDER BY n`;
  const values = [p.tag ?? null, p.category ?? null, rows, p.q.trim(), withTools];
  const res = await time('search', () => db.query<Partial<ToolRow> & { id: string; rank: number }>(sql, values));
  return res.rows.map((r, i) =>
    i < withTools
      ? { id: r.id, rank: r.rank, tool: scoredTool(toTool(r as ToolRow), r.rank) }
      : { id: r.id, rank: r.rank },
  );
}

/** Tools by id (those that exist), for the rows of a ranking head that were sent without their tool. */
export async function toolsById(
  db: Queryable,
  ids: readonly string[],
  time: Timer = noTimer,
): Promise<Map<string, Tool>> {
  const res = await time('tools_by_id', () =>
    db.query<ToolRow>(`SELECT ${TOOL_COLS} FROM tools WHERE id = ANY($1::uuid[])`, [ids]),
  );
  return new Map(res.rows.map((r) => [r.id, toTool(r)]));
}

/** A tool by uuid or slug, or undefined. */
export async function findTool(db: Queryable, idOrSlug: string): Promise<Tool | undefined> {
  const col = UUID_RE.test(idOrSlug) ? 'id' : 'slug';
  const res = await db.query<ToolRow>(`SELECT ${TOOL_COLS} FROM tools WHERE ${col} = $1`, [idOrSlug.toLowerCase()]);
  return res.rows[0] ? toTool(res.rows[0]) : undefined;
}

async function requireTool(db: Queryable, idOrSlug: string): Promise<Tool> {
  const tool = await findTool(db, idOrSlug);
  if (!tool) throw notFound(`tool "${idOrSlug}"`);
  return tool;
}

export interface RelatedTool {
  id: string;
  slug: string;
  name: string;
  kind: RelationKind;
  direction: 'out' | 'in';
  weight: number;
}

export async function getToolDetail(db: Queryable, idOrSlug: string, time: Timer = noTimer) {
  const tool = await requireTool(db, idOrSlug);
  const [prompts, related] = await Promise.all([
    db.query<PromptRow>(`SELECT ${PROMPT_COLS} FROM prompts WHERE tool_id = $1 ORDER BY created_at, id LIMIT 50`, [
      tool.id,
    ]),
    time('related', () =>
      db.query<RelatedTool>(
        `SELECT t.id, t.slug, t.name, r.kind, r.direction, r.weight FROM (
           SELECT target_id AS other, kind::text, 'out' AS direction, weight FROM tool_relations WHERE source_id = $1
           UNION ALL
           SELECT source_id, kind::text, 'in', weight FROM tool_relations WHERE target_id = $1
         ) r JOIN tools t ON t.id = r.other
         ORDER BY r.direction DESC, r.weight DESC, t.name LIMIT 50`,
        [tool.id],
      ),
    ),
  ]);
  return { ...tool, prompts: prompts.rows.map(toPrompt), related: related.rows };
}

export interface RelationInput {
  target: string;
  kind: RelationKind;
  weight?: number;
}
export interface ToolInput {
  name: string;
  slug?: string;
  description?: string;
  category: string;
  tags?: string[];
  relations?: RelationInput[];
}

type Tx = Pick<pg.PoolClient, 'query'>;

/** What a write returns: its answer, built inside the transaction, and the cache generation it committed. */
export interface Committed<T> {
  readonly value: T;
  readonly generation: string;
}

/**
 * Runs `fn` in a transaction and returns what it built before COMMIT, so the answer never depends on a
 * read after COMMIT (which may fail though the data is committed). The cache generation the transaction
 * wrote (see the cache_generation migration) comes back with it.
 */
async function inTransaction<T>(pool: pg.Pool, fn: (tx: Tx) => Promise<T>): Promise<Committed<T>> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const value = await fn(client);
    const gen = await client.query<{ token: string }>('SELECT token FROM cache_generation');
    await client.query('COMMIT');
    return { value, generation: gen.rows[0]!.token };
  } catch (err) {
    await client.query('ROLLBACK').catch((e: unknown) => {
      broken = e instanceof Error ? e : new Error(String(e));
    });
    throw err;
  } finally {
    // A client whose ROLLBACK failed is in an unknown state: destroy it rather than pool it.
    client.release(broken);
  }
}

function uniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

async function replaceRelations(tx: Tx, sourceId: string, relations: readonly RelationInput[]): Promise<void> {
  await tx.query('DELETE FROM tool_relations WHERE source_id = $1', [sourceId]);
  for (const [i, r] of relations.entries()) {
    const target = await findTool(tx, r.target);
    if (!target) throw badRequest(`body.relations[${i}].target`, 'unknown tool');
    if (target.id === sourceId) throw badRequest(`body.relations[${i}].target`, 'a tool cannot relate to itself');
    await tx.query(
      `INSERT INTO tool_relations (source_id, target_id, kind, weight) VALUES ($1, $2, $3, $4)
       ON CONFLICT (source_id, target_id, kind) DO UPDATE SET weight = EXCLUDED.weight`,
      [sourceId, target.id, r.kind, r.weight ?? 1],
    );
  }
}

export type ToolDetail = Awaited<ReturnType<typeof getToolDetail>>;

export async function createTool(pool: pg.Pool, input: ToolInput): Promise<Committed<ToolDetail>> {
  const slug = input.slug ?? slugify(input.name);
  if (!SLUG_RE.test(slug)) throw badRequest('body.name', 'cannot be turned into a slug; give one in "slug"');
  try {
    return await inTransaction(pool, async (tx) => {
      const res = await tx.query<{ id: string }>(
        'INSERT INTO tools (slug, name, description, category, tags) VALUES ($1, $2, $3, $4, $5) RETURNING id',
        [slug, input.name, input.description ?? '', input.category, input.tags ?? []],
      );
      const newId = res.rows[0]!.id;
      if (input.relations) await replaceRelations(tx, newId, input.relations);
      return getToolDetail(tx, newId);
    });
  } catch (err) {
    if (uniqueViolation(err)) throw conflict('body.slug', `"${slug}" already exists`);
    throw err;
  }
}

export async function updateTool(
  pool: pg.Pool,
  idOrSlug: string,
  patch: Partial<ToolInput>,
): Promise<Committed<ToolDetail>> {
  try {
    return await inTransaction(pool, async (tx) => {
      const tool = await requireTool(tx, idOrSlug);
      const sets: string[] = [];
      const values: unknown[] = [tool.id];
      for (const [col, v] of [
        ['name', patch.name],
        ['slug', patch.slug],
        ['description', patch.description],
        ['category', patch.category],
        ['tags', patch.tags],
      ] as const) {
        if (v !== undefined) {
          values.push(v);
          sets.push(`${col} = $${values.length}`);
        }
      }
      if (sets.length > 0)
        await tx.query(`UPDATE tools SET ${sets.join(', ')}, updated_at = now() WHERE id = $1`, values);
      if (patch.relations) await replaceRelations(tx, tool.id, patch.relations);
      return getToolDetail(tx, tool.id);
    });
  } catch (err) {
    if (uniqueViolation(err)) throw conflict('body.slug', `"${patch.slug ?? ''}" already exists`);
    throw err;
  }
}

export async function deleteTool(pool: pg.Pool, idOrSlug: string): Promise<Committed<void>> {
  const col = UUID_RE.test(idOrSlug) ? 'id' : 'slug';
  return inTransaction(pool, async (tx) => {
    const res = await tx.query(`DELETE FROM tools WHERE ${col} = $1`, [idOrSlug.toLowerCase()]);
    if (res.rowCount === 0) throw notFound(`tool "${idOrSlug}"`);
  });
}

export async function listPrompts(
  db: Queryable,
  p: { toolId?: string | undefined; limit: number; cursor?: string | undefined },
): Promise<Page<Prompt>> {
  const values: unknown[] = [p.limit + 1];
  const where: string[] = [];
  if (p.toolId) {
    const tool = await findTool(db, p.toolId);
    if (!tool) throw notFound(`tool "${p.toolId}"`);
    values.push(tool.id);
    where.push(`tool_id = $${values.length}`);
  }
  if (p.cursor) {
    const c = decodeCursor(p.cursor, 'id');
    values.push(c.id);
    where.push(`id > $${values.length}`);
  }
  const res = await db.query<PromptRow>(
    `SELECT ${PROMPT_COLS} FROM prompts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id LIMIT $1`,
    values,
  );
  const rows = res.rows.slice(0, p.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(toPrompt),
    nextCursor: res.rows.length > p.limit && last ? encodeCursor({ k: 'id', id: last.id }) : null,
  };
}

export async function getPrompt(db: Queryable, id: string): Promise<Prompt> {
  const res = await db.query<PromptRow>(`SELECT ${PROMPT_COLS} FROM prompts WHERE id = $1`, [id]);
  if (!res.rows[0]) throw notFound(`prompt "${id}"`);
  return toPrompt(res.rows[0]);
}

export async function createPrompt(
  pool: pg.Pool,
  input: { toolId: string; title: string; template: string },
): Promise<Committed<Prompt>> {
  return inTransaction(pool, async (tx) => {
    const tool = await findTool(tx, input.toolId);
    if (!tool) throw badRequest('body.toolId', 'unknown tool');
    const res = await tx.query<PromptRow>(
      `INSERT INTO prompts (tool_id, title, template) VALUES ($1, $2, $3) RETURNING ${PROMPT_COLS}`,
      [tool.id, input.title, input.template],
    );
    return toPrompt(res.rows[0]!);
  });
}

export async function updatePrompt(
  pool: pg.Pool,
  id: string,
  patch: { title?: string; template?: string },
): Promise<Committed<Prompt>> {
  return inTransaction(pool, async (tx) => {
    const res = await tx.query<PromptRow>(
      `UPDATE prompts SET title = coalesce($2, title), template = coalesce($3, template), updated_at = now() WHERE id = $1 RETURNING ${PROMPT_COLS}`,
      [id, patch.title ?? null, patch.template ?? null],
    );
    if (!res.rows[0]) throw notFound(`prompt "${id}"`);
    return toPrompt(res.rows[0]);
  });
}

export async function deletePrompt(pool: pg.Pool, id: string): Promise<Committed<void>> {
  return inTransaction(pool, async (tx) => {
    const res = await tx.query('DELETE FROM prompts WHERE id = $1', [id]);
    if (res.rowCount === 0) throw notFound(`prompt "${id}"`);
  });
}

export interface GraphNode {
  id: string;
  slug: string;
  name: string;
  depth: number;
}
export interface GraphEdge {
  source: string;
  target: string;
  kind: RelationKind;
  weight: number;
}

/**
 * Tools within `depth` hops (edges walked both ways). UNION (not UNION ALL) de-duplicates (id, depth)
 * rows per level, so the walk grows with the number of distinct tools, not the number of paths; the
 * node cap bounds the answer.
 */
export async function neighbourhood(
  db: Queryable,
  startIds: readonly string[],
  depth: number,
  maxNodes: number,
  time: Timer = noTimer,
) {
  const res = await time('neighbourhood', () =>
    db.query<GraphNode>(
      `WITH RECURSIVE walk(id, depth) AS (
         SELECT unnest($1::uuid[]), 0
         UNION
         SELECT n.other, w.depth + 1 FROM walk w
         CROSS JOIN LATERAL (
           SELECT target_id AS other FROM tool_relations WHERE source_id = w.id
           UNION ALL
           SELECT source_id FROM tool_relations WHERE target_id = w.id
         ) n
         WHERE w.depth < $2
       ), nodes AS (
         SELECT id, min(depth) AS depth FROM walk GROUP BY id ORDER BY min(depth), id LIMIT $3
       )
       SELECT t.id, t.slug, t.name, nodes.depth FROM nodes JOIN tools t ON t.id = nodes.id ORDER BY nodes.depth, t.name`,
      [startIds, depth, maxNodes + 1],
    ),
  );
  const truncated = res.rows.length > maxNodes;
  const nodes = res.rows.slice(0, maxNodes);
  const ids = nodes.map((n) => n.id);
  const edges = await time('neighbourhood_edges', () =>
    db.query<GraphEdge>(
      `SELECT source_id AS source, target_id AS target, kind::text AS kind, weight FROM tool_relations
       WHERE source_id = ANY($1::uuid[]) AND target_id = ANY($1::uuid[])`,
      [ids],
    ),
  );
  return { nodes, edges: edges.rows, truncated };
}

export async function toolNeighbourhood(
  db: Queryable,
  idOrSlug: string,
  depth: number,
  maxNodes: number,
  time: Timer = noTimer,
) {
  const tool = await requireTool(db, idOrSlug);
  const graph = await neighbourhood(db, [tool.id], depth, maxNodes, time);
  return { root: { id: tool.id, slug: tool.slug, name: tool.name }, depth, ...graph };
}

/** Prompts for several tools at once, at most `perTool` each. */
export async function promptsFor(
  db: Queryable,
  toolIds: readonly string[],
  perTool: number,
): Promise<Map<string, Prompt[]>> {
  const res = await db.query<PromptRow>(
    `SELECT ${PROMPT_COLS} FROM (
       SELECT *, row_number() OVER (PARTITION BY tool_id ORDER BY created_at, id) AS n FROM prompts WHERE tool_id = ANY($1::uuid[])
     ) p WHERE n <= $2 ORDER BY created_at, id`,
    [toolIds, perTool],
  );
  const out = new Map<string, Prompt[]>();
  for (const r of res.rows) (out.get(r.tool_id) ?? out.set(r.tool_id, []).get(r.tool_id)!).push(toPrompt(r));
  return out;
}

/** Candidates for a goal: any of its words may match; tools matching more (and weightier) words rank first. */
export async function rankForTerms(db: Queryable, terms: readonly string[], limit: number, time: Timer = noTimer) {
  const res = await time('plan_rank', () =>
    db.query<{ id: string; slug: string; name: string; rank: number }>(
      `SELECT id, slug, name, ts_rank(search, query) AS rank
       FROM tools, to_tsquery('english', $1) AS query
       WHERE search @@ query ORDER BY rank DESC, id LIMIT $2`,
      [terms.join(' | '), limit],
    ),
  );
  return res.rows;
}
