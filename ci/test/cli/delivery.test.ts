import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditSkippedIn, baselineCompared } from '../../src/cli/delivery.js';

describe('delivery wiring facts', () => {
  it('auditSkippedIn reads the audit check of a scan report; no report or no audit check is unknown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kgraph-scan-'));
    const at = (name: string, body: unknown) => {
      const p = join(dir, name);
      writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
      return p;
    };
    expect(
      await auditSkippedIn(
        at('a.json', {
          checks: [
            { name: 'secrets', status: 'passed' },
            { name: 'audit', status: 'skipped' },
          ],
        }),
      ),
    ).toBe(true);
    expect(await auditSkippedIn(at('b.json', { checks: [{ name: 'audit', status: 'passed' }] }))).toBe(false);
    expect(await auditSkippedIn(at('c.json', { checks: [{ name: 'secrets', status: 'passed' }] }))).toBeUndefined();
    expect(await auditSkippedIn(at('d.json', 'not json'))).toBeUndefined();
    expect(await auditSkippedIn(join(dir, 'missing.json'))).toBeUndefined();
  });

  it('baselineCompared: a baseline that names what it measured counts; unavailable or absent does not', () => {
    expect(baselineCompared({ baseline: { url: 'https://kgraph-mcp.example.com' } })).toBe(true);
    expect(baselineCompared({ baseline: { unavailable: 'prod did not answer' } })).toBe(false);
    expect(baselineCompared({ passed: true })).toBeUndefined();
  });
});
