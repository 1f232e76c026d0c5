/**
 * The notifier against local fakes of Slack, Statuspage and Sentry that record what they receive: what a
 * prod deploy and an automatic rollback send, that dev and staging never touch the status page, and that a
 * failing, hanging or misconfigured channel is logged without its secret and never fails the caller.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startRecordingServer, type RecordingServer } from '../../../../testkit/recording-server.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import type { Announcement } from '../../../src/platform/notify/announcement.js';
import { createNotifier } from '../../../src/platform/notify/notifier.js';

const SLACK_TOKEN = 'T0000/B0000/SLACKSECRETtoken123';
const PAGE_KEY = 'statuspage-api-key-secret-42';
const SENTRY_TOKEN = 'sntrys_secret_token_abcdef';
const COMMIT = 'a'.repeat(40);
const PREVIOUS_PROD = 'b'.repeat(40);
const FAST = { retries: 2, minTimeoutMs: 10, timeoutMs: 2000 };

let slack: RecordingServer;
let page: RecordingServer;
let sentry: RecordingServer;
let lines: string[];

beforeEach(async () => {
  slack = await startRecordingServer();
  page = await startRecordingServer((r, i) => ({ status: r.method === 'POST' ? 201 : 200, body: { id: `inc-${i}` } }));
  sentry = await startRecordingServer(() => ({ status: 201, body: {} }));
  lines = [];
});
afterEach(async () => {
  await Promise.all([slack.close(), page.close(), sentry.close()]);
});

const fullEnv = () => ({
  SLACK_WEBHOOK_URL: `${slack.url}/services/${SLACK_TOKEN}`,
  STATUSPAGE_API_KEY: PAGE_KEY,
  STATUSPAGE_PAGE_ID: 'page1',
  STATUSPAGE_API_URL: page.url,
  STATUSPAGE_PROD_COMPONENT_ID: 'comp-prod',
  SENTRY_AUTH_TOKEN: SENTRY_TOKEN,
  SENTRY_ORG: 'kgraph',
  SENTRY_PROJECT: 'kgraph-mcp',
  SENTRY_URL: sentry.url,
  GITHUB_REPOSITORY: 'kgraph-mcp/kgraph-mcp',
});

const notifier = (env: NodeJS.ProcessEnv = fullEnv(), budgetMs = 10_000) =>
  createNotifier({
    env,
    log: (l) => lines.push(l),
    retry: FAST,
    budgetMs,
    previousCommit: async (environment) => (environment === 'prod' ? PREVIOUS_PROD : undefined),
  });

const deploy = (environment: string, stage: Announcement['stage']): Announcement => ({
  operation: 'deploy',
  stage,
  environment,
  version: 'v1.4.0',
  image: 'ghcr.io/kgraph-mcp/kgraph-mcp@sha256:' + 'c'.repeat(64),
  digest: 'sha256:' + 'c'.repeat(64),
  commit: COMMIT,
  ...(stage === 'started' ? {} : { gate: { outcome: 'passed' as const, reasons: [] }, durationMs: 150_000 }),
  links: { environment: ENVIRONMENTS.prod.url, run: 'https://github.com/kgraph-mcp/kgraph-mcp/actions/runs/1' },
});

const noSecrets = () => {
  const all = lines.join('\n');
  for (const s of [SLACK_TOKEN, PAGE_KEY, SENTRY_TOKEN, 'hooks.slack.com/services']) expect(all).not.toContain(s);
};

describe('notifier', () => {
  it('a prod deploy: Slack twice, a maintenance on the prod component opened and completed, the Sentry release with the commits since the previous prod release, and its deploy', async () => {
    const n = notifier();
    expect(n.channels).toEqual(['slack', 'statuspage', 'sentry']);
    await n.announce(ENVIRONMENTS.prod, deploy('prod', 'started'));
    await n.announce(ENVIRONMENTS.prod, deploy('prod', 'succeeded'));

    expect(slack.received.map((r) => (r.body as { text: string }).text)).toEqual([
      ':rocket: deploy of v1.4.0 to prod started',
      ':white_check_mark: deploy of v1.4.0 to prod succeeded in 2.5 min',
    ]);
    const fields = JSON.stringify(slack.received[1]!.body);
    for (const fact of ['v1.4.0', 'sha256:' + 'c'.repeat(64), 'Latency gate*\\npassed', 'actions/runs/1'])
      expect(fields).toContain(fact);
    expect(slack.received[0]!.path).toBe(`/services/${SLACK_TOKEN}`);

    expect(page.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /pages/page1/incidents',
      'PATCH /pages/page1/incidents/inc-0',
    ]);
    expect(page.received[0]!.headers.authorization).toBe(`OAuth ${PAGE_KEY}`);
    const open = (page.received[0]!.body as { incident: Record<string, unknown> }).incident;
    expect(open).toMatchObject({
      status: 'in_progress',
      component_ids: ['comp-prod'],
      components: { 'comp-prod': 'under_maintenance' },
    });
    expect((page.received[1]!.body as { incident: Record<string, unknown> }).incident).toMatchObject({
      status: 'completed',
      components: { 'comp-prod': 'operational' },
    });

    expect(sentry.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /api/0/organizations/kgraph/releases/',
      'PUT /api/0/organizations/kgraph/releases/v1.4.0/',
      'POST /api/0/organizations/kgraph/releases/v1.4.0/deploys/',
    ]);
    expect(sentry.received[0]!.headers.authorization).toBe(`Bearer ${SENTRY_TOKEN}`);
    expect(sentry.received[0]!.body).toEqual({ version: 'v1.4.0', projects: ['kgraph-mcp'] });
    expect(sentry.received[1]!.body).toEqual({
      refs: [{ repository: 'kgraph-mcp/kgraph-mcp', commit: COMMIT, previousCommit: PREVIOUS_PROD }],
    });
    expect(sentry.received[2]!.body).toMatchObject({ environment: 'prod', url: ENVIRONMENTS.prod.url });
    noSecrets();
  });

  it('a failed prod deploy still completes its maintenance; its automatic rollback opens an incident', async () => {
    const n = notifier();
    await n.announce(ENVIRONMENTS.prod, deploy('prod', 'started'));
    await n.announce(ENVIRONMENTS.prod, { ...deploy('prod', 'failed'), reason: 'smoke: GET /readyz 503' });
    await n.announce(ENVIRONMENTS.prod, {
      operation: 'rollback',
      stage: 'succeeded',
      automatic: true,
      environment: 'prod',
      version: 'previous',
      reason: 'deploy of v1.4.0 failed at smoke',
      links: { environment: ENVIRONMENTS.prod.url },
    });
    expect(page.received.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /pages/page1/incidents',
      'PATCH /pages/page1/incidents/inc-0',
      'POST /pages/page1/incidents',
    ]);
    expect((page.received[1]!.body as { incident: { status: string } }).incident.status).toBe('completed');
    expect((page.received[2]!.body as { incident: Record<string, unknown> }).incident).toMatchObject({
      status: 'investigating',
      components: { 'comp-prod': 'degraded_performance' },
    });
    expect((slack.received[2]!.body as { text: string }).text).toBe(
      ':white_check_mark: automatic rollback of previous to prod succeeded',
    );
    // No Sentry deploy for a failed deploy, nor for a rollback to an unnamed previous revision.
    expect(sentry.received.filter((r) => r.path.endsWith('/deploys/'))).toEqual([]);
  });

  it.each(['dev', 'staging'] as const)(
    'a %s deploy and rollback never touch the status page (no maintenance, no incident)',
    async (name) => {
      const n = notifier();
      await n.announce(ENVIRONMENTS[name], deploy(name, 'started'));
      await n.announce(ENVIRONMENTS[name], deploy(name, 'failed'));
      await n.announce(ENVIRONMENTS[name], {
        operation: 'rollback',
        stage: 'succeeded',
        automatic: true,
        environment: name,
        version: 'previous',
        links: { environment: ENVIRONMENTS[name].url },
      });
      expect(page.received).toEqual([]);
      expect(slack.received).toHaveLength(3);
      // Sentry's commit range is this environment's own: no previous release here.
      expect(sentry.received[1]!.body).toEqual({ refs: [{ repository: 'kgraph-mcp/kgraph-mcp', commit: COMMIT }] });
    },
  );

  it('Statuspage answering 500: retried with backoff, logged without the key, and the caller goes on', async () => {
    page.respond(() => ({ status: 500, body: { error: 'boom' } }));
    const n = notifier();
    const results = await n.announce(ENVIRONMENTS.prod, deploy('prod', 'started'));
    expect(page.received).toHaveLength(1 + FAST.retries);
    expect(results.find((r) => r.channel === 'statuspage')).toMatchObject({ ok: false });
    expect(results.find((r) => r.channel === 'slack')).toMatchObject({ ok: true });
    expect(lines.join('\n')).toMatch(/statuspage open-maintenance FAILED \(the deploy goes on\): POST .* HTTP 500/);
    expect(lines.filter((l) => l.includes('retrying'))).toHaveLength(FAST.retries);
    noSecrets();
  });

  it('a 4xx is final (no retry); a hanging API is left behind after the budget', async () => {
    sentry.respond(() => ({ status: 403, body: {} }));
    slack.respond(() => ({ status: 200, delayMs: 5_000 }));
    const n = notifier(fullEnv(), 500);
    const t0 = Date.now();
    const results = await n.announce(ENVIRONMENTS.staging, deploy('staging', 'started'));
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(results).toEqual([]);
    expect(lines.join('\n')).toContain('goes on without waiting');
    await new Promise((r) => setTimeout(r, 300));
    expect(sentry.received).toHaveLength(1);
  });

  it('nothing configured: no request, no failure, and the log says which variables each channel needs', async () => {
    const n = notifier({});
    expect(n.channels).toEqual([]);
    expect(await n.announce(ENVIRONMENTS.prod, deploy('prod', 'started'))).toEqual([]);
    expect([...slack.received, ...page.received, ...sentry.received]).toEqual([]);
    expect(lines.join('\n')).toContain('slack (needs SLACK_WEBHOOK_URL)');
  });

  it('a webhook URL with credentials, or not https, is refused without being printed', async () => {
    for (const bad of [
      `https://user:${SLACK_TOKEN}@hooks.slack.com/services/x`,
      `http://hooks.slack.com/${SLACK_TOKEN}`,
    ]) {
      lines = [];
      const n = notifier({ SLACK_WEBHOOK_URL: bad });
      expect(n.channels).toEqual([]);
      expect(lines.join('\n')).toMatch(/Slack off: SLACK_WEBHOOK_URL (must|is not) .*\(value not shown\)/);
      noSecrets();
    }
  });

  it('a prod deploy without the component id variable skips the status page and says which variable', async () => {
    const { STATUSPAGE_PROD_COMPONENT_ID: _, ...env } = fullEnv();
    const results = await notifier(env).announce(ENVIRONMENTS.prod, deploy('prod', 'started'));
    expect(page.received).toEqual([]);
    expect(results.find((r) => r.channel === 'statuspage')?.detail).toBe('STATUSPAGE_PROD_COMPONENT_ID is not set');
  });
});
