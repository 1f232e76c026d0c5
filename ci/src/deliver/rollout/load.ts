/**
 * Open-model load through the proxy for as long as the rehearsal runs: the gate's load client (one per
 * scenario of the environment's latency gate), in back-to-back windows so each sample can be placed in
 * the phase it was due in. A window's client-side errors (socket errors, timeouts) are kept with its time.
 */
import type { LatencyScenario } from '../../definitions/environments.js';
import { createLoadClient, type LoadClient } from '../../gate/load/index.js';
import type { ClientErrors, LatencySample } from './report.js';

export interface BackgroundLoad {
  stop(): Promise<{ latencies: LatencySample[]; clientErrors: ClientErrors[] }>;
}

const WINDOW_SECONDS = 2;

export function startBackgroundLoad(o: {
  baseUrl: string;
  headers: Readonly<Record<string, string>>;
  scenarios: readonly LatencyScenario[];
  toolId: string;
  /** Total requests per second, split evenly over the scenarios. */
  rate: number;
  timeoutMs: number;
}): BackgroundLoad {
  const latencies: LatencySample[] = [];
  const clientErrors: ClientErrors[] = [];
  let stopped = false;
  const rate = o.rate / o.scenarios.length;
  const drive = async (client: LoadClient) => {
    while (!stopped) {
      const r = await client.run({
        rate,
        durationSeconds: WINDOW_SECONDS,
        lateToleranceMs: 50,
        timeoutMs: o.timeoutMs,
      });
      for (let i = 0; i < r.latenciesMs.length; i++)
        latencies.push({ at: r.startEpochMs + r.intendedMs[i]!, ms: r.latenciesMs[i]! });
      const errors = r.socketErrors + r.timeouts;
      if (errors) clientErrors.push({ at: r.startEpochMs + (WINDOW_SECONDS * 1000) / 2, count: errors });
    }
  };
  const clients = o.scenarios.map((s) =>
    createLoadClient(
      {
        url: new URL(s.path.replace('{toolId}', encodeURIComponent(o.toolId)), o.baseUrl).toString(),
        method: s.method,
        headers: { ...o.headers, ...(s.body ? { 'content-type': 'application/json' } : {}) },
        ...(s.body ? { body: JSON.stringify(s.body) } : {}),
      },
      64,
    ),
  );
  const running = clients.map(drive);
  return {
    async stop() {
      stopped = true;
      await Promise.all(running);
      await Promise.all(clients.map((c) => c.close()));
      return { latencies, clientErrors };
    },
  };
}
