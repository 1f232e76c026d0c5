/**
 * The watcher against the real service on real Postgres and Redis, with the prod triggers compressed
 * from minutes to seconds: each injected fault fires its own trigger within its window plus one poll
 * (plus slack for a loaded CI machine), the rollback action runs exactly once, and a healthy run of the
 * same length fires nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../../../testkit/services.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { detectionBoundSeconds } from '../../../src/operate/triggers/bounds.js';
import { compressTriggers, type TriggerName } from '../../../src/operate/triggers/evaluator.js';
import { startLocalApp, type LocalApp } from '../../../src/platform/services/local-app.js';
import { runDrill, type DrillOutcome, type FaultSettings } from '../../../src/operate/watch/drill.js';

const svc = useEphemeralServices();
const KEY = randomBytes(16).toString('hex');
// Minutes become seconds: poll 0.25 s, error rate 5 s, p95 10 s; a 3 s rate window so one slow poll
// on a loaded runner does not empty it.
const T = compressTriggers(ENVIRONMENTS.prod.rollback, 1 / 60, { minRequestsPerWindow: 10, rateWindowSeconds: 3 });
const RPS = 50;
const SLACK_S = 3; // a loaded 2-core runner: scheduling, GC, slow polls
const LATENCY_MS = T.p95.aboveMs + 200;
let app: LocalApp;

const drill = (fault: FaultSettings | undefined, durationSeconds: number) =>
  runDrill({ url: app.url, apiKey: KEY, triggers: T, rps: RPS, durationSeconds, fault, faultAfterSeconds: 2 });

function expectFired(o: DrillOutcome, trigger: TriggerName, addedLatencyS = 0) {
  const log = o.log.join('\n');
  expect(o.result.outcome, log).toBe('triggered');
  expect(o.actions).toHaveLength(1);
  expect(o.actions[0]!.map((f) => f.trigger)).toEqual([trigger]);
  expect(o.delaySeconds, log).toBeDefined();
  expect(o.delaySeconds!, log).toBeLessThanOrEqual(detectionBoundSeconds(T, trigger, addedLatencyS) + SLACK_S);
  // Sustained triggers must not fire before their window has passed.
  if (trigger === 'errorRate') expect(o.delaySeconds!).toBeGreaterThanOrEqual(T.errorRate.sustainedSeconds);
  if (trigger === 'p95') expect(o.delaySeconds!).toBeGreaterThanOrEqual(T.p95.sustainedSeconds);
}

beforeAll(async () => {
  app = await startLocalApp({
    env: {
      ...svc.current.env,
      ENVIRONMENT: 'dev',
      FAULT_INJECTION: 'true',
      API_KEYS: KEY,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_MAX: '10000000',
    },
    seedCount: 20,
  });
});

afterAll(async () => {
  await app?.stop();
});

describe('rollback watcher under injected faults (compressed windows)', { timeout: 40_000 }, () => {
  it('failing health checks fire the health trigger', async () => {
    expectFired(await drill({ failHealth: true }, 15), 'health');
  });

  it('an error ratio above the limit fires the error-rate trigger', async () => {
    expectFired(await drill({ errorRatio: 0.5 }, 20), 'errorRate');
  });

  it('added latency above the p95 limit fires the p95 trigger', async () => {
    expectFired(await drill({ latencyMs: LATENCY_MS }, 25), 'p95', LATENCY_MS / 1000);
  });

  it('a healthy run of the same length fires nothing, and was judged (not "no data")', async () => {
    const o = await drill(undefined, T.p95.sustainedSeconds + LATENCY_MS / 1000 + 2);
    expect(o.result.outcome, o.log.join('\n')).toBe('healthy');
    expect(o.actions).toEqual([]);
    expect(o.result.statuses?.errorRate.state).toBe('ok');
    expect(o.result.statuses?.p95.state).toBe('ok');
    expect(o.result.statuses?.health.state).toBe('ok');
  });
});
