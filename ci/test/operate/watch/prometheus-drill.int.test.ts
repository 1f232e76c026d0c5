/**
 * The fault drill as in prod: a real Prometheus (2.42, on 127.0.0.1) scrapes two real service instances and
 * evaluates the generated alert rules; the watcher reads Prometheus's HTTP API (the same instant queries as in
 * prod) and probes /healthz itself. Triggers are prod's, compressed from minutes to seconds. Each fault, in
 * both instances, fires its own trigger; the delay from injection to trigger is printed per trigger. Then
 * every dashboard panel's query runs against this Prometheus and must return data, and the deploy and
 * rollback annotations find the restart and the rollback alert.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../../../testkit/services.js';
import {
  concreteQuery,
  dashboardAnnotations,
  dashboardPanels,
  SERVICE_METRICS,
} from '../../../src/operate/dashboards/panels.js';
import { ENVIRONMENTS, type EnvironmentDefinition } from '../../../src/definitions/environments.js';
import { parsePromText } from '../../../src/platform/metrics/prom-text.js';
import {
  instantQuery,
  prometheusMissing,
  startLocalPrometheus,
  type LocalPrometheus,
} from '../../../src/platform/services/prometheus.js';
import { startLocalApp, type LocalApp } from '../../../src/platform/services/local-app.js';
import { ruleFileText } from '../../../src/operate/triggers/alert-rules.js';
import { detectionBoundSeconds } from '../../../src/operate/triggers/bounds.js';
import { compressTriggers, type TriggerName } from '../../../src/operate/triggers/evaluator.js';
import { runDrill, type DrillOutcome, type FaultSettings } from '../../../src/operate/watch/drill.js';

const missing = await prometheusMissing();
if (missing && process.env.CI) throw new Error(`CI must run the drill on a real Prometheus: ${missing}`);
if (missing) console.warn(`skipping the Prometheus drill: ${missing}`);

const svc = useEphemeralServices();
const KEY = randomBytes(16).toString('hex');
const NAMESPACE = 'kgraph-drill';
// Minutes become seconds (error rate 5 s, p95 10 s); a 3 s rate window over 0.5 s scrapes.
const T = compressTriggers(ENVIRONMENTS.prod.rollback, 1 / 60, { minRequestsPerWindow: 10, rateWindowSeconds: 3 });
const ENV: EnvironmentDefinition = { ...ENVIRONMENTS.prod, namespace: NAMESPACE, rollback: T };
const SCRAPE_S = 0.5;
const RPS = 40;
// A loaded 2-core runner, plus what Prometheus adds: up to one scrape and one rule evaluation late.
const SLACK_S = 3 + 2 * SCRAPE_S;
const LATENCY_MS = T.p95.aboveMs + 200;
const apps: LocalApp[] = [];
let prom: LocalPrometheus;
const delays: Partial<Record<TriggerName, number>> = {};

const env = (name: string) => ({
  ...svc.current.env,
  ENVIRONMENT: 'dev',
  FAULT_INJECTION: 'true',
  API_KEYS: KEY,
  LOG_LEVEL: 'warn',
  RATE_LIMIT_MAX: '10000000',
  APP_NAME: name,
});

beforeAll(async () => {
  if (missing) return;
  apps.push(await startLocalApp({ env: env('a'), seedCount: 20, readyTimeoutMs: 90_000 }));
  apps.push(await startLocalApp({ env: env('b'), migrate: false, readyTimeoutMs: 90_000 }));
  prom = await startLocalPrometheus({
    targets: apps.map((a, i) => ({
      address: new URL(a.url).host,
      labels: { namespace: NAMESPACE, pod: `kgraph-mcp-${'ab'[i]}` },
    })),
    scrapeIntervalSeconds: SCRAPE_S,
    ruleFiles: [ruleFileText(ENV)],
  });
}, 120_000);

afterAll(async () => {
  await prom?.stop();
  await Promise.all(apps.map((a) => a.stop()));
  if (Object.keys(delays).length)
    console.info(
      `drill through Prometheus, injection-to-trigger delays: ${Object.entries(delays)
        .map(
          ([k, v]) =>
            `${k} ${v!.toFixed(2)}s (bound ${detectionBoundSeconds(T, k as TriggerName, k === 'p95' ? LATENCY_MS / 1000 : 0) + SLACK_S}s)`,
        )
        .join(', ')}`,
    );
});

const drill = (fault: FaultSettings | undefined, durationSeconds: number) =>
  runDrill({
    url: apps[0]!.url,
    instances: apps.map((a) => a.url),
    prometheusUrl: prom.url,
    namespace: NAMESPACE,
    apiKey: KEY,
    triggers: T,
    rps: RPS,
    durationSeconds,
    fault,
    faultAfterSeconds: 3,
  });

function expectFired(o: DrillOutcome, trigger: TriggerName, addedLatencyS = 0) {
  const log = o.log.join('\n');
  expect(o.result.outcome, log).toBe('triggered');
  expect(o.actions.map((a) => a.map((f) => f.trigger))).toEqual([[trigger]]);
  expect(o.delaySeconds, log).toBeDefined();
  delays[trigger] = o.delaySeconds!;
  expect(o.delaySeconds!, log).toBeLessThanOrEqual(detectionBoundSeconds(T, trigger, addedLatencyS) + SLACK_S);
  if (trigger === 'errorRate') expect(o.delaySeconds!).toBeGreaterThanOrEqual(T.errorRate.sustainedSeconds);
  if (trigger === 'p95') expect(o.delaySeconds!).toBeGreaterThanOrEqual(T.p95.sustainedSeconds);
}

describe.skipIf(missing !== undefined)(
  'fault drill through a real Prometheus scraping two instances',
  { timeout: 60_000 },
  () => {
    it('both instances are scraped and export every metric the dashboards query', async () => {
      let up = await instantQuery(prom.url, `up{namespace="${NAMESPACE}"}`);
      for (let i = 0; i < 40 && up.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 250));
        up = await instantQuery(prom.url, `up{namespace="${NAMESPACE}"}`);
      }
      expect(up.map((s) => [s.metric.pod, s.value]).sort()).toEqual([
        ['kgraph-mcp-a', 1],
        ['kgraph-mcp-b', 1],
      ]);
      const text = await (await fetch(`${apps[0]!.url}/metrics`)).text();
      // By family (# TYPE lines): a labelled metric with no observation yet has no sample, but is exported.
      const families = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
      const family = (m: string) => m.replace(/_(bucket|sum|count)$/, '');
      expect(SERVICE_METRICS.filter((m) => !families.has(m) && !families.has(family(m)))).toEqual([]);
      expect(parsePromText(text).length).toBeGreaterThan(0);
    });

    it('a healthy run fires nothing and is judged from Prometheus (not "no data")', async () => {
      const o = await drill(undefined, 8);
      expect(o.result.outcome, o.log.join('\n')).toBe('healthy');
      expect(o.result.statuses?.errorRate.state).toBe('ok');
      expect(o.result.statuses?.p95.state).toBe('ok');
    });

    it('failing health checks fire the health trigger', async () => {
      expectFired(await drill({ failHealth: true }, 15), 'health');
    });

    it('an error ratio above the limit fires the error-rate trigger (and Prometheus fires its alert)', async () => {
      expectFired(await drill({ errorRatio: 0.5 }, 25), 'errorRate');
    });

    it('added latency above the p95 limit fires the p95 trigger', async () => {
      expectFired(await drill({ latencyMs: LATENCY_MS }, 30), 'p95', LATENCY_MS / 1000);
    });

    it('every dashboard panel query returns data from this Prometheus; the annotations find the restart and the rollback alert', async () => {
      // Fresh traffic for the rate windows, and one instance restarted (a rollout's new pod).
      const b = apps.pop()!;
      const port = b.port;
      await b.stop();
      apps.push(await startLocalApp({ env: env('b'), migrate: false, port, readyTimeoutMs: 90_000 }));
      // Searches no cache has seen, spread over several scrapes (a series born in one burst shows no increase).
      const searches = (async () => {
        for (let i = 0; i < 50; i++) {
          await fetch(
            `${apps[i % 2]!.url}/api/v1/tools?q=${encodeURIComponent(`drill ${i} ${KEY.slice(0, 6)}`)}&limit=5`,
            {
              headers: { 'x-api-key': KEY },
            },
          ).then((r) => r.body?.cancel());
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      await Promise.all([drill(undefined, 6), searches]);
      const samples: string[] = [];
      for (const p of dashboardPanels(ENV))
        for (const q of p.queries) {
          const res = await instantQuery(prom.url, concreteQuery(q.expr, '15s'));
          const values = res.map((r) => r.value).filter((v) => Number.isFinite(v));
          expect(values.length, `${p.title}: ${q.expr}`).toBeGreaterThan(0);
          samples.push(
            `${p.title} = ${values[0]!.toPrecision(4)}${res.length > 1 ? ` (+${res.length - 1} series)` : ''}`,
          );
        }
      const [deploys, rollbacks] = dashboardAnnotations(ENV);
      const restarted = await instantQuery(prom.url, deploys!.expr);
      expect(restarted.map((s) => s.metric.pod)).toContain('kgraph-mcp-b');
      // The error-rate alert fired in Prometheus during its drill: ALERTS kept it over the range.
      const fired = await instantQuery(prom.url, `max_over_time(${rollbacks!.expr}[5m])`);
      expect(fired.map((s) => s.metric.alertname)).toContain('KGraphErrorRateHigh');
      console.info(`dashboard panels, sample values from the drill's Prometheus:\n  ${samples.join('\n  ')}`);
    });
  },
);
