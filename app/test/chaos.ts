/**
 * A chaos run (issue 11): two service processes share Postgres and Redis through TCP proxies, under
 * mixed read and write load, while Postgres and Redis are each cut and restored `cycles` times. It
 * counts what must never happen and how long each recovery takes. bench/chaos.ts runs it for about two
 * minutes; chaos.int.test.ts runs a short version. Only 127.0.0.1, bounded in time and requests.
 *
 * - crashes: a service process that exited (or whose log says uncaught/unhandled).
 * - 5xx other than 503, and transport errors (a refused or reset connection to a service).
 * - acknowledged writes lost: each tool has one writer sending PATCHes one after another with a rising
 *   version; at the end Postgres must hold at least the last version answered 200. Tools created with
 *   201 must exist.
 * - stale reads: a read that started more than 1 s after a write's 200 and returned an older version.
 * - recovery: from each restore until both instances say ready and answer an uncached read.
 */
import pg from 'pg';
import { startLocalApp, type LocalApp } from '../../ci/src/platform/services/local-app.js';
import { generateSeed } from '../src/seed-data.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export interface ChaosOptions {
  /** DATABASE_URL, REDIS_URL, REDIS_PREFIX of services of the run's own. */
  readonly env: Readonly<Record<string, string>>;
  readonly cycles: number;
  readonly normalMs: number;
  readonly outageMs: number;
  readonly writers: number;
  readonly readers: number;
  readonly log?: (msg: string) => void;
}

export type Dependency = 'postgres' | 'redis';

export interface ChaosResult {
  readonly crashes: number;
  readonly serverErrors: number;
  readonly transportErrors: number;
  readonly lostWrites: number;
  readonly staleReads: number;
  readonly examples: readonly string[];
  readonly recoveries: readonly { dependency: Dependency; cycle: number; ms: number | null }[];
  readonly statuses: Readonly<Record<string, number>>;
  readonly acknowledgedWrites: number;
  readonly reads: number;
  readonly exitCodes: readonly (number | null)[];
}

const API_KEY = 'chaos-api-key-0123456789abcdef';
const STALE_AFTER_MS = 1_000;
const RECOVERY_LIMIT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 8_000;
const SEED = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Starting one instance: migrate and seed (no bound of their own, small here), then /readyz within 90 s. */
const START_BOUND_MS = 120_000;

/**
 * The longest a run can take by its own bounds (two starts; per cut: the wait, the outage, recovery
 * probes up to their limit; the drain of in-flight requests): a test's timeout is this, not a guess sized
 * for an idle machine. A normal run takes a small part of it.
 */
export function chaosBoundMs(o: Pick<ChaosOptions, 'cycles' | 'normalMs' | 'outageMs'>): number {
  const perCut = o.normalMs + o.outageMs + RECOVERY_LIMIT_MS + 2 * (2_000 + REQUEST_TIMEOUT_MS);
  return 2 * START_BOUND_MS + o.cycles * 2 * perCut + o.normalMs + REQUEST_TIMEOUT_MS + 10_000;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const versionOf = (description: string): number => {
  const m = /^chaos v(\d+)$/.exec(description);
  return m ? Number(m[1]) : 0;
};

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  const log = opts.log ?? (() => undefined);
  const db = new URL(opts.env.DATABASE_URL!);
  const redisUrl = new URL(opts.env.REDIS_URL!);
  const proxies: Record<Dependency, TcpProxy> = {
    postgres: await startTcpProxy(db.hostname, Number(db.port || 5432)),
    redis: await startTcpProxy(redisUrl.hostname, Number(redisUrl.port || 6379)),
  };
  const env = {
    ...opts.env,
    DATABASE_URL: proxies.postgres.url(opts.env.DATABASE_URL!),
    REDIS_URL: proxies.redis.url(opts.env.REDIS_URL!),
    API_KEYS: API_KEY,
    RATE_LIMIT_MAX: '100000000',
    LOG_LEVEL: 'warn',
    SHUTDOWN_DELAY_MS: '0',
  };
  const apps: LocalApp[] = [];
  const examples: string[] = [];
  const note = (msg: string) => {
    if (examples.length < 20) examples.push(msg);
  };
  const statuses: Record<string, number> = {};
  let serverErrors = 0;
  let transportErrors = 0;
  let staleReads = 0;
  let reads = 0;
  let acknowledgedWrites = 0;
  let crashes: number;
  const recoveries: { dependency: Dependency; cycle: number; ms: number | null }[] = [];

  try {
    apps.push(await startLocalApp({ env, seedCount: SEED }));
    apps.push(await startLocalApp({ env, migrate: false }));
    log(`two instances at ${apps.map((a) => a.url).join(', ')}`);
    const crashed = new Set<number>();
    const watch = setInterval(() => {
      for (const a of apps) if (!alive(a.pid)) crashed.add(a.pid);
    }, 100);

    const call = async (app: LocalApp, method: string, path: string, body?: unknown) => {
      try {
        const res = await fetch(`${app.url}${path}`, {
          method,
          headers: { 'x-api-key': API_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        const text = await res.text();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 500 && res.status !== 503) {
          serverErrors++;
          note(`${method} ${path} → ${res.status} ${text.slice(0, 200)}`);
        }
        return { status: res.status, text };
      } catch (err) {
        const reason = String((err as { cause?: unknown }).cause ?? err);
        // A timeout is a slow answer during an outage; a refused or reset connection means a process is gone.
        if (/ECONNREFUSED|ECONNRESET|socket|other side closed/i.test(reason)) {
          transportErrors++;
          note(`${method} ${path} → ${reason}`);
        }
        statuses.transport = (statuses.transport ?? 0) + 1;
        return { status: 0, text: '' };
      }
    };

    const tools = generateSeed(SEED)
      .tools.slice(0, opts.writers)
      .map((t) => t.slug);
    const acked = new Map<string, { version: number; at: number }[]>(tools.map((s) => [s, []]));
    const created: string[] = [];
    let running = true;

    const writer = async (slug: string, w: number) => {
      let version = 0;
      while (running) {
        version++;
        const app = apps[(version + w) % apps.length]!;
        const res = await call(app, 'PATCH', `/api/v1/tools/${slug}`, { description: `chaos v${version}` });
        if (res.status === 200) {
          acked.get(slug)!.push({ version, at: Date.now() });
          acknowledgedWrites++;
        }
        await sleep(20);
      }
    };
    const creator = async () => {
      let i = 0;
      while (running) {
        const slug = `chaos-created-${i++}`;
        const res = await call(apps[i % apps.length]!, 'POST', '/api/v1/tools', {
          name: `Chaos Created ${i}`,
          slug,
          category: 'testing',
        });
        if (res.status === 201) {
          created.push(slug);
          acknowledgedWrites++;
        }
        await sleep(100);
      }
    };
    const reader = async (r: number) => {
      let i = r;
      while (running) {
        i++;
        const slug = tools[i % tools.length]!;
        const app = apps[(i * 7 + r) % apps.length]!;
        const started = Date.now();
        const res = await call(app, 'GET', `/api/v1/tools/${slug}`);
        if (res.status === 200) {
          reads++;
          const v = versionOf((JSON.parse(res.text) as { description: string }).description);
          // The newest version whose 200 came more than 1 s before this read started.
          const due = acked
            .get(slug)!
            .filter((a) => a.at < started - STALE_AFTER_MS)
            .at(-1);
          if (due && v < due.version) {
            staleReads++;
            note(
              `stale: ${slug} on ${app.url} read v${v} at ${started}, v${due.version} acknowledged ${started - due.at} ms before`,
            );
          }
        }
        await sleep(5);
      }
    };

    const load = [
      ...tools.map((s, w) => writer(s, w)),
      creator(),
      ...Array.from({ length: opts.readers }, (_, r) => reader(r)),
    ];

    let probe = 0;
    const recovered = async () => {
      for (const app of apps) {
        const ready = await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(2_000) }).catch(() => undefined);
        if (!ready || ready.status !== 200 || ((await ready.json()) as { status: string }).status !== 'ready')
          return false;
        // An uncached read: it needs Postgres itself, not a cache entry.
        const fresh = await call(app, 'GET', `/api/v1/tools?q=chaos&limit=${(probe++ % 90) + 1}&tag=probe-${probe}`);
        if (fresh.status !== 200) return false;
      }
      return true;
    };

    for (let cycle = 1; cycle <= opts.cycles; cycle++) {
      for (const dependency of ['postgres', 'redis'] as const) {
        await sleep(opts.normalMs);
        log(`cycle ${cycle}: ${dependency} cut`);
        proxies[dependency].cut();
        await sleep(opts.outageMs);
        proxies[dependency].restore();
        const restoredAt = Date.now();
        let ms: number | null = null;
        while (Date.now() - restoredAt < RECOVERY_LIMIT_MS) {
          if (await recovered()) {
            ms = Date.now() - restoredAt;
            break;
          }
          await sleep(25);
        }
        recoveries.push({ dependency, cycle, ms });
        log(`cycle ${cycle}: ${dependency} restored, recovered in ${ms ?? 'never'} ms`);
      }
    }
    await sleep(opts.normalMs);
    running = false;
    await Promise.all(load);
    clearInterval(watch);
    crashes = crashed.size + apps.filter((a) => /uncaught|unhandled/i.test(a.logs())).length;

    // Acknowledged writes, read from Postgres itself (not through the service or its cache).
    const client = new pg.Client({ connectionString: opts.env.DATABASE_URL });
    await client.connect();
    let lostWrites = 0;
    try {
      const rows = (
        await client.query<{ slug: string; description: string }>(
          'SELECT slug, description FROM tools WHERE slug = ANY($1) OR slug LIKE $2',
          [tools, 'chaos-created-%'],
        )
      ).rows;
      const bySlug = new Map(rows.map((r) => [r.slug, r.description]));
      for (const [slug, list] of acked) {
        const last = list.at(-1);
        const now = versionOf(bySlug.get(slug) ?? '');
        if (last && now < last.version) {
          lostWrites++;
          note(`lost: ${slug} holds v${now}, v${last.version} was acknowledged`);
        }
      }
      for (const slug of created) {
        if (!bySlug.has(slug)) {
          lostWrites++;
          note(`lost: ${slug} was created (201) and is gone`);
        }
      }
    } finally {
      await client.end();
    }
    const exitCodes = await Promise.all(apps.map((a) => a.stop()));
    apps.length = 0;
    return {
      crashes,
      serverErrors,
      transportErrors,
      lostWrites,
      staleReads,
      examples,
      recoveries,
      statuses,
      acknowledgedWrites,
      reads,
      exitCodes,
    };
  } finally {
    for (const a of apps) await a.stop('SIGKILL');
    await proxies.postgres.close();
    await proxies.redis.close();
  }
}
