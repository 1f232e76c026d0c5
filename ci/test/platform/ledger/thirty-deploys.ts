/**
 * 30 recorded deploys with known outcomes, seeded into a fake GitHub relative to `now`:
 * 12 dev, 10 staging, 8 prod (promotions); 27 succeed with durations 60 s + k·15 s (k = 0..26);
 * 3 fail (dev: a migration, no rollback; staging: the gate, rolled back automatically; prod: the smoke
 * test, rolled back automatically); one successful prod deploy is rolled back by hand later.
 * Lead time for the 7 successful prod deploys: 2, 4, 6, 8, 10, 12, 14 hours from merge.
 * Plus noise the report must ignore: a deploy older than 30 days and a deployment not made by kgraph-ci.
 */
import { PAYLOAD_SCHEMA } from '../../../src/platform/ledger/entry.js';
import type { FakeLedger } from '../github/fake-ledger.js';

export const THIRTY_EXPECTED = {
  deploys: 30,
  successes: 27,
  rollbacks: 3,
  successRate: 0.9,
  rollbackRate: 0.1,
  p50DurationMs: 255_000,
  p95DurationMs: 435_000,
  leadTime: { samples: 7, p50Ms: 8 * 3_600_000, p95Ms: 14 * 3_600_000 },
  changeFailure: { deploys: 8, failed: 2, rate: 0.25 },
  perEnvironment: {
    dev: { deploys: 12, successes: 11, rollbacks: 0 },
    prod: { deploys: 8, successes: 7, rollbacks: 2 },
    staging: { deploys: 10, successes: 9, rollbacks: 1 },
  },
} as const;

const ENVS = ['dev', 'staging', 'prod'] as const;
// Which environment each of the 30 deploys goes to: 12 dev, 10 staging, 8 prod.
const ORDER = 'dsdsdpdsdpsdpdsdpsdpsdpsdpdsps'.split('').map((c) => ENVS['dsp'.indexOf(c)]!);
const FAIL = new Map<number, { env: string; rolledBack: boolean }>([
  [4, { env: 'dev', rolledBack: false }],
  [10, { env: 'staging', rolledBack: true }],
  [16, { env: 'prod', rolledBack: true }],
]);
/** The prod deploy that is rolled back by hand a day later. */
const MANUAL_ROLLBACK_AFTER = 22;

export function seedThirtyDeploys(f: FakeLedger, now: number): void {
  const iso = (ms: number) => new Date(ms).toISOString();
  let k = 0;
  let prodCount = 0;
  for (let i = 0; i < 30; i++) {
    const env = ORDER[i]!;
    if (env === undefined) throw new Error('ORDER must hold 30 environments');
    const start = now - (29 - i) * 86_400_000 - 6 * 3_600_000;
    const failed = FAIL.get(i);
    if (failed && failed.env !== env) throw new Error(`deploy ${i} is ${env}, expected ${failed.env}`);
    const durationMs = failed ? 30_000 : 60_000 + 15_000 * k++;
    const prod = env === 'prod';
    const digest = `sha256:${i.toString(16).padStart(2, '0').repeat(32)}`;
    const leadHours = prod && !failed ? 2 * ++prodCount : 0;
    const payload = {
      schema: PAYLOAD_SCHEMA,
      operation: prod ? 'promotion' : 'deploy',
      environment: env,
      version: prod ? `v1.${i}.0` : `${env}-${i}`,
      digest,
      commit: i.toString(16).padStart(2, '0').repeat(20),
      startedAt: iso(start),
      ...(prod && !failed ? { mergedAt: iso(start + durationMs - leadHours * 3_600_000) } : {}),
    };
    f.seed({
      environment: env,
      payload,
      production: prod,
      createdAt: iso(start),
      task: `kgraph-ci:${payload.operation}`,
      statuses: [
        { state: 'in_progress', at: iso(start + 1000) },
        { state: failed ? 'failure' : 'success', at: iso(start + durationMs) },
      ],
    });
    if (failed?.rolledBack) {
      const at = start + durationMs + 1000;
      f.seed({
        environment: env,
        task: 'kgraph-ci:rollback',
        payload: {
          schema: PAYLOAD_SCHEMA,
          operation: 'rollback',
          environment: env,
          automatic: true,
          startedAt: iso(at),
        },
        createdAt: iso(at),
        statuses: [{ state: 'success', at: iso(at + 20_000) }],
      });
    }
    if (i === MANUAL_ROLLBACK_AFTER) {
      if (env !== 'prod') throw new Error('the manual rollback follows a prod deploy');
      const at = start + 3_600_000;
      f.seed({
        environment: env,
        task: 'kgraph-ci:rollback',
        payload: {
          schema: PAYLOAD_SCHEMA,
          operation: 'rollback',
          environment: env,
          version: 'previous',
          startedAt: iso(at),
        },
        createdAt: iso(at),
        statuses: [{ state: 'success', at: iso(at + 40_000) }],
      });
    }
  }
  // Noise: older than the window, and a deployment someone made by hand (no kgraph-ci payload).
  const old = now - 45 * 86_400_000;
  f.seed({
    environment: 'prod',
    payload: {
      schema: PAYLOAD_SCHEMA,
      operation: 'promotion',
      environment: 'prod',
      version: 'v0.9.0',
      startedAt: new Date(old).toISOString(),
    },
    createdAt: new Date(old).toISOString(),
    statuses: [{ state: 'failure', at: new Date(old + 60_000).toISOString() }],
  });
  f.seed({
    environment: 'prod',
    payload: {},
    createdAt: new Date(now - 86_400_000).toISOString(),
    statuses: [{ state: 'failure', at: new Date(now - 86_000_000).toISOString() }],
  });
}
