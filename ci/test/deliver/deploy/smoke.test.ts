import { describe, expect, it } from 'vitest';
import { runSmoke } from '../../../src/deliver/deploy/smoke.js';

describe('smoke test', () => {
  const responses: Record<string, [number, string]> = {
    '/healthz': [200, 'ok'],
    '/readyz': [200, 'ok'],
    '/metrics': [200, '# TYPE http_requests_total counter'],
    '/api/v1/tools?q=github&limit=1': [200, '{"items":[]}'],
  };
  const fetchFrom =
    (table: Record<string, [number, string]>, seen: { url: string; key?: string }[] = []) =>
    async (url: string, init?: { headers?: Record<string, string> }) => {
      const path = url.replace('https://svc', '');
      seen.push({ url: path, ...(init?.headers?.['x-api-key'] ? { key: init.headers['x-api-key'] } : {}) });
      const [status, body] = table[path] ?? [404, ''];
      return { status, text: async () => body };
    };

  it('passes when every route answers, sending the API key only to the API', async () => {
    const seen: { url: string; key?: string }[] = [];
    const res = await runSmoke({
      baseUrl: 'https://svc/',
      apiKey: 'k1',
      fetch: fetchFrom(responses, seen),
      sleep: async () => undefined,
    });
    expect(res.outcome).toBe('passed');
    expect(seen).toEqual([
      { url: '/healthz' },
      { url: '/readyz' },
      { url: '/metrics' },
      { url: '/api/v1/tools?q=github&limit=1', key: 'k1' },
    ]);
  });

  it('fails closed: a 503 after retries, a missing API key', async () => {
    const res = await runSmoke({
      baseUrl: 'https://svc',
      fetch: fetchFrom({ ...responses, '/readyz': [503, 'db down'] }),
      attempts: 2,
      sleep: async () => undefined,
    });
    expect(res.outcome).toBe('failed');
    expect(res.results.filter((r) => r.outcome !== 'passed').flatMap((r) => r.reasons)).toEqual([
      'GET /readyz: HTTP 503 (attempt 2/2)',
      'API_KEY is not set: cannot call /api/v1/tools?q=github&limit=1',
    ]);
  });
});
