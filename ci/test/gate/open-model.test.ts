/**
 * The open-model estimator and the verdict on it, on a simulated clock and server (sim.ts): the real load
 * client measures a server whose every answer time is known, so what it reports is compared with the
 * truth exactly, on any machine however busy. Accuracy against real servers on real time lives in
 * bench/gate-accuracy.ts. The one real-time test here checks a property load cannot break: a client
 * that cannot keep its schedule is reported inconclusive with its reason, never a pass.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../src/definitions/environments.js';
import { runLatencyGate } from '../../src/gate/latency.js';
import { SEND_QUANTUM_MS } from '../../src/gate/load/client.js';
import { createLoadClient, runLoad, type LoadRequest } from '../../src/gate/load/index.js';
import { quantileSorted, sortedCopy } from '../../src/gate/stats.js';
import { SimClock, simServer, stallPattern, type SimServerOptions } from './sim.js';
import { analyticQuantile, truthFromStalls } from './stall-server.js';

const GET: LoadRequest = { url: 'http://sim.invalid/x', method: 'GET', headers: {} };
const fetchOk = (async () =>
  new Response(JSON.stringify({ items: [{ id: 'tool-1' }] }), { status: 200 })) as unknown as typeof fetch;

/** A run of the real client on virtual time against a simulated server. */
async function simRun(
  server: SimServerOptions,
  o: { rate: number; seconds: number; maxConcurrency?: number; clientStalls?: [number, number][] },
) {
  const clock = new SimClock(o.clientStalls);
  const srv = simServer(clock, server);
  const r = await runLoad(
    {
      ...GET,
      rate: o.rate,
      durationSeconds: o.seconds,
      lateToleranceMs: 20,
      timeoutMs: 10_000,
      maxConcurrency: o.maxConcurrency ?? 256,
    },
    { clock, dial: srv.dial },
  );
  return { r, srv };
}

/** Freezes of a stall pattern over [0, untilMs), as [start, end]. */
const freezes = (p: { periodMs: number; stallMs: number; firstMs: number }, untilMs: number): [number, number][] =>
  Array.from({ length: Math.ceil((untilMs - p.firstMs) / p.periodMs) }, (_, k) => [
    p.firstMs + k * p.periodMs,
    p.firstMs + k * p.periodMs + p.stallMs,
  ]);

describe('the estimator on a simulated server: latency from the intended send time', () => {
  it.each([
    // [period ms, stall ms, rate, seconds]: whole periods, the outsider's probe first.
    [6000, 900, 100, 12],
    [1000, 200, 200, 5],
    [2000, 500, 100, 6],
    [500, 100, 200, 3],
  ])(
    'freeze %i/%i ms at %i req/s for %i s: every latency is the truth, p95 and p99 the analytic ones',
    async (periodMs, stallMs, rate, seconds) => {
      // Freezes start 5 ms in, where the schedule starts, so the window holds whole periods.
      const pattern = { periodMs, stallMs, serviceMs: 1, firstMs: 5 };
      const { r, srv } = await simRun({ answerAt: stallPattern(pattern), connectMs: 0 }, { rate, seconds });
      expect(r.scheduled).toBe(rate * seconds);
      expect(r.responses).toBe(r.scheduled);
      expect(srv.arrivals).toHaveLength(r.sent);
      expect(r.lateSends).toBe(0);
      // Each request's latency is what the freezes alone make it, plus the 1 ms service time.
      const truth = truthFromStalls(
        Array.from(r.intendedMs, (t) => r.startEpochMs + t),
        freezes(pattern, seconds * 1000 + 5),
      );
      for (let i = 0; i < truth.length; i++) expect(r.latenciesMs[i]).toBeCloseTo(truth[i]! + 1, 6);
      const s = sortedCopy(r.latenciesMs);
      for (const q of [0.95, 0.99]) {
        const analytic = analyticQuantile({ periodMs, stallMs }, q);
        // One sample's spacing of the freeze (stall share x interval) is all the discreteness allows.
        expect(Math.abs(quantileSorted(s, q) - 1 - analytic)).toBeLessThanOrEqual(1000 / rate + 1e-6);
      }
      expect(quantileSorted(s, 0.5)).toBeCloseTo(1, 6);
    },
  );

  it(`above ${1000 / SEND_QUANTUM_MS} req/s sends go in batches, one wake per ${SEND_QUANTUM_MS} ms, each at most that late and the delay in its latency`, async () => {
    const answerAt = stallPattern({ periodMs: 500, stallMs: 100, serviceMs: 1, firstMs: 5 });
    const { r, srv } = await simRun({ answerAt, connectMs: 0 }, { rate: 1000, seconds: 2 });
    expect(r.responses).toBe(2000);
    const wakes = new Set(srv.arrivals).size;
    expect(wakes).toBeLessThanOrEqual(2000 / SEND_QUANTUM_MS + 1);
    expect(wakes).toBeGreaterThanOrEqual(2000 / SEND_QUANTUM_MS - 1);
    for (let i = 0; i < 2000; i++) {
      const intended = r.intendedMs[i]! + r.startEpochMs;
      const late = srv.arrivals[i]! - intended;
      expect(late).toBeGreaterThanOrEqual(0);
      expect(late).toBeLessThanOrEqual(SEND_QUANTUM_MS + 1e-9);
      // Latency runs from the intended time: the batching delay is in it, never hidden.
      expect(r.latenciesMs[i]).toBeCloseTo(answerAt(srv.arrivals[i]!) - intended, 6);
    }
    expect(r.lateSends).toBe(0);
  });

  it('a request that waits for a connection at the cap has that wait in its latency', async () => {
    // 300 ms per answer at 100 req/s needs 30 in flight; with 5 connections the 100th ends ~6 s in.
    const { r } = await simRun({ answerAt: (t) => t + 300 }, { rate: 100, seconds: 1, maxConcurrency: 5 });
    expect(r.capWaits).toBe(95);
    // All 100 were sent within the second, while 5 answers come back every 300 ms.
    expect(r.maxInFlight).toBe(100 - 5 * 3);
    const last = r.latenciesMs[r.latenciesMs.length - 1]!;
    // The last (index 99, intended at 995 ms) is the 20th on the connection opened for request 4 at
    // 45 ms (0.2 ms to connect): 20 answers of 300 ms each end at 6045.2 ms.
    expect(last).toBeCloseTo(45.2 + 20 * 300 - 995, 6);
  });
});

describe('the verdict on simulated runs', () => {
  /** The gate's client factory on one simulated clock and server per side. */
  const simClients =
    (server: SimServerOptions, clientStalls?: [number, number][]) => (req: LoadRequest, max: number) => {
      const clock = new SimClock(clientStalls);
      return createLoadClient(req, max, { clock, dial: simServer(clock, server).dial });
    };

  it("the outsider's probe (900 ms freeze every 6 s at 100 req/s) fails staging on p95, measured as the truth", async () => {
    const report = await runLatencyGate({
      candidate: { baseUrl: 'http://sim.invalid/', apiKey: 'k'.repeat(24) },
      environment: ENVIRONMENTS.staging,
      only: ['plan'],
      overrides: { durationSeconds: 12, warmupSeconds: 0 },
      fetch: fetchOk,
      client: simClients({ answerAt: stallPattern({ periodMs: 6000, stallMs: 900, serviceMs: 1, firstMs: 5 }) }),
    });
    const c = report.measurements[0]!.candidate;
    expect(report.outcome).toBe('failed');
    expect(report.reasons).toEqual([expect.stringMatching(/^plan: p95 \d+(\.\d+)?ms >= 500ms \(graph route\)$/)]);
    expect(Math.abs(c.latency!.p95 - 1 - 600)).toBeLessThanOrEqual(10);
    expect(Math.abs(c.latency!.p99 - 1 - 840)).toBeLessThanOrEqual(10);
  });

  it('a starved client (its loop frozen 300 ms mid-run) is inconclusive with the reason, not a pass', async () => {
    const report = await runLatencyGate({
      candidate: { baseUrl: 'http://sim.invalid/', apiKey: 'k'.repeat(24) },
      environment: ENVIRONMENTS.staging,
      only: ['search'],
      overrides: { durationSeconds: 10, warmupSeconds: 0 },
      fetch: fetchOk,
      client: simClients({ answerAt: (t) => t + 1 }, [[2000, 2300]]),
    });
    expect(report.outcome).toBe('inconclusive');
    expect(report.reasons).toEqual([
      expect.stringMatching(/^search: client saturated: 2\d of 1000 sends \(2\.\d+%, allowed 1%\) later than 20ms/),
    ]);
  });
});

describe('on real time, under any load', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('a client whose event loop is blocked mid-run is reported inconclusive with its reason, never a pass', async () => {
    server = createServer((_q, res) => res.end('{}'));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    // 400 ms of a blocked loop, 500 ms in: at 100 req/s some 40 sends go out late, 4% of 1000 (1% allowed);
    // a busier machine only adds late sends.
    const block = setTimeout(() => {
      const end = performance.now() + 400;
      while (performance.now() < end);
    }, 500);
    const report = await runLatencyGate({
      candidate: { baseUrl: url, apiKey: 'k'.repeat(24) },
      environment: ENVIRONMENTS.staging,
      only: ['search'],
      overrides: { durationSeconds: 10, warmupSeconds: 0, requestsPerSecond: 100 },
    }).finally(() => clearTimeout(block));
    expect(report.outcome).toBe('inconclusive');
    expect(report.reasons.join('\n')).toMatch(/^search: client saturated: \d+ of \d+ sends/m);
  }, 40_000);
});
