/** A local GitHub API: each expected request (method, path, optional body) gets a canned answer, in order. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Expectation {
  readonly method: string;
  readonly path: string;
  readonly body?: Record<string, unknown>;
  readonly status?: number;
  readonly response?: unknown;
  readonly headers?: Record<string, string>;
}

export interface FakeGitHub {
  readonly url: string;
  readonly seen: { method: string; path: string; body: unknown; auth: string | undefined }[];
  /** Expectations that were never requested, plus requests that matched nothing. */
  readonly problems: string[];
  close(): Promise<void>;
}

export async function fakeGitHub(expectations: readonly Expectation[]): Promise<FakeGitHub> {
  const queue = [...expectations];
  const seen: FakeGitHub['seen'] = [];
  const problems: string[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body: unknown = raw ? JSON.parse(raw) : undefined;
      seen.push({ method: req.method!, path: req.url!, body, auth: req.headers.authorization });
      const next = queue.shift();
      if (!next || next.method !== req.method || next.path !== req.url) {
        problems.push(
          `unexpected ${req.method} ${req.url} (expected ${next ? `${next.method} ${next.path}` : 'nothing'})`,
        );
        res.writeHead(500).end();
        return;
      }
      if (next.body) {
        for (const [k, v] of Object.entries(next.body)) {
          if (JSON.stringify((body as Record<string, unknown>)?.[k]) !== JSON.stringify(v))
            problems.push(
              `${req.method} ${req.url}: body.${k} = ${JSON.stringify((body as Record<string, unknown>)?.[k])}, expected ${JSON.stringify(v)}`,
            );
        }
      }
      res
        .writeHead(next.status ?? 200, { 'content-type': 'application/json', ...next.headers })
        .end(JSON.stringify(next.response ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    get problems() {
      return [...problems, ...queue.map((q) => `never requested: ${q.method} ${q.path}`)];
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
