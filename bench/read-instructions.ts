/**
 * Instructions per cached read (issue 25), counted by valgrind's callgrind: unlike req/s, the count does
 * not move with what else the machine runs, so before/after and service/baseline compare on a loaded
 * machine. The built service and the bare node:http baseline (bench/bare-server.ts: the same headers and
 * body) each run under callgrind; after a warm-up (JIT tiers, the in-process cache), the counters are
 * zeroed, exactly N requests are sent over keep-alive connections, and the counters dumped: instructions of
 * the whole process (every thread: GC helpers, libuv) divided by N. Repeated K times per server.
 * The client (autocannon) runs outside valgrind and is not counted.
 * Run: npx tsx bench/read-instructions.ts [--requests N] [--warmup N] [--repeat K] [--tools N]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createEphemeralServices } from '../ci/src/platform/services/ephemeral.js';
import { REPO_ROOT } from '../ci/src/platform/repo-root.js';
import { freePort } from '../ci/src/platform/services/local-app.js';
import { table } from '../ci/src/platform/report/markdown.js';
import { migrate } from '../app/src/migrate.js';
import { seed } from '../app/src/seed.js';
import { bareServerArgv, sampleResponse } from './bare-server.js';
import { MEASURED_SERVICE_ENV } from './measured-service.js';

const args = process.argv.slice(2);
const argOf = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};
const REQUESTS = Number(argOf('--requests', '2000'));
const WARMUP = Number(argOf('--warmup', '4000'));
const REPEAT = Number(argOf('--repeat', '3'));
const TOOLS = Number(argOf('--tools', '1000'));
const API_KEY = 'bench-api-key-0123456789abcdef';
const CONNECTIONS = 10;
const log = (msg: string) => console.error(`[instructions] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Traced {
  readonly proc: ChildProcess;
  readonly outDir: string;
  stop(): Promise<void>;
}

/** Starts `node argv` under callgrind, its dumps in a fresh directory. */
function underCallgrind(argv: string[], env: NodeJS.ProcessEnv): Traced {
  const outDir = mkdtempSync(join(tmpdir(), 'kgraph-cg-'));
  const proc = spawn(
    'valgrind',
    [
      '--tool=callgrind',
      // V8 writes and rewrites machine code at run time: valgrind must notice it outside mapped files.
      '--smc-check=all-non-file',
      `--callgrind-out-file=${join(outDir, 'cg.%p')}`,
      process.execPath,
      ...argv,
    ],
    { env, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    proc,
    outDir,
    stop: async () => {
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(30_000)]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(outDir, { recursive: true, force: true });
      if (process.env.KEEP_VALGRIND_LOG) console.error(stderr);
    },
  };
}

/** callgrind_control against the traced process; it refuses until callgrind has registered, so retried. */
async function control(pid: number, flag: '-z' | '-d'): Promise<void> {
  for (let i = 0; ; i++) {
    const r = spawnSync('callgrind_control', [flag, String(pid)], { encoding: 'utf8' });
    if (r.status === 0 && !/not detected/.test(r.stdout + r.stderr)) return;
    if (i >= 30) throw new Error(`callgrind_control ${flag} ${pid} failed: ${r.stdout}${r.stderr}`);
    await sleep(1000);
  }
}

/**
 * Total instructions of the dump `callgrind_control -d` just wrote (`cg.PID.N`; `cg.PID` itself is the
 * file written at exit), from its `totals:` line; waited for, since the dump is written as it is asked for.
 */
async function newestTotal(dir: string, seen: Set<string>): Promise<number> {
  // Up to 10 minutes: at load 20-30 a dump of the whole service took longer than one.
  for (let i = 0; i < 1200; i++) {
    const fresh = readdirSync(dir).filter((f) => !seen.has(f) && /^cg\.\d+\.\d+$/.test(f));
    if (fresh.length > 1) throw new Error(`expected one new callgrind dump in ${dir}, found ${fresh.join(', ')}`);
    const m = fresh[0] ? /^totals:\s+(\d+)/m.exec(readFileSync(join(dir, fresh[0]), 'utf8')) : null;
    if (m) {
      seen.add(fresh[0]!);
      return Number(m[1]);
    }
    await sleep(500);
  }
  throw new Error(`no complete callgrind dump appeared in ${dir}`);
}

/** Sends `amount` requests; `strict`: every one must be a 2xx (a count over failures is not a count per read). */
async function send(url: string, headers: Record<string, string>, amount: number, strict: boolean): Promise<void> {
  const r = await autocannon({ url, headers, connections: CONNECTIONS, amount, timeout: 120 });
  const bad = r.non2xx + r.errors + r.timeouts;
  const what = `${url}: ${r.requests.total} of ${amount} answered; non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}; status codes ${JSON.stringify(r.statusCodeStats)}`;
  if (bad > 0 || r.requests.total !== amount) {
    if (strict) throw new Error(what);
    log(`warm-up not clean (discarded): ${what}`);
  }
}

/** cache_requests_total{outcome="hit"} of the service, 0 for a server without it. */
async function cacheHits(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const m = /^cache_requests_total\{outcome="hit"\} (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

async function waitFor(check: () => Promise<boolean>, what: string, seconds: number): Promise<void> {
  for (let i = 0; i < seconds * 2; i++) {
    if (await check().catch(() => false)) return;
    await sleep(500);
  }
  throw new Error(`${what} not ready within ${seconds} s under valgrind`);
}

/**
 * Instructions per request, REPEAT times, of a traced server after its warm-up. For the service
 * (`metricsBase`), every counted request must have been a cache hit: its metrics are read before and after
 * each count (outside the counted window), so a count over bypasses or misses is refused, not reported.
 */
async function perRequest(
  t: Traced,
  url: string,
  headers: Record<string, string>,
  metricsBase?: string,
): Promise<number[]> {
  const pid = t.proc.pid!;
  const seen = new Set<string>();
  await send(url, headers, WARMUP, false);
  const out: number[] = [];
  for (let k = 0; k < REPEAT; k++) {
    const hitsBefore = metricsBase ? await cacheHits(metricsBase) : 0;
    await control(pid, '-z');
    await send(url, headers, REQUESTS, true);
    await control(pid, '-d');
    const total = await newestTotal(t.outDir, seen);
    if (metricsBase) {
      const hits = (await cacheHits(metricsBase)) - hitsBefore;
      if (hits !== REQUESTS) throw new Error(`${hits} of ${REQUESTS} counted requests were cache hits`);
    }
    out.push(total / REQUESTS);
  }
  return out;
}

log('building app/dist…');
if (
  spawnSync('npm', ['run', 'build', '-w', 'app'], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] }).status !==
  0
)
  throw new Error('npm run build -w app failed');
const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
const traced: Traced[] = [];
try {
  await migrate(services.env.DATABASE_URL!);
  await seed(services.env.DATABASE_URL!, TOOLS);
  const port = await freePort();
  const headers = { 'x-api-key': API_KEY };
  log('starting the service under callgrind (slow: minutes on a loaded machine)…');
  const svc = underCallgrind([join(REPO_ROOT, 'app/dist/main.js')], {
    PATH: process.env.PATH,
    ...services.env,
    API_KEYS: API_KEY,
    ...MEASURED_SERVICE_ENV,
    HOST: '127.0.0.1',
    PORT: String(port),
  });
  traced.push(svc);
  const base = `http://127.0.0.1:${port}`;
  const cachedUrl = `${base}/api/v1/tools/github-create-issue`;
  // Not /readyz: under valgrind on a loaded machine its probes outlast their own timeouts, while the
  // endpoint measured here answers; the counted windows check every answer anyway.
  await waitFor(async () => (await fetch(cachedUrl, { headers })).ok, 'service', 1200);
  log(`service: ${WARMUP} warm-up reads, then ${REPEAT} × ${REQUESTS} counted…`);
  const service = await perRequest(svc, cachedUrl, headers, base);
  // After the warm-up, so the baseline repeats a hit's headers (x-cache: hit), as in app-latency.
  const sample = await sampleResponse(cachedUrl, headers);

  const barePort = await freePort();
  const bare = underCallgrind(bareServerArgv(sample, barePort), { PATH: process.env.PATH });
  traced.push(bare);
  const bareUrl = `http://127.0.0.1:${barePort}/`;
  await waitFor(async () => (await fetch(bareUrl)).ok, 'bare server', 300);
  log(`bare node:http: ${WARMUP} warm-up reads, then ${REPEAT} × ${REQUESTS} counted…`);
  const baseline = await perRequest(bare, bareUrl, {});

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const k = (n: number) => `${(n / 1000).toFixed(1)} k`;
  console.log(
    `\n## Instructions per cached read (callgrind; ${REQUESTS} requests per count, ${CONNECTIONS} keep-alive connections, after ${WARMUP} warm-up)\n`,
  );
  console.log(
    table(
      ['server', 'counts (instructions per request)', 'median', 'vs bare'],
      [
        ['bare node:http, same headers and body', baseline.map(k).join(' / '), k(median(baseline)), '1.00'],
        [
          'GET /api/v1/tools/:id (cached)',
          service.map(k).join(' / '),
          k(median(service)),
          (median(service) / median(baseline)).toFixed(2),
        ],
      ],
    ),
  );
  console.log(
    `\nbare / service instructions: ${(median(baseline) / median(service)).toFixed(2)} (what req/s would give if the CPU per request were all that differed)`,
  );
} finally {
  for (const t of traced) await t.stop();
  await services.dispose();
}
