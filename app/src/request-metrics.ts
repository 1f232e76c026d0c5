/**
 * The per-request metrics, http_request_duration_seconds (histogram) and http_requests_total (counter), kept
 * as one tally per label set, and cache_requests_total (a LabelCounter), all listed through prom-client's
 * registry exactly as its own Histogram and Counter list them (app/test/request-metrics.test.ts holds both
 * outputs equal).
 *
 * Why not prom-client's classes: every observe() there validates the label object, hashes it (sorting its
 * keys) and turns the bucket's bound into a property name, for the histogram and again for the counter,
 * about 6% of a cached read's CPU under the profiler (docs/performance.md). Here a request finds its tally
 * by three Map lookups on values that repeat (the route template, the method, the status code) and bumps
 * numbers; the counter is the histogram's count, so one tally serves both. Label sets are bounded by the
 * code: route templates ('unmatched' for no route), the methods node's parser accepts, status codes.
 */
import type client from 'prom-client';

export type HttpLabel = 'route' | 'method' | 'status_code';

interface Tally {
  readonly labels: Record<HttpLabel, string>;
  /** Observations per bucket (not cumulative), in the order of the bounds. */
  readonly buckets: Float64Array;
  sum: number;
  count: number;
}

/** What prom-client's registry reads of a metric (its `get` and, when present, `getForPromString`). */
interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
  sharedLabels?: Record<string, string>;
  exemplar?: null | undefined;
}
interface MetricData {
  name: string;
  help: string;
  type: 'histogram' | 'counter';
  values: MetricValue[];
  aggregator: 'sum';
}

export interface MetricDefinition {
  readonly name: string;
  readonly help: string;
}

export class RequestMetrics {
  private readonly bounds: Float64Array;
  /** route -> method -> status code -> tally. */
  private readonly tallies = new Map<string, Map<string, Map<number, Tally>>>();
  /** In the order first seen, as prom-client lists label sets. */
  private readonly order: Tally[] = [];

  constructor(
    private readonly histogram: MetricDefinition & { readonly buckets: readonly number[] },
    private readonly counter: MetricDefinition,
  ) {
    this.bounds = Float64Array.from(histogram.buckets);
  }

  observe(route: string, method: string, statusCode: number, seconds: number): void {
    const tally = this.tally(route, method, statusCode);
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    // Above the last bound: counted in +Inf (the count) only, as prom-client does.
    if (i < bounds.length) tally.buckets[i]! += 1;
    tally.sum += seconds;
    tally.count += 1;
  }

  /** Both metrics, to be added to a registry with `registerMetric`. */
  metrics(): [client.Metric, client.Metric] {
    return [this.histogramView() as unknown as client.Metric, this.counterView() as unknown as client.Metric];
  }

  private tally(route: string, method: string, statusCode: number): Tally {
    let byMethod = this.tallies.get(route);
    if (!byMethod) this.tallies.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let tally = byStatus.get(statusCode);
    if (!tally) {
      tally = {
        labels: { route, method, status_code: String(statusCode) },
        buckets: new Float64Array(this.bounds.length),
        sum: 0,
        count: 0,
      };
      byStatus.set(statusCode, tally);
      this.order.push(tally);
    }
    return tally;
  }

  private reset(): void {
    this.tallies.clear();
    this.order.length = 0;
  }

  /** prom-client's Histogram layout: per label set the cumulative buckets, +Inf, _sum, _count. */
  private histogramValues(name: string): MetricValue[] {
    const values: MetricValue[] = [];
    for (const t of this.order) {
      let cumulative = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        cumulative += t.buckets[i]!;
        values.push(shared({ le: this.bounds[i]! }, cumulative, `${name}_bucket`, t.labels, null));
      }
      values.push(shared({ le: '+Inf' }, t.count, `${name}_bucket`, t.labels, null));
      values.push(shared({}, t.sum, `${name}_sum`, t.labels, undefined));
      values.push(shared({}, t.count, `${name}_count`, t.labels, undefined));
    }
    return values;
  }

  /** The registry may rename a metric (OpenMetrics drops a counter's _total): its data follows `view.name`. */
  private histogramView() {
    const view = {
      name: this.histogram.name,
      help: this.histogram.help,
      type: 'histogram' as const,
      aggregator: 'sum' as const,
      getForPromString: async (): Promise<MetricData> => ({ ...meta(view), values: this.histogramValues(view.name) }),
      get: async (): Promise<MetricData> => ({ ...meta(view), values: this.histogramValues(view.name).map(splay) }),
      reset: () => this.reset(),
    };
    return view;
  }

  private counterView() {
    return counterMetric(
      this.counter,
      () => this.order.map((t) => ({ value: t.count, labels: t.labels })),
      () => this.reset(),
    );
  }
}

/**
 * A counter of one label (cache lookups by outcome): prom-client's Counter output, without its validation
 * and hashing of the label object on every inc.
 */
export class LabelCounter<L extends string> {
  private readonly counts = new Map<string, { labels: Record<L, string>; value: number }>();

  constructor(
    private readonly definition: MetricDefinition,
    private readonly label: L,
  ) {}

  inc(value: string): void {
    let c = this.counts.get(value);
    if (!c) this.counts.set(value, (c = { labels: { [this.label]: value } as Record<L, string>, value: 0 }));
    c.value += 1;
  }

  /** The counter, to be added to a registry with `registerMetric`. */
  metric(): client.Metric {
    return counterMetric(
      this.definition,
      () => [...this.counts.values()].map((c) => ({ value: c.value, labels: c.labels })),
      () => this.counts.clear(),
    ) as unknown as client.Metric;
  }
}

/** A counter as prom-client's registry reads one; its data follows `view.name` (see histogramView). */
function counterMetric(definition: MetricDefinition, values: () => MetricValue[], reset: () => void) {
  const view = {
    name: definition.name,
    help: definition.help,
    type: 'counter' as const,
    aggregator: 'sum' as const,
    get: async (): Promise<MetricData> => ({ ...meta(view), values: values() }),
    reset,
  };
  return view;
}

/** What a metric's data says of itself. */
function meta(view: Pick<MetricData, 'name' | 'help' | 'type' | 'aggregator'>) {
  return { name: view.name, help: view.help, type: view.type, aggregator: view.aggregator };
}

function shared(
  labels: Record<string, string | number>,
  value: number,
  metricName: string,
  sharedLabels: Record<string, string>,
  exemplar: null | undefined,
): MetricValue {
  return { labels, sharedLabels, value, metricName, exemplar };
}

/** prom-client's `get()` merges the label set into each value's own labels. */
function splay({ sharedLabels, labels, ...rest }: MetricValue): MetricValue {
  return { ...rest, labels: { ...labels, ...sharedLabels } };
}
