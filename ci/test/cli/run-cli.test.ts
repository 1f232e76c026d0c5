import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { parseConcurrency, parseParams } from '../../src/cli/commands/run.js';
import { formatRunTable, runSummaryMarkdown } from '../../src/verify/runner/report.js';
import type { RunReport } from '../../src/verify/runner/run.js';
import { captureIo } from './io.js';

const cli = async (...argv: string[]) => {
  const io = captureIo({ ...process.env, GITHUB_STEP_SUMMARY: '' });
  return { code: await runCli(argv, io), err: io.err(), out: io.out() };
};

describe('kgraph-ci run: usage errors are exit 2 before anything runs', () => {
  it.each([
    [['run', 'lnt'], /unknown step "lnt": expected all or one of lint/],
    [['run'], /name at least one step, or all/],
    [['run', 'latencyGate', '--env', 'qa'], /unknown environment "qa"/],
    [['run', 'lint', '--concurrency', '0'], /--concurrency must be an integer from 1 to 64/],
    [['run', 'lint', '--concurrency', '2', '--sequential'], /either --sequential or --concurrency/],
    [['run', 'lint', '--param', 'novalue'], /--param expects name=value/],
    [['run', 'deploy'], /step deploy needs --image/],
    [['run', '--sweep', 'x; rm -rf /'], /--sweep expects a run id/],
  ])('%j', async (argv, message) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).not.toMatch(/▶/);
  });
  it('rejects a bad KGRAPH_SERVICES', async () => {
    const io = captureIo({ ...process.env, KGRAPH_SERVICES: 'docker' });
    expect(await runCli(['run', 'lint'], io)).toBe(2);
    expect(io.err()).toMatch(/KGRAPH_SERVICES must be "external" or "ephemeral"/);
  });
});

describe('run option parsing', () => {
  it('parses params and concurrency', () => {
    expect(parseParams(['image=ghcr.io/acme/kgraph:1.2.3', 'tag=v1.2.3'])).toEqual({
      image: 'ghcr.io/acme/kgraph:1.2.3',
      tag: 'v1.2.3',
    });
    expect(parseConcurrency(undefined, true)).toBe(1);
    expect(parseConcurrency('3', undefined)).toBe(3);
    expect(parseConcurrency(undefined, undefined)).toBeGreaterThanOrEqual(1);
  });
});

describe('run report renderings', () => {
  const report: RunReport = {
    version: 1,
    runId: 'abc123',
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 65_000,
    ok: false,
    concurrency: 2,
    servicesMode: 'ephemeral',
    params: { env: 'dev' },
    steps: [
      { name: 'lint', status: 'passed', durationMs: 1500 },
      { name: 'build', status: 'failed', durationMs: 800, exitCode: 2, reason: 'npm run build … exit code 2' },
      { name: 'scan', status: 'skipped', durationMs: 0, reason: 'build failed' },
    ],
  };
  it('prints an aligned table with a total', () => {
    expect(formatRunTable(report).split('\n')).toEqual([
      'step   result   duration',
      '─────  ───────  ────────  ───────────────────────────',
      'lint   passed   1.5s',
      'build  failed   800ms     npm run build … exit code 2',
      'scan   skipped  0ms       build failed',
      'total  failed   1m05s',
    ]);
  });
  it('renders a markdown summary with a duration chart', () => {
    const md = runSummaryMarkdown(report);
    expect(md).toContain('### kgraph-ci run: failed');
    expect(md).toContain('| build | ❌ failed | 800ms | npm run build … exit code 2 |');
    expect(md).toContain('| scan | ⏭️ skipped | 0ms | build failed |');
    expect(md).toContain('xychart-beta');
    expect(md).toContain('x-axis ["lint", "build"]');
  });
});

describe('kgraph-ci --version', () => {
  it("prints the CLI package's version and the Node running it, exit 0", async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V']) {
      const r = await cli(flag);
      expect(r.code).toBe(0);
      expect(r.out.trim()).toBe(`kgraph-ci ${version} (node ${process.version}, ${process.platform}-${process.arch})`);
    }
  });
});
