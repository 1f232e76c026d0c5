/**
 * The watcher over a Prometheus that answers badly: NaN, ±Inf, a missing series or a malformed answer is
 * no data. No data never reads as healthy, neither resets nor advances a running breach, and a watch that
 * never had data ends nonzero and says so; when data returns the rules work as before.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { compressTriggers, evaluate, initialState, type Firing } from '../../../src/operate/triggers/evaluator.js';
import { triggerQueries } from '../../../src/operate/triggers/promql.js';
import { servicePoller } from '../../../src/operate/watch/sources.js';
import { watch, type Clock } from '../../../src/operate/watch/watcher.js';
import { captureIo } from '../../cli/io.js';

const ENV = ENVIRONMENTS.prod;
const T = ENV.rollback;
const Q = triggerQueries(ENV);

/** What Prometheus answers to one query this poll: a body, or a raw value for a one-series vector. */
type Answer = { value: string } | { empty: true } | { body: unknown; status?: number } | { text: string };
interface PollAnswers {
  requests: Answer;
  errors: Answer;
  buckets?: Answer;
}
const v = (value: string): Answer => ({ value });
const healthy: PollAnswers = { requests: v('1000'), errors: v('0') };
const breach: PollAnswers = { requests: v('1000'), errors: v('300') };

const vector = (result: unknown[]) => ({ status: 'success', data: { resultType: 'vector', result } });
function respond(a: Answer): Response {
  const json = (b: unknown, status = 200) =>
    new Response(JSON.stringify(b), { status, headers: { 'content-type': 'application/json' } });
  if ('text' in a) return new Response(a.text, { status: 200 });
  if ('body' in a) return json(a.body, a.status);
  if ('empty' in a) return json(vector([]));
  return json(vector([{ metric: {}, value: [1_700_000_000, a.value] }]));
}
const fastBuckets = vector([
  { metric: { le: '0.1' }, value: [1, '1000'] },
  { metric: { le: '+Inf' }, value: [1, '1000'] },
]);

/** A fetch that plays Prometheus (and a healthy /healthz); `script` picks the answers per poll. */
function fakePrometheus(script: (poll: number) => PollAnswers) {
  let poll = -1;
  const fetchFn = (async (input: URL | string) => {
    const url = new URL(String(input));
    if (url.pathname === '/healthz') {
      poll++;
      return new Response('{}', { status: 200 });
    }
    const q = url.searchParams.get('query');
    const answers = script(Math.max(0, poll));
    if (q === Q.requests) return respond(answers.requests);
    if (q === Q.errors) return respond(answers.errors);
    if (q === Q.buckets) return respond(answers.buckets ?? { body: fastBuckets });
    return new Response('unknown query', { status: 400 });
  }) as typeof fetch;
  return servicePoller({
    url: 'http://svc.test',
    prometheusUrl: 'http://prom.test',
    env: ENV,
    timeoutMs: 1000,
    fetch: fetchFn,
  });
}

function fakeClock(): Clock {
  let t = 1_700_000_000_000;
  return { now: () => t, sleep: async (ms) => void (t += Math.max(0, ms)) };
}

async function watchFor(seconds: number, script: (poll: number) => PollAnswers) {
  const actions: Firing[][] = [];
  const lines: string[] = [];
  const result = await watch({
    triggers: T,
    durationSeconds: seconds,
    clock: fakeClock(),
    log: (l) => lines.push(l),
    poll: fakePrometheus(script),
    rollback: async (f) => void actions.push([...f]),
  });
  return { result, actions, lines };
}

const BAD: [string, Answer][] = [
  ['NaN', v('NaN')],
  ['+Inf', v('+Inf')],
  ['-Inf', v('-Inf')],
  ['a missing series', { empty: true }],
  [
    'two series for one sum',
    {
      body: vector([
        { metric: {}, value: [1, '1'] },
        { metric: {}, value: [1, '2'] },
      ]),
    },
  ],
  ['a value that is not a [time, string] pair', { body: vector([{ metric: {}, value: 5 }]) }],
  ['a result that is not a list', { body: { status: 'success', data: { resultType: 'vector', result: {} } } }],
  ['a success without data', { body: { status: 'success' } }],
  ['a matrix', { body: { status: 'success', data: { resultType: 'matrix', result: [] } } }],
  ['an error status', { body: { status: 'error', error: 'boom' }, status: 422 }],
  ['text that is not JSON', { text: '<html>proxy error</html>' }],
];

describe('Prometheus answers that are not data', () => {
  it.each(BAD)('errors answered with %s: no data, never ok', async (_what, bad) => {
    const poll = fakePrometheus(() => ({ requests: v('1000'), errors: bad }));
    const obs = await poll(1_700_000_000_000);
    const ev = evaluate(T, initialState(), {
      at: obs.at,
      health: obs.health,
      traffic: obs.window,
      trafficProblem: obs.problem,
    });
    expect(ev.statuses.errorRate.state).toBe('noData');
    expect(ev.statuses.errorRate.detail).not.toMatch(/NaN%|<=/);
  });

  it.each(BAD)('requests answered with %s: no data for both traffic triggers', async (_what, bad) => {
    const poll = fakePrometheus(() => ({ requests: bad, errors: v('0') }));
    const obs = await poll(1_700_000_000_000);
    const ev = evaluate(T, initialState(), { at: obs.at, traffic: obs.window, trafficProblem: obs.problem });
    expect([ev.statuses.errorRate.state, ev.statuses.p95.state]).toEqual(['noData', 'noData']);
  });

  it.each([
    ['NaN', 'NaN'],
    ['+Inf', '+Inf'],
    ['negative', '-3'],
  ])('a latency bucket holding %s is no data for p95', async (_what, value) => {
    const buckets: Answer = {
      body: vector([
        { metric: { le: '0.1' }, value: [1, value] },
        { metric: { le: '+Inf' }, value: [1, '1000'] },
      ]),
    };
    const poll = fakePrometheus(() => ({ ...healthy, buckets }));
    const obs = await poll(1_700_000_000_000);
    const ev = evaluate(T, initialState(), { at: obs.at, traffic: obs.window, trafficProblem: obs.problem });
    expect(ev.statuses.p95.state).toBe('noData');
  });

  it.each([
    ['NaN errors', { requests: 1000, errors: Number.NaN }],
    ['infinite requests', { requests: Number.POSITIVE_INFINITY, errors: 10 }],
    ['more errors than requests', { requests: 100, errors: 300 }],
    ['negative requests', { requests: -200, errors: 0 }],
  ])('the evaluator itself reads a window with %s as no data', (_what, counts) => {
    const ev = evaluate(T, initialState(), {
      at: 0,
      traffic: { ...counts, buckets: [], spanSeconds: T.rateWindowSeconds, resets: 0 },
    });
    expect(ev.statuses.errorRate.state).toBe('noData');
  });
});

describe('no data during a watch', () => {
  it('a sustained breach with every fourth poll NaN still fires (NaN neither resets nor advances it)', async () => {
    const { result, actions } = await watchFor(60 * 60, (p) =>
      p % 4 === 3 ? { requests: v('1000'), errors: v('NaN') } : breach,
    );
    expect(result.outcome).toBe('triggered');
    expect(actions).toHaveLength(1);
    expect(actions[0]!.map((f) => f.trigger)).toEqual(['errorRate']);
  });

  it('no-data polls do not count towards "sustained": the breach fires later than with data throughout', async () => {
    const all = await watchFor(60 * 60, () => breach);
    const holey = await watchFor(60 * 60, (p) => (p % 2 === 1 ? { requests: v('1000'), errors: v('NaN') } : breach));
    expect(all.result.polls).toBe(T.errorRate.sustainedSeconds / T.pollSeconds + 1);
    expect(holey.result.outcome).toBe('triggered');
    expect(holey.result.polls).toBeGreaterThan(all.result.polls);
  });

  it.each(BAD)('a whole watch answered with %s ends noData, and says so', async (_what, bad) => {
    const { result, actions } = await watchFor(5 * 60, () => ({ requests: v('1000'), errors: bad }));
    expect(result.outcome).toBe('noData');
    expect(actions).toEqual([]);
    expect(result.reason).toMatch(
      /^no data in any of 21 polls over 300s \(last: .+\): .*cannot call the release healthy/,
    );
  });

  it('rules keep working when data returns: healthy after no data, then a breach fires', async () => {
    const healed = await watchFor(10 * 60, (p) => (p < 10 ? { requests: v('NaN'), errors: v('NaN') } : healthy));
    expect(healed.result.outcome).toBe('healthy');
    expect(healed.result.reason).toMatch(/\(41 polls; 10 of them without data\)/);
    const fired = await watchFor(60 * 60, (p) => (p < 10 ? { requests: { empty: true }, errors: v('0') } : breach));
    expect(fired.result.outcome).toBe('triggered');
    expect(fired.result.polls).toBe(10 + T.errorRate.sustainedSeconds / T.pollSeconds + 1);
  });
});

describe('kgraph-ci watch with no data', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  it('exits nonzero and says the watch had no data', async () => {
    server = createServer((req, res) => {
      if (req.url === '/healthz') return void res.writeHead(200).end('{}');
      const body = vector([{ metric: { le: '+Inf' }, value: [1, 'NaN'] }]);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const io = captureIo();
    const scale = compressTriggers(T, 1 / 60).pollSeconds;
    expect(scale).toBeLessThan(1);
    const code = await runCli(
      ['watch', '--env', 'prod', '--url', url, '--prometheus', url, '--duration', '2s', '--time-scale', String(1 / 60)],
      io,
    );
    expect(code).not.toBe(0);
    expect(io.out() + io.err()).toMatch(/no data in any of \d+ polls/);
    expect(io.out() + io.err()).not.toMatch(/no trigger fired/);
  }, 30_000);
});
