import { describe, expect, it } from 'vitest';
import { parsePromText, PromParseError } from '../../../src/platform/metrics/prom-text.js';
import {
  bucketsOf,
  histogramQuantile,
  mergeBuckets,
  subtractBuckets,
} from '../../../src/platform/metrics/histogram.js';

const EXPOSITION = `# HELP http_requests_total Requests
# TYPE http_requests_total counter
http_requests_total{route="/api/v1/tools",method="GET",status_code="200"} 1027
http_requests_total{route="/api/v1/tools",method="GET",status_code="503"} 3 1712345678000
http_requests_total{route="/weird \\"q\\" \\\\ x\\n",method="GET",status_code="200"} 1
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.1",route="/api/v1/tools",method="GET",status_code="200"} 90
http_request_duration_seconds_bucket{le="1",route="/api/v1/tools",method="GET",status_code="200"} 100
http_request_duration_seconds_bucket{le="+Inf",route="/api/v1/tools",method="GET",status_code="200"} 100
http_request_duration_seconds_bucket{le="0.1",route="/api/v1/plan",method="POST",status_code="200"} 0
http_request_duration_seconds_bucket{le="1",route="/api/v1/plan",method="POST",status_code="200"} 50
http_request_duration_seconds_bucket{le="+Inf",route="/api/v1/plan",method="POST",status_code="200"} 100
process_start_time_seconds 1712345000
nodejs_gc_flags NaN
neg -Inf
`;

describe('parsePromText', () => {
  it('reads names, labels (with escapes), values and ignores timestamps and comments', () => {
    const s = parsePromText(EXPOSITION);
    expect(s).toHaveLength(12);
    expect(s[0]).toEqual({
      name: 'http_requests_total',
      labels: { route: '/api/v1/tools', method: 'GET', status_code: '200' },
      value: 1027,
    });
    expect(s[1]!.value).toBe(3);
    expect(s[2]!.labels.route).toBe('/weird "q" \\ x\n');
    expect(s[5]!.labels.le).toBe('+Inf');
    expect(s.find((x) => x.name === 'process_start_time_seconds')!.value).toBe(1712345000);
    expect(Number.isNaN(s.find((x) => x.name === 'nodejs_gc_flags')!.value)).toBe(true);
    expect(s.find((x) => x.name === 'neg')!.value).toBe(Number.NEGATIVE_INFINITY);
  });

  it("reads special values case-insensitively, as Prometheus (Go's ParseFloat) does: prom-client writes NaN as Nan", () => {
    const v = (text: string) => parsePromText(`m ${text}\n`)[0]!.value;
    for (const nan of ['NaN', 'Nan', 'nan']) expect(Number.isNaN(v(nan)), nan).toBe(true);
    for (const inf of ['+Inf', 'Inf', 'inf', '+Infinity', 'infinity'])
      expect(v(inf), inf).toBe(Number.POSITIVE_INFINITY);
    for (const inf of ['-Inf', '-inf', '-Infinity']) expect(v(inf), inf).toBe(Number.NEGATIVE_INFINITY);
    for (const bad of ['nann', '+nan', 'infin', '0x1', ''])
      expect(() => parsePromText(`m ${bad}\n`), bad).toThrow(PromParseError);
  });

  it('rejects malformed lines with the line number', () => {
    expect(() => parsePromText('ok 1\nbad{route="x" 1')).toThrow(/line 2/);
    expect(() => parsePromText('x{a="1"} abc')).toThrow(PromParseError);
    expect(() => parsePromText('x 0x10')).toThrow(/invalid sample value/);
    expect(() => parsePromText('{a="1"} 1')).toThrow(/metric name/);
    expect(() => parsePromText('x')).toThrow(/value/);
  });
});

describe('histograms', () => {
  it('sums series by bound and computes the quantile like Prometheus', () => {
    const b = bucketsOf(parsePromText(EXPOSITION), 'http_request_duration_seconds', () => true);
    expect(b).toEqual([
      { le: 0.1, count: 90 },
      { le: 1, count: 150 },
      { le: Number.POSITIVE_INFINITY, count: 200 },
    ]);
    // rank 100 of 200 lies in (0.1, 1]: 10 of 60 into the bucket.
    expect(histogramQuantile(0.5, b)).toBeCloseTo(0.1 + 0.9 * (10 / 60), 10);
    // rank 190 is in +Inf: Prometheus answers the highest finite bound.
    expect(histogramQuantile(0.95, b)).toBe(1);
  });

  it('filters series by label', () => {
    const b = bucketsOf(parsePromText(EXPOSITION), 'http_request_duration_seconds', (l) => l.route === '/api/v1/plan');
    expect(histogramQuantile(0.5, b)).toBe(1);
    expect(histogramQuantile(0.25, b)).toBeCloseTo(0.55, 10);
  });

  it('interpolates from zero in the first bucket and lands exactly on a bound', () => {
    const b = [
      { le: 2, count: 95 },
      { le: 2.5, count: 100 },
      { le: Number.POSITIVE_INFINITY, count: 100 },
    ];
    expect(histogramQuantile(0.95, b)).toBe(2);
    expect(histogramQuantile(0.5, b)).toBeCloseTo(2 * (50 / 95), 10);
  });

  it('answers undefined when there is nothing to measure, and evens out non-monotonic scrapes', () => {
    expect(histogramQuantile(0.95, [])).toBeUndefined();
    expect(histogramQuantile(0.95, [{ le: 1, count: 3 }])).toBeUndefined();
    expect(
      histogramQuantile(0.95, [
        { le: 1, count: 0 },
        { le: Number.POSITIVE_INFINITY, count: 0 },
      ]),
    ).toBeUndefined();
    expect(
      histogramQuantile(0.5, [
        { le: 1, count: 10 },
        { le: 2, count: 8 },
        { le: Number.POSITIVE_INFINITY, count: 10 },
      ]),
    ).toBeCloseTo(0.5, 10);
    expect(() => histogramQuantile(1.5, [])).toThrow(RangeError);
  });

  it('merges and subtracts bucket lists', () => {
    const a = [
      { le: 1, count: 5 },
      { le: Number.POSITIVE_INFINITY, count: 7 },
    ];
    expect(mergeBuckets([a, a])).toEqual([
      { le: 1, count: 10 },
      { le: Number.POSITIVE_INFINITY, count: 14 },
    ]);
    expect(subtractBuckets(a, [{ le: 1, count: 2 }])).toEqual([
      { le: 1, count: 3 },
      { le: Number.POSITIVE_INFINITY, count: 7 },
    ]);
  });
});
