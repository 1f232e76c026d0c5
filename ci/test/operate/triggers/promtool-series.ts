/**
 * One scenario of traffic and health probes, poll by poll, written two ways from the same numbers: as promtool
 * input series (what Prometheus would have scraped) and as the watcher's observations (what it would have
 * polled). Both then say when each trigger fires.
 */
import type { EnvironmentDefinition } from '../../../src/definitions/environments.js';
import type { TriggerName } from '../../../src/operate/triggers/evaluator.js';
import { initialMonitor, monitorStep, type MonitorState } from '../../../src/operate/triggers/monitor.js';
import { FakeService, type Tick } from './simulate.js';

export interface Scenario {
  readonly name: string;
  /** Polls (of the environment's poll interval) to run. */
  readonly polls: number;
  readonly tick: (second: number) => Tick & { health: boolean };
}

const ROUTE = '/api/v1/tools';
const le = (b: number) => (b === Number.POSITIVE_INFINITY ? '+Inf' : String(b));

export interface Replay {
  /** promtool input_series. */
  readonly series: { series: string; values: string }[];
  /** Seconds from the start at which the watcher's evaluator fired each rollback trigger. */
  readonly evaluatorFired: Partial<Record<TriggerName, number>>;
  /** Seconds at which the evaluator's error-rate trigger has said "noData" for the whole no-data alert's `for`. */
  readonly evaluatorNoDataHeld?: number;
}

export function replay(env: EnvironmentDefinition, s: Scenario): Replay {
  const t = env.rollback;
  const svc = new FakeService();
  const ns = env.namespace;
  const ok: number[] = [];
  const errors: number[] = [];
  const buckets: number[][] = [];
  const probes: number[] = [];
  let state: MonitorState = initialMonitor();
  const evaluatorFired: Replay['evaluatorFired'] = {};
  let noDataSince: number | undefined;
  let evaluatorNoDataHeld: number | undefined;
  for (let i = 0; i <= s.polls; i++) {
    const second = i * t.pollSeconds;
    const tick = s.tick(second);
    if (i > 0) svc.advance(t.pollSeconds, tick);
    const snap = svc.snapshot(second * 1000);
    ok.push(snap.requests - snap.errors);
    errors.push(snap.errors);
    buckets.push(snap.buckets.map((b) => b.count));
    probes.push(tick.health ? 1 : 0);
    const step = monitorStep(t, state, { at: second * 1000, health: tick.health, snapshot: snap });
    state = step.state;
    for (const f of step.evaluation.firing) evaluatorFired[f.trigger] ??= second;
    const noData = step.evaluation.statuses.errorRate.state === 'noData';
    noDataSince = noData ? (noDataSince ?? second) : undefined;
    if (noDataSince !== undefined && second - noDataSince >= t.errorRate.sustainedSeconds)
      evaluatorNoDataHeld ??= second;
  }
  const bounds = svc.snapshot(0).buckets.map((b) => b.le);
  const series = [
    {
      series: `http_requests_total{namespace="${ns}",route="${ROUTE}",method="GET",status_code="200"}`,
      values: ok.join(' '),
    },
    {
      series: `http_requests_total{namespace="${ns}",route="${ROUTE}",method="GET",status_code="503"}`,
      values: errors.join(' '),
    },
    ...bounds.map((b, j) => ({
      series: `http_request_duration_seconds_bucket{namespace="${ns}",route="${ROUTE}",method="GET",le="${le(b)}"}`,
      values: buckets.map((row) => row[j]).join(' '),
    })),
    {
      series: `probe_success{namespace="${ns}",job="kgraph-mcp-healthz"}`,
      values: probes.join(' '),
    },
  ];
  return {
    series,
    evaluatorFired,
    ...(evaluatorNoDataHeld !== undefined ? { evaluatorNoDataHeld } : {}),
  };
}

/** promtool's printed eval time (`5m30s`, `1h15s`) in seconds. */
export function secondsOf(time: string): number {
  let total = 0;
  for (const m of time.matchAll(/(\d+)(ms|h|m|s)/g))
    total += Number(m[1]) * { ms: 0.001, h: 3600, m: 60, s: 1 }[m[2] as 'ms' | 'h' | 'm' | 's'];
  return total;
}
