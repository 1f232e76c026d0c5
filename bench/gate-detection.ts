/**
 * Benchmark (b): detection delay from fault start to trigger, for each trigger, against its bound
 * (window + one poll; + the injected latency for p95), with the prod triggers compressed 1/60
 * (minutes → seconds), on the real service with fresh Postgres/Redis. Also a healthy run of the same
 * length: false triggers must be 0. Run: npx tsx bench/gate-detection.ts [rounds=2]
 */
import { randomBytes } from 'node:crypto';
import { ENVIRONMENTS } from '../ci/src/definitions/environments.js';
import { detectionBoundSeconds } from '../ci/src/operate/triggers/bounds.js';
import { compressTriggers, type TriggerName } from '../ci/src/operate/triggers/evaluator.js';
import { createEphemeralServices } from '../ci/src/platform/services/ephemeral.js';
import { startLocalApp } from '../ci/src/platform/services/local-app.js';
import { runDrill, type FaultSettings } from '../ci/src/operate/watch/drill.js';

const rounds = Number(process.argv[2] ?? 2);
const T = compressTriggers(ENVIRONMENTS.prod.rollback, 1 / 60, { minRequestsPerWindow: 10, rateWindowSeconds: 3 });
const LATENCY_MS = T.p95.aboveMs + 200;
const key = randomBytes(16).toString('hex');
const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
const app = await startLocalApp({
  env: {
    ...services.env,
    ENVIRONMENT: 'dev',
    FAULT_INJECTION: 'true',
    API_KEYS: key,
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '10000000',
  },
  seedCount: 20,
});

const cases: { trigger: TriggerName; fault: FaultSettings; addedLatencyS: number; duration: number }[] = [
  { trigger: 'health', fault: { failHealth: true }, addedLatencyS: 0, duration: 15 },
  { trigger: 'errorRate', fault: { errorRatio: 0.5 }, addedLatencyS: 0, duration: 20 },
  { trigger: 'p95', fault: { latencyMs: LATENCY_MS }, addedLatencyS: LATENCY_MS / 1000, duration: 25 },
];

try {
  console.log(
    `poll ${T.pollSeconds}s, rate window ${T.rateWindowSeconds}s, error rate ${T.errorRate.sustainedSeconds}s, p95 ${T.p95.sustainedSeconds}s (prod x 1/60, rate window 3s)`,
  );
  console.log('trigger    round  delay s  bound s  delay/bound  fired        actions');
  let misses = 0;
  for (let r = 1; r <= rounds; r++) {
    for (const c of cases) {
      const o = await runDrill({
        url: app.url,
        apiKey: key,
        triggers: T,
        rps: 50,
        durationSeconds: c.duration,
        fault: c.fault,
      });
      const bound = detectionBoundSeconds(T, c.trigger, c.addedLatencyS);
      const fired = o.actions[0]?.map((f) => f.trigger).join(',') ?? 'none';
      const ok = fired === c.trigger && o.actions.length === 1 && (o.delaySeconds ?? Infinity) <= bound;
      if (!ok) misses++;
      console.log(
        `${c.trigger.padEnd(10)} ${String(r).padStart(5)}  ${(o.delaySeconds ?? NaN).toFixed(2).padStart(7)}  ${bound.toFixed(2).padStart(7)}  ${((o.delaySeconds ?? NaN) / bound).toFixed(3).padStart(11)}  ${fired.padEnd(11)}  ${o.actions.length}${ok ? '' : '  MISSED'}`,
      );
    }
  }
  const healthyS = Math.max(...cases.map((c) => c.duration));
  const healthy = await runDrill({ url: app.url, apiKey: key, triggers: T, rps: 50, durationSeconds: healthyS });
  console.log(
    `healthy run of ${healthyS}s: ${healthy.actions.length} false triggers (outcome ${healthy.result.outcome}, final states ${Object.values(
      healthy.result.statuses ?? {},
    )
      .map((s) => `${s.trigger}=${s.state}`)
      .join(' ')})`,
  );
  console.log(
    `targets: every trigger within its bound (${misses === 0 ? 'met' : `MISSED ${misses}`}), 0 false triggers (${healthy.actions.length === 0 ? 'met' : 'MISSED'})`,
  );
} finally {
  await app.stop();
  await services.dispose();
}
