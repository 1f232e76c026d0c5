import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { planGate } from '../../src/cli/commands/gate.js';
import { runCli } from '../../src/cli/program.js';
import { ENVIRONMENTS } from '../../src/definitions/environments.js';
import { freePort } from '../../src/platform/services/local-app.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';

function io(env: NodeJS.ProcessEnv = {}) {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (d: Buffer) => (stdout += d.toString()));
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  return { io: { stdout: out, stderr: err, env, cwd: process.cwd() }, text: () => ({ stdout, stderr }) };
}

// Without a git checkout (the Dagger module's source leaves .git out) a ref names nothing to serve: that is
// the problem the usage error names then.
const checkout = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: REPO_ROOT }).status === 0;

describe('kgraph-ci gate / watch usage', () => {
  it.each([
    [['gate', 'latency', '--env', 'staging'], /exactly one of --url <url> or --serve/],
    [['gate', 'latency', '--env', 'staging', '--url', 'http://127.0.0.1:9', '--serve'], /exactly one/],
    [['gate', 'latency', '--env', 'qa', '--serve'], /unknown environment "qa"/],
    [['gate', 'latency', '--env', 'staging', '--url', 'http://127.0.0.1:9'], /API_KEY is not set/],
    [['gate', 'latency', '--env', 'staging', '--url', 'not a url'], /--url: "not a url" is not a URL/],
    [
      [
        'gate',
        'latency',
        '--env',
        'staging',
        '--serve',
        '--baseline-url',
        'http://127.0.0.1:9',
        '--baseline-ref',
        'HEAD',
      ],
      /at most one of --baseline-url and --baseline-ref/,
    ],
    [
      ['gate', 'latency', '--env', 'staging', '--serve', '--no-baseline', '--baseline-ref', 'HEAD'],
      /--no-baseline contradicts/,
    ],
    [
      ['gate', 'latency', '--env', 'staging', '--url', 'http://127.0.0.1:9', '--baseline-ref', 'HEAD'],
      /--baseline-ref .* needs --serve/,
    ],
    [
      ['gate', 'latency', '--env', 'staging', '--url', 'http://127.0.0.1:9', '--baseline-url', 'http://127.0.0.1:9'],
      /same as --url/,
    ],
    [
      ['gate', 'latency', '--env', 'staging', '--url', 'http://127.0.0.1:9', '--baseline-url', 'ftp://x'],
      /--baseline-url: expected an http\(s\) URL/,
    ],
    [
      ['gate', 'latency', '--env', 'staging', '--serve', '--baseline-ref', 'v0.0.0-no-such-release'],
      checkout
        ? /--baseline-ref v0\.0\.0-no-such-release: no such commit, tag or branch/
        : /--baseline-ref v0\.0\.0-no-such-release: .* is not a git checkout/,
    ],
    [
      ['gate', 'latency', '--env', 'staging', '--serve', '--baseline-ref', '-x'],
      /--baseline-ref "-x": not a git ref name/,
    ],
    [
      ['watch', '--env', 'prod', '--url', 'http://127.0.0.1:9', '--duration', 'forever'],
      /invalid --duration "forever"/,
    ],
    [
      ['watch', '--env', 'prod', '--url', 'http://127.0.0.1:9', '--duration', '1m', '--time-scale', '3'],
      /time scale must be within/,
    ],
    [
      ['watch', '--env', 'prod', '--url', 'http://127.0.0.1:9', '--duration', '1m', '--prometheus', 'file:///x'],
      /--prometheus: expected an http\(s\) URL/,
    ],
  ])('%j exits 2 naming the problem', async (argv, message) => {
    const h = io();
    expect(await runCli(argv, h.io)).toBe(2);
    expect(h.text().stderr).toMatch(message);
    expect(h.text().stderr).not.toMatch(/\n\s+at /); // no stack trace
    // Refused before anything was served or sent.
    expect(h.text().stderr).not.toMatch(/creating a fresh database|warm-up|measuring/);
  });

  it('a gate that cannot reach the service is inconclusive (exit 1), it does not pass', async () => {
    const h = io({ API_KEY: 'x'.repeat(20) });
    const port = await freePort(); // nothing listens there
    const code = await runCli(
      [
        'gate',
        'latency',
        '--env',
        'dev',
        '--url',
        `http://127.0.0.1:${port}`,
        '--report',
        '/tmp/kgraph-gate-cli-test.json',
      ],
      h.io,
    );
    expect(code).toBe(1);
    expect(h.text().stdout).toMatch(/latency gate dev: INCONCLUSIVE/);
    expect(h.text().stdout).toMatch(
      /search: could not run: service unreachable at http:\/\/127\.0\.0\.1:\d+\/: ECONNREFUSED/,
    );
    expect(h.text().stdout).not.toContain('x'.repeat(20));
  }, 20_000);

  it("without API_KEY the gate takes the first key of the service's API_KEYS, and says so", async () => {
    const h = io({ API_KEYS: ` ,${'y'.repeat(20)},${'z'.repeat(20)}` });
    const port = await freePort();
    const code = await runCli(
      [
        'gate',
        'latency',
        '--env',
        'dev',
        '--url',
        `http://127.0.0.1:${port}`,
        '--report',
        '/tmp/kgraph-gate-cli-keys.json',
      ],
      h.io,
    );
    expect(code).toBe(1);
    expect(h.text().stderr).toContain('gate: API_KEY is not set: using the first key of API_KEYS');
    expect(h.text().stdout + h.text().stderr).not.toContain('y'.repeat(20));
  }, 20_000);

  it('plans one serving mode per invocation, keys resolved before anything runs', () => {
    const env = ENVIRONMENTS.staging;
    const keys = { API_KEY: 'a'.repeat(20), BASELINE_API_KEY: 'b'.repeat(20) };
    const base = { env, baseline: true };
    expect(planGate({ ...base, url: 'http://127.0.0.1:9/' }, keys, '/w')).toMatchObject({
      serving: { kind: 'url', url: 'http://127.0.0.1:9/', apiKey: 'a'.repeat(20) },
      baseline: { kind: 'none' },
      reportPath: '/w/.reports/latency-gate-staging.json',
    });
    expect(planGate({ ...base, serve: true }, {}, '/w')).toMatchObject({
      serving: { kind: 'app' },
      baseline: { kind: 'ref' },
    });
    expect(planGate({ ...base, serve: 'image', baselineUrl: 'http://127.0.0.1:8/' }, keys, '/w')).toMatchObject({
      serving: { kind: 'image' },
      baseline: { kind: 'url', apiKey: 'b'.repeat(20) },
    });
    expect(() => planGate({ ...base, serve: 'container' }, {}, '/w')).toThrow(/--serve takes nothing or "image"/);
  });

  it('generate --check agrees with the committed rules', async () => {
    const h = io();
    expect(await runCli(['generate', '--check'], h.io)).toBe(0);
  });
});
