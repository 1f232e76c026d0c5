import { describe, expect, it } from 'vitest';
import { useEphemeralServices } from '../../../../testkit/services.js';
import { startLocalApp } from '../../../src/platform/services/local-app.js';

const API_KEY = 'local-app-test-key-0123456789';
const svc = useEphemeralServices();

describe('startLocalApp', () => {
  it('migrates, seeds, serves on a free port, and stops gracefully with exit code 0', async () => {
    const app = await startLocalApp({ env: { ...svc.current.env, API_KEYS: API_KEY }, seedCount: 20 });
    try {
      expect(app.port).toBeGreaterThan(0);
      const ready = await fetch(`${app.url}/readyz`);
      expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: 'up', redis: 'up' } });
      const res = await fetch(`${app.url}/api/v1/tools?limit=100`, { headers: { 'x-api-key': API_KEY } });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { items: unknown[] }).items).toHaveLength(20);
    } finally {
      expect(await app.stop()).toBe(0);
    }
    expect(app.logs()).toContain('shutdown: complete');
    expect(app.logs()).not.toContain(API_KEY);
  });

  it('fails with the service output when the configuration is invalid', async () => {
    await expect(startLocalApp({ env: { ...svc.current.env, API_KEYS: 'short' }, migrate: false })).rejects.toThrow(
      /exited \(code 2\)[\s\S]*API_KEYS: 1 key\(s\) shorter than 16/,
    );
  });
});
