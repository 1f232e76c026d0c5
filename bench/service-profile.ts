/**
 * A CPU profile of the service under load, summarised: the service runs (built) under `node --cpu-prof`,
 * takes the uncached search mix of bench/app-latency.ts at a fixed rate (or, with --mix cached, one
 * cached tool read at full load), and after SIGTERM its profile is read back and grouped by where the time
 * went (our code, fastify, pg, ioredis, pino, prom-client, node internals, GC, idle). The service's own
 * /metrics are read before and after, so Postgres pool wait (db_pool_wait_seconds) stands beside the
 * time a graph query took end to end (graph_query_duration_seconds).
 * Run: npx tsx bench/service-profile.ts [--tools N] [--mix uncached|cached] [--rate R] [--duration S]
 *      [--keep DIR] (keeps the .cpuprofile, which Chrome DevTools and speedscope open)
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import pg from 'pg';
import { createEphemeralServices } from '../ci/src/platform/services/ephemeral.js';
import { REPO_ROOT } from '../ci/src/platform/repo-root.js';
import { freePort } from '../ci/src/platform/services/local-app.js';
import { migrate } from '../app/src/migrate.js';
import { seed } from '../app/src/seed.js';
import { runLoad } from '../ci/src/gate/load/index.js';
import { summarize } from '../ci/src/gate/stats.js';
import { table } from '../ci/src/platform/report/markdown.js';
import { searchPath, uncachedSearch } from './search-mix.js';
import { MEASURED_SERVICE_ENV } from './measured-service.js';
import { cpuSeconds } from './proc-stat.js';

const args = process.argv.slice(2);
const argOf = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const TOOLS = Number(argOf('--tools', '10000'));
const MIX = argOf('--mix', 'uncached') as 'uncached' | 'cached';
const RATE = Number(argOf('--rate', '500'));
const DURATION = Number(argOf('--duration', '10'));
const KEEP = argOf('--keep', '');
// --no-prof: the same load and figures without the profiler's own cost.
const PROFILE = !args.includes('--no-prof');
// An already seeded database (e.g. 100,000 tools seeded once) instead of a fresh one.
const GIVEN_URL = argOf('--database-url', '');
const API_KEY = 'bench-api-key-0123456789abcdef';
const log = (msg: string) => console.error(`[profile] ${msg}`);

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Which part of the stack a frame belongs to. */
export function category(url: string, fn: string): string {
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(program)') return 'V8/native (program)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) {
    const name = pkg[1]!;
    if (/^(fastify|@fastify\/|find-my-way|light-my-request|avvio|fast-json-stringify|ajv|secure-json-parse)/.test(name))
      return 'fastify';
    if (/^(pg|pg-|postgres-)/.test(name)) return 'pg';
    if (/^(ioredis|redis-|@ioredis|cluster-key-slot|denque|standard-as-callback)/.test(name)) return 'ioredis';
    if (/^(pino|sonic-boom|thread-stream|fast-redact|on-exit-leak-free|quick-format-unescaped)/.test(name))
      return 'pino';
    if (/^(prom-client|tdigest|bintrees)/.test(name)) return 'prom-client';
    return `other package (${name})`;
  }
  if (url.includes('/app/dist/') || url.includes('/app/src/')) return 'service code';
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

function summariseProfile(p: CpuProfile) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const cats = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, us] of self) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const cat = category(url, functionName);
    cats.set(cat, (cats.get(cat) ?? 0) + us);
    const where = url
      ? `${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/app\//, 'app/')}:${lineNumber + 1}`
      : '';
    const key = `${functionName || '(anonymous)'} ${where}`.trim();
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  return { total, cats, fns };
}

/** The service's Postgres backends (its application_name, in the bench's database). */
async function backendPids(url: string): Promise<number[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const res = await c.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kgraph-mcp'",
    );
    return res.rows.map((r) => r.pid);
  } finally {
    await c.end();
  }
}

async function metricsText(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

/** Sum of a counter over its label sets. */
function counter(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`)) sum += Number(line.split(' ').at(-1));
  return sum;
}

/** Sum and count of a histogram (all label sets matching `labels`). */
function histogram(text: string, name: string, labels = ''): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}_sum`) && line.includes(labels)) sum += Number(line.split(' ').at(-1));
    if (line.startsWith(`${name}_count`) && line.includes(labels)) count += Number(line.split(' ').at(-1));
  }
  return { sum, count };
}

log('building app/dist…');
if (
  spawnSync('npm', ['run', 'build', '-w', 'app'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] }).status !==
  0
)
  throw new Error('npm run build -w app failed');
const profDir = mkdtempSync(join(tmpdir(), 'kgraph-prof-'));
const services = await createEphemeralServices({ services: GIVEN_URL ? ['redis'] : ['postgres', 'redis'] });
const databaseUrl = GIVEN_URL || services.env.DATABASE_URL!;
try {
  if (!GIVEN_URL) {
    log(`migrating and seeding ${TOOLS} tools…`);
    await migrate(databaseUrl);
    await seed(databaseUrl, TOOLS);
  }
  log('starting the service under --cpu-prof…');
  // Spawned here rather than by startLocalApp: --cpu-prof is a node flag, not allowed in NODE_OPTIONS on
  // every Node. Sampled every 100 µs, not every 1 ms: a cached read takes about 0.1 ms.
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      ...(PROFILE ? ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${profDir}`] : []),
      join(REPO_ROOT, 'app/dist/main.js'),
    ],
    {
      env: {
        PATH: process.env.PATH,
        ...services.env,
        DATABASE_URL: databaseUrl,
        API_KEYS: API_KEY,
        ...MEASURED_SERVICE_ENV,
        HOST: '127.0.0.1',
        PORT: String(port),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const app = {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
  for (let i = 0; ; i++) {
    const ready = await fetch(`${app.url}/readyz`)
      .then(async (r) => r.ok && ((await r.json()) as { status?: string }).status === 'ready')
      .catch(() => false);
    if (ready) break;
    if (i > 600) throw new Error('service not ready within 60 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const headers = { 'x-api-key': API_KEY };
  const cachedUrl = `${app.url}/api/v1/tools/github-create-issue`;
  const load = async (seconds: number, offset: number) => {
    if (MIX === 'cached') {
      const r = await autocannon({ url: cachedUrl, headers, connections: 50, duration: seconds });
      return `${r.requests.average.toFixed(0)} req/s at full load (50 connections), p50 ${r.latency.p50} ms`;
    }
    const r = await runLoad({
      url: `${app.url}/api/v1/tools`,
      method: 'GET',
      headers,
      pathOf: (i) => searchPath(uncachedSearch(i + offset)),
      rate: RATE,
      durationSeconds: seconds,
      maxConcurrency: 256,
      lateToleranceMs: 20,
      timeoutMs: 10_000,
    });
    const s = summarize(r.latenciesMs);
    return `${RATE} req/s: p50 ${s?.p50.toFixed(2)} ms, p95 ${s?.p95.toFixed(2)} ms, p99 ${s?.p99.toFixed(2)} ms, max ${s?.max.toFixed(2)} ms, ${r.lateSends} late sends`;
  };
  log('warm-up (2 s)…');
  await load(2, 100_000);
  const before = await metricsText(app.url);
  const backends = await backendPids(databaseUrl);
  const cpu = () => ({ service: cpuSeconds(app.pid), postgres: backends.reduce((a, p) => a + cpuSeconds(p), 0) });
  const cpuBefore = cpu();
  log(`${MIX} load for ${DURATION} s…`);
  const outcome = await load(DURATION, 0);
  const cpuAfter = cpu();
  const after = await metricsText(app.url);
  await app.stop();
  printLoad(outcome, requests(before, after), cpuBefore, cpuAfter, backends.length);
  printPoolWait(before, after);
  if (PROFILE) printProfile(profDir, app.pid);
} finally {
  await services.dispose();
  rmSync(profDir, { recursive: true, force: true });
}

function requests(before: string, after: string): number {
  return counter(after, 'http_requests_total') - counter(before, 'http_requests_total');
}

function printLoad(
  outcome: string,
  n: number,
  a: { service: number; postgres: number },
  b: { service: number; postgres: number },
  backends: number,
) {
  const perReq = (s: number) => `${((s * 1000) / n).toFixed(3)} ms`;
  console.log(`\n## Service under ${MIX} load, ${TOOLS} tools (${outcome})\n`);
  console.log(
    `CPU per request during the measured load (${n} requests, from /proc${PROFILE ? '; the profiler adds its own' : ''}): service ${perReq(b.service - a.service)}, its ${backends} Postgres backends ${perReq(b.postgres - a.postgres)}`,
  );
}

function printPoolWait(before: string, after: string) {
  const delta = (name: string, labels = '') => {
    const a = histogram(before, name, labels);
    const b = histogram(after, name, labels);
    const count = b.count - a.count;
    return { count, meanMs: count > 0 ? ((b.sum - a.sum) / count) * 1000 : NaN };
  };
  const wait = delta('db_pool_wait_seconds');
  const rows = ['search', 'related', 'plan_rank', 'neighbourhood'].map((q) => {
    const d = delta('graph_query_duration_seconds', `query="${q}"`);
    return [q, d.count, d.meanMs.toFixed(2)];
  });
  console.log('\n### Postgres: pool wait against query time (service metrics, during the measured load)\n');
  console.log(
    table(
      ['measure', 'count', 'mean ms'],
      [
        ['db_pool_wait_seconds (checkout of a connection)', wait.count, wait.meanMs.toFixed(2)],
        ...rows
          .filter((r) => Number(r[1]) > 0)
          .map((r) => [`graph_query_duration_seconds{query="${r[0]}"} (wait + query)`, r[1], r[2]]),
      ],
    ),
  );
}

function printProfile(profDir: string, pid: number) {
  const file = readdirSync(profDir).find((f) => f.includes(`.${pid}.`) && f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile of pid ${pid} in ${profDir} (${readdirSync(profDir).join(', ')})`);
  if (KEEP) mkdirSync(KEEP, { recursive: true });
  if (KEEP) copyFileSync(join(profDir, file), join(KEEP, `${MIX}-${TOOLS}.cpuprofile`));
  const { total, cats, fns } = summariseProfile(JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile);
  const pct = (us: number) => `${((us / total) * 100).toFixed(1)}%`;
  console.log(`\n### CPU profile of the service process\n`);
  console.log(`profile length ${(total / 1e6).toFixed(1)} s (start-up and shutdown included)\n`);
  console.log(
    table(
      ['where', 'self time', 'share'],
      [...cats].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, `${(v / 1000).toFixed(0)} ms`, pct(v)]),
    ),
  );
  const busy = total - (cats.get('idle') ?? 0);
  console.log(`\n### Top functions by self time (share of busy time, ${(busy / 1000).toFixed(0)} ms)\n`);
  console.log(
    table(
      ['function', 'self ms', 'of busy'],
      [...fns]
        .filter(([k]) => !k.startsWith('(idle)'))
        .sort((a, b) => b[1] - a[1])
        .slice(0, 25)
        .map(([k, v]) => [k, (v / 1000).toFixed(0), `${((v / busy) * 100).toFixed(1)}%`]),
    ),
  );
}
