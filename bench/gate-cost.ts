/**
 * Benchmark (c): the latency gate's own cost. The gate's load driver (autocannon + per-response HDR
 * recording) against the local service's cheapest route at 500 and 2,000 req/s: achieved rate and the
 * client's CPU (this process), with 500 req/s as the baseline. Run: npx tsx bench/gate-cost.ts [seconds=10]
 */
import { ENVIRONMENTS } from '../ci/src/environments.js';
import { runLoad } from '../ci/src/gate/load.js';
import { withServedApp } from '../ci/src/gate/serve.js';

const seconds = Number(process.argv[2] ?? 10);
const env = ENVIRONMENTS.staging;

await withServedApp(
  env,
  async ({ app, apiKey }) => {
    const rows: { rate: number; achieved: number; cpuPct: number; cpuUsPerReq: number; p50: number; p99: number }[] = [];
    for (const rate of [500, 2000]) {
      const request = { url: `${app.url}/healthz`, method: 'GET' as const, headers: { 'x-api-key': apiKey }, rate, connections: Math.max(env.latencyGate.connections, rate / 50) };
      await runLoad({ ...request, durationSeconds: 2 }); // warm-up
      const cpu0 = process.cpuUsage();
      const r = await runLoad({ ...request, durationSeconds: seconds });
      const cpu = process.cpuUsage(cpu0);
      const cpuUs = cpu.user + cpu.system;
      rows.push({
        rate,
        achieved: r.responses / r.elapsedSeconds,
        cpuPct: (cpuUs / 1e6 / r.elapsedSeconds) * 100,
        cpuUsPerReq: cpuUs / Math.max(1, r.responses),
        p50: r.latency?.p50 ?? NaN,
        p99: r.latency?.p99 ?? NaN,
      });
    }
    const base = rows[0]!;
    console.log(`gate client cost, ${seconds}s per rate, GET /healthz (client and service share this machine)`);
    console.log('req/s asked  achieved  achieved/asked  client CPU %core  µs CPU/req  vs 500 req/s  p50 ms  p99 ms');
    for (const x of rows) {
      console.log(
        `${String(x.rate).padStart(11)}  ${x.achieved.toFixed(0).padStart(8)}  ${(x.achieved / x.rate).toFixed(3).padStart(14)}  ${x.cpuPct.toFixed(1).padStart(16)}  ${x.cpuUsPerReq.toFixed(0).padStart(10)}  ${(x.cpuUsPerReq / base.cpuUsPerReq).toFixed(2).padStart(12)}  ${x.p50.toFixed(2).padStart(6)}  ${x.p99.toFixed(2).padStart(6)}`,
      );
    }
  },
  { log: (l) => console.error(l) },
);
