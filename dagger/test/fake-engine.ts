/**
 * A local stand-in for the Dagger engine's session API: enough for the npm SDK's `connection()`.
 *
 * With DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN set, the SDK sends every awaited chain as one
 * GraphQL POST to /query with HTTP Basic auth (token as user, empty password). This server checks the
 * auth, records each query, and answers with the nested shape the query asked for: a fresh id for
 * `id`, a canned value for other leaves. Ids map back to the query that produced them, so `expand`
 * can inline an argument object (a service, a secret, a cache volume) into the query that uses it.
 *
 * `graphql` comes with @dagger.io/dagger (the SDK builds its queries with it), so it is always installed.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Kind, parse, type FieldNode, type SelectionSetNode } from 'graphql';

export interface RecordedQuery {
  readonly query: string;
  /** Id returned for this query, when it asked for one. */
  readonly id?: string;
}

/** Leaf values a test wants instead of the defaults, by field name (`stdout`, `exitCode`, ...). */
export type LeafOverrides = Partial<Record<string, (query: string) => unknown>>;

export interface FakeEngine {
  readonly port: number;
  readonly token: string;
  readonly queries: RecordedQuery[];
  /** Raw request bodies, exactly as sent. */
  readonly bodies: string[];
  leaves: LeafOverrides;
  reset(): void;
  /** The query with every `"IDn"` replaced by `<<query that made IDn>>`, recursively. */
  expand(query: string): string;
  close(): Promise<void>;
}

const DEFAULT_LEAVES: Record<string, (query: string) => unknown> = {
  stdout: () => 'fake stdout',
  stderr: () => '',
  exitCode: () => 0,
  publish: (q) => `${/publish\s*\(address:\s*"([^"]+)"/.exec(q)?.[1] ?? 'image'}@sha256:${'0'.repeat(64)}`,
};

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startFakeEngine(token = 'fake-session-token'): Promise<FakeEngine> {
  const queries: RecordedQuery[] = [];
  const bodies: string[] = [];
  const byId = new Map<string, string>();
  let nextId = 1;

  const engine: FakeEngine = {
    port: 0,
    token,
    queries,
    bodies,
    leaves: {},
    reset() {
      queries.length = 0;
      bodies.length = 0;
      this.leaves = {};
    },
    expand(query: string): string {
      return expandIds(query, byId, new Set());
    },
    close: () => new Promise((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };

  const answer = (set: SelectionSetNode, query: string, ids: string[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const sel of set.selections) {
      if (sel.kind !== Kind.FIELD) throw new Error(`fake engine: unsupported selection ${sel.kind}`);
      const field: FieldNode = sel;
      const key = field.alias?.value ?? field.name.value;
      if (field.selectionSet) {
        out[key] = answer(field.selectionSet, query, ids);
      } else if (field.name.value === 'id' || field.name.value === 'sync') {
        const id = `ID${nextId++}`;
        byId.set(id, query);
        ids.push(id);
        out[key] = id;
      } else {
        const leaf = engine.leaves[field.name.value] ?? DEFAULT_LEAVES[field.name.value];
        out[key] = leaf ? leaf(query) : '';
      }
    }
    return out;
  };

  const expected = `Basic ${Buffer.from(`${token}:`).toString('base64')}`;
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      bodies.push(body);
      if (req.url !== '/query' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (req.headers.authorization !== expected) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end(JSON.stringify({ errors: [{ message: 'bad session token' }] }));
        return;
      }
      const { query } = JSON.parse(body) as { query: string };
      const doc = parse(query);
      const op = doc.definitions[0];
      if (!op || op.kind !== Kind.OPERATION_DEFINITION) throw new Error('fake engine: expected one operation');
      const ids: string[] = [];
      const data = answer(op.selectionSet, query, ids);
      queries.push(ids[0] ? { query, id: ids[0] } : { query });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data }));
    })().catch((err: unknown) => {
      res
        .writeHead(500, { 'content-type': 'application/json' })
        .end(JSON.stringify({ errors: [{ message: String(err) }] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  (engine as { port: number }).port = (server.address() as AddressInfo).port;
  return engine;
}

function expandIds(query: string, byId: ReadonlyMap<string, string>, seen: Set<string>): string {
  return query.replace(/"(ID\d+)"/g, (whole, id: string) => {
    const source = byId.get(id);
    if (!source || seen.has(id)) return whole;
    return `<<${expandIds(source, byId, new Set([...seen, id]))}>>`;
  });
}
