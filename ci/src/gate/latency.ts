/**
 * The latency gate: each scenario of the environment's definition on its own, at a fixed rate, a
 * warm-up discarded, then measured and judged (verdict.ts). Library entry point for `kgraph-ci gate
 * latency` and the deploy command.
 */
import type { EnvironmentDefinition, LatencyGateConfig, LatencyScenario } from '../environments.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';
import { judgeGate, type GateVerdict, type ScenarioMeasurement } from './verdict.js';

export interface LatencyGateOptions {
  readonly baseUrl: string;
  readonly environment: EnvironmentDefinition;
  /** Sent as x-api-key; never logged or written to the report. */
  readonly apiKey?: string;
  /** Shorter or different runs (benchmarks, tests); thresholds always come from the environment. */
  readonly overrides?: Partial<Pick<LatencyGateConfig, 'requestsPerSecond' | 'warmupSeconds' | 'durationSeconds' | 'connections'>>;
  /** Run only these scenarios. */
  readonly only?: readonly LatencyScenario['name'][];
  readonly log?: (line: string) => void;
  /** The load driver; tests give a fake. */
  readonly load?: (o: LoadOptions) => Promise<LoadResult>;
  readonly fetch?: typeof fetch;
}

export interface LatencyGateReport extends GateVerdict {
  readonly environment: string;
  readonly baseUrl: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly config: LatencyGateConfig;
  readonly measurements: readonly ScenarioMeasurement[];
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
export async function discoverToolId(f: typeof fetch, baseUrl: string, headers: Record<string, string>): Promise<string> {
  const res = await f(new URL('/api/v1/tools?limit=1', baseUrl), { headers, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) throw new Error(`GET /api/v1/tools answered HTTP ${res.status}${res.status === 401 ? ' (is API_KEY set and valid?)' : ''}`);
  const body = (await res.json()) as { items?: { id?: string; slug?: string }[] };
  const first = body.items?.[0];
  const id = first?.id ?? first?.slug;
  if (!id) throw new Error('the service lists no tools (seed the database first)');
  return id;
}

export async function runLatencyGate(o: LatencyGateOptions): Promise<LatencyGateReport> {
  const env = o.environment;
  const config: LatencyGateConfig = { ...env.latencyGate, ...o.overrides };
  const log = o.log ?? (() => undefined);
  const load = o.load ?? runLoad;
  const f = o.fetch ?? fetch;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (o.apiKey) headers['x-api-key'] = o.apiKey;
  const scenarios = config.scenarios.filter((s) => !o.only || o.only.includes(s.name));
  const startedAt = new Date().toISOString();
  let toolId: string | undefined;
  let toolIdError: string | undefined;
  // An unreachable service fails every scenario at once instead of after minutes of refused connections.
  let unreachable: string | undefined;
  try {
    const res = await f(new URL('/healthz', o.baseUrl), { signal: AbortSignal.timeout(10_000) });
    await res.body?.cancel();
  } catch (err) {
    const e = err as { cause?: { code?: string; message?: string }; message?: string };
    unreachable = `service unreachable at ${displayUrl(o.baseUrl)}: ${e.cause?.code ?? e.cause?.message ?? e.message ?? String(err)}`;
    log(unreachable);
  }
  if (!unreachable && scenarios.some((s) => s.path.includes('{toolId}'))) {
    try {
      toolId = await discoverToolId(f, o.baseUrl, headers);
    } catch (err) {
      toolIdError = `no tool id for {toolId}: ${(err as Error).message}`;
    }
  }
  const measurements: ScenarioMeasurement[] = [];
  for (const s of scenarios) {
    const base = {
      scenario: s.name,
      class: s.class,
      method: s.method,
      path: s.path,
      requestedRate: config.requestsPerSecond,
      connections: config.connections,
      durationSeconds: config.durationSeconds,
    };
    const setupError = unreachable ?? (s.path.includes('{toolId}') && !toolId ? toolIdError : undefined);
    if (setupError) {
      log(`${s.name}: skipped, ${setupError}`);
      measurements.push({ ...base, elapsedSeconds: 0, responses: 0, non2xx: 0, socketErrors: 0, timeouts: 0, statusCodes: {}, percentiles: [], setupError });
      continue;
    }
    const path = s.path.replace('{toolId}', encodeURIComponent(toolId ?? ''));
    const request = {
      url: new URL(path, o.baseUrl).toString(),
      method: s.method,
      headers: s.body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: s.body === undefined ? undefined : JSON.stringify(s.body),
      rate: config.requestsPerSecond,
      connections: config.connections,
    };
    if (config.warmupSeconds > 0) {
      log(`${s.name}: warm-up ${config.warmupSeconds}s at ${config.requestsPerSecond} req/s (discarded)`);
      await load({ ...request, durationSeconds: config.warmupSeconds });
    }
    log(`${s.name}: measuring ${s.method} ${path} for ${config.durationSeconds}s at ${config.requestsPerSecond} req/s`);
    let ticks = 0;
    const r = await load({
      ...request,
      durationSeconds: config.durationSeconds,
      // Progress every 5 s: long runs show they are alive without flooding the log.
      onTick: (n) => {
        if (++ticks % 5 === 0) log(`${s.name}: ${ticks}s, ${n} responses`);
      },
    });
    measurements.push({ ...base, path, ...r });
    const l = r.latency;
    log(`${s.name}: ${r.responses} responses, ${r.non2xx} non-2xx, ${r.socketErrors + r.timeouts} errors${l ? `, p50 ${l.p50.toFixed(1)}ms p95 ${l.p95.toFixed(1)}ms p99 ${l.p99.toFixed(1)}ms` : ''}`);
  }
  const verdict = judgeGate(measurements, config);
  return { ...verdict, environment: env.name, baseUrl: displayUrl(o.baseUrl), startedAt, finishedAt: new Date().toISOString(), config, measurements };
}
