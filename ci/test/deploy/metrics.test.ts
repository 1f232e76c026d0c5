import { describe, expect, it } from 'vitest';
import { computeMetrics, metricsMarkdown, percentile } from '../../src/deploy/metrics.js';
import type { DeployRecord } from '../../src/deploy/records.js';
import { runSmoke } from '../../src/deploy/smoke.js';

const rec = (i: number, over: Partial<DeployRecord> = {}): DeployRecord => ({
  operation: 'deploy',
  environment: 'prod',
  version: `v1.${i}.0`,
  startedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
  finishedAt: new Date(Date.UTC(2026, 0, 1, 0, i + 2)).toISOString(),
  durationMs: 120_000,
  result: 'success',
  rolledBack: false,
  ...over,
});

describe('delivery metrics', () => {
  it('meets the targets with fast successful deploys', () => {
    const records = Array.from({ length: 10 }, (_, i) => rec(i));
    const m = computeMetrics(records);
    expect(m.overall).toMatchObject({ deploys: 10, successes: 10, rollbacks: 0, successRate: 1, rollbackRate: 0, p95DurationMs: 120_000 });
    expect(m.meetsTargets).toEqual({ duration: true, successRate: true, rollbackRate: true });
    const md = metricsMarkdown(m, records);
    expect(md).toContain('```mermaid');
    expect(md).toContain('| success rate | 100.00% | ≥ 99.9% | ✅ |');
  });

  it('counts failures, automatic and manual rollbacks, and slow deploys against the targets', () => {
    const records = [rec(1), rec(2, { result: 'failure', rolledBack: true }), rec(3, { durationMs: 6 * 60_000 }), rec(4, { operation: 'rollback', environment: 'staging' })];
    const m = computeMetrics(records);
    expect(m.overall).toMatchObject({ deploys: 3, successes: 2, rollbacks: 2 });
    expect(m.meetsTargets).toEqual({ duration: false, successRate: false, rollbackRate: false });
    expect(m.perEnvironment.map((e) => e.environment)).toEqual(['prod', 'staging']);
  });

  it('no records meets no target', () => {
    expect(computeMetrics([]).meetsTargets).toEqual({ duration: false, successRate: false, rollbackRate: false });
  });

  it('percentile is nearest-rank', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([], 95)).toBe(0);
  });
});

describe('smoke test', () => {
  const responses: Record<string, [number, string]> = {
    '/healthz': [200, 'ok'],
    '/readyz': [200, 'ok'],
    '/metrics': [200, '# TYPE http_requests_total counter'],
    '/api/v1/tools?q=github&limit=1': [200, '{"items":[]}'],
  };
  const fetchFrom = (table: Record<string, [number, string]>, seen: { url: string; key?: string }[] = []) =>
    (async (url: string, init?: { headers?: Record<string, string> }) => {
      const path = url.replace('https://svc', '');
      seen.push({ url: path, ...(init?.headers?.['x-api-key'] ? { key: init.headers['x-api-key'] } : {}) });
      const [status, body] = table[path] ?? [404, ''];
      return { status, text: async () => body };
    });

  it('passes when every route answers, sending the API key only to the API', async () => {
    const seen: { url: string; key?: string }[] = [];
    const res = await runSmoke({ baseUrl: 'https://svc/', apiKey: 'k1', fetch: fetchFrom(responses, seen), sleep: async () => undefined });
    expect(res.ok).toBe(true);
    expect(seen).toEqual([{ url: '/healthz' }, { url: '/readyz' }, { url: '/metrics' }, { url: '/api/v1/tools?q=github&limit=1', key: 'k1' }]);
  });

  it('fails closed: a 503 after retries, a missing API key', async () => {
    const res = await runSmoke({ baseUrl: 'https://svc', fetch: fetchFrom({ ...responses, '/readyz': [503, 'db down'] }), attempts: 2, sleep: async () => undefined });
    expect(res.ok).toBe(false);
    expect(res.results.filter((r) => !r.ok).map((r) => r.detail)).toEqual(['GET /readyz: HTTP 503 (attempt 2/2)', 'API_KEY is not set: cannot call /api/v1/tools?q=github&limit=1']);
  });
});
