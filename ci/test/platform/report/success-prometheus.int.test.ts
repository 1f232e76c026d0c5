/**
 * The success metrics' latency targets read from a real Prometheus (Debian's 2.42, as .ci/run installs it)
 * scraping a real service instance, through the same HTTP API and queries the report uses; and a Prometheus
 * that cannot be read is "cannot tell", never a pass.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../../../testkit/services.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { judgeSuccess } from '../../../src/platform/report/success.js';
import { readLatency } from '../../../src/platform/report/success-sources.js';
import { freePort, startLocalApp, type LocalApp } from '../../../src/platform/services/local-app.js';
import {
  prometheusMissing,
  startLocalPrometheus,
  type LocalPrometheus,
} from '../../../src/platform/services/prometheus.js';

const missing = await prometheusMissing();
if (missing && process.env.CI) throw new Error(`CI must read a real Prometheus: ${missing}`);
if (missing) console.warn(`skipping the success-metrics Prometheus test: ${missing}`);

const svc = useEphemeralServices();
const KEY = randomBytes(16).toString('hex');
const NAMESPACE = `kgraph-success-${randomBytes(3).toString('hex')}`;
let app: LocalApp;
let prom: LocalPrometheus;

beforeAll(async () => {
  if (missing) return;
  app = await startLocalApp({
    env: { ...svc.current.env, ENVIRONMENT: 'dev', API_KEYS: KEY, LOG_LEVEL: 'warn', RATE_LIMIT_MAX: '10000000' },
    seedCount: 20,
    readyTimeoutMs: 90_000,
  });
  prom = await startLocalPrometheus({
    targets: [{ address: new URL(app.url).host, labels: { namespace: NAMESPACE, pod: 'kgraph-mcp-a' } }],
    scrapeIntervalSeconds: 0.5,
  });
}, 180_000);

afterAll(async () => {
  await prom?.stop();
  await app?.stop();
});

describe.skipIf(missing !== undefined)('success metrics from a real Prometheus', { timeout: 120_000 }, () => {
  it('reads API p50, graph query p95 and the error rate of the namespace, and judges them', async () => {
    const get = (path: string) => fetch(`${app.url}${path}`, { headers: { 'x-api-key': KEY } }).then((r) => r.text());
    const window = '1m';
    let facts = await readLatency(prom.url, NAMESPACE, window);
    // Traffic spread over several scrapes (rate() needs two samples with an increase), then read; a new
    // search each time: a cached answer runs no graph query.
    for (let i = 0; i < 60 && !('apiP50Ms' in facts && 'graphP95Ms' in facts && 'errorRate' in facts); i++) {
      await Promise.all([get('/api/v1/tools?limit=5'), get(`/api/v1/tools?q=github%20issue%20${i}`)]);
      await new Promise((r) => setTimeout(r, 250));
      if (i % 4 === 3) facts = await readLatency(prom.url, NAMESPACE, window);
    }
    expect(facts).toMatchObject({
      apiP50Ms: expect.any(Number),
      graphP95Ms: expect.any(Number),
      errorRate: 0,
      from: expect.stringContaining(`namespace ${NAMESPACE}`),
    });
    const rows = judgeSuccess({
      deploys: [],
      maxDeployMs: 300_000,
      rehearsal: { unreadable: 'none here' },
      latency: facts,
      thresholds: ENVIRONMENTS.prod.latencyGate.thresholds,
    });
    // Judged from the numbers Prometheus gave (whatever this machine's load made them), never "cannot tell".
    for (const r of rows.slice(2)) expect(r.outcome, `${r.metric}: ${r.value}`).not.toBe('inconclusive');
    // Another namespace has no series: no data, cannot tell.
    const other = await readLatency(prom.url, 'kgraph-nobody', window);
    expect(
      judgeSuccess({
        ...{ deploys: [], maxDeployMs: 1, rehearsal: { unreadable: 'x' } },
        latency: other,
        thresholds: ENVIRONMENTS.prod.latencyGate.thresholds,
      })
        .slice(2)
        .map((r) => r.outcome),
    ).toEqual(['inconclusive', 'inconclusive', 'inconclusive']);
  });

  it('a Prometheus that does not answer is cannot tell, with where and why', async () => {
    const port = await freePort();
    const facts = await readLatency(`http://127.0.0.1:${port}`, NAMESPACE, '1m');
    expect(facts).toEqual({
      unreadable: expect.stringMatching(new RegExp(`^Prometheus at 127.0.0.1:${port} could not be read: `)),
    });
  });
});
