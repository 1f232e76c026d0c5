import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../src/environments.js';
import { runLatencyGate, displayUrl } from '../../src/gate/latency.js';
import { effectiveConnections, type LoadOptions, type LoadResult } from '../../src/gate/load.js';
import { gateMarkdown } from '../../src/gate/report.js';
import { judgeGate, judgeScenario, type ScenarioMeasurement } from '../../src/gate/verdict.js';

const ENV = ENVIRONMENTS.staging;
const CFG = ENV.latencyGate;
const T = CFG.thresholds;

function measured(over: Partial<ScenarioMeasurement> = {}): ScenarioMeasurement {
  const rate = CFG.requestsPerSecond;
  return {
    scenario: 'plan',
    class: 'graph',
    method: 'POST',
    path: '/api/v1/plan',
    requestedRate: rate,
    connections: CFG.connections,
    durationSeconds: CFG.durationSeconds,
    elapsedSeconds: CFG.durationSeconds,
    responses: rate * CFG.durationSeconds,
    non2xx: 0,
    socketErrors: 0,
    timeouts: 0,
    statusCodes: { 200: rate * CFG.durationSeconds },
    latency: { p50: T.apiP50Ms / 2, p90: 60, p95: T.graphP95Ms / 2, p99: 300, max: 400, min: 1, mean: 40 },
    percentiles: [[50, T.apiP50Ms / 2], [100, 400]],
    ...over,
  };
}

describe('judgeScenario', () => {
  it('passes a run inside every threshold and says why', () => {
    const v = judgeScenario(measured(), CFG);
    expect(v.passed).toBe(true);
    expect(v.checks.map((c) => c.name)).toEqual(['responses', 'achievedRate', 'errorRate', 'p50', 'p95']);
    expect(v.reasons).toEqual([]);
  });

  it('fails at exactly the limits (strictly below is required)', () => {
    const v = judgeScenario(measured({ latency: { ...measured().latency!, p50: T.apiP50Ms, p95: T.graphP95Ms } }), CFG);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual([expect.stringMatching(/p50 .* >= 100ms/), expect.stringMatching(/p95 .* >= 500ms/)]);
  });

  it('checks p95 only on graph routes', () => {
    const slowTail = { ...measured().latency!, p95: T.graphP95Ms * 4 };
    expect(judgeScenario(measured({ class: 'api', scenario: 'search', latency: slowTail }), CFG).passed).toBe(true);
    expect(judgeScenario(measured({ latency: slowTail }), CFG).passed).toBe(false);
  });

  it('counts non-2xx, socket errors and timeouts as errors', () => {
    const n = CFG.requestsPerSecond * CFG.durationSeconds;
    const v = judgeScenario(measured({ responses: n - 2, non2xx: 1, socketErrors: 1, timeouts: 1 }), CFG);
    expect(v.errorRate).toBeCloseTo(3 / (n + 1));
    expect(v.passed).toBe(v.errorRate < T.maxErrorRate);
    expect(v.checks.find((c) => c.name === 'errorRate')!.detail).toMatch(/1 non-2xx, 1 socket errors, 1 timeouts/);
  });

  it('fails closed below the required share of the requested rate', () => {
    const needed = CFG.minAchievedRateRatio * CFG.requestsPerSecond * CFG.durationSeconds;
    expect(judgeScenario(measured({ responses: Math.ceil(needed) }), CFG).passed).toBe(true);
    const v = judgeScenario(measured({ responses: Math.floor(needed) - 1 }), CFG);
    expect(v.passed).toBe(false);
    expect(v.reasons[0]).toMatch(/achieved .* < the 90% needed: the load was not applied/);
  });

  it('fails closed with no responses, or when it could not run at all', () => {
    const none = judgeScenario(measured({ responses: 0, socketErrors: 40, latency: undefined, percentiles: [] }), CFG);
    expect(none.passed).toBe(false);
    expect(none.reasons[0]).toMatch(/no responses .* cannot measure/);
    const setup = judgeScenario(measured({ responses: 0, latency: undefined, setupError: 'the service lists no tools' }), CFG);
    expect(setup.reasons[0]).toMatch(/could not run: the service lists no tools/);
    expect(judgeGate([], CFG).passed).toBe(false);
  });
});

describe('runLatencyGate', () => {
  const fakeFetch = (async () => new Response(JSON.stringify({ items: [{ id: 'tool-1' }] }), { status: 200 })) as unknown as typeof fetch;
  const result = (o: LoadOptions, latencyMs: number): LoadResult => ({
    elapsedSeconds: o.durationSeconds,
    responses: o.rate * o.durationSeconds,
    non2xx: 0,
    socketErrors: 0,
    timeouts: 0,
    statusCodes: { 200: o.rate * o.durationSeconds },
    latency: { p50: latencyMs, p90: latencyMs, p95: latencyMs, p99: latencyMs, max: latencyMs, min: latencyMs, mean: latencyMs },
    percentiles: [[50, latencyMs], [100, latencyMs]],
  });

  it('warms up, then measures each scenario on its own at the configured rate, and reports', async () => {
    const calls: LoadOptions[] = [];
    const report = await runLatencyGate({
      baseUrl: 'http://user:secret@127.0.0.1:9/',
      environment: ENV,
      apiKey: 'k'.repeat(20),
      fetch: fakeFetch,
      load: async (o) => {
        calls.push(o);
        return result(o, o.url.includes('plan') ? T.graphP95Ms * 2 : 5);
      },
    });
    expect(calls.map((c) => [new URL(c.url).pathname, c.durationSeconds])).toEqual([
      ['/api/v1/tools', CFG.warmupSeconds],
      ['/api/v1/tools', CFG.durationSeconds],
      ['/api/v1/tools/tool-1', CFG.warmupSeconds],
      ['/api/v1/tools/tool-1', CFG.durationSeconds],
      ['/api/v1/plan', CFG.warmupSeconds],
      ['/api/v1/plan', CFG.durationSeconds],
    ]);
    expect(calls.every((c) => c.rate === CFG.requestsPerSecond && c.headers['x-api-key'] === 'k'.repeat(20))).toBe(true);
    expect(calls[5]!.body).toBe(JSON.stringify(CFG.scenarios[2]!.body));
    expect(report.passed).toBe(false);
    expect(report.reasons).toEqual([expect.stringMatching(/^plan: p50 1000ms >= 100ms/), expect.stringMatching(/^plan: p95 1000ms >= 500ms/)]);
    // No credentials in the report.
    const json = JSON.stringify(report);
    expect(json).not.toContain('secret');
    expect(json).not.toContain('k'.repeat(20));
    expect(report.baseUrl).toBe('http://127.0.0.1:9/');
    const md = gateMarkdown(report);
    expect(md).toMatch(/## Latency gate: staging FAILED/);
    expect(md.match(/xychart-beta/g)).toHaveLength(3);
    expect(md).toContain('| plan | POST /api/v1/plan |');
  });

  it('fails the get-tool scenario (not the gate run) when no tool id can be found', async () => {
    const empty = (async () => new Response(JSON.stringify({ items: [] }), { status: 200 })) as unknown as typeof fetch;
    const report = await runLatencyGate({ baseUrl: 'http://127.0.0.1:9', environment: ENV, fetch: empty, load: async (o) => result(o, 5) });
    expect(report.passed).toBe(false);
    expect(report.reasons).toEqual([expect.stringMatching(/getTool: could not run: no tool id .*seed the database/)]);
    expect(gateMarkdown(report).match(/xychart-beta/g)).toHaveLength(2);
  });
});

describe('helpers', () => {
  it('never opens more connections than requests per second (autocannon would leave them unthrottled)', () => {
    expect(effectiveConnections(100, 10)).toBe(10);
    expect(effectiveConnections(5, 10)).toBe(5);
    expect(effectiveConnections(1.5, 10)).toBe(1);
  });

  it('strips credentials and queries from displayed URLs', () => {
    expect(displayUrl('https://a:b@h.example/x?token=1')).toBe('https://h.example/x');
    expect(displayUrl('nope')).toBe('<invalid url>');
  });
});
