import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
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
            { name: 'secrets', outcome: 'passed' },
            { name: 'audit', outcome: 'skipped' },
          ],
        }),
      ),
    ).toBe(true);
    expect(await auditSkippedIn(at('b.json', { checks: [{ name: 'audit', outcome: 'passed' }] }))).toBe(false);
    expect(await auditSkippedIn(at('c.json', { checks: [{ name: 'secrets', outcome: 'passed' }] }))).toBeUndefined();
    expect(await auditSkippedIn(at('d.json', 'not json'))).toBeUndefined();
    expect(await auditSkippedIn(join(dir, 'missing.json'))).toBeUndefined();
  });

  it('baselineCompared: a baseline that names what it measured counts; unavailable or absent does not', () => {
    expect(baselineCompared({ baseline: { url: 'https://kgraph-mcp.example.com' } })).toBe(true);
    expect(baselineCompared({ baseline: { unavailable: 'prod did not answer' } })).toBe(false);
    expect(baselineCompared({ passed: true })).toBeUndefined();
  });
});

describe('the deploy phase migrations-check (cli/migrations-deps.ts)', () => {
  it('without git history it says it cannot run and refuses; the deployed migrations are listed oldest first', async () => {
    const { migrationsDeployDeps } = await import('../../src/cli/migrations-deps.js');
    const { ENVIRONMENTS } = await import('../../src/definitions/environments.js');
    const { captureIo } = await import('./io.js');
    const { mkdirSync } = await import('node:fs');
    const root = mkdtempSync(join(tmpdir(), 'kgraph-nogit-'));
    mkdirSync(join(root, 'app/migrations'), { recursive: true });
    for (const f of ['1800000000001_b.sql', '1700000000000_a.sql', 'README.md'])
      writeFileSync(join(root, 'app/migrations', f), '-- Up Migration\n');
    const deps = migrationsDeployDeps(captureIo({}), undefined, root);
    const verdict = await deps.migrationsCheck!(ENVIRONMENTS.prod);
    expect(verdict.outcome).toBe('inconclusive');
    expect(verdict.reasons.join('; ')).toMatch(/cannot run: .* has no git history \(\.git\).*release running in prod/);
    expect(await deps.migrations!()).toEqual(['1700000000000_a', '1800000000001_b']);
  });
});

describe("the deploy's checklist (realDeps)", () => {
  it("reads the check runs of the image's commit in the --repo repository, not the checkout's, once for the checklist and the audit record", async () => {
    const { createServer } = await import('node:http');
    const { realDeps } = await import('../../src/cli/delivery.js');
    const { ENVIRONMENTS } = await import('../../src/definitions/environments.js');
    const { captureIo } = await import('./io.js');
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(req.url!);
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const { port } = server.address() as AddressInfo;
      // No kubectl on PATH: the cluster items are inconclusive without touching any cluster.
      const env = {
        GITHUB_TOKEN: 'ghs_test',
        GITHUB_API_URL: `http://127.0.0.1:${port}`,
        PATH: mkdtempSync(join(tmpdir(), 'kgraph-nopath-')),
      };
      // A directory without a scan report: the audit record too reads the commit's check runs.
      const cwd = mkdtempSync(join(tmpdir(), 'kgraph-noscan-'));
      const deps = realDeps(captureIo(env, cwd), { repo: { owner: 'acme', repo: 'kgraph' } });
      const commit = '5e'.repeat(20);
      expect(await deps.auditSkipped!(commit)).toBeUndefined();
      await deps.checklist(ENVIRONMENTS.dev, { manifests: [], commit });
      const runs = `/repos/acme/kgraph/commits/${commit}/check-runs?per_page=100&page=1`;
      expect(seen.filter((u) => u === runs)).toHaveLength(1);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
