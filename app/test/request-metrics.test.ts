import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LabelCounter, RequestMetrics } from '../src/request-metrics.js';
import { HTTP_BUCKETS } from '../src/metrics.js';

const HIST = { name: 'http_request_duration_seconds', help: 'HTTP request duration', buckets: HTTP_BUCKETS };
const COUNT = { name: 'http_requests_total', help: 'HTTP requests' };
const labelNames = ['route', 'method', 'status_code'] as const;

/** The same requests into prom-client's own Histogram and Counter, and into RequestMetrics. */
function both(openMetrics = false) {
  const oracle = registry(openMetrics);
  const hist = new client.Histogram({ ...HIST, labelNames, registers: [oracle] });
  const counter = new client.Counter({ ...COUNT, labelNames, registers: [oracle] });
  const ours = registry(openMetrics);
  const requests = new RequestMetrics(HIST, COUNT);
  for (const m of requests.metrics()) ours.registerMetric(m);
  const observe = (route: string, method: string, status: number, seconds: number) => {
    const labels = { route, method, status_code: String(status) };
    hist.observe(labels, seconds);
    counter.inc(labels);
    requests.observe(route, method, status, seconds);
  };
  return { oracle, ours, observe };
}

function registry(openMetrics: boolean): client.Registry<client.RegistryContentType> {
  const r = new client.Registry<client.RegistryContentType>();
  if (openMetrics) r.setContentType(client.Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}

/** Deterministic pseudo-random requests: values on, between, below and above every bound. */
function feed(observe: ReturnType<typeof both>['observe'], n: number) {
  const routes = ['/api/v1/tools/:id', '/api/v1/tools', 'unmatched', '/healthz'];
  const methods = ['GET', 'POST', 'DELETE'];
  const statuses = [200, 201, 404, 429, 500, 503];
  const values = [0, 1e-6, ...HTTP_BUCKETS, ...HTTP_BUCKETS.map((b) => b * 1.0001), 11, 123.4];
  let x = 7;
  const next = (k: number) => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % k);
  for (let i = 0; i < n; i++) {
    observe(
      routes[next(routes.length)]!,
      methods[next(methods.length)]!,
      statuses[next(statuses.length)]!,
      values[next(values.length)]!,
    );
  }
}

describe('RequestMetrics against prom-client', () => {
  it('lists exactly what prom-client lists, as text and as JSON', async () => {
    const { oracle, ours, observe } = both();
    feed(observe, 5_000);
    expect(await ours.metrics()).toBe(await oracle.metrics());
    expect(await ours.getMetricsAsJSON()).toEqual(await oracle.getMetricsAsJSON());
  });

  it('the same before anything is observed, after a reset, and under default labels', async () => {
    const { oracle, ours, observe } = both();
    expect(await ours.metrics()).toBe(await oracle.metrics());
    feed(observe, 300);
    oracle.resetMetrics();
    ours.resetMetrics();
    expect(await ours.metrics()).toBe(await oracle.metrics());
    feed(observe, 300);
    oracle.setDefaultLabels({ app: 'kgraph' });
    ours.setDefaultLabels({ app: 'kgraph' });
    expect(await ours.metrics()).toBe(await oracle.metrics());
  });

  it('the same in OpenMetrics, where a counter loses its _total suffix', async () => {
    const { oracle, ours, observe } = both(true);
    feed(observe, 500);
    expect(await ours.metrics()).toBe(await oracle.metrics());
  });

  it('merges into an aggregate of several registries like prom-client (cluster mode sums them)', async () => {
    const a = both();
    const b = both();
    feed(a.observe, 200);
    feed(b.observe, 300);
    const expected = client.AggregatorRegistry.aggregate([
      await a.oracle.getMetricsAsJSON(),
      await b.oracle.getMetricsAsJSON(),
    ]);
    const got = client.AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
    expect(await got.metrics()).toBe(await expected.metrics());
  });

  it('a value on a bound counts in that bucket; one above the last only in +Inf, _sum and _count', async () => {
    const requests = new RequestMetrics({ ...HIST, buckets: [0.1, 1] }, COUNT);
    const registry = new client.Registry();
    for (const m of requests.metrics()) registry.registerMetric(m);
    requests.observe('/r', 'GET', 200, 0.1);
    requests.observe('/r', 'GET', 200, 5);
    const text = await registry.metrics();
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="0.1",route="/r",method="GET",status_code="200"} 1',
    );
    expect(text).toContain('http_request_duration_seconds_bucket{le="1",route="/r",method="GET",status_code="200"} 1');
    expect(text).toContain(
      'http_request_duration_seconds_bucket{le="+Inf",route="/r",method="GET",status_code="200"} 2',
    );
    expect(text).toContain('http_request_duration_seconds_sum{route="/r",method="GET",status_code="200"} 5.1');
    expect(text).toContain('http_requests_total{route="/r",method="GET",status_code="200"} 2');
  });
});

describe('LabelCounter against prom-client', () => {
  it('lists what a prom-client Counter of one label lists, in both formats, after a reset too', async () => {
    for (const openMetrics of [false, true]) {
      const oracle = registry(openMetrics);
      const counter = new client.Counter({
        name: 'cache_requests_total',
        help: 'lookups',
        labelNames: ['outcome'],
        registers: [oracle],
      });
      const ours = registry(openMetrics);
      const tally = new LabelCounter({ name: 'cache_requests_total', help: 'lookups' }, 'outcome');
      ours.registerMetric(tally.metric());
      expect(await ours.metrics()).toBe(await oracle.metrics());
      const outcomes = ['hit', 'miss', 'hit', 'coalesced', 'bypass', 'hit', 'weird "quoted" \\ value\n'];
      for (let i = 0; i < 200; i++) {
        const outcome = outcomes[(i * 7) % outcomes.length]!;
        counter.inc({ outcome });
        tally.inc(outcome);
      }
      expect(await ours.metrics()).toBe(await oracle.metrics());
      expect(await ours.getMetricsAsJSON()).toEqual(await oracle.getMetricsAsJSON());
      oracle.resetMetrics();
      ours.resetMetrics();
      tally.inc('hit');
      counter.inc({ outcome: 'hit' });
      expect(await ours.metrics()).toBe(await oracle.metrics());
    }
  });
});
