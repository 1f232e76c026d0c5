/** Prometheus metrics on a registry of the app's own (so several apps can live in one test process). */
import client from 'prom-client';
import type pg from 'pg';
import { LabelCounter, RequestMetrics, type HttpLabel } from './request-metrics.js';

export const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

export interface Metrics {
  readonly registry: client.Registry;
  readonly graphQueryDuration: client.Histogram<'query'>;
  /** Time a read waited for a free Postgres connection (apart from the query itself). */
  readonly poolWait: client.Histogram;
  time<T>(query: string, fn: () => Promise<T>): Promise<T>;
  /** One finished request in http_request_duration_seconds and http_requests_total. */
  observeRequest(route: string, method: string, statusCode: number, seconds: number): void;
  countCache(outcome: string): void;
}

const HTTP_LABELS: readonly HttpLabel[] = ['route', 'method', 'status_code'];

/**
 * The app's own metrics as dashboards and alert rules know them (name, help, labels, buckets), in the order
 * they are registered (and listed on /metrics).
 */
const DEFINITIONS = {
  httpDuration: {
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route template, method and status code',
    labelNames: HTTP_LABELS,
    buckets: HTTP_BUCKETS,
  } satisfies client.HistogramConfiguration<HttpLabel>,
  httpTotal: {
    name: 'http_requests_total',
    help: 'HTTP requests by route template, method and status code',
    labelNames: HTTP_LABELS,
  } satisfies client.CounterConfiguration<HttpLabel>,
  graphQueryDuration: {
    name: 'graph_query_duration_seconds',
    help: 'Duration of search and graph queries against Postgres',
    labelNames: ['query'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  } satisfies client.HistogramConfiguration<'query'>,
  cacheRequests: {
    name: 'cache_requests_total',
    help: 'Read cache lookups by outcome (hit, miss, coalesced with an identical lookup in flight, bypass when Redis is unavailable)',
    labelNames: ['outcome'] as const,
  } satisfies client.CounterConfiguration<'outcome'>,
  poolWait: {
    name: 'db_pool_wait_seconds',
    help: 'Time a read waited to check a connection out of the Postgres pool',
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  } satisfies client.HistogramConfiguration<string>,
};

/** Gauges read at scrape time from what they watch (registered after the metrics above). */
const poolConnections = (pool: pg.Pool): client.GaugeConfiguration<'state'> => ({
  name: 'db_pool_connections',
  help: 'Postgres pool connections by state (total, idle, active, waiting requests)',
  labelNames: ['state'] as const,
  collect() {
    const { totalCount, idleCount, waitingCount } = pool;
    this.set({ state: 'total' }, totalCount);
    this.set({ state: 'idle' }, idleCount);
    this.set({ state: 'active' }, totalCount - idleCount);
    this.set({ state: 'waiting' }, waitingCount);
  },
});

const activeConnections = (connections: (() => Promise<number>) | undefined): client.GaugeConfiguration<string> => ({
  name: 'http_active_connections',
  help: 'Open client connections of the HTTP server',
  async collect() {
    this.set((await connections?.()) ?? 0);
  },
});

export function createMetrics(opts: {
  pool: pg.Pool;
  appName: string;
  /** Open client connections of the HTTP server (0 before it listens). */
  connections?: () => Promise<number>;
}): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Not prom-client's Histogram and Counters: see request-metrics.ts (same names, help, labels and output).
  const requests = new RequestMetrics(DEFINITIONS.httpDuration, DEFINITIONS.httpTotal);
  for (const metric of requests.metrics()) registry.registerMetric(metric);
  const cacheRequests = new LabelCounter(DEFINITIONS.cacheRequests, 'outcome');
  const graphQueryDuration = new client.Histogram({ ...DEFINITIONS.graphQueryDuration, registers });
  registry.registerMetric(cacheRequests.metric());
  const poolWait = new client.Histogram({ ...DEFINITIONS.poolWait, registers });
  new client.Gauge({ ...poolConnections(opts.pool), registers });
  new client.Gauge({ ...activeConnections(opts.connections), registers });
  return {
    registry,
    graphQueryDuration,
    poolWait,
    time: queryTimer(graphQueryDuration),
    observeRequest: (route, method, statusCode, seconds) => requests.observe(route, method, statusCode, seconds),
    countCache: (outcome) => cacheRequests.inc(outcome),
  };
}

/** Times one query into graph_query_duration_seconds under its name. */
function queryTimer(histogram: client.Histogram<'query'>): Metrics['time'] {
  return async <T>(query: string, fn: () => Promise<T>): Promise<T> => {
    const end = histogram.startTimer({ query });
    try {
      return await fn();
    } finally {
      end();
    }
  };
}
