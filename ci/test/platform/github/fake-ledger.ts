/**
 * A local GitHub that keeps state for the calls the delivery ledger and release facts make:
 * deployments (paginated newest first, with Link headers as GitHub sends them), their statuses (each with
 * its creator and log_url, as GitHub keeps them), workflow runs (the Actions API), commits (sha, tree,
 * committer date) and compare-with-main. Who creates a deployment or status is the identity of the token
 * that asked (`identities`; any other token is the GitHub Actions app). `down` answers 503 to everything;
 * `failWrites` answers 502 to writes. Every request is kept with its Authorization header.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const ACTIONS_BOT = 'github-actions[bot]';

export interface FakeStatus {
  id: number;
  state: string;
  description: string;
  created_at: string;
  creator: { login: string };
  log_url?: string;
}

export interface FakeDeployment {
  id: number;
  ref: string;
  task: string;
  environment: string;
  payload: unknown;
  production_environment: boolean;
  created_at: string;
  creator: { login: string };
  statuses: FakeStatus[];
}

/** A workflow run as GET /repos/{o}/{r}/actions/runs/{id} answers it. */
export interface FakeRun {
  id: number;
  path: string;
  head_branch: string | null;
  head_sha: string;
  status: string;
  conclusion: string | null;
}

export interface FakeCommit {
  readonly sha: string;
  readonly tree: string;
  readonly date: string;
  /** Whether it is on main (compare answers "behind" or "diverged"). */
  readonly onMain: boolean;
}

export interface FakeLedgerOptions {
  readonly owner?: string;
  readonly repo?: string;
  /** Tags and commits: `tags/v1.2.3` or a sha → commit. */
  readonly commits?: Readonly<Record<string, FakeCommit>>;
  /** Time used for created_at of new deployments and statuses. */
  readonly now?: () => number;
  /** Token → login of who it belongs to; any other token acts as the GitHub Actions app. */
  readonly identities?: Readonly<Record<string, string>>;
}

export interface FakeLedger {
  readonly url: string;
  readonly deployments: FakeDeployment[];
  readonly runs: Map<number, FakeRun>;
  readonly seen: { method: string; path: string; auth: string | undefined }[];
  down: boolean;
  failWrites: boolean;
  /** The log_url of a run of this repository. */
  runUrl(id: number): string;
  /** Adds a workflow run; returns it. */
  addRun(r: Partial<FakeRun> & { head_sha: string }): FakeRun;
  /**
   * Adds a finished deployment as if recorded earlier, by the Actions app unless `creator` says otherwise.
   * A staging record's statuses link a successful deploy-staging run on release/x for its commit, made
   * here, unless `run` names one (or is null: no link).
   */
  seed(d: {
    environment: string;
    payload: unknown;
    createdAt: string;
    statuses: { state: string; at: string; creator?: string }[];
    ref?: string;
    task?: string;
    production?: boolean;
    creator?: string;
    run?: number | null;
  }): FakeDeployment;
  close(): Promise<void>;
}

export async function fakeLedger(opts: FakeLedgerOptions = {}): Promise<FakeLedger> {
  const owner = opts.owner ?? 'acme';
  const repo = opts.repo ?? 'kgraph';
  const now = opts.now ?? Date.now;
  const deployments: FakeDeployment[] = [];
  const seen: FakeLedger['seen'] = [];
  let nextId = 1000;
  let nextStatus = 1;
  let nextRun = 7_000_000;
  const runs = new Map<number, FakeRun>();
  const runUrl = (id: number) => `https://github.com/${owner}/${repo}/actions/runs/${id}`;
  const addRun = (r: Partial<FakeRun> & { head_sha: string }): FakeRun => {
    const run: FakeRun = {
      id: r.id ?? nextRun++,
      path: r.path ?? '.github/workflows/deploy-staging.yml',
      head_branch: r.head_branch === undefined ? 'release/1.4' : r.head_branch,
      head_sha: r.head_sha,
      status: r.status ?? 'completed',
      conclusion: r.conclusion === undefined ? 'success' : r.conclusion,
    };
    runs.set(run.id, run);
    return run;
  };
  const whoIs = (auth: string | undefined) => {
    const token = auth?.replace(/^(token|bearer) /i, '');
    return (token && opts.identities?.[token]) ?? ACTIONS_BOT;
  };
  const state = { down: false, failWrites: false };
  const prefix = `/repos/${owner}/${repo}`;

  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      seen.push({ method: req.method!, path: req.url!, auth: req.headers.authorization });
      const send = (status: number, body: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
      if (state.down) return send(503, { message: 'Service Unavailable' });
      if (req.method !== 'GET' && state.failWrites) return send(502, { message: 'Bad Gateway' });
      const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      const path = url.pathname;
      if (!path.startsWith(prefix)) return send(404, { message: 'Not Found' });
      const rest = path.slice(prefix.length);
      let m: RegExpExecArray | null;
      if (rest === '/deployments' && req.method === 'GET') {
        const env = url.searchParams.get('environment');
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        const page = Number(url.searchParams.get('page') ?? 1);
        const all = deployments
          .filter((d) => !env || d.environment === env)
          .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
        const slice = all.slice((page - 1) * perPage, page * perPage);
        const last = Math.max(1, Math.ceil(all.length / perPage));
        const link =
          page < last
            ? {
                link: `<http://127.0.0.1:${port}${path}?${new URLSearchParams({ ...Object.fromEntries(url.searchParams), page: String(page + 1) })}>; rel="next"`,
              }
            : undefined;
        return send(
          200,
          slice.map(({ statuses: _s, ...d }) => d),
          link,
        );
      }
      if (rest === '/deployments' && req.method === 'POST') {
        const d: FakeDeployment = {
          id: nextId++,
          ref: String(body.ref),
          task: String(body.task ?? 'deploy'),
          environment: String(body.environment),
          payload: body.payload ?? {},
          production_environment: Boolean(body.production_environment),
          created_at: new Date(now()).toISOString(),
          creator: { login: whoIs(req.headers.authorization) },
          statuses: [],
        };
        deployments.push(d);
        const { statuses: _s, ...out } = d;
        return send(201, out);
      }
      if ((m = /^\/deployments\/(\d+)\/statuses$/.exec(rest))) {
        const d = deployments.find((x) => x.id === Number(m![1]));
        if (!d) return send(404, { message: 'Not Found' });
        if (req.method === 'POST') {
          const st: FakeStatus = {
            id: nextStatus++,
            state: String(body.state),
            description: String(body.description ?? ''),
            created_at: new Date(now()).toISOString(),
            creator: { login: whoIs(req.headers.authorization) },
            ...(typeof body.log_url === 'string' ? { log_url: body.log_url } : {}),
          };
          // GitHub's auto_inactive (default true): a success marks earlier successful deployments of the
          // same non-production environment inactive.
          if (st.state === 'success' && body.auto_inactive !== false && !d.production_environment) {
            for (const o of deployments) {
              if (o !== d && o.environment === d.environment && o.statuses.at(-1)?.state === 'success')
                o.statuses.push({
                  id: nextStatus++,
                  state: 'inactive',
                  description: '',
                  created_at: st.created_at,
                  creator: st.creator,
                });
            }
          }
          d.statuses.push(st);
          return send(201, st);
        }
        const perPage = Number(url.searchParams.get('per_page') ?? 30);
        return send(200, [...d.statuses].reverse().slice(0, perPage));
      }
      if ((m = /^\/actions\/runs\/(\d+)$/.exec(rest)) && req.method === 'GET') {
        const run = runs.get(Number(m[1]));
        return run ? send(200, run) : send(404, { message: 'Not Found' });
      }
      if ((m = /^\/commits\/(.+)$/.exec(rest))) {
        const c = opts.commits?.[decodeURIComponent(m[1]!)];
        if (!c) return send(404, { message: 'No commit found' });
        return send(200, { sha: c.sha, commit: { tree: { sha: c.tree }, committer: { date: c.date } } });
      }
      if ((m = /^\/compare\/main\.\.\.([0-9a-f]{40})$/.exec(rest))) {
        const c = Object.values(opts.commits ?? {}).find((x) => x.sha === m![1]);
        if (!c) return send(404, { message: 'Not Found' });
        return send(200, { status: c.onMain ? 'behind' : 'ahead' });
      }
      return send(404, { message: 'Not Found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    deployments,
    seen,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    get failWrites() {
      return state.failWrites;
    },
    set failWrites(v: boolean) {
      state.failWrites = v;
    },
    runs,
    runUrl,
    addRun,
    seed(d) {
      const commit = (d.payload as { commit?: unknown } | null)?.commit;
      const runId =
        d.run !== undefined
          ? d.run
          : d.environment === 'staging'
            ? addRun({ head_sha: typeof commit === 'string' ? commit : '0'.repeat(40) }).id
            : null;
      const creator = d.creator ?? ACTIONS_BOT;
      const dep: FakeDeployment = {
        id: nextId++,
        ref: d.ref ?? 'main',
        task: d.task ?? 'kgraph-ci:deploy',
        environment: d.environment,
        payload: d.payload,
        production_environment: d.production ?? false,
        created_at: d.createdAt,
        creator: { login: creator },
        statuses: d.statuses.map((s) => ({
          id: nextStatus++,
          state: s.state,
          description: '',
          created_at: s.at,
          creator: { login: s.creator ?? creator },
          ...(runId !== null ? { log_url: runUrl(runId) } : {}),
        })),
      };
      deployments.push(dep);
      return dep;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
