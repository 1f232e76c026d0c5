/**
 * Benchmark (a): accuracy of the gate's open-model client against servers of known behaviour
 * (ci/test/gate/stall-server.ts: answers at once, freezes its event loop for S ms every P ms). For each
 * pattern: p95 and p99 measured against the analytic truth (S - P(1 - q)) and against the truth of the
 * freezes that really happened; and, in the same run, what the old closed-model client (autocannon with
 * overallRate, the gate before issue 10) reports. Target: measured within 10% of the analytic truth.
 * Run: npx tsx bench/gate-accuracy.ts [periods=3]
 */
import autocannon from 'autocannon';
import { runLoad } from '../ci/src/gate/load/index.js';
import { quantileSorted, sortedCopy } from '../ci/src/gate/stats.js';
import { analyticQuantile, startStallServer, truthFromStalls } from '../ci/test/gate/stall-server.js';

const periods = Number(process.argv[2] ?? 3);
const patterns = [
  { periodMs: 6000, stallMs: 900, rate: 100 }, // the outsider's probe
  { periodMs: 1000, stallMs: 200, rate: 200 },
  { periodMs: 2000, stallMs: 500, rate: 100 },
  { periodMs: 3000, stallMs: 300, rate: 200 },
  { periodMs: 500, stallMs: 100, rate: 400 },
];

async function closedModel(url: string, rate: number, seconds: number): Promise<Float64Array> {
  const lat: number[] = [];
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon({ url, overallRate: rate, connections: 10, duration: seconds, pipelining: 1 }, (err) =>
      err ? reject(err) : resolve(),
    );
    instance.on('response', (_c: unknown, _s: number, _b: number, ms: number) => lat.push(ms));
  });
  return sortedCopy(lat);
}

console.log(
  `open-model client vs analytic truth, ${periods} whole periods per pattern (and autocannon, the old gate client, in the same run)`,
);
console.log(
  'pattern (stall/period @ rate)  q     analytic ms  happened ms  measured ms  measured/analytic  within 10%  autocannon ms  autocannon/analytic',
);
let misses = 0;
for (const p of patterns) {
  const srv = await startStallServer(p);
  try {
    const seconds = (p.periodMs * periods) / 1000;
    const r = await runLoad({
      url: `${srv.url}/x`,
      method: 'GET',
      headers: {},
      rate: p.rate,
      durationSeconds: seconds,
      lateToleranceMs: 20,
      timeoutMs: 10_000,
      maxConcurrency: 1024,
    });
    const stalls = await srv.stalls();
    const happened = sortedCopy(
      truthFromStalls(
        Array.from(r.intendedMs, (t) => r.startEpochMs + t),
        stalls,
      ),
    );
    const measured = sortedCopy(r.latenciesMs);
    const old = await closedModel(`${srv.url}/x`, p.rate, seconds);
    for (const q of [0.95, 0.99]) {
      const a = analyticQuantile(p, q);
      const m = quantileSorted(measured, q);
      const ok = Math.abs(m - a) / a <= 0.1;
      if (!ok) misses++;
      const o = quantileSorted(old, q);
      console.log(
        `${`${p.stallMs}/${p.periodMs} ms @ ${p.rate}/s`.padEnd(29)}  p${q * 100}  ${a.toFixed(1).padStart(11)}  ${quantileSorted(happened, q).toFixed(1).padStart(11)}  ${m.toFixed(1).padStart(11)}  ${(m / a).toFixed(3).padStart(17)}  ${(ok ? 'yes' : 'MISSED').padStart(10)}  ${o.toFixed(1).padStart(13)}  ${(o / a).toFixed(3).padStart(19)}`,
      );
    }
    console.log(
      `${''.padEnd(29)}  late sends ${r.lateSends}/${r.sent}, at most ${r.maxInFlight} in flight, cap waits ${r.capWaits}`,
    );
  } finally {
    await srv.close();
  }
}
console.log(`target: every p95/p99 within 10% of the analytic truth: ${misses === 0 ? 'met' : `MISSED (${misses})`}`);
