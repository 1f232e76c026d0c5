/**
 * Benchmark (d): the gate client's own CPU per request at 500 and 2,000 req/s, against autocannon's in
 * the same run. Both drive the same bare node:http server (its own process, so this process's CPU is the
 * client's alone) at a fixed rate: the gate's open-model client (ci/src/gate/load/: raw sockets, one parser
 * per connection, due sends batched per timer wake, every latency kept) and autocannon with `overallRate`
 * (closed model, what the gate used before). Rounds alternate between the two and the median is taken, so
 * machine noise hits both alike. Target (issue 22.6): gate client CPU/request <= 2x autocannon's.
 * Run: npx tsx bench/gate-cost.ts [seconds=6] [rounds=3]
 */
import { spawn } from 'node:child_process';
import autocannon from 'autocannon';
import { runLoad } from '../ci/src/gate/load/index.js';
import { freePort } from '../ci/src/platform/services/local-app.js';

const seconds = Number(process.argv[2] ?? 6);
const rounds = Number(process.argv[3] ?? 3);
const port = await freePort();
const body = JSON.stringify({
  items: Array.from({ length: 5 }, (_, i) => ({ id: `tool-${i}`, name: `Tool ${i}`, description: 'x'.repeat(80) })),
});
const server = spawn(
  process.execPath,
  [
    '-e',
    `const b = Buffer.from(process.argv[1]); const s = require('http').createServer((q, r) => { r.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length }); r.end(b); }); s.keepAliveTimeout = 60000; s.listen(${port}, '127.0.0.1')`,
    body,
  ],
  { stdio: 'ignore' },
);
await new Promise((r) => setTimeout(r, 400));
const url = `http://127.0.0.1:${port}/api/v1/tools?q=x`;
const headers = { 'x-api-key': 'k'.repeat(24), accept: 'application/json' };

interface Sample {
  cpuUsPerReq: number;
  userUsPerReq: number;
  achieved: number;
}

async function gateClient(rate: number): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const r = await runLoad({
    url,
    method: 'GET',
    headers,
    rate,
    durationSeconds: seconds,
    maxConcurrency: 256,
    lateToleranceMs: 20,
    timeoutMs: 10_000,
  });
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuUsPerReq: (cpu.user + cpu.system) / Math.max(1, r.responses),
    userUsPerReq: cpu.user / Math.max(1, r.responses),
    achieved: r.responses / r.scheduledSeconds,
  };
}

async function autocannonClient(rate: number): Promise<Sample> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await autocannon({
    url,
    headers,
    overallRate: rate,
    connections: Math.min(50, rate),
    duration: seconds,
    pipelining: 1,
  });
  const cpu = process.cpuUsage(cpu0);
  const n = res.requests.total;
  return {
    cpuUsPerReq: (cpu.user + cpu.system) / Math.max(1, n),
    userUsPerReq: cpu.user / Math.max(1, n),
    achieved: n / ((performance.now() - t0) / 1000),
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  await gateClient(500);
  await autocannonClient(500); // warm-up of both (JIT, connections)
  console.log(
    `client CPU per request, ${seconds}s per round, median of ${rounds} alternating rounds, bare node:http server in its own process`,
  );
  console.log(
    'req/s   gate µs/req  autocannon µs/req  gate/autocannon  gate achieved  autocannon achieved  target <= 2x',
  );
  for (const rate of [500, 2000]) {
    const g: Sample[] = [];
    const a: Sample[] = [];
    for (let r = 0; r < rounds; r++) {
      // ABBA so neither always runs first.
      if (r % 2 === 0) {
        g.push(await gateClient(rate));
        a.push(await autocannonClient(rate));
      } else {
        a.push(await autocannonClient(rate));
        g.push(await gateClient(rate));
      }
    }
    const gc = median(g.map((x) => x.cpuUsPerReq));
    const ac = median(a.map((x) => x.cpuUsPerReq));
    console.log(
      `${String(rate).padStart(5)}  ${gc.toFixed(1).padStart(11)}  ${ac.toFixed(1).padStart(17)}  ${(gc / ac).toFixed(2).padStart(15)}  ${median(
        g.map((x) => x.achieved),
      )
        .toFixed(0)
        .padStart(13)}  ${median(a.map((x) => x.achieved))
        .toFixed(0)
        .padStart(19)}  ${gc / ac <= 2 ? 'met' : 'MISSED'}`,
    );
    console.log(
      `       rounds µs/req (user part): gate ${g.map((x) => `${x.cpuUsPerReq.toFixed(1)} (${x.userUsPerReq.toFixed(1)})`).join(' / ')}; autocannon ${a.map((x) => `${x.cpuUsPerReq.toFixed(1)} (${x.userUsPerReq.toFixed(1)})`).join(' / ')}`,
    );
  }
} finally {
  server.kill();
}
