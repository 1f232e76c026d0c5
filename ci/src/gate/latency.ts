/**
 * The latency gate: each scenario of the environment on its own, open-model load at a fixed rate
 * (load.ts), a warm-up discarded, then measured and judged (verdict.ts). With a baseline (the release
 * the candidate replaces) both are measured in the same run, alternating in short rounds at the same
 * rate (ABBA order, so drift and machine noise hit both alike), and compared per route with a block
 * bootstrap of the p50 and p95 ratios (stats.ts). Library entry point for `kgraph-ci gate latency`
 * and the deploy command.
 */
import type { EnvironmentDefinition, LatencyGateConfig, LatencyScenario } from '../environments.js';
import { createLoadClient, type LoadClient, type LoadRequest, type LoadResult } from './load.js';
import { blocksOf, bootstrapRatios, chartPercentiles, summarize } from './stats.js';
import {
  judgeGate,
  type GateVerdict,
  type RouteComparison,
  type RouteInput,
  type RouteMeasurement,
} from './verdict.js';

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

/** Accumulates one side's rounds of one route. */
class Side {
  readonly results: LoadResult[] = [];
  readonly blocks: Float64Array[] = [];
  constructor(
    readonly s: LatencyScenario,
    readonly path: string,
    readonly client: LoadClient,
  ) {}

  add(r: LoadResult, blockMs: number): void {
    this.results.push(r);
    this.blocks.push(...blocksOf(r.latenciesMs, r.intendedMs, blockMs));
  }

  measurement(config: LatencyGateConfig, rounds: number, served: string | undefined): RouteMeasurement {
    const sum = (
      k: 'scheduled' | 'sent' | 'responses' | 'non2xx' | 'socketErrors' | 'timeouts' | 'lateSends' | 'capWaits',
    ) => this.results.reduce((a, r) => a + r[k], 0);
    const statusCodes: Record<string, number> = {};
    for (const r of this.results)
      for (const [k, v] of Object.entries(r.statusCodes)) statusCodes[k] = (statusCodes[k] ?? 0) + v;
    const all = new Float64Array(this.results.reduce((a, r) => a + r.latenciesMs.length, 0));
    let n = 0;
    for (const r of this.results) {
      all.set(r.latenciesMs, n);
      n += r.latenciesMs.length;
    }
    const latency = summarize(all);
    return {
      scenario: this.s.name,
      class: this.s.class,
      path: this.path,
      conditions: {
        method: this.s.method,
        pathTemplate: this.s.path,
        requestedRate: config.requestsPerSecond,
        scheduledSeconds: this.results.reduce((a, r) => a + r.scheduledSeconds, 0),
        rounds,
        maxConcurrency: config.maxConcurrency,
        ...(served === undefined ? {} : { served }),
      },
      scheduled: sum('scheduled'),
      sent: sum('sent'),
      responses: sum('responses'),
      non2xx: sum('non2xx'),
      socketErrors: sum('socketErrors'),
      timeouts: sum('timeouts'),
      statusCodes,
      lateSends: sum('lateSends'),
      maxLateMs: Math.max(0, ...this.results.map((r) => r.maxLateMs)),
      capWaits: sum('capWaits'),
      maxInFlight: Math.max(0, ...this.results.map((r) => r.maxInFlight)),
      samples: all.length,
      ...(latency ? { latency } : {}),
      percentiles: chartPercentiles(all),
    };
  }
}

function skipped(
  s: LatencyScenario,
  config: LatencyGateConfig,
  setupError: string,
  served: string | undefined,
): RouteMeasurement {
  return {
    scenario: s.name,
    class: s.class,
    path: s.path,
    conditions: {
      method: s.method,
      pathTemplate: s.path,
      requestedRate: config.requestsPerSecond,
      scheduledSeconds: 0,
      rounds: 0,
      maxConcurrency: config.maxConcurrency,
      ...(served === undefined ? {} : { served }),
    },
    scheduled: 0,
    sent: 0,
    responses: 0,
    non2xx: 0,
    socketErrors: 0,
    timeouts: 0,
    statusCodes: {},
    lateSends: 0,
    maxLateMs: 0,
    capWaits: 0,
    maxInFlight: 0,
    samples: 0,
    percentiles: [],
    setupError,
  };
}

const seedOf = (s: string) => [...s].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0, 7);
const fmtMs = (n: number | undefined) => (n === undefined ? '-' : `${n.toFixed(n < 10 ? 2 : 1)}ms`);

export async function runLatencyGate(o: LatencyGateOptions): Promise<LatencyGateReport> {
  const config = mergeConfig(o.environment.latencyGate, o.overrides);
  const log = o.log ?? (() => undefined);
  const f = o.fetch ?? fetch;
  const makeClient = o.client ?? createLoadClient;
  const scenarios = config.scenarios.filter((s) => !o.only || o.only.includes(s.name));
  const needsToolId = scenarios.some((s) => s.path.includes('{toolId}'));
  const startedAt = new Date().toISOString();
  const cand = await prepare(o.candidate, f, needsToolId, 'service', log);
  const baseTarget = o.baseline && 'baseUrl' in o.baseline ? o.baseline : undefined;
  const base = baseTarget ? await prepare(baseTarget, f, needsToolId, 'baseline', log) : undefined;
  const compare = o.baseline !== undefined;
  const rounds = compare ? Math.max(1, config.regression.rounds) : 1;
  const roundSeconds = config.durationSeconds / rounds;
  const schedule = {
    rate: config.requestsPerSecond,
    lateToleranceMs: config.lateSendToleranceMs,
    timeoutMs: config.requestTimeoutMs,
  };
  const blockMs = config.regression.blockSeconds * 1000;

  const measurements: RouteReport[] = [];
  for (const s of scenarios) {
    const setupError = (p: Prepared) =>
      p.unreachable ?? (s.path.includes('{toolId}') && !p.toolId ? p.toolIdError : undefined);
    const candError = setupError(cand);
    if (candError) {
      log(`${s.name}: skipped, ${candError}`);
      measurements.push({
        candidate: skipped(s, config, candError, o.candidate.served),
        ...(compare ? { baseline: { unavailable: 'the candidate could not be measured' } } : {}),
      });
      continue;
    }
    const baseError = base ? setupError(base) : undefined;
    const sides: { who: 'candidate' | 'baseline'; side: Side }[] = [];
    const open = (p: Prepared, who: 'candidate' | 'baseline') => {
      const path = s.path.replace('{toolId}', encodeURIComponent(p.toolId ?? ''));
      const req: LoadRequest = {
        url: new URL(path, p.target.baseUrl).toString(),
        method: s.method,
        headers: s.body === undefined ? p.headers : { ...p.headers, 'content-type': 'application/json' },
        ...(s.body === undefined ? {} : { body: JSON.stringify(s.body) }),
      };
      sides.push({ who, side: new Side(s, path, makeClient(req, config.maxConcurrency)) });
    };
    open(cand, 'candidate');
    if (base && !baseError) open(base, 'baseline');
    try {
      if (config.warmupSeconds > 0) {
        for (const { who, side } of sides) {
          log(`${s.name}: ${who} warm-up ${config.warmupSeconds}s at ${config.requestsPerSecond} req/s (discarded)`);
          await side.client.run({ ...schedule, durationSeconds: config.warmupSeconds });
        }
      }
      for (let r = 0; r < rounds; r++) {
        // ABBA: baseline first in even rounds, candidate first in odd ones.
        const order = sides.length === 2 && r % 2 === 0 ? [...sides].reverse() : sides;
        for (const { who, side } of order) {
          log(
            `${s.name}: ${rounds > 1 ? `round ${r + 1}/${rounds} ` : ''}${who} ${s.method} ${side.path} for ${roundSeconds}s at ${config.requestsPerSecond} req/s`,
          );
          let ticks = 0;
          const res = await side.client.run({
            ...schedule,
            durationSeconds: roundSeconds,
            // Progress every 5 s: long runs show they are alive without flooding the log.
            onTick: (n) => {
              if (++ticks % 5 === 0) log(`${s.name}: ${who} ${ticks}s, ${n} responses`);
            },
          });
          side.add(res, blockMs);
        }
      }
    } finally {
      await Promise.all(sides.map(({ side }) => side.client.close()));
    }
    const get = (who: 'candidate' | 'baseline') => sides.find((x) => x.who === who)?.side;
    const candidate = get('candidate')!.measurement(config, rounds, o.candidate.served);
    let report: RouteReport = { candidate };
    if (compare) {
      const b = get('baseline');
      if (!b) {
        const why = o.baseline && 'unavailable' in o.baseline ? o.baseline.unavailable : (baseError ?? 'no baseline');
        report = { candidate, baseline: { unavailable: why } };
      } else {
        const baseline = b.measurement(config, rounds, baseTarget?.served);
        const [p50, p95] = bootstrapRatios(b.blocks, get('candidate')!.blocks, [0.5, 0.95], {
          confidence: config.regression.confidence,
          seed: seedOf(s.name),
        });
        report = { candidate, baseline, comparison: { p50: p50!, p95: p95! } };
      }
    }
    measurements.push(report);
    const c = report.candidate;
    const bl = report.baseline && 'scenario' in report.baseline ? report.baseline : undefined;
    log(
      `${s.name}: ${c.responses} responses, ${c.non2xx} non-2xx, ${c.socketErrors + c.timeouts} errors, ${c.lateSends} late sends, p50 ${fmtMs(c.latency?.p50)} p95 ${fmtMs(c.latency?.p95)} p99 ${fmtMs(c.latency?.p99)}` +
        (bl ? `; baseline p50 ${fmtMs(bl.latency?.p50)} p95 ${fmtMs(bl.latency?.p95)}` : ''),
    );
  }
  const inputs: RouteInput[] = measurements.map((m) => ({
    candidate: m.candidate,
    ...(m.baseline ? { baseline: m.baseline } : {}),
    ...(m.comparison ? { comparison: m.comparison } : {}),
  }));
  const verdict = judgeGate(inputs, config);
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
