/**
 * A local round-robin HTTP proxy in front of the rehearsal's instances, standing in for the Service:
 * each request goes to the next instance in rotation; an instance leaves the rotation before it is sent
 * SIGTERM (as endpoints are removed from a Service when a pod terminates) and joins once it is ready.
 * It records what every client request got (status, time, which version answered): the rehearsal's
 * failures are counted here, where a client would see them. An instance that cannot be reached answers
 * 502 from here; an empty rotation answers 503.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Backend {
  readonly id: string;
  /** Which release it runs ("previous" or "candidate"). */
  readonly version: string;
  readonly url: string;
}

export interface ProxyRecord {
  /** Epoch ms the request arrived. */
  readonly at: number;
  readonly status: number;
  readonly ms: number;
  readonly version: string;
  /** The instance that answered ("none": the proxy itself, nothing in rotation). */
  readonly instance: string;
  readonly method: string;
}

export interface RoundRobinProxy {
  readonly url: string;
  add(b: Backend): void;
  remove(id: string): void;
  rotation(): readonly Backend[];
  records(): readonly ProxyRecord[];
  close(): Promise<void>;
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']);

export async function startRoundRobinProxy(): Promise<RoundRobinProxy> {
  const backends: (Backend & { agent: Agent })[] = [];
  const log: ProxyRecord[] = [];
  let next = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const start = performance.now();
    const done = (status: number, version: string, instance: string) =>
      log.push({ at, status, ms: performance.now() - start, version, instance, method: req.method ?? 'GET' });
    if (backends.length === 0) {
      res.writeHead(503).end('no instance in rotation');
      done(503, 'none', 'none');
      return;
    }
    const b = backends[next++ % backends.length]!;
    const target = new URL(req.url ?? '/', b.url);
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_HEADERS.has(k)));
    const up = request(target, { method: req.method, headers, agent: b.agent }, (upRes) => {
      const out = Object.fromEntries(Object.entries(upRes.headers).filter(([k]) => !HOP_HEADERS.has(k)));
      res.writeHead(upRes.statusCode ?? 502, { ...out, 'x-rehearsal-version': b.version });
      upRes.pipe(res);
      upRes.on('end', () => done(upRes.statusCode ?? 502, b.version, b.id));
      upRes.on('error', () => done(502, b.version, b.id));
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502).end(`upstream ${b.id}: ${err.message}`);
      else res.destroy();
      done(502, b.version, `${b.id} (unreachable from the proxy)`);
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    add(b) {
      // No socket cap: a request queued in the agent could reach an instance after it left the rotation.
      backends.push({ ...b, agent: new Agent({ keepAlive: true }) });
    },
    remove(id) {
      const i = backends.findIndex((b) => b.id === id);
      if (i < 0) return;
      const [gone] = backends.splice(i, 1);
      // In-flight requests finish on their sockets; idle ones are closed so nothing new reaches it.
      setTimeout(() => gone!.agent.destroy(), 30_000).unref();
    },
    rotation: () => backends.map(({ id, version, url }) => ({ id, version, url })),
    records: () => log,
    close: () =>
      new Promise<void>((r) => {
        for (const b of backends) b.agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
