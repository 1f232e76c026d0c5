/**
 * Runs module functions against the fake engine and returns what they asked of it.
 */
import { afterAll, beforeAll } from 'vitest';
import { connection, dag, type Secret } from '@dagger.io/dagger';
import { loadModule, type KgraphMcp } from './module-api.js';
import { startFakeEngine, type FakeEngine, type LeafOverrides } from './fake-engine.js';

/** Plaintexts the tests hand to the engine as secrets; none may appear in what the module sends. */
export const PLAINTEXT = {
  kubeconfig: 'kubeconfig-plaintext-4f1c',
  githubToken: 'ghp_githubTokenPlaintext7c2e',
  password: 'registry-password-plaintext-9a0d',
} as const;

export interface Secrets {
  readonly kubeconfig: Secret;
  readonly githubToken: Secret;
  readonly password: Secret;
}

export interface Recording {
  /** Every query of the call, in order, as sent (ids unexpanded). */
  readonly queries: string[];
  /** The last query (the one that ran the function's result), ids expanded recursively. */
  readonly final: string;
  /** All queries, ids expanded, joined. */
  readonly all: string;
  /** All queries except the test's own setSecret calls, exactly as sent, joined. */
  readonly raw: string;
  /** Queries the test itself made to create secrets (the only place plaintext may travel). */
  readonly secretQueries: string[];
}

/** Starts one fake engine per test file and points the SDK at it. */
export function useFakeEngine(): { readonly engine: FakeEngine } {
  const holder = {} as { engine: FakeEngine };
  beforeAll(async () => {
    holder.engine = await startFakeEngine();
    process.env.DAGGER_SESSION_PORT = String(holder.engine.port);
    process.env.DAGGER_SESSION_TOKEN = holder.engine.token;
  });
  afterAll(async () => {
    delete process.env.DAGGER_SESSION_PORT;
    delete process.env.DAGGER_SESSION_TOKEN;
    await holder.engine.close();
  });
  return holder;
}

/** Calls `fn` with a fresh module (source = an empty directory) and secrets, recording the traffic. */
export async function record(
  engine: FakeEngine,
  fn: (mod: KgraphMcp, secrets: Secrets) => Promise<unknown>,
  opts: { nodeVersion?: string; leaves?: LeafOverrides } = {},
): Promise<Recording> {
  engine.reset();
  if (opts.leaves) engine.leaves = opts.leaves;
  const KgraphMcp = await loadModule();
  let error: unknown;
  await connection(async () => {
    const secrets: Secrets = {
      kubeconfig: dag.setSecret('kubeconfig', PLAINTEXT.kubeconfig),
      githubToken: dag.setSecret('github-token', PLAINTEXT.githubToken),
      password: dag.setSecret('registry-password', PLAINTEXT.password),
    };
    try {
      await fn(new KgraphMcp(dag.directory(), opts.nodeVersion ?? '22'), secrets);
    } catch (err) {
      error = err;
    }
  });
  if (error) throw error instanceof Error ? error : new Error(String(error));
  const queries = engine.queries.map((q) => q.query);
  const isSecret = (q: string) => /^\s*\{\s*setSecret\s*\(/.test(q);
  const own = queries.filter((q) => !isSecret(q));
  const last = own.at(-1) ?? '';
  return {
    queries: own,
    final: engine.expand(last),
    all: own.map((q) => engine.expand(q)).join('\n'),
    raw: own.join('\n'),
    secretQueries: queries.filter(isSecret),
  };
}

/** The argv of every withExec in order, parsed from a query (strings may contain brackets). */
export function execs(query: string): string[][] {
  const out: string[][] = [];
  const marker = 'withExec (args: ';
  for (let at = query.indexOf(marker); at >= 0; at = query.indexOf(marker, at + 1)) {
    const start = at + marker.length;
    let inString = false;
    let end = start;
    for (; end < query.length; end++) {
      const c = query[end];
      if (inString) {
        if (c === '\\') end++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === ']') break;
    }
    out.push(JSON.parse(query.slice(start, end + 1)) as string[]);
  }
  return out;
}

/** name -> value of every withEnvVariable in a query (last one wins, as in a container). */
export function envVars(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of query.matchAll(/withEnvVariable \(name: "([^"]+)",value: ("(?:[^"\\]|\\.)*")/g)) {
    out[m[1]!] = JSON.parse(m[2]!) as string;
  }
  return out;
}

/** alias -> the expanded service definition for every withServiceBinding in an expanded query. */
export function serviceBindings(expanded: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /withServiceBinding \(alias: "([^"]+)",service: <</g;
  for (let m = re.exec(expanded); m; m = re.exec(expanded)) {
    out.set(m[1]!, balancedFrom(expanded, m.index + m[0].length));
  }
  return out;
}

/** Text from `start` up to the matching `>>` (expanded ids nest). */
function balancedFrom(text: string, start: number): string {
  let depth = 1;
  for (let i = start; i < text.length - 1; i++) {
    if (text.startsWith('<<', i)) depth++;
    else if (text.startsWith('>>', i) && --depth === 0) return text.slice(start, i);
  }
  return text.slice(start);
}
