/** /api/v1: tools, prompts, graph neighbourhood and plan. Reads go through the cache; every write commits a new cache generation. */
import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type pg from 'pg';
import type { CacheLike, CacheOutcome, Compute } from '../cache.js';
import { cacheKey } from '../cache.js';
import type { Metrics } from '../metrics.js';
import { badRequest, HttpError } from '../errors.js';
import type { CacheGeneration } from '../generation.js';
import * as repo from '../repo.js';
import { buildPath, goalTerms } from '../plan.js';
import * as s from '../schemas.js';
import { waitTimedQueries } from '../pool-wait.js';
import { searchPage, type PrefixCache, type SearchSource } from '../search-prefix.js';

interface Opts {
  pool: pg.Pool;
  cache: CacheLike;
  metrics: Metrics;
  generation: Pick<CacheGeneration, 'observe' | 'poll'>;
  prefixes: PrefixCache;
  /** After a write committed, before it answers (the previous release's invalidation, while it may run). */
  afterCommit?: () => Promise<void>;
}

const MAX_GRAPH_NODES = 200;

/** The API scope as the route groups see it: typed by the TypeBox schemas. */
type Api = Parameters<FastifyPluginAsyncTypebox>[0];

/** Sends a cached (or freshly computed) JSON body; see `cachedSender`. */
type Cached = (reply: FastifyReply, key: string, compute: Compute) => Promise<void> | undefined;
/** Runs a write and adopts the cache generation it committed; see `committedWrite`. */
type Write = <T>(run: () => Promise<repo.Committed<T>>) => Promise<T>;

/** What the route groups share, made once when the scope is registered (nothing per request). */
interface Routes {
  /** Writes use the pool itself. */
  readonly pool: pg.Pool;
  /** Reads check their connection out through this, so the pool wait is measured apart. */
  readonly db: repo.Queryable;
  readonly time: repo.Timer;
  readonly prefixes: PrefixCache;
  readonly cached: Cached;
  readonly write: Write;
}

/** Route types come from the TypeBox schemas (one declaration per field); defaults are applied by ajv. */
export const apiRoutes: FastifyPluginAsyncTypebox<Opts> = async (app, opts) => {
  const routes: Routes = {
    pool: opts.pool,
    db: waitTimedQueries(opts.pool, (seconds) => opts.metrics.poolWait.observe(seconds)),
    time: opts.metrics.time,
    prefixes: opts.prefixes,
    cached: cachedSender(opts.cache, opts.metrics),
    write: committedWrite(opts.generation, opts.afterCommit),
  };
  toolRoutes(app, routes);
  promptRoutes(app, routes);
  graphRoutes(app, routes);
  planRoutes(app, routes);
};

/**
 * Sends a cached (or freshly computed) JSON body, saying which in `x-cache`. A body held in memory is
 * sent at once and nothing is returned (fastify then has no promise to wait for); only a lookup that has
 * to wait for Redis or Postgres returns a promise, of nothing once sent (a returned value would be sent).
 */
function cachedSender(cache: CacheLike, metrics: Metrics): Cached {
  const sendBody = (reply: FastifyReply, body: Buffer, outcome: CacheOutcome) => {
    metrics.countCache(outcome);
    reply.header('x-cache', outcome).type('application/json; charset=utf-8').send(body);
  };
  return (reply, key, compute) => {
    const held = cache.peek(key);
    if (held) return void sendBody(reply, held, 'hit');
    return cache.getOrCompute(key, compute).then(({ body, outcome }) => sendBody(reply, body, outcome));
  };
}

/**
 * Runs a write and adopts the cache generation it committed, so this instance's next read already
 * misses the old entries (other instances learn it from Postgres within a second). When the outcome is
 * unknown (the connection died during COMMIT), the generation is read again rather than guessed.
 */
function committedWrite(generation: Opts['generation'], afterCommit: Opts['afterCommit']): Write {
  return async <T>(run: () => Promise<repo.Committed<T>>): Promise<T> => {
    try {
      const { value, generation: token } = await run();
      generation.observe(token);
      await afterCommit?.();
      return value;
    } catch (err) {
      if (!(err instanceof HttpError && err.statusCode < 500)) void generation.poll();
      throw err;
    }
  };
}

// Read handlers are plain functions returning cached(...): a reply (sent from memory) or a promise of one.

function toolRoutes(app: Api, { pool, db, time, prefixes, cached, write }: Routes): void {
  const search: SearchSource = {
    page: (p) => repo.searchTools(db, p, time),
    head: (p, rows, withTools) => repo.searchHead(db, p, rows, withTools, time),
    tools: (ids) => repo.toolsById(db, ids, time),
  };
  app.get('/tools', { schema: { querystring: s.searchQuery } }, (req, reply) => {
    const { q, tag, category, limit = s.DEFAULT_LIMIT, cursor } = req.query;
    return cached(
      reply,
      cacheKey('tools', [q ?? null, tag ?? null, category ?? null, limit, cursor ?? null]),
      (token) => searchPage(prefixes, token, { q, tag, category, limit, cursor }, search),
    );
  });

  app.get('/tools/:id', { schema: { params: s.idParams } }, (req, reply) =>
    cached(reply, cacheKey('tool', req.params.id.toLowerCase()), () => repo.getToolDetail(db, req.params.id, time)),
  );

  app.post('/tools', { schema: { body: s.createToolBody } }, async (req, reply) => {
    const tool = await write(() => repo.createTool(pool, req.body));
    return reply.status(201).header('location', `/api/v1/tools/${tool.id}`).send(tool);
  });

  app.patch('/tools/:id', { schema: { params: s.idParams, body: s.patchToolBody } }, async (req) =>
    write(() => repo.updateTool(pool, req.params.id, req.body)),
  );

  app.delete('/tools/:id', { schema: { params: s.idParams } }, async (req, reply) => {
    await write(() => repo.deleteTool(pool, req.params.id));
    return reply.status(204).send();
  });
}

function promptRoutes(app: Api, { pool, db, cached, write }: Routes): void {
  app.get('/prompts', { schema: { querystring: s.promptsQuery } }, (req, reply) => {
    const { toolId, limit = s.DEFAULT_LIMIT, cursor } = req.query;
    return cached(reply, cacheKey('prompts', [toolId?.toLowerCase() ?? null, limit, cursor ?? null]), () =>
      repo.listPrompts(db, { toolId, limit, cursor }),
    );
  });

  app.get('/prompts/:id', { schema: { params: s.promptIdParams } }, async (req) => repo.getPrompt(db, req.params.id));

  app.post('/prompts', { schema: { body: s.createPromptBody } }, async (req, reply) => {
    const prompt = await write(() => repo.createPrompt(pool, req.body));
    return reply.status(201).header('location', `/api/v1/prompts/${prompt.id}`).send(prompt);
  });

  app.patch('/prompts/:id', { schema: { params: s.promptIdParams, body: s.patchPromptBody } }, async (req) =>
    write(() => repo.updatePrompt(pool, req.params.id, req.body)),
  );

  app.delete('/prompts/:id', { schema: { params: s.promptIdParams } }, async (req, reply) => {
    await write(() => repo.deletePrompt(pool, req.params.id));
    return reply.status(204).send();
  });
}

function graphRoutes(app: Api, { db, time, cached }: Routes): void {
  app.get(
    '/graph/tools/:id/neighbourhood',
    { schema: { params: s.idParams, querystring: s.neighbourhoodQuery } },
    (req, reply) => {
      const { depth = s.DEFAULT_DEPTH } = req.query;
      return cached(reply, cacheKey('neighbourhood', [req.params.id.toLowerCase(), depth]), () =>
        repo.toolNeighbourhood(db, req.params.id, depth, MAX_GRAPH_NODES, time),
      );
    },
  );
}

function planRoutes(app: Api, { db, time, cached }: Routes): void {
  app.post('/plan', { schema: { body: s.planBody } }, async (req, reply) => {
    const goal = req.body.goal.trim();
    const { limit = s.DEFAULT_PLAN_LIMIT } = req.body;
    const terms = goalTerms(goal);
    if (terms.length === 0) throw badRequest('body.goal', 'has no searchable words');
    return cached(reply, cacheKey('plan', [terms, limit]), () =>
      time('plan', () => plan(db, goal, terms, limit, time)),
    );
  });
}

async function plan(db: repo.Queryable, goal: string, terms: string[], limit: number, time: repo.Timer) {
  const ranked = await repo.rankForTerms(db, terms, limit, time);
  if (ranked.length === 0) return { goal, tools: [], path: [] };
  const ids = ranked.map((r) => r.id);
  const [prompts, graph] = await Promise.all([
    repo.promptsFor(db, ids, 3),
    repo.neighbourhood(db, ids, 2, MAX_GRAPH_NODES, time),
  ]);
  const best = ranked[0]!.rank || 1;
  return {
    goal,
    tools: ranked.map((r) => ({
      id: r.id,
      slug: r.slug,
      name: r.name,
      score: Math.round((r.rank / best) * 1000) / 1000,
      prompts: (prompts.get(r.id) ?? []).map((p) => ({ id: p.id, title: p.title, template: p.template })),
    })),
    path: buildPath(ids, graph.nodes, graph.edges),
  };
}
