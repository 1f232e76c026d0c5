/**
 * Benchmark (a): gate stability. The staging gate run 10 times against one unchanged local service
 * (fresh Postgres/Redis, seeded): each run's verdict and p95 per route, and the spread of p95 between
 * runs ((max - min) / median), each run's p95 as a ratio to the median run. Targets: 10/10 the same
 * verdict, spread <= 10%. Run: npx tsx bench/gate-stability.ts [runs=10] [seconds per route=10]
 */
import { ENVIRONMENTS } from '../ci/src/environments.js';
import { runLatencyGate } from '../ci/src/gate/latency.js';
import { withServedApp } from '../ci/src/gate/serve.js';

const runs = Number(process.argv[2] ?? 10);
const seconds = Number(process.argv[3] ?? 10);
const env = ENVIRONMENTS.staging;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

await withServedApp(
  env,
  async ({ app, apiKey }) => {
    const verdicts: boolean[] = [];
    const p95: Record<string, number[]> = {};
    for (let i = 1; i <= runs; i++) {
      const r = await runLatencyGate({ baseUrl: app.url, environment: env, apiKey, overrides: { durationSeconds: seconds } });
      verdicts.push(r.passed);
      for (const m of r.measurements) (p95[m.scenario] ??= []).push(m.latency?.p95 ?? NaN);
      console.error(`run ${i}/${runs}: ${r.passed ? 'pass' : 'FAIL'} ${r.measurements.map((m) => `${m.scenario} p95 ${m.latency?.p95.toFixed(1)}ms`).join(', ')}${r.passed ? '' : ` — ${r.reasons.join('; ')}`}`);
    }
    const same = verdicts.filter((v) => v === verdicts[0]).length;
    console.log(`staging gate x${runs}, ${env.latencyGate.requestsPerSecond} req/s, ${seconds}s per route after ${env.latencyGate.warmupSeconds}s warm-up`);
    console.log(`verdicts: ${verdicts.map((v) => (v ? 'pass' : 'FAIL')).join(' ')} -> ${same}/${runs} the same (target ${runs}/${runs}: ${same === runs ? 'met' : 'MISSED'})`);
    console.log('route     median p95 ms  min     max     spread  per-run p95 / median');
    for (const [name, xs] of Object.entries(p95)) {
      const med = median(xs);
      const spread = (Math.max(...xs) - Math.min(...xs)) / med;
      console.log(
        `${name.padEnd(9)} ${med.toFixed(2).padStart(12)}  ${Math.min(...xs).toFixed(2).padStart(6)}  ${Math.max(...xs).toFixed(2).padStart(6)}  ${(spread * 100).toFixed(1).padStart(5)}%  ${xs.map((x) => (x / med).toFixed(2)).join(' ')}  (target <= 10%: ${spread <= 0.1 ? 'met' : 'MISSED'})`,
      );
    }
  },
  { log: (l) => console.error(l) },
);
