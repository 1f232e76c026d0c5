/**
 * Reads through a Queryable that checks a connection out of the pool, runs the one statement and gives
 * the connection back, as pg's pool.query does, but timing the checkout on its own: the wait for a free
 * connection (db_pool_wait_seconds) is told apart from the query itself (graph_query_duration_seconds
 * covers both), which says whether a slow read waited for the pool or for Postgres.
 */
import type pg from 'pg';
import type { Queryable } from './repo.js';

export function waitTimedQueries(pool: Pick<pg.Pool, 'connect'>, observeWait: (seconds: number) => void): Queryable {
  const query = async (text: string, values?: unknown[]) => {
    const started = performance.now();
    const client = await pool.connect();
    observeWait((performance.now() - started) / 1000);
    try {
      const res = await client.query(text, values);
      client.release();
      return res;
    } catch (err) {
      // As pool.query does: a client whose statement failed may be broken (a cut, a timeout), so destroy it.
      client.release(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  };
  return { query: query as Queryable['query'] };
}
