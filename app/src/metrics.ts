/** Prometheus metrics on a registry of the app's own (so several apps can live in one test process). */
import client from 'prom-client';
import type pg from 'pg';

export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

export interface Metrics {
  readonly registry: client.Registry;
  readonly httpDuration: client.Histogram<'route' | 'method' | 'status_code'>;
  readonly httpTotal: client.Counter<'route' | 'method' | 'status_code'>;
  readonly graphQueryDuration: client.Histogram<'query'>;
  readonly cacheRequests: client.Counter<'outcome'>;
  /** Time a read waited for a free Postgres connection (apart from the query itself). */
  readonly poolWait: client.Histogram;
  time<T>(query: string, fn: () => Promise<T>): Promise<T>;
  /** One finished request in http_request_duration_seconds and http_requests_total. */
  observeRequest(route: string, method: string, statusCode: number, seconds: number): void;
  countCache(outcome: string): void;
}

/** Label sets seen so far get their metric children kept, up to this many (routes are templates). */
const MAX_REQUEST_LABEL_SETS = 1_000;

export function createMetrics(opts: {
  pool: pg.Pool;
  appName: string;
  /** Open client connections of the HTTP server (0 before it listens). */
  connections?: () => Promise<number>;
}): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    buckets: HTTP_BUCKETS,
    registers: [registry],
  });
  const httpTotal = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by route template, method and status code',
    labelNames: ['route', 'method', 'status_code'] as const,
    registers: [registry],
  });
  const graphQueryDuration = new client.Histogram({
    name: 'graph_query_duration_seconds',
    help: 'Duration of search and graph queries against Postgres',
    labelNames: ['query'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const cacheRequests = new client.Counter({
    name: 'cache_requests_total',
    help: 'Read cache lookups by outcome (hit, miss, coalesced with an identical lookup in flight, bypass when Redis is unavailable)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const poolWait = new client.Histogram({
    name: 'db_pool_wait_seconds',
    help: 'Time a read waited to check a connection out of the Postgres pool',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  new client.Gauge({
    name: 'db_pool_connections',
    help: 'Postgres pool connections by state (total, idle, active, waiting requests)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const { totalCount, idleCount, waitingCount } = opts.pool;
      this.set({ state: 'total' }, totalCount);
      this.set({ state: 'idle' }, idleCount);
      this.set({ state: 'active' }, totalCount - idleCount);
      this.set({ state: 'waiting' }, waitingCount);
    },
  });
  new client.Gauge({
    name: 'http_active_connections',
    help: 'Open client connections of the HTTP server',
    registers: [registry],
    async collect() {
      this.set((await opts.connections?.()) ?? 0);
    },
  });
  const time = async <T>(query: string, fn: () => Promise<T>): Promise<T> => {
    const end = graphQueryDuration.startTimer({ query });
    try {
      return await fn();
    } finally {
      end();
    }
  };
  // prom-client hashes a label object on every observe (sorting its keys); a request's labels repeat, so
  // each label set's children are looked up once and kept.
  const children = new Map<
    string,
    { duration: client.Histogram.Internal<'route' | 'method' | 'status_code'>; total: client.Counter.Internal }
  >();
  const observeRequest = (route: string, method: string, statusCode: number, seconds: number) => {
    const key = `${statusCode} ${method} ${route}`;
    let c = children.get(key);
    if (!c) {
      const labels = { route, method, status_code: String(statusCode) };
      c = { duration: httpDuration.labels(labels), total: httpTotal.labels(labels) };
      if (children.size < MAX_REQUEST_LABEL_SETS) children.set(key, c);
    }
    c.duration.observe(seconds);
    c.total.inc();
  };
  const outcomes = new Map<string, client.Counter.Internal>();
  const countCache = (outcome: string) => {
    let c = outcomes.get(outcome);
    if (!c) outcomes.set(outcome, (c = cacheRequests.labels({ outcome })));
    c.inc();
  };
  return {
    registry,
    httpDuration,
    httpTotal,
    graphQueryDuration,
    cacheRequests,
    poolWait,
    time,
    observeRequest,
    countCache,
  };
}
