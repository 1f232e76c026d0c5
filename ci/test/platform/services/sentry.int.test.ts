/**
 * The service's Sentry reporting against a local fake ingestion endpoint (a recording server behind the DSN):
 * an induced 500 in dev is exactly one event with release and environment and nothing that could hold a body,
 * a key or personal data; a 4xx is none; without SENTRY_DSN nothing is sent at all.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingServer, type RecordingServer } from '../../../../testkit/recording-server.js';
import { useEphemeralServices } from '../../../../testkit/services.js';
import { startLocalApp, type LocalApp } from '../../../src/platform/services/local-app.js';

const svc = useEphemeralServices();
const KEY = randomBytes(16).toString('hex');
const SECRET_BODY = 'secret-body-value-4711';
let sentry: RecordingServer;
let app: LocalApp;
let quiet: LocalApp;

/** Events out of Sentry envelopes (newline-delimited: envelope header, item header, item). */
function events(): Record<string, unknown>[] {
  return sentry.received.flatMap((r) => {
    const lines = r.text.split('\n').filter(Boolean);
    const out: Record<string, unknown>[] = [];
    for (let i = 1; i + 1 < lines.length; i += 2) {
      const header = JSON.parse(lines[i]!) as { type?: string };
      if (header.type === 'event') out.push(JSON.parse(lines[i + 1]!) as Record<string, unknown>);
    }
    return out;
  });
}

const call = (a: LocalApp, path: string, init: RequestInit = {}) =>
  fetch(`${a.url}${path}`, {
    ...init,
    headers: { 'x-api-key': KEY, 'content-type': 'application/json', ...init.headers },
  });

beforeAll(async () => {
  sentry = await startRecordingServer(() => ({ status: 200, body: {} }));
  const base = { ...svc.current.env, ENVIRONMENT: 'dev', FAULT_INJECTION: 'true', API_KEYS: KEY, LOG_LEVEL: 'fatal' };
  app = await startLocalApp({
    env: { ...base, SENTRY_DSN: `${sentry.url.replace('//', '//publickey@')}/1`, APP_VERSION: 'v9.8.7' },
    seedCount: 5,
    readyTimeoutMs: 90_000,
  });
  quiet = await startLocalApp({ env: base, migrate: false, readyTimeoutMs: 90_000 });
}, 200_000);

afterAll(async () => {
  await Promise.all([app?.stop(), quiet?.stop()]);
  await sentry?.close();
});

async function settle(): Promise<void> {
  // The transport sends in the background; give it time, then check nothing more arrives.
  for (let i = 0; i < 40 && events().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
}

describe('Sentry in the service', { timeout: 60_000 }, () => {
  it('a 4xx sends nothing', async () => {
    expect((await call(app, '/api/v1/tools/00000000-0000-0000-0000-000000000000')).status).toBe(404);
    expect((await call(app, '/api/v1/tools', { headers: { 'x-api-key': 'wrong-key-wrong-key' } })).status).toBe(401);
    await new Promise((r) => setTimeout(r, 1000));
    expect(events()).toEqual([]);
  });

  it('an induced 500 in dev is exactly one event, with release and environment, and no body, key or PII', async () => {
    await call(app, '/__faults', { method: 'PUT', body: JSON.stringify({ crash: true }) });
    const res = await call(app, `/api/v1/plan?token=${SECRET_BODY}`, {
      method: 'POST',
      body: JSON.stringify({ goal: SECRET_BODY }),
      headers: { cookie: `session=${SECRET_BODY}` },
    });
    await call(app, '/__faults', { method: 'DELETE' });
    expect(res.status).toBe(500);
    await settle();
    const got = events();
    expect(got).toHaveLength(1);
    const e = got[0]!;
    expect(e).toMatchObject({ release: 'v9.8.7', environment: 'dev', tags: { route: '/api/v1/plan', method: 'POST' } });
    expect(JSON.stringify(e)).toContain('injected crash');
    // /version says the same release the event carries (APP_VERSION, set by the deploy).
    expect(await (await call(app, '/version')).json()).toEqual({ version: e.release, environment: 'dev' });
    const raw = sentry.received.map((r) => r.text).join('\n');
    for (const leak of [SECRET_BODY, KEY, '127.0.0.1"', 'x-api-key']) expect(raw).not.toContain(leak);
    expect(e.user).toBeUndefined();
    expect(e.request).toBeUndefined();
  });

  it('without SENTRY_DSN an induced 500 sends nothing', async () => {
    const before = sentry.received.length;
    await call(quiet, '/__faults', { method: 'PUT', body: JSON.stringify({ crash: true }) });
    expect((await call(quiet, '/api/v1/tools?limit=1')).status).toBe(500);
    await call(quiet, '/__faults', { method: 'DELETE' });
    await new Promise((r) => setTimeout(r, 1000));
    expect(sentry.received.length).toBe(before);
    expect(await (await call(quiet, '/version')).json()).toEqual({ version: null, environment: 'dev' });
  });
});
