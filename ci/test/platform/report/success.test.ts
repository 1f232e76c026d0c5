/**
 * The success metrics, pure: zero-downtime from the ledger and the rehearsal (worst wins), deploy time
 * against 5 min, the latency targets from what Prometheus answered; whatever could not be read is
 * "cannot tell", never "met". The edges: a fake query function and real files.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { deployFacts, judgeSuccess, successMarkdown, type SuccessFacts } from '../../../src/platform/report/success.js';
import { latencyQueries, readLatency, readRehearsal } from '../../../src/platform/report/success-sources.js';

const MIN = 60_000;
const base: SuccessFacts = {
  deploys: [
    { state: 'success', durationMs: 2 * MIN, rolledBack: false },
    { state: 'success', durationMs: 3 * MIN, rolledBack: false },
  ],
  maxDeployMs: 5 * MIN,
  rehearsal: { outcome: 'passed', reasons: [], from: 'report.json' },
  latency: { apiP50Ms: 40, graphP95Ms: 300, errorRate: 0.0001, from: 'Prometheus x' },
  thresholds: ENVIRONMENTS.prod.latencyGate.thresholds,
};
const verdicts = (f: SuccessFacts) => Object.fromEntries(judgeSuccess(f).map((r) => [r.metric, r.outcome]));

describe('judgeSuccess', () => {
  it('all facts in and within target: every row met', () => {
    expect(Object.values(verdicts(base))).toEqual(['passed', 'passed', 'passed', 'passed', 'passed']);
  });

  it('zero-downtime: a failed rehearsal or a rolled-back deploy is missed; no rehearsal report is cannot tell', () => {
    const zd = (f: Partial<SuccessFacts>) => verdicts({ ...base, ...f })['zero-downtime deploys'];
    expect(zd({ rehearsal: { outcome: 'failed', reasons: ['rollback: 1 failed request(s)'], from: 'r' } })).toBe(
      'failed',
    );
    expect(zd({ deploys: [{ state: 'failure', durationMs: MIN, rolledBack: true }] })).toBe('failed');
    expect(zd({ rehearsal: { unreadable: 'no rollout rehearsal report at x' } })).toBe('inconclusive');
    // The ledger alone cannot see a failed request: no deploys and a passed rehearsal is still not "met".
    expect(zd({ deploys: [] })).toBe('inconclusive');
  });

  it('deploy time: p95 of successful deploys against 5 min; none is cannot tell', () => {
    const dt = (deploys: SuccessFacts['deploys']) =>
      verdicts({ ...base, deploys })['deploy time p95 (successful production deploys)'];
    expect(dt([{ state: 'success', durationMs: 6 * MIN, rolledBack: false }])).toBe('failed');
    expect(dt([{ state: 'failure', durationMs: MIN, rolledBack: false }])).toBe('inconclusive');
  });

  it('latency: over a target is missed, no data or an unreadable Prometheus is cannot tell, with why', () => {
    const v = verdicts({ ...base, latency: { apiP50Ms: 150, errorRate: 0.01, from: 'p' } });
    expect(v['API latency p50 (worst route)']).toBe('failed');
    expect(v['knowledge-graph query p95 (worst query)']).toBe('inconclusive');
    expect(v['API error rate (5xx)']).toBe('failed');
    const rows = judgeSuccess({ ...base, latency: { unreadable: 'Prometheus at p:9090 could not be read: boom' } });
    expect(rows.slice(2).map((r) => [r.outcome, r.source])).toEqual(
      Array(3).fill(['inconclusive', 'Prometheus at p:9090 could not be read: boom']),
    );
    // The table says the outcomes in the metrics' words.
    expect(successMarkdown(rows)).toContain('| ❔ cannot tell |');
    const words = successMarkdown(
      judgeSuccess({ ...base, deploys: [{ state: 'success', durationMs: 6 * MIN, rolledBack: false }] }),
    );
    expect(words).toContain('| ✅ met |');
    expect(words).toContain('| ❌ missed |');
  });
});

describe('deployFacts', () => {
  it('production deploys only, each marked when an automatic rollback followed it before the next deploy', () => {
    const e = (environment: string, operation: 'deploy' | 'rollback', startedAt: string, automatic = false) =>
      ({ environment, operation, state: 'success', startedAt, durationMs: MIN, automatic }) as const;
    const facts = deployFacts(
      [
        e('prod', 'deploy', '2026-01-01'),
        e('prod', 'rollback', '2026-01-02', true),
        e('prod', 'deploy', '2026-01-03'),
        e('prod', 'rollback', '2026-01-04', false),
        e('staging', 'deploy', '2026-01-05'),
      ],
      (env) => env === 'prod',
    );
    expect(facts.map((f) => f.rolledBack)).toEqual([true, false]);
  });
});

describe('the edges', () => {
  it('readLatency: worst series per target; no series = no data; a failing query = unreadable, without credentials', async () => {
    const q = latencyQueries('kgraph-prod', '1h');
    const answers: Record<string, number[]> = { [q.apiP50Ms]: [20, 80, Number.NaN], [q.errorRate]: [0] };
    const got = await readLatency('http://prom:9090', 'kgraph-prod', '1h', async (_u, query) =>
      (answers[query] ?? []).map((value) => ({ metric: {}, value })),
    );
    expect(got).toEqual({
      apiP50Ms: 80,
      errorRate: 0,
      from: 'Prometheus http://prom:9090, namespace kgraph-prod, last 1h',
    });
    const down = await readLatency('http://user:secret@prom:9090', 'ns', '1h', () =>
      Promise.reject(new Error('fetch failed')),
    );
    expect(down).toEqual({ unreadable: 'Prometheus at prom:9090 could not be read: fetch failed' });
    expect(JSON.stringify(down)).not.toContain('secret');
    expect(await readLatency('http://prom', 'ns', '1 hour')).toEqual({
      unreadable: 'window "1 hour" is not a Prometheus duration',
    });
  });

  it('readRehearsal: a report.json is read; a missing or foreign file is unreadable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'success-'));
    await writeFile(join(dir, 'ok.json'), JSON.stringify({ passed: false, reasons: ['rollback: stale'] }));
    await writeFile(join(dir, 'other.json'), '{"hello":1}');
    expect(await readRehearsal(join(dir, 'ok.json'))).toMatchObject({
      outcome: 'failed',
      reasons: ['rollback: stale'],
    });
    // A report that says its outcome is read as it says, an inconclusive one too.
    await writeFile(join(dir, 'new.json'), JSON.stringify({ outcome: 'inconclusive', reasons: ['no traffic'] }));
    expect(await readRehearsal(join(dir, 'new.json'))).toMatchObject({
      outcome: 'inconclusive',
      reasons: ['no traffic'],
    });
    expect(await readRehearsal(join(dir, 'none.json'))).toEqual({
      unreadable: `no rollout rehearsal report at ${join(dir, 'none.json')}`,
    });
    expect(await readRehearsal(join(dir, 'other.json'))).toMatchObject({
      unreadable: expect.stringMatching(/not a rollout/),
    });
    // An outcome outside the three is not taken as any of them, even with an older report's passed beside it.
    await writeFile(join(dir, 'odd.json'), JSON.stringify({ outcome: 'PASSED', reasons: ['looks fine'] }));
    expect(await readRehearsal(join(dir, 'odd.json'))).toMatchObject({
      unreadable: expect.stringMatching(/not a rollout/),
    });
    await writeFile(join(dir, 'mixed.json'), JSON.stringify({ outcome: 'met', passed: false, reasons: ['stale'] }));
    expect(await readRehearsal(join(dir, 'mixed.json'))).toMatchObject({ outcome: 'failed' });
  });
});
