/**
 * Benchmarks (b) power and (c) false alarms of the gate's regression check, on the real service: two
 * copies of this checkout served side by side (each its own fresh database and Redis prefix, same seed,
 * fault mode on), gated with the staging config (allowed regression p50 +10%, p95 +25%) in alternating
 * rounds.
 *  (b) `power`: the candidate's plan route made slower by +100%, +50%, +20% of the baseline's measured
 *      p50 (fault mode, latencyKind "cpu": a synchronous wait, precise below a millisecond), N runs each:
 *      how often the gate fails it. Targets: +100% 10/10, +50% >= 9/10, +20% >= 5/10.
 *  (c) `false`: candidate identical to the baseline, N runs over every route: how often it fails or is
 *      inconclusive. Targets: 0/10 fail, <= 1/10 inconclusive.
 * Run: npx tsx bench/gate-regression.ts power|false [runs=10] [seconds per side=8] [levels=1,0.5,0.2]
 */
import { ENVIRONMENTS } from '../ci/src/definitions/environments.js';
import { runLatencyGate, type LatencyGateReport } from '../ci/src/gate/latency.js';
import { withServedApp, type ServedApp } from '../ci/src/gate/serve.js';

const mode = process.argv[2] === 'false' ? 'false' : 'power';
const runs = Number(process.argv[3] ?? 10);
const seconds = Number(process.argv[4] ?? 8);
const levels = (process.argv[5] ?? '1,0.5,0.2').split(',').map(Number);
const env = ENVIRONMENTS.staging;
const dev = { ENVIRONMENT: 'dev', FAULT_INJECTION: 'true' };
const log = (l: string) => console.error(l);

const faults = async (s: ServedApp, body: unknown) => {
  const res = await fetch(`${s.app.url}/__faults`, {
    method: 'PUT',
    headers: { 'x-api-key': s.apiKey, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`PUT /__faults: HTTP ${res.status} ${await res.text()}`);
};
const gate = (base: ServedApp, cand: ServedApp, only?: ('search' | 'getTool' | 'plan')[]) =>
  runLatencyGate({
    candidate: { baseUrl: cand.app.url, apiKey: cand.apiKey, served: cand.served },
    baseline: { baseUrl: base.app.url, apiKey: base.apiKey, served: base.served },
    environment: env,
    ...(only ? { only } : {}),
    overrides: { durationSeconds: seconds, warmupSeconds: 1 },
  });
const caughtBy = (r: LatencyGateReport) =>
  r.routes
    .flatMap((v) => v.checks.filter((c) => c.kind === 'regression' && c.outcome === 'failed').map((c) => c.name))
    .join('+') || '-';

/** (b) How often +100/+50/+20% on one route is caught. */
async function power(base: ServedApp, cand: ServedApp): Promise<void> {
  await faults(cand, { latencyMs: 0 });
  const calib = await gate(base, cand, ['plan']);
  const p50 =
    calib.measurements[0]!.baseline && 'latency' in calib.measurements[0]!.baseline
      ? calib.measurements[0]!.baseline.latency!.p50
      : NaN;
  console.log(`calibration (no fault): baseline plan p50 ${p50.toFixed(3)} ms, verdict ${calib.outcome}`);
  console.log('added latency            run verdicts (F = regression caught)          caught  target');
  for (const level of levels) {
    const added = level * p50;
    await faults(cand, {
      latencyMs: Math.round(added * 1000) / 1000,
      latencyPath: '/api/v1/plan',
      latencyKind: 'cpu',
    });
    const verdicts: string[] = [];
    let caught = 0;
    for (let i = 0; i < runs; i++) {
      const r = await gate(base, cand, ['plan']);
      const m = r.measurements[0]!;
      const hit = r.outcome === 'failed' && caughtBy(r) !== '-';
      if (hit) caught++;
      verdicts.push(hit ? 'F' : r.outcome === 'passed' ? '.' : r.outcome === 'failed' ? 'x' : '?');
      log(
        `+${level * 100}% run ${i + 1}: ${r.outcome} (${caughtBy(r)}) p50 ratio ${m.comparison?.p50.estimate.toFixed(3)} [${m.comparison?.p50.low.toFixed(3)}-${m.comparison?.p50.high.toFixed(3)}] p95 ratio ${m.comparison?.p95.estimate.toFixed(3)}${r.outcome === 'passed' ? '' : ` - ${r.reasons.join('; ')}`}`,
      );
    }
    const need = level >= 1 ? runs : level >= 0.5 ? Math.ceil(0.9 * runs) : Math.ceil(0.5 * runs);
    console.log(
      `+${String(level * 100).padEnd(3)}% (+${added.toFixed(3)} ms)   ${verdicts.join(' ').padEnd(40)}  ${caught}/${runs}   >= ${need}/${runs}: ${caught >= need ? 'met' : 'MISSED'}`,
    );
  }
  await faults(cand, { latencyMs: 0 });
}

/** (c) False alarms of an identical candidate. */
async function falseAlarms(base: ServedApp, cand: ServedApp): Promise<void> {
  await faults(cand, { latencyMs: 0 });
  let fails = 0;
  let doubts = 0;
  const verdicts: string[] = [];
  for (let i = 0; i < runs; i++) {
    const r = await gate(base, cand);
    if (r.outcome === 'failed') fails++;
    if (r.outcome === 'inconclusive') doubts++;
    verdicts.push(r.outcome === 'passed' ? '.' : r.outcome === 'failed' ? 'F' : '?');
    log(
      `identical run ${i + 1}: ${r.outcome} ${r.measurements.map((m) => `${m.candidate.scenario} p50x ${m.comparison?.p50.estimate.toFixed(3)} p95x ${m.comparison?.p95.estimate.toFixed(3)}`).join(', ')}${r.outcome === 'passed' ? '' : ` - ${r.reasons.join('; ')}`}`,
    );
  }
  console.log(`identical candidate, ${runs} runs over every route: ${verdicts.join(' ')}`);
  console.log(
    `fail ${fails}/${runs} (target 0: ${fails === 0 ? 'met' : 'MISSED'}), inconclusive ${doubts}/${runs} (target <= ${Math.floor(runs / 10)}: ${doubts <= Math.floor(runs / 10) ? 'met' : 'MISSED'})`,
  );
}

await withServedApp(
  env,
  (base) =>
    withServedApp(
      env,
      async (cand) => {
        const c = env.latencyGate.regression;
        console.log(
          `staging gate, ${env.latencyGate.requestsPerSecond} req/s, ${seconds}s per side in ${c.rounds} alternating rounds (staging itself runs ${env.latencyGate.durationSeconds}s); allowed p50 +${c.p50 * 100}%, p95 +${c.p95 * 100}%, ${c.confidence * 100}% bootstrap CI`,
        );
        await (mode === 'power' ? power(base, cand) : falseAlarms(base, cand));
      },
      { log, label: 'candidate', extraEnv: dev },
    ),
  { log, label: 'baseline', extraEnv: dev },
);
