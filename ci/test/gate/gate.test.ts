import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../src/definitions/environments.js';
import { isPass } from '../../src/definitions/verdict.js';
import { displayUrl, runLatencyGate } from '../../src/gate/latency.js';
import type { LoadClient, LoadRequest, LoadResult, ScheduleOptions } from '../../src/gate/load/index.js';
import { gateMarkdown } from '../../src/gate/report.js';
import { judgeGate, judgeRoute, type RouteMeasurement } from '../../src/gate/verdict.js';

const ENV = ENVIRONMENTS.staging;
const CFG = ENV.latencyGate;
const T = CFG.thresholds;
const N = CFG.requestsPerSecond * CFG.durationSeconds;

function measured(over: Partial<RouteMeasurement> = {}): RouteMeasurement {
  return {
    scenario: 'plan',
    class: 'graph',
    path: '/api/v1/plan',
    conditions: {
      method: 'POST',
      pathTemplate: '/api/v1/plan',
      requestedRate: CFG.requestsPerSecond,
      scheduledSeconds: CFG.durationSeconds,
      rounds: 1,
      maxConcurrency: CFG.maxConcurrency,
    },
    scheduled: N,
    sent: N,
    responses: N,
    non2xx: 0,
    rateLimited: 0,
    serverErrors: 0,
    socketErrors: 0,
    transportFailures: { refused: 0, reset: 0, closed: 0, malformed: 0, other: 0 },
    timeouts: 0,
    retries: 0,
    statusCodes: { 200: N },
    lateSends: 0,
    maxLateMs: 1,
    capWaits: 0,
    maxInFlight: 3,
    samples: N,
    latency: { p50: T.apiP50Ms / 2, p90: 60, p95: T.graphP95Ms / 2, p99: 300, max: 400, min: 1, mean: 40 },
    percentiles: [
      [50, T.apiP50Ms / 2],
      [100, 400],
    ],
    ...over,
  };
}

const judge = (m: RouteMeasurement) => judgeRoute({ candidate: m }, CFG);
const check = (v: ReturnType<typeof judge>, name: string) => v.checks.find((c) => c.name === name)!;

describe('judgeRoute: limits', () => {
  it('passes a valid run inside every limit and says why', () => {
    const v = judge(measured());
    expect(v.outcome).toBe('passed');
    expect(v.checks.map((c) => [c.name, c.outcome])).toEqual([
      ['responses', 'passed'],
      ['clientSchedule', 'passed'],
      ['achievedRate', 'passed'],
      ['samples', 'passed'],
      ['errorRate', 'passed'],
      ['p50', 'passed'],
      ['p95', 'passed'],
    ]);
    expect(v.reasons).toEqual([expect.stringMatching(/^plan passed: .*p95 250ms < 500ms/)]);
  });

  it('fails at exactly the limits (strictly below is required)', () => {
    const v = judge(measured({ latency: { ...measured().latency!, p50: T.apiP50Ms, p95: T.graphP95Ms } }));
    expect(v.outcome).toBe('failed');
    expect(v.reasons).toEqual([
      `plan: p50 ${T.apiP50Ms}ms >= ${T.apiP50Ms}ms`,
      `plan: p95 ${T.graphP95Ms}ms >= ${T.graphP95Ms}ms (graph route)`,
    ]);
  });

  it('checks p95 only on graph routes', () => {
    const slowTail = { ...measured().latency!, p95: T.graphP95Ms * 4 };
    expect(judge(measured({ class: 'api', scenario: 'search', latency: slowTail })).outcome).toBe('passed');
    expect(judge(measured({ latency: slowTail })).outcome).toBe('failed');
  });

  // Issue 16.1: exact counts and a verdict from values computed here, each error kind on its own, so a
  // gate that counted only non-2xx (or left out socket errors or timeouts) goes red.
  it.each([
    { non2xx: 1, socketErrors: 1, timeouts: 1 },
    { non2xx: 0, socketErrors: 2, timeouts: 0 },
    { non2xx: 0, socketErrors: 0, timeouts: 2 },
    { non2xx: 2, socketErrors: 0, timeouts: 0 },
    { non2xx: 1, socketErrors: 0, timeouts: 0 },
    { non2xx: 0, socketErrors: 1, timeouts: 0 },
  ])('counts non-2xx, connection errors and timeouts as errors: %o', (e) => {
    const sent = 2000;
    // A connection error or a timeout is a request sent without a response.
    const responses = sent - e.socketErrors - e.timeouts;
    const m = measured({
      sent,
      scheduled: sent,
      responses,
      samples: responses + e.timeouts,
      ...e,
      serverErrors: e.non2xx,
      statusCodes: { 200: responses - e.non2xx, ...(e.non2xx ? { 500: e.non2xx } : {}) },
      transportFailures: { refused: 0, reset: e.socketErrors, closed: 0, malformed: 0, other: 0 },
      conditions: { ...measured().conditions, scheduledSeconds: sent / CFG.requestsPerSecond },
    });
    const errors = e.non2xx + e.socketErrors + e.timeouts;
    const expectedRate = errors / sent;
    // 2 of 2000 is 0.1%: not strictly below the 0.1% limit.
    const expectedOutcome = errors * 1000 < sent ? 'passed' : 'failed';
    const v = judge(m);
    expect(v.errorRate).toBe(expectedRate);
    expect(check(v, 'errorRate').actual).toBe(expectedRate);
    expect(check(v, 'errorRate').outcome).toBe(expectedOutcome);
    expect(v.outcome).toBe(expectedOutcome);
    const parts = [
      ...(e.non2xx ? [`${e.non2xx} HTTP 500`] : []),
      ...(e.socketErrors ? [`${e.socketErrors} connection errors (${e.socketErrors} reset)`] : []),
      ...(e.timeouts ? [`${e.timeouts} timeouts`] : []),
    ];
    expect(check(v, 'errorRate').reasons.join('; ')).toBe(
      `plan: error rate ${Math.round(expectedRate * 1e5) / 1e3}% (${parts.join(', ')} of ${sent} sent) ${expectedOutcome === 'passed' ? '<' : '>='} 0.1%`,
    );
  });

  it('a 429 is the rate limiter, not an error of the service: inconclusive with what to change, not a failed error rate', () => {
    const refused = 30;
    const m = measured({
      non2xx: refused,
      rateLimited: refused,
      statusCodes: { 200: N - refused, 429: refused },
      samples: N - refused,
    });
    const v = judge(m);
    expect(v.outcome).toBe('inconclusive');
    expect(check(v, 'errorRate').outcome).toBe('passed');
    expect(check(v, 'errorRate').reasons.join('; ')).toBe(
      `plan: error rate 0% (no errors of ${N - refused} sent) < 0.1%`,
    );
    expect(v.reasons).toEqual([
      `plan: the service's rate limit refused ${refused} of ${N}: raise RATE_LIMIT_MAX for the gate's key or lower the rate`,
    ]);
    // Server errors beside the refusals still fail.
    const failing = judge(
      measured({
        ...m,
        non2xx: refused + 10,
        serverErrors: 10,
        statusCodes: { 200: N - refused - 10, 429: refused, 503: 10 },
      }),
    );
    expect(failing.outcome).toBe('failed');
    expect(check(failing, 'errorRate').reasons.join('; ')).toMatch(/\(10 HTTP 503 of \d+ sent\)/);
  });
});

describe('judgeRoute: inconclusive when the measurement cannot support a decision', () => {
  it('no responses', () => {
    const v = judge(measured({ responses: 0, socketErrors: N, samples: 0, latency: undefined, percentiles: [] }));
    expect(v.outcome).toBe('failed'); // every request an error: the error rate stands on its own
    const none = judge(measured({ sent: 0, responses: 0, samples: 0, latency: undefined, percentiles: [] }));
    expect(none.outcome).toBe('inconclusive');
    expect(none.reasons[0]).toMatch(/^plan: no responses to 0 requests .*nothing to judge/);
  });

  it('client saturated: late sends over the allowed share, or requests held back at the cap', () => {
    const late = Math.floor(N * CFG.maxLateSendRatio) + 1;
    const v = judge(measured({ lateSends: late, maxLateMs: 80 }));
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons).toEqual([expect.stringMatching(new RegExp(`^plan: client saturated: ${late} of ${N} sends`))]);
    expect(judge(measured({ lateSends: late - 1 })).outcome).toBe('passed');
    expect(judge(measured({ capWaits: 1 })).outcome).toBe('inconclusive');
  });

  it('a latency failure on a saturated client is not trusted (inconclusive); an error-rate failure is', () => {
    const saturated = { lateSends: N, maxLateMs: 900 };
    const slow = judge(measured({ ...saturated, latency: { ...measured().latency!, p95: T.graphP95Ms * 2 } }));
    expect(slow.outcome).toBe('inconclusive');
    expect(slow.reasons.some((r) => /p95 .* >= 500ms .*not trusted/.test(r))).toBe(true);
    expect(judge(measured({ ...saturated, non2xx: N / 10 })).outcome).toBe('failed');
  });

  it('achieved rate under the required share of the requested rate', () => {
    const needed = CFG.minAchievedRateRatio * N;
    expect(judge(measured({ responses: Math.ceil(needed) })).outcome).toBe('passed');
    const v = judge(measured({ responses: Math.floor(needed) - 1, sent: Math.floor(needed) - 1 }));
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons[0]).toMatch(/achieved .* < the 90% needed: the load was not applied/);
  });

  it('too few samples for the percentile judged (p95 needs minTailSamples above it)', () => {
    const needed = Math.ceil(CFG.minTailSamples / 0.05);
    const few = {
      sent: needed - 1,
      scheduled: needed - 1,
      responses: needed - 1,
      samples: needed - 1,
      conditions: { ...measured().conditions, scheduledSeconds: (needed - 1) / CFG.requestsPerSecond },
    };
    expect(judge(measured(few)).outcome).toBe('inconclusive');
    expect(judge(measured(few)).reasons).toEqual([
      `plan: ${needed - 1} samples < ${needed} needed for p95 (${CFG.minTailSamples} above it)`,
    ]);
    // An api route judges p50 only: the same count is plenty.
    expect(judge(measured({ ...few, class: 'api', scenario: 'search' })).outcome).toBe('passed');
  });

  it('could not run at all, or nothing measured', () => {
    const v = judge(measured({ responses: 0, sent: 0, latency: undefined, setupError: 'the service lists no tools' }));
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons).toEqual(['plan: could not run: the service lists no tools']);
    const none = judgeGate([], CFG);
    expect(none).toEqual({
      outcome: 'inconclusive',
      reasons: ['no routes were measured: nothing to judge'],
      routes: [],
    });
    expect(isPass(none)).toBe(false);
  });
});

describe('judgeRoute: regression against the baseline', () => {
  const interval = (estimate: number, low: number, high: number) => ({ estimate, low, high, confidence: 0.95 });
  const ok = { p50: interval(1.02, 0.97, 1.07), p95: interval(1.0, 0.9, 1.1) };

  it('passes within the allowance and fails when the lower end is above it', () => {
    expect(judgeRoute({ candidate: measured(), baseline: measured(), comparison: ok }, CFG).outcome).toBe('passed');
    const limit = 1 + CFG.regression.p50;
    const slower = judgeRoute(
      { candidate: measured(), baseline: measured(), comparison: { ...ok, p50: interval(1.5, limit + 0.001, 1.7) } },
      CFG,
    );
    expect(slower.outcome).toBe('failed');
    expect(slower.reasons).toEqual([
      expect.stringMatching(
        /^plan: p50 .* ratio 1\.5 \(95% CI 1\.101-1\.7\) slower than the allowed 1\.1x with confidence$/,
      ),
    ]);
    // Point estimate above, but not with confidence: not a failure.
    expect(
      judgeRoute(
        { candidate: measured(), baseline: measured(), comparison: { ...ok, p50: interval(1.2, limit, 1.3) } },
        CFG,
      ).outcome,
    ).toBe('passed');
    expect(
      judgeRoute(
        { candidate: measured(), baseline: measured(), comparison: { ...ok, p95: interval(2, 1.3, 2.5) } },
        CFG,
      ).outcome,
    ).toBe('failed');
  });

  it('an unreachable baseline is inconclusive, never a pass', () => {
    const v = judgeRoute(
      { candidate: measured(), baseline: { unavailable: 'baseline unreachable at http://127.0.0.1:9/: ECONNREFUSED' } },
      CFG,
    );
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons).toEqual([
      'plan: no baseline to compare with: baseline unreachable at http://127.0.0.1:9/: ECONNREFUSED',
    ]);
  });

  it('baseline and candidate not measured under the same conditions is inconclusive', () => {
    const other = measured({ conditions: { ...measured().conditions, requestedRate: 50 } });
    const v = judgeRoute(
      { candidate: measured(), baseline: other, comparison: { ...ok, p50: interval(3, 2.5, 3.5) } },
      CFG,
    );
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons[0]).toBe(
      'plan: baseline and candidate not measured under the same conditions: requestedRate 50 (baseline) vs 100 (candidate)',
    );
    const served = (s: string) => measured({ conditions: { ...measured().conditions, served: s } });
    expect(
      judgeRoute({ candidate: served('local app/dist'), baseline: served('local app/src'), comparison: ok }, CFG)
        .outcome,
    ).toBe('inconclusive');
  });

  it('a baseline with errors above the limit, or answering other statuses, is no yardstick: inconclusive', () => {
    const notFound = measured({ non2xx: N, statusCodes: { 404: N } });
    const v = judgeRoute({ candidate: measured(), baseline: notFound, comparison: ok }, CFG);
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons).toEqual([
      `plan: baseline error rate 100% (${N} HTTP 404 of ${N} sent) >= 0.1%: a failing baseline is no yardstick`,
      `plan: baseline and candidate answered differently: baseline 404 (100%), candidate 200 (100%): they do not serve the same thing, so their latencies do not compare`,
    ]);
    // Resets on the baseline are its errors too.
    const resets = measured({
      responses: N - 10,
      socketErrors: 10,
      transportFailures: { refused: 0, reset: 10, closed: 0, malformed: 0, other: 0 },
      statusCodes: { 200: N - 10 },
    });
    expect(judgeRoute({ candidate: measured(), baseline: resets, comparison: ok }, CFG).reasons).toEqual([
      `plan: baseline error rate 0.5% (10 connection errors (10 reset) of ${N} sent) >= 0.1%: a failing baseline is no yardstick`,
    ]);
    // A candidate that fails on its own still fails beside a bad baseline.
    const failing = measured({ non2xx: N / 10, serverErrors: N / 10, statusCodes: { 200: N - N / 10, 500: N / 10 } });
    expect(judgeRoute({ candidate: failing, baseline: notFound, comparison: ok }, CFG).outcome).toBe('failed');
    // Other statuses below the error limit's share on one side only do not count as a different mix.
    const rare = measured({ non2xx: 1, statusCodes: { 200: N - 1, 500: 1 } });
    expect(judgeRoute({ candidate: measured(), baseline: rare, comparison: ok }, CFG).outcome).toBe('passed');
  });

  it('a saturated baseline makes the comparison inconclusive', () => {
    const v = judgeRoute({ candidate: measured(), baseline: measured({ capWaits: 10 }), comparison: ok }, CFG);
    expect(v.outcome).toBe('inconclusive');
    expect(v.reasons[0]).toMatch(/^plan: baseline client saturated/);
  });

  it('over routes: fail beats inconclusive beats pass', () => {
    const pass = { candidate: measured({ scenario: 'search', class: 'api' }) };
    const doubt = { candidate: measured({ scenario: 'getTool', class: 'api', capWaits: 1 }) };
    const fail = { candidate: measured({ latency: { ...measured().latency!, p95: 900 } }) };
    const failedGate = judgeGate([pass, doubt, fail], CFG);
    expect(failedGate.outcome).toBe('failed');
    // Every route that did not pass says why, the inconclusive one too.
    expect(failedGate.reasons.some((r) => r.startsWith('getTool: '))).toBe(true);
    expect(failedGate.reasons.some((r) => r.startsWith('plan: '))).toBe(true);
    expect(failedGate.reasons.some((r) => r.startsWith('search'))).toBe(false);
    expect(judgeGate([pass, doubt], CFG).outcome).toBe('inconclusive');
    const passedGate = judgeGate([pass], CFG);
    expect(passedGate.outcome).toBe('passed');
    expect(isPass(passedGate)).toBe(true);
    expect(passedGate).not.toHaveProperty('passed');
  });
});

describe('runLatencyGate', () => {
  const fakeFetch = (down: string[] = []) =>
    (async (url: URL | string) => {
      if (down.some((d) => String(url).startsWith(d)))
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      return new Response(JSON.stringify({ items: [{ id: 'tool-1' }] }), { status: 200 });
    }) as unknown as typeof fetch;

  /** A client whose every response takes `latency(url)` ms, with one interleaving log for all sides. */
  function fakeClients(latency: (url: string, i: number) => number, calls: { url: string; seconds: number }[]) {
    return (req: LoadRequest): LoadClient => ({
      run: async (o: ScheduleOptions): Promise<LoadResult> => {
        calls.push({ url: req.url, seconds: o.durationSeconds });
        const n = Math.round(o.rate * o.durationSeconds);
        const lat = Float64Array.from({ length: n }, (_, i) => latency(req.url, i));
        return {
          scheduledSeconds: n / o.rate,
          elapsedSeconds: n / o.rate,
          scheduled: n,
          sent: n,
          responses: n,
          non2xx: 0,
          rateLimited: 0,
          serverErrors: 0,
          socketErrors: 0,
          transportFailures: { refused: 0, reset: 0, closed: 0, malformed: 0, other: 0 },
          timeouts: 0,
          retries: 0,
          statusCodes: { 200: n },
          lateSends: 0,
          maxLateMs: 0,
          capWaits: 0,
          maxInFlight: 1,
          maxConcurrency: 256,
          latenciesMs: lat,
          intendedMs: Float64Array.from({ length: n }, (_, i) => (i * 1000) / o.rate),
          startEpochMs: 0,
        };
      },
      close: async () => undefined,
    });
  }

  it('warms up, then measures each scenario on its own at the configured rate, and reports', async () => {
    const calls: { url: string; seconds: number }[] = [];
    const report = await runLatencyGate({
      candidate: { baseUrl: 'http://user:secret@127.0.0.1:9/', apiKey: 'k'.repeat(20) },
      environment: ENV,
      fetch: fakeFetch(),
      client: fakeClients((url) => (url.includes('plan') ? T.graphP95Ms * 2 : 5), calls),
    });
    expect(calls.map((c) => [new URL(c.url).pathname, c.seconds])).toEqual([
      ['/api/v1/tools', CFG.warmupSeconds],
      ['/api/v1/tools', CFG.durationSeconds],
      ['/api/v1/tools/tool-1', CFG.warmupSeconds],
      ['/api/v1/tools/tool-1', CFG.durationSeconds],
      ['/api/v1/plan', CFG.warmupSeconds],
      ['/api/v1/plan', CFG.durationSeconds],
    ]);
    expect(report.outcome).toBe('failed');
    expect(report.reasons).toEqual([
      `plan: p50 ${T.graphP95Ms * 2}ms >= 100ms`,
      `plan: p95 ${T.graphP95Ms * 2}ms >= 500ms (graph route)`,
    ]);
    // No credentials in the report.
    const json = JSON.stringify(report);
    expect(json).not.toContain('secret');
    expect(json).not.toContain('k'.repeat(20));
    expect(report.candidate.url).toBe('http://127.0.0.1:9/');
    const md = gateMarkdown(report);
    expect(md).toMatch(/## Latency gate: staging FAILED/);
    expect(md.match(/xychart-beta/g)).toHaveLength(3);
    expect(md).toContain('| plan | POST /api/v1/plan |');
    // One chart per route with its limits as flat lines and the margin to each.
    expect(md).toContain(
      'search: latency by percentile (ms), 429s left out; line = candidate; flat lines = limits p50 < 100 ms (95.0 ms under)',
    );
    expect(md).toContain(
      `plan: latency by percentile (ms), 429s left out; line = candidate; flat lines = limits p50 < 100 ms (900.0 ms OVER), p95 < 500 ms (500.0 ms OVER)`,
    );
    expect(md).toMatch(/ {2}line \[100, 100, 100, 100, 100, 100, 100\]/);
    // The status mix per route and side, each kind of failure apart.
    expect(md).toContain(
      '| route | side | sent | status mix | 429 refused | 5xx | connection errors | timeouts | retries |',
    );
    expect(md).toMatch(/\| search \| candidate \| \d+ \| 200 ×\d+ \| 0 \| 0 \| 0 \| 0 \| 0 \|/);
  });

  it('with a baseline: alternating ABBA rounds at the same rate, ratios with intervals, side-by-side report', async () => {
    const calls: { url: string; seconds: number }[] = [];
    const base = 'http://127.0.0.1:7001/';
    const cand = 'http://127.0.0.1:7002/';
    const report = await runLatencyGate({
      candidate: { baseUrl: cand, apiKey: 'k'.repeat(20) },
      baseline: { baseUrl: base, apiKey: 'k'.repeat(20) },
      environment: ENV,
      only: ['search', 'plan'],
      fetch: fakeFetch(),
      // plan: twice as slow on the candidate; search: the same. Jitter so the intervals have width.
      client: fakeClients(
        (url, i) => (1 + (i % 10) / 10) * (url.startsWith(cand) && url.includes('plan') ? 2 : 1),
        calls,
      ),
    });
    const rounds = CFG.regression.rounds;
    const search = calls.filter((c) => c.url.includes('/tools'));
    const who = (u: string) => (u.startsWith(base) ? 'B' : 'C');
    expect(search.slice(0, 2).map((c) => [who(c.url), c.seconds])).toEqual([
      ['C', CFG.warmupSeconds],
      ['B', CFG.warmupSeconds],
    ]);
    expect(
      search
        .slice(2)
        .map((c) => who(c.url))
        .join(''),
    ).toBe('BCCBBCCB'.slice(0, rounds * 2));
    expect(search.slice(2).every((c) => c.seconds === CFG.durationSeconds / rounds)).toBe(true);
    const [s, p] = report.measurements;
    expect(s!.comparison!.p50.estimate).toBeCloseTo(1, 6);
    expect(p!.comparison!.p50.estimate).toBeCloseTo(2, 6);
    expect(p!.comparison!.p50.low).toBeGreaterThan(1 + CFG.regression.p50);
    expect(report.routes.map((r) => r.outcome)).toEqual(['passed', 'failed']);
    expect(report.outcome).toBe('failed');
    const md = gateMarkdown(report);
    expect(md).toContain('p50 ratio [CI]');
    expect(md).toMatch(/\| plan \| POST \/api\/v1\/plan \| .* \| 2\.00x \[/);
    expect(md).toContain('bars = baseline, line = candidate');
  });

  it('an unreachable baseline makes every route inconclusive, with the reason', async () => {
    const report = await runLatencyGate({
      candidate: { baseUrl: 'http://127.0.0.1:7002/' },
      baseline: { baseUrl: 'http://127.0.0.1:7001/' },
      environment: ENV,
      only: ['search'],
      fetch: fakeFetch(['http://127.0.0.1:7001']),
      client: fakeClients(() => 1, []),
    });
    expect(report.outcome).toBe('inconclusive');
    expect(report.reasons).toEqual([
      'search: no baseline to compare with: baseline unreachable at http://127.0.0.1:7001/: ECONNREFUSED',
    ]);
    expect(gateMarkdown(report)).toMatch(/INCONCLUSIVE[\s\S]*Why it is inconclusive/);
  });

  it('the get-tool scenario is inconclusive (not the whole run) when no tool id can be found', async () => {
    const empty = (async () => new Response(JSON.stringify({ items: [] }), { status: 200 })) as unknown as typeof fetch;
    const report = await runLatencyGate({
      candidate: { baseUrl: 'http://127.0.0.1:9' },
      environment: ENV,
      fetch: empty,
      client: fakeClients(() => 5, []),
    });
    expect(report.outcome).toBe('inconclusive');
    expect(report.reasons).toEqual([expect.stringMatching(/getTool: could not run: no tool id .*seed the database/)]);
    expect(gateMarkdown(report).match(/xychart-beta/g)).toHaveLength(2);
  });
});

describe('helpers', () => {
  it('strips credentials and queries from displayed URLs', () => {
    expect(displayUrl('https://a:b@h.example/x?token=1')).toBe('https://h.example/x');
    expect(displayUrl('nope')).toBe('<invalid url>');
  });
});
