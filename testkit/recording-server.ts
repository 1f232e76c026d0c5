/**
 * A local stand-in for an outside HTTP API (Slack, Statuspage, Sentry, …) on 127.0.0.1: it records every
 * request it receives and answers what the test scripts (by default 200 with `{}`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Raw body text. */
  readonly text: string;
  /** The body parsed as JSON, when it is JSON. */
  readonly body?: unknown;
}

export interface Answer {
  readonly status: number;
  readonly body?: unknown;
  /** Hold the answer this long (a hanging API). */
  readonly delayMs?: number;
}

export type Responder = (req: Received, index: number) => Answer;

export interface RecordingServer {
  readonly url: string;
  readonly received: Received[];
  respond(r: Responder): void;
  close(): Promise<void>;
}

export async function startRecordingServer(
  responder: Responder = () => ({ status: 200, body: {} }),
): Promise<RecordingServer> {
  let respond = responder;
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      const r: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, text, body };
      received.push(r);
      const a = respond(r, received.length - 1);
      const send = () => {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      };
      if (a.delayMs) setTimeout(send, a.delayMs).unref();
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    respond: (r) => (respond = r),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
