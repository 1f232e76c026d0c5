/**
 * The session endpoint the Dagger SDK talks to (`DAGGER_SESSION_PORT`, `DAGGER_SESSION_TOKEN`): each POST
 * /query is answered by the rehearsal engine, an error as a GraphQL error the SDK raises in the module.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RehearsalEngine } from './engine.js';

export interface SessionServer {
  readonly port: number;
  readonly token: string;
  /** Errors the engine raised, in order (the first is what made the module fail). */
  readonly errors: Error[];
  close(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSessionServer(engine: RehearsalEngine): Promise<SessionServer> {
  const token = randomBytes(16).toString('hex');
  const expected = `Basic ${Buffer.from(`${token}:`).toString('base64')}`;
  const errors: Error[] = [];
  const server = createServer((req, res) => {
    const reply = (status: number, payload: unknown) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
    void (async () => {
      const text = await body(req);
      if (req.url !== '/query' || req.method !== 'POST') return reply(404, { errors: [{ message: 'not found' }] });
      if (req.headers.authorization !== expected) return reply(401, { errors: [{ message: 'bad session token' }] });
      try {
        const { query } = JSON.parse(text) as { query: string };
        reply(200, { data: await engine.answer(query) });
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        errors.push(error);
        reply(200, { errors: [{ message: `${error.name}: ${error.message}`, path: [] }], data: null });
      }
    })();
  });
  // The module may run for many minutes on one exec (npm ci, the unit suite): no socket timeout.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  server.timeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    token,
    errors,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
