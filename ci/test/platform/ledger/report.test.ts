import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { PAYLOAD_SCHEMA, deliveryEvents, type LedgerRecord } from '../../../src/platform/ledger/entry.js';
import { localLedger } from '../../../src/platform/ledger/local.js';
import { computeDeliveryMetrics, percentile } from '../../../src/platform/ledger/metrics.js';
import { fakeLedger, type FakeLedger } from '../github/fake-ledger.js';
import { seedThirtyDeploys, THIRTY_EXPECTED } from './thirty-deploys.js';

const TOKEN = 'ghp_report_token_must_not_leak_0123456789';
let fake: FakeLedger | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function cli(
  args: string[],
  env: Record<string, string> = {},
  cwd = mkdtempSync(join(tmpdir(), 'kgraph-report-')),
) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (to: string[]) => new Writable({ write: (c: Buffer, _e, cb) => (to.push(c.toString()), cb()) });
  const code = await runCli(args, { stdout: sink(out), stderr: sink(err), env, cwd });
  return { code, out: out.join(''), err: err.join('') };
}

describe('kgraph-ci report from the GitHub ledger', () => {
  it('computes every figure from 30 recorded deploys with known outcomes (and ignores older and foreign deployments)', async () => {
    fake = await fakeLedger();
    seedThirtyDeploys(fake, Date.now());
    const res = await cli(['report', '--repo', 'acme/kgraph', '--since', '30d', '--json'], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: fake.url,
    });
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    const m = JSON.parse(res.out) as ReturnType<typeof computeDeliveryMetrics>;
    expect(m.source).toBe('GitHub acme/kgraph (deployments)');
    expect(m.overall).toMatchObject({
      deploys: THIRTY_EXPECTED.deploys,
      successes: THIRTY_EXPECTED.successes,
      rollbacks: THIRTY_EXPECTED.rollbacks,
      successRate: THIRTY_EXPECTED.successRate,
      rollbackRate: THIRTY_EXPECTED.rollbackRate,
      p50DurationMs: THIRTY_EXPECTED.p50DurationMs,
      p95DurationMs: THIRTY_EXPECTED.p95DurationMs,
    });
    expect(m.leadTime).toEqual(THIRTY_EXPECTED.leadTime);
    expect(m.changeFailure).toEqual(THIRTY_EXPECTED.changeFailure);
    for (const [env, want] of Object.entries(THIRTY_EXPECTED.perEnvironment))
      expect(
        m.perEnvironment.find((e) => e.environment === env),
        env,
      ).toMatchObject(want);
    expect(m.meetsTargets).toEqual({ duration: false, successRate: false, rollbackRate: false });
    expect(fake.seen.every((r) => r.auth === `token ${TOKEN}`)).toBe(true);
  });

  it('prints the markdown table and chart, and --strict exits 1 on the missed targets', async () => {
    fake = await fakeLedger();
    seedThirtyDeploys(fake, Date.now());
    const res = await cli(['report', '--repo', 'acme/kgraph', '--strict'], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: fake.url,
    });
    expect(res.code).toBe(1);
    expect(res.out).toContain('| success rate | 90.00% (27/30) | ≥ 99.9% | ❌ |');
    expect(res.out).toContain('| deploy duration p95 (successful) | 7.25 min | < 5 min | ❌ |');
    expect(res.out).toContain('| lead time merge → production p50 / p95 | 8.0 h / 14.0 h (7 deploys) |');
    expect(res.out).toContain('| change failure rate (production) | 25.00% (2/8) |');
    expect(res.out).toContain('xychart-beta');
    expect(res.err).toContain('delivery targets missed: duration, successRate, rollbackRate');
    expect(res.out + res.err).not.toContain(TOKEN);
  });

  it('no data says "no deployments recorded", never 0.00% ❌; exit 0, or 1 with --strict', async () => {
    fake = await fakeLedger();
    const plain = await cli(['report', '--repo', 'acme/kgraph'], { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: fake.url });
    expect(plain.code).toBe(0);
    expect(plain.out).toContain('no deployments recorded');
    expect(plain.out).not.toMatch(/0\.00%|❌/);
    const strict = await cli(['report', '--repo', 'acme/kgraph', '--strict'], {
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: fake.url,
    });
    expect(strict.code).toBe(1);
    expect(strict.err).toContain('no deployments recorded since 30d in GitHub acme/kgraph');
  });

  it('falls back to the local records when GitHub is unreachable, and says so', async () => {
    fake = await fakeLedger();
    fake.down = true;
    const cwd = mkdtempSync(join(tmpdir(), 'kgraph-report-'));
    const ledger = localLedger(join(cwd, '.reports/deployments'));
    const rec = await ledger.open(
      {
        schema: PAYLOAD_SCHEMA,
        operation: 'deploy',
        environment: 'dev',
        version: 'dev-1',
        startedAt: new Date(Date.now() - 120_000).toISOString(),
      },
      { ref: 'x', production: false, description: 'd' },
    );
    await rec.finish('success', 'ok');
    const res = await cli(
      ['report', '--repo', 'acme/kgraph', '--json'],
      { GITHUB_TOKEN: TOKEN, GITHUB_API_URL: fake.url },
      cwd,
    );
    expect(res.code).toBe(0);
    expect(res.err).toMatch(/GitHub acme\/kgraph unreachable .*503.*falling back to local records/);
    const m = JSON.parse(res.out) as { source: string; overall: { deploys: number; successes: number } };
    expect(m.source).toMatch(/^local records in .* \(offline fallback: GitHub acme\/kgraph unreachable\)$/);
    expect(m.overall).toMatchObject({ deploys: 1, successes: 1 });
  });

  it('bad usage exits 2: a malformed window, a repository that is not owner/name, no token', async () => {
    expect((await cli(['report', '--since', '30 days'])).code).toBe(2);
    expect((await cli(['report', '--repo', 'not a repo'], { GITHUB_TOKEN: TOKEN })).code).toBe(2);
    const noToken = await cli(['report', '--repo', 'acme/kgraph']);
    expect(noToken.code).toBe(2);
    expect(noToken.err).toContain('GITHUB_TOKEN is not set');
  });
});

describe('the GitHub ledger', () => {
  it('reads every page GitHub sends (Link headers), oldest first, and stops at --since', async () => {
    fake = await fakeLedger();
    const t0 = Date.parse('2026-06-01T00:00:00Z');
    for (let i = 0; i < 230; i++) {
      const at = new Date(t0 + i * 60_000).toISOString();
      fake.seed({
        environment: 'dev',
        payload: {
          schema: PAYLOAD_SCHEMA,
          operation: 'deploy',
          environment: 'dev',
          version: `dev-${i}`,
          startedAt: at,
        },
        createdAt: at,
        statuses: [{ state: 'success', at }],
      });
    }
    const { githubLedger } = await import('../../../src/platform/ledger/github.js');
    const { createOctokit } = await import('../../../src/platform/github/client.js');
    const ledger = githubLedger(createOctokit({ token: TOKEN, baseUrl: fake.url }), { owner: 'acme', repo: 'kgraph' });
    const all = await ledger.read();
    expect(all.map((r) => r.payload.version)).toEqual(Array.from({ length: 230 }, (_, i) => `dev-${i}`));
    expect(fake.seen.filter((r) => r.path.startsWith('/repos/acme/kgraph/deployments?')).length).toBe(3);
    // A payload claiming an environment its deployment is not in is not believed.
    fake.seed({
      environment: 'dev',
      payload: {
        schema: PAYLOAD_SCHEMA,
        operation: 'deploy',
        environment: 'staging',
        version: 'forged',
        startedAt: new Date(t0).toISOString(),
      },
      createdAt: new Date(t0 + 300 * 60_000).toISOString(),
      statuses: [{ state: 'success', at: new Date(t0).toISOString() }],
    });
    expect((await ledger.read()).map((r) => r.payload.version)).not.toContain('forged');
    const recent = await ledger.read({ sinceMs: t0 + 200 * 60_000 });
    expect(recent.map((r) => r.payload.version)).toEqual(Array.from({ length: 30 }, (_, i) => `dev-${200 + i}`));
  });
});

describe('delivery events and metrics', () => {
  const rec = (
    over: Omit<Partial<LedgerRecord>, 'payload'> & { payload?: Partial<LedgerRecord['payload']> },
  ): LedgerRecord => ({
    id: '1',
    state: 'success',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:02:00.000Z',
    ...over,
    payload: {
      schema: PAYLOAD_SCHEMA,
      operation: 'deploy',
      environment: 'dev',
      startedAt: '2026-01-01T00:00:00.000Z',
      ...over.payload,
    },
  });

  it('a record stuck in progress for over an hour counts as unfinished (not a success); a fresh one is still running', () => {
    const now = Date.parse('2026-01-01T03:00:00Z');
    const events = deliveryEvents(
      [
        rec({ state: 'in_progress' }),
        rec({ state: 'in_progress', createdAt: '2026-01-01T02:30:00.000Z' }),
        rec({ payload: { operation: 'gate' } }),
      ],
      now,
    );
    expect(events.map((e) => e.state)).toEqual(['unfinished']);
    const m = computeDeliveryMetrics(events, { production: () => false, source: 't' });
    expect(m.overall).toMatchObject({ deploys: 1, successes: 0, successRate: 0 });
  });

  it('percentile is nearest-rank and NaN without data', () => {
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([], 95)).toBeNaN();
  });
});
