import { describe, expect, it } from 'vitest';
import { interpretAudit, npmAudit } from '../../../src/verify/scan/audit.js';

const report = (counts: Record<string, number>, vulns: Record<string, { severity: string }> = {}) =>
  JSON.stringify({
    auditReportVersion: 2,
    vulnerabilities: vulns,
    metadata: { vulnerabilities: { info: 0, low: 0, moderate: 0, high: 0, critical: 0, ...counts } },
  });

describe('interpretAudit', () => {
  it('passes below the level and lists the counts', () => {
    const r = interpretAudit(
      { exitCode: 1, stdout: report({ moderate: 2 }), stderr: '' },
      { allowOffline: false, level: 'high' },
    );
    expect(r).toMatchObject({ outcome: 'passed', reasons: [expect.stringContaining('2 moderate')] });
  });
  it('fails at or above the level, naming the packages', () => {
    const r = interpretAudit(
      {
        exitCode: 1,
        stdout: report({ high: 1, critical: 1 }, { lodash: { severity: 'high' }, minimist: { severity: 'critical' } }),
        stderr: '',
      },
      { allowOffline: true, level: 'high' },
    );
    expect(r.outcome).toBe('failed');
    expect(r.reasons).toEqual(['2 at or above high: lodash (high), minimist (critical)']);
  });
  it('fails closed when the service answers with an error, unless offline is allowed', () => {
    const run = {
      exitCode: 1,
      stdout: JSON.stringify({
        message: '405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk',
        error: { summary: '' },
      }),
      stderr: '',
    };
    expect(interpretAudit(run, { allowOffline: false, level: 'high' })).toMatchObject({
      outcome: 'failed',
      reasons: [
        expect.stringMatching(
          /no audit result from the advisory service \(405.*failing closed: to skip the audit, pass --allow-offline to kgraph-ci scan or set KGRAPH_SCAN_ALLOW_OFFLINE=1/,
        ),
      ],
    });
    expect(interpretAudit(run, { allowOffline: true, level: 'high' }).outcome).toBe('skipped');
  });
  it('fails closed on output that is not JSON', () => {
    expect(
      interpretAudit(
        { exitCode: null, stdout: '', stderr: 'npm: command timed out\n' },
        { allowOffline: false, level: 'high' },
      ).reasons.join('; '),
    ).toMatch(/command timed out/);
  });
});

describe('npmAudit against an unreachable registry (real npm)', () => {
  it('fails closed with the reason', async () => {
    const run = await npmAudit(process.cwd(), { ...process.env, npm_config_registry: 'http://127.0.0.1:9/' }, 60_000);
    const r = interpretAudit(run, { allowOffline: false, level: 'high' });
    expect(r.outcome).toBe('failed');
    expect(r.reasons.join('; ')).toMatch(/no audit result from the advisory service \(.*(ECONNREFUSED|127\.0\.0\.1:9)/);
  }, 60_000);
});
