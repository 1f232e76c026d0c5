/**
 * The latency gate: each scenario of the environment on its own, open-model load at a fixed rate
 * (load.ts), a warm-up discarded, then measured and judged (verdict.ts). With a baseline (the release
 * the candidate replaces) both are measured in the same run, alternating in short rounds at the same
 * rate (ABBA order, so drift and machine noise hit both alike), and compared per route with a block
 * bootstrap of the p50 and p95 ratios (stats.ts). Library entry point for `kgraph-ci gate latency`
 * and the deploy command.
 */
import type { EnvironmentDefinition, LatencyGateConfig, LatencyScenario } from '../definitions/environments.js';
import { createLoadClient, type LoadClient, type LoadRequest } from './load/index.js';
import { RouteRounds, unmeasured } from './measurement.js';
import { bootstrapRatios } from './stats.js';
import { judgeGate, type GateVerdict, type RouteComparison, type RouteMeasurement } from './verdict.js';

/** A service to measure. */
export interface GateTarget {
  readonly baseUrl: string;
  /** Sent as x-api-key; never logged or written to the report. */
  readonly apiKey?: string;
  /** How it was served, compared between baseline and candidate (e.g. "local source, 200 tools"). */
  readonly served?: string;
}

export type Overrides = Partial<
  Pick<
    LatencyGateConfig,
    'requestsPerSecond' | 'warmupSeconds' | 'durationSeconds' | 'maxConcurrency' | 'lateSendToleranceMs'
  >
> & {
  readonly regression?: Partial<LatencyGateConfig['regression']>;
};

export interface LatencyGateOptions {
  readonly candidate: GateTarget;
  /** A baseline to compare with, or why there is none although one was asked for. */
  readonly baseline?: GateTarget | { readonly unavailable: string };
  readonly environment: EnvironmentDefinition;
  /** Shorter or different runs (benchmarks, tests); thresholds always come from the environment. */
  readonly overrides?: Overrides;
  /** Run only these scenarios. */
  readonly only?: readonly LatencyScenario['name'][];
  readonly log?: (line: string) => void;
  /** The load client; tests give a fake. */
  readonly client?: (req: LoadRequest, maxConcurrency: number) => LoadClient;
  readonly fetch?: typeof fetch;
}

export interface RouteReport {
  readonly candidate: RouteMeasurement;
  readonly baseline?: RouteMeasurement | { readonly unavailable: string };
  readonly comparison?: RouteComparison;
}

export interface LatencyGateReport extends GateVerdict {
  readonly environment: string;
  readonly candidate: { readonly url: string; readonly served?: string };
  readonly baseline?: { readonly url: string; readonly served?: string } | { readonly unavailable: string };
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly config: LatencyGateConfig;
  readonly measurements: readonly RouteReport[];
}

/** Base URL without credentials or query, fit for logs and reports. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/** A tool id for `{toolId}` paths: the first tool the search lists. */
export async function discoverToolId(
  f: typeof fetch,
  baseUrl: string,
  headers: Record<string, string>,
): Promise<string> {
  const res = await f(new URL('/api/v1/tools?limit=1', baseUrl), { headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok)
    throw new Error(
      `GET /api/v1/tools answered HTTP ${res.status}${res.status === 401 ? ' (is API_KEY set and valid?)' : ''}`,
    );
  const body = (await res.json()) as { items?: { id?: string; slug?: string }[] };
  const first = body.items?.[0];
  const id = first?.id ?? first?.slug;
  if (!id) throw new Error('the service lists no tools (seed the database first)');
  return id;
}

export function mergeConfig(base: LatencyGateConfig, o: Overrides = {}): LatencyGateConfig {
  const { regression, ...rest } = o;
  return { ...base, ...rest, regression: { ...base.regression, ...regression } };
}

interface Prepared {
  readonly target: GateTarget;
  readonly headers: Record<string, string>;
  readonly toolId?: string;
  readonly toolIdError?: string;
  readonly unreachable?: string;
}

async function prepare(
  target: GateTarget,
  f: typeof fetch,
  needsToolId: boolean,
  who: string,
  log: (l: string) => void,
): Promise<Prepared> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.apiKey) headers['x-api-key'] = target.apiKey;
  try {
    const res = await f(new URL('/healthz', target.baseUrl), { signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
  } catch (err) {
    const e = err as { cause?: { code?: string; message?: string }; message?: string };
    const unreachable = `${who} unreachable at ${displayUrl(target.baseUrl)}: ${e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)}`;
    log(unreachable);
    return { target, headers, unreachable };
  }
  if (!needsToolId) return { target, headers };
  try {
    return { target, headers, toolId: await discoverToolId(f, target.baseUrl, headers) };
  } catch (err) {
    return { target, headers, toolIdError: `no tool id for {toolId} on the ${who}: ${(err as Error).message}` };
  }
}

const seedOf = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
const fmtMs = (n: number | undefined) => (n === undefined ? '-' : `${n.toFixed(n < 10 ? 2 : 1)}ms`);

type Who = 'candidate' | 'baseline';

/** Everything a route's measurement needs, fixed before the first one runs. */
interface GateRun {
  readonly o: LatencyGateOptions;
  readonly config: LatencyGateConfig;
  readonly log: (line: string) => void;
  readonly makeClient: NonNullable<LatencyGateOptions['client']>;
  readonly cand: Prepared;
  readonly base: Prepared | undefined;
  /** A baseline was asked for (it may be unavailable). */
  readonly compare: boolean;
  readonly rounds: number;
}

interface Side {
  readonly who: Who;
  readonly rounds: RouteRounds;
  readonly client: LoadClient;
}

function setupErrorOf(p: Prepared, s: LatencyScenario): string | undefined {
  return p.unreachable ?? (s.path.includes('{toolId}') && !p.toolId ? p.toolIdError : undefined);
}

function openSide(g: GateRun, s: LatencyScenario, p: Prepared, who: Who): Side {
  const path = s.path.replace('{toolId}', encodeURIComponent(p.toolId ?? ''));
  const req: LoadRequest = {
    url: new URL(path, p.target.baseUrl).toString(),
    method: s.method,
    headers: s.body === undefined ? p.headers : { ...p.headers, 'content-type': 'application/json' },
    ...(s.body === undefined ? {} : { body: JSON.stringify(s.body) }),
  };
  return { who, rounds: new RouteRounds(s, path), client: g.makeClient(req, g.config.maxConcurrency) };
}

/** Warm-up (discarded), then the measured rounds; with two sides in ABBA order. */
async function runRounds(g: GateRun, s: LatencyScenario, sides: readonly Side[]): Promise<void> {
  const { config, log } = g;
  const schedule = {
    rate: config.requestsPerSecond,
    lateToleranceMs: config.lateSendToleranceMs,
    timeoutMs: config.requestTimeoutMs,
  };
  if (config.warmupSeconds > 0) {
    for (const { who, client } of sides) {
      log(`${s.name}: ${who} warm-up ${config.warmupSeconds}s at ${config.requestsPerSecond} req/s (discarded)`);
      await client.run({ ...schedule, durationSeconds: config.warmupSeconds });
    }
  }
  const roundSeconds = config.durationSeconds / g.rounds;
  for (let r = 0; r < g.rounds; r++) {
    // ABBA: baseline first in even rounds, candidate first in odd ones.
    const order = sides.length === 2 && r % 2 === 0 ? [...sides].reverse() : sides;
    for (const { who, rounds, client } of order) {
      const round = g.rounds > 1 ? `round ${r + 1}/${g.rounds} ` : '';
      log(
        `${s.name}: ${round}${who} ${s.method} ${rounds.path} for ${roundSeconds}s at ${config.requestsPerSecond} req/s`,
      );
      let ticks = 0;
      const res = await client.run({
        ...schedule,
        durationSeconds: roundSeconds,
        // Progress every 5 s: long runs show they are alive without flooding the log.
        onTick: (n) => {
          if (++ticks % 5 === 0) log(`${s.name}: ${who} ${ticks}s, ${n} responses`);
        },
      });
      rounds.add(res, config.regression.blockSeconds * 1000);
    }
  }
}

function logRoute(log: (l: string) => void, report: RouteReport): void {
  const c = report.candidate;
  const bl = report.baseline && 'scenario' in report.baseline ? report.baseline : undefined;
  log(
    `${c.scenario}: ${c.responses} responses, ${c.non2xx - c.rateLimited} non-2xx, ${c.rateLimited} rate-limited, ${c.socketErrors} connection errors, ${c.timeouts} timeouts, ${c.lateSends} late sends, p50 ${fmtMs(c.latency?.p50)} p95 ${fmtMs(c.latency?.p95)} p99 ${fmtMs(c.latency?.p99)}` +
      (bl ? `; baseline p50 ${fmtMs(bl.latency?.p50)} p95 ${fmtMs(bl.latency?.p95)}` : ''),
  );
}

/** The two sides' measurements as one route report, compared when both were measured. */
function routeReport(g: GateRun, s: LatencyScenario, sides: readonly Side[], baseError?: string): RouteReport {
  const get = (who: Who) => sides.find((x) => x.who === who)?.rounds;
  const cand = get('candidate')!;
  const candidate = cand.measurement(g.config, g.rounds, g.o.candidate.served);
  if (!g.compare) return { candidate };
  const b = get('baseline');
  if (!b) {
    const why = g.o.baseline && 'unavailable' in g.o.baseline ? g.o.baseline.unavailable : (baseError ?? 'no baseline');
    return { candidate, baseline: { unavailable: why } };
  }
  const baseline = b.measurement(g.config, g.rounds, g.base?.target.served);
  const [p50, p95] = bootstrapRatios(b.blocks, cand.blocks, [0.5, 0.95], {
    confidence: g.config.regression.confidence,
    seed: seedOf(s.name),
  });
  return { candidate, baseline, comparison: { p50: p50!, p95: p95! } };
}

async function measureRoute(g: GateRun, s: LatencyScenario): Promise<RouteReport> {
  const candError = setupErrorOf(g.cand, s);
  if (candError) {
    g.log(`${s.name}: skipped, ${candError}`);
    return {
      candidate: unmeasured(s, g.config, candError, g.o.candidate.served),
      ...(g.compare ? { baseline: { unavailable: 'the candidate could not be measured' } } : {}),
    };
  }
  const baseError = g.base ? setupErrorOf(g.base, s) : undefined;
  const sides = [openSide(g, s, g.cand, 'candidate')];
  if (g.base && !baseError) sides.push(openSide(g, s, g.base, 'baseline'));
  try {
    await runRounds(g, s, sides);
  } finally {
    await Promise.all(sides.map((x) => x.client.close()));
  }
  const report = routeReport(g, s, sides, baseError);
  logRoute(g.log, report);
  return report;
}

export async function runLatencyGate(o: LatencyGateOptions): Promise<LatencyGateReport> {
  const config = mergeConfig(o.environment.latencyGate, o.overrides);
  const log = o.log ?? (() => undefined);
  const f = o.fetch ?? fetch;
  const scenarios = config.scenarios.filter((s) => !o.only || o.only.includes(s.name));
  const needsToolId = scenarios.some((s) => s.path.includes('{toolId}'));
  const startedAt = new Date().toISOString();
  const cand = await prepare(o.candidate, f, needsToolId, 'service', log);
  const baseTarget = o.baseline && 'baseUrl' in o.baseline ? o.baseline : undefined;
  const base = baseTarget ? await prepare(baseTarget, f, needsToolId, 'baseline', log) : undefined;
  const compare = o.baseline !== undefined;
  const g: GateRun = {
    o,
    config,
    log,
    makeClient: o.client ?? createLoadClient,
    cand,
    base,
    compare,
    rounds: compare ? Math.max(1, config.regression.rounds) : 1,
  };
  const measurements: RouteReport[] = [];
  for (const s of scenarios) measurements.push(await measureRoute(g, s));
  const verdict = judgeGate(measurements, config);
  const describe = (t: GateTarget) => ({ url: displayUrl(t.baseUrl), ...(t.served ? { served: t.served } : {}) });
  return {
    ...verdict,
    environment: o.environment.name,
    candidate: describe(o.candidate),
    ...(o.baseline
      ? { baseline: 'baseUrl' in o.baseline ? describe(o.baseline) : { unavailable: o.baseline.unavailable } }
      : {}),
    startedAt,
    finishedAt: new Date().toISOString(),
    config,
    measurements,
  };
}
