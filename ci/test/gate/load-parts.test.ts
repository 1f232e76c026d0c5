/**
 * The load client's parts, each on its own: the schedule and the counters (pure), one connection
 * against real local sockets, the pool and the resend rule on simulated time (sim.ts).
 */
import { createServer as netServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socketDialer, type Connection, type ConnectionEvents } from '../../src/gate/load/connection.js';
import { LoadCounters } from '../../src/gate/load/counters.js';
import { runLoad } from '../../src/gate/load/index.js';
import { ConnectionPool } from '../../src/gate/load/pool.js';
import { mayResend, requestBytes } from '../../src/gate/load/request.js';
import { OpenSchedule } from '../../src/gate/load/schedule.js';
import { freePort } from '../../src/platform/services/local-app.js';
import { SimClock, simServer, type SimServerOptions } from './sim.js';

describe('OpenSchedule', () => {
  it('hands out every request due by now in one batch and counts the late ones', () => {
    const s = new OpenSchedule({ rate: 100, durationSeconds: 1, lateToleranceMs: 20 }, 1000);
    expect(s.total).toBe(100);
    expect(s.takeDue(999)).toEqual({ from: 0, to: 0 });
    expect(s.msUntilNext(999)).toBe(1);
    expect(s.takeDue(1000)).toEqual({ from: 0, to: 1 });
    // Woken 50 ms late: requests 1..5 (intended 1010..1050) go out together; 1010 and 1020 are more than
    // 20 ms late, 1030 exactly 20 is on time.
    expect(s.takeDue(1050)).toEqual({ from: 1, to: 6 });
    expect(s.lateSends).toBe(2);
    expect(s.maxLateMs).toBe(40);
    expect(s.takeDue(5000)).toEqual({ from: 6, to: 100 });
    expect(s.done).toBe(true);
    expect(s.msUntilNext(5000)).toBeUndefined();
  });

  it('refuses a rate or duration that is not positive', () => {
    expect(() => new OpenSchedule({ rate: 0, durationSeconds: 1, lateToleranceMs: 1 }, 0)).toThrow(RangeError);
    expect(() => new OpenSchedule({ rate: 10, durationSeconds: -1, lateToleranceMs: 1 }, 0)).toThrow(RangeError);
  });
});

describe('LoadCounters', () => {
  it('ends each request once, keeps 429s out of the latency samples and counts each kind apart', () => {
    const c = new LoadCounters(6);
    for (let i = 0; i < 6; i++) c.dispatched();
    c.answered(0, 200, 5);
    c.answered(1, 429, 1);
    c.answered(2, 503, 7);
    c.failed(3, 'reset');
    c.failed(3, 'closed'); // the same request again: ignored
    c.answered(3, 200, 9); // and a late answer to it too
    c.timedOut(4, 10_000);
    c.failed(5, 'malformed');
    expect(c.complete).toBe(true);
    const r = c.result({ lateSends: 1, maxLateMs: 30 });
    expect(r).toMatchObject({
      scheduled: 6,
      sent: 6,
      responses: 3,
      non2xx: 2,
      rateLimited: 1,
      serverErrors: 1,
      socketErrors: 2,
      transportFailures: { refused: 0, reset: 1, closed: 0, malformed: 1, other: 0 },
      timeouts: 1,
      statusCodes: { 200: 1, 429: 1, 503: 1 },
      lateSends: 1,
      maxLateMs: 30,
      maxInFlight: 6,
    });
    expect([...r.latenciesMs]).toEqual([5, 7, 10_000]);
    expect([...r.sampleIndex]).toEqual([0, 2, 4]);
  });
});

describe('mayResend and requestBytes', () => {
  it('sends a request again only when it is a GET, nothing of it was written, and it was not resent before', () => {
    expect(mayResend('GET', false, false)).toBe(true);
    expect(mayResend('GET', true, false)).toBe(false);
    expect(mayResend('GET', false, true)).toBe(false);
    expect(mayResend('POST', false, false)).toBe(false);
  });

  it('builds the bytes once, with a content length for POST and no header injection', () => {
    const req = { url: 'http://h:1/p?q=1', method: 'POST' as const, headers: { a: 'b' }, body: '{}' };
    expect(requestBytes(req, new URL(req.url), '/p?q=1').toString()).toBe(
      'POST /p?q=1 HTTP/1.1\r\nhost: h:1\r\nconnection: keep-alive\r\na: b\r\ncontent-length: 2\r\n\r\n{}',
    );
    expect(() => requestBytes({ ...req, headers: { a: 'b\r\nx: y' } }, new URL(req.url), '/')).toThrow(/line breaks/);
  });
});

describe('one connection on a real socket', () => {
  const open: Server[] = [];
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  /** A raw TCP server doing `onRequest` with each request's socket once its head has arrived. */
  async function raw(onRequest: (s: Socket) => void): Promise<number> {
    const server = netServer((s) => {
      let got = '';
      s.on('data', (d) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) {
          got = '';
          onRequest(s);
        }
      });
      s.on('error', () => undefined);
    });
    open.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return (server.address() as { port: number }).port;
  }

  /** Sends one request and resolves with what the connection reported. */
  function once(port: number): Promise<{ event: string; args: unknown[] }> {
    return new Promise((resolve) => {
      const events: ConnectionEvents = {
        answered: (c, status, keepAliveMs) => {
          c.close();
          resolve({ event: 'answered', args: [status, keepAliveMs] });
        },
        failed: (_c, kind, written) => resolve({ event: 'failed', args: [kind, written] }),
      };
      const c: Connection = socketDialer({ host: '127.0.0.1', port, tls: false })(events);
      c.request = 0;
      c.send(Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'));
    });
  }

  it('an answer, with the keep-alive time the server announces', async () => {
    const port = await raw((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok'));
    expect(await once(port)).toEqual({ event: 'answered', args: [200, 5000] });
  });

  it('an answer delimited by the server closing: complete, and the connection not reused', async () => {
    const port = await raw((s) => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nthe whole body'));
    expect(await once(port)).toEqual({ event: 'answered', args: [200, -1] });
  });

  it.each([
    ['malformed', (s: Socket) => s.write('HTTP/9 what\r\n\r\n')],
    ['reset', (s: Socket) => s.resetAndDestroy()],
    ['closed', (s: Socket) => s.end()],
    ['closed', (s: Socket) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\ncut')],
  ] as const)('a %s answer is a failure of the request, written', async (kind, act) => {
    const port = await raw(act);
    expect(await once(port)).toEqual({ event: 'failed', args: [kind, true] });
  });

  it('a refused connect is a failure before anything was written', async () => {
    expect(await once(await freePort())).toEqual({ event: 'failed', args: ['refused', false] });
  });
});

describe('the pool and the resend rule, on simulated time', () => {
  it('does not reuse an idle connection the server may be closing (its keep-alive less a second)', async () => {
    const clock = new SimClock();
    const srv = simServer(clock, { answerAt: (t) => t + 1, keepAliveMs: 3000 });
    const pool = new ConnectionPool(srv.dial, 4, clock);
    const answered: number[] = [];
    pool.listener = {
      answered: (i, _s, free) => {
        answered.push(i);
        if (free) pool.release(free);
      },
      failed: () => undefined,
    };
    const c = pool.open();
    c.request = 0;
    c.send(Buffer.alloc(0));
    await new Promise<void>((r) => clock.after(10, r));
    expect(answered).toEqual([0]);
    await new Promise<void>((r) => clock.after(1900, r));
    expect(pool.takeIdle()).toBe(c); // 1.9 s idle: within 3 s less the margin
    pool.release(c);
    await new Promise<void>((r) => clock.after(200, r));
    expect(pool.takeIdle()).toBeUndefined(); // 2.1 s: closed instead
    expect(pool.all.size).toBe(0);
  });

  async function run(method: 'GET' | 'POST', server: SimServerOptions) {
    const clock = new SimClock();
    const srv = simServer(clock, server);
    const r = await runLoad(
      {
        url: 'http://sim.invalid/',
        method,
        headers: {},
        rate: 100,
        durationSeconds: 0.2,
        lateToleranceMs: 20,
        timeoutMs: 1000,
        maxConcurrency: 1,
      },
      { clock, dial: srv.dial },
    );
    return { r, srv };
  }

  it('a GET refused before a byte was written goes once more on a fresh connection, counted as a retry', async () => {
    // Connection 0 is refused; the rest connect.
    const { r, srv } = await run('GET', { answerAt: (t) => t + 1, refuseConnect: (k) => k === 0 });
    expect(r.retries).toBe(1);
    expect(r.socketErrors).toBe(0);
    expect(r.responses).toBe(20);
    expect(srv.arrivals).toHaveLength(20);
  });

  it('a GET refused twice is one error; a POST is never sent again', async () => {
    const twice = await run('GET', { answerAt: (t) => t + 1, refuseConnect: (k) => k < 2 });
    expect(twice.r).toMatchObject({ retries: 1, socketErrors: 1, transportFailures: { refused: 1 }, responses: 19 });
    const post = await run('POST', { answerAt: (t) => t + 1, refuseConnect: (k) => k === 0 });
    expect(post.r).toMatchObject({ retries: 0, socketErrors: 1, responses: 19 });
    // A reset after the request was written: an error, not sent again, GET or not.
    const reset = await run('GET', {
      answerAt: (t) => t + 1,
      fate: (n) => (n === 3 ? { fail: 'reset' } : { status: 200 }),
    });
    expect(reset.r).toMatchObject({ retries: 0, socketErrors: 1, transportFailures: { reset: 1 }, responses: 19 });
    expect(reset.srv.arrivals).toHaveLength(20);
  });

  it('an unanswered request is a timeout at its age, and the next one gets a new connection', async () => {
    const { r } = await run('GET', { answerAt: (t, n) => t + (n === 0 ? 60_000 : 1) });
    expect(r.timeouts).toBe(1);
    expect(r.responses).toBe(19);
    // Request 0 was given up about a second in, by the sweep (every 250 ms): its latency says so.
    expect(r.latenciesMs[0]).toBeGreaterThan(1000);
    expect(r.latenciesMs[0]).toBeLessThanOrEqual(1250 + 1);
  });
});
