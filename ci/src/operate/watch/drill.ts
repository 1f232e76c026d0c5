/**
 * A fault drill: steady API traffic against a local service in fault mode, the watcher running, one
 * fault injected after a healthy lead-in, and the delay from injection to trigger. Shared by the
 * fault-injection integration test and bench/gate-detection.ts. Targets only the given local URLs. With
 * `prometheusUrl` the watcher reads traffic from that Prometheus (scraping every instance) as in prod.
 */
import type { RollbackTriggers } from '../../definitions/environments.js';
import type { Firing } from '../triggers/evaluator.js';
import { servicePoller } from './sources.js';
import { watch, type WatchResult } from './watcher.js';

export interface FaultSettings {
  readonly latencyMs?: number;
  readonly errorRatio?: number;
  readonly failHealth?: boolean;
}

/** Fire-and-forget requests at a fixed rate, so slow responses do not slow the traffic down. */
function startTraffic(urls: readonly string[], apiKey: string, rps: number): () => Promise<number> {
  const pending = new Set<Promise<unknown>>();
  let sent = 0;
  const timer = setInterval(() => {
    // Round robin over the instances, as a Service spreads requests over pods.
    const url = urls[sent % urls.length]!;
    sent++;
    const p = fetch(`${url}/api/v1/tools?limit=5`, {
      headers: { 'x-api-key': apiKey },
      signal: AbortSignal.timeout(15_000),
    })
      .then((r) => r.body?.cancel())
      .catch(() => undefined)
      .finally(() => pending.delete(p));
    pending.add(p);
  }, 1000 / rps);
  return async () => {
    clearInterval(timer);
    await Promise.all(pending);
    return sent;
  };
}

async function setFaults(url: string, apiKey: string, faults: FaultSettings | undefined): Promise<void> {
  const res = await fetch(`${url}/__faults`, {
    method: faults ? 'PUT' : 'DELETE',
    headers: { 'x-api-key': apiKey, ...(faults ? { 'content-type': 'application/json' } : {}) },
    body: faults ? JSON.stringify(faults) : null,
    signal: AbortSignal.timeout(5_000),
  });
  if (!res.ok)
    throw new Error(
      `${faults ? 'PUT' : 'DELETE'} /__faults answered HTTP ${res.status}: ${await res.text()} (is FAULT_INJECTION=true?)`,
    );
  await res.body?.cancel();
}

export interface DrillOptions {
  readonly url: string;
  readonly apiKey: string;
  readonly triggers: RollbackTriggers;
  readonly rps: number;
  readonly durationSeconds: number;
  /** Undefined: a healthy run. */
  readonly fault?: FaultSettings | undefined;
  readonly faultAfterSeconds?: number;
  /** Every instance: each gets traffic and the fault (default: `url` alone). `url` is the one health-checked. */
  readonly instances?: readonly string[];
  /** Read traffic from this Prometheus's query API instead of scraping `url`'s /metrics. */
  readonly prometheusUrl?: string;
  /** The namespace label the Prometheus source selects (default 'local'). */
  readonly namespace?: string;
}

export interface DrillOutcome {
  readonly result: WatchResult;
  /** Every call of the rollback action. */
  readonly actions: readonly (readonly Firing[])[];
  /** Seconds from requesting the fault to the rollback action. */
  readonly delaySeconds?: number | undefined;
  readonly log: readonly string[];
}

export async function runDrill(o: DrillOptions): Promise<DrillOutcome> {
  const instances = o.instances ?? [o.url];
  const setAll = (f: FaultSettings | undefined) => Promise.all(instances.map((u) => setFaults(u, o.apiKey, f)));
  await setAll(undefined);
  const stopTraffic = startTraffic(instances, o.apiKey, o.rps);
  const actions: (readonly Firing[])[] = [];
  const log: string[] = [];
  let faultAt: number | undefined;
  let firedAt: number | undefined;
  let injected: Promise<void> | undefined;
  // Counted from the moment the fault is requested: the measured delay can only come out longer.
  const injector = o.fault
    ? setTimeout(
        () => {
          faultAt = Date.now();
          injected = setAll(o.fault).then(() => undefined);
        },
        (o.faultAfterSeconds ?? 2) * 1000,
      )
    : undefined;
  try {
    const result = await watch({
      triggers: o.triggers,
      durationSeconds: o.durationSeconds,
      log: (l) => log.push(l),
      poll: servicePoller({
        url: o.url,
        ...(o.prometheusUrl ? { prometheusUrl: o.prometheusUrl } : {}),
        env: { namespace: o.namespace ?? 'local', rollback: o.triggers },
        timeoutMs: 1000,
      }),
      rollback: async (firing) => {
        firedAt = Date.now();
        actions.push(firing);
      },
    });
    return { result, actions, log, delaySeconds: faultAt && firedAt ? (firedAt - faultAt) / 1000 : undefined };
  } finally {
    clearTimeout(injector);
    await injected;
    await setAll(undefined);
    await stopTraffic();
  }
}
