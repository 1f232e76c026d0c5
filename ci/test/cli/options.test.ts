/** The shared option kit (ci/src/cli/options.ts) and what every command gets from it. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ENVIRONMENT_NAMES, ENVIRONMENTS } from '../../src/definitions/environments.js';
import { UsageError } from '../../src/definitions/errors.js';
import { parseHttpUrl } from '../../src/platform/http-url.js';
import { runDeploy } from '../../src/deliver/deploy/run.js';
import { envOption, repositoryOf } from '../../src/cli/options.js';
import { buildProgram, runCli } from '../../src/cli/program.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';
import { captureIo, useTempDirs } from './io.js';

const SECRET = 's3cret-Pw';

const tempDir = useTempDirs('kgraph-options-');

const parseWith = (option: ReturnType<typeof envOption>, argv: string[]) =>
  new Command().exitOverride().addOption(option).parse(argv, { from: 'user' }).opts<{ env: unknown }>().env;

describe('--env', () => {
  it('returns the definition, with its default parsed too', () => {
    expect(parseWith(envOption('e'), ['--env', 'staging'])).toBe(ENVIRONMENTS.staging);
    expect(parseWith(envOption('e', 'dev'), [])).toBe(ENVIRONMENTS.dev);
    expect(() => parseWith(envOption('e'), ['--env', 'qa'])).toThrow(
      new UsageError('unknown environment "qa": expected one of dev, staging, prod'),
    );
  });

  it.each([['watch'], ['gate', 'latency'], ['deploy'], ['rollback'], ['checklist'], ['run'], ['env', 'show']])(
    '%j --help lists the environment names from the table',
    async (...command) => {
      const io = captureIo();
      expect(await runCli([...command, '--help'], io)).toBe(0);
      expect(io.out().replace(/\s+/g, ' ')).toContain(`(choices: ${ENVIRONMENT_NAMES.map((n) => `"${n}"`).join(', ')}`);
    },
  );

  it('no command hard-codes the environment names in its help', () => {
    const dir = join(REPO_ROOT, 'ci/src/cli/commands');
    for (const file of readdirSync(dir))
      expect(readFileSync(join(dir, file), 'utf8'), file).not.toMatch(/dev, staging,? (and |or )?prod/);
  });
});

describe('URLs with credentials are refused up front (exit 2), never echoed, never written', () => {
  const urls = [
    `http://deployer:${SECRET}@127.0.0.1:8000/`,
    `https://deployer:${SECRET}@kgraph.example.test`,
    `HTTP://DEPLOYER:${SECRET}@KGRAPH.EXAMPLE.TEST/api`,
    `http://:${SECRET}@127.0.0.1:8000`,
    `http://${SECRET}@127.0.0.1:8000`,
    `http:deployer:${SECRET}@127.0.0.1:8000`,
    `http://deployer:${SECRET.replace('-', '%2D')}@127.0.0.1:8000`,
    `http://deployer:${SECRET}/x@127.0.0.1:99999`,
    `http://@127.0.0.1:8000`,
  ];
  const commands = (url: string): string[][] => [
    ['gate', 'latency', '--env', 'staging', '--url', url],
    ['gate', 'latency', '--env', 'staging', `--url=${url}`, '--report', 'gate.json'],
    ['deploy', '--env', 'dev', '--image', 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3', '--url', url, '--dry-run'],
    ['deploy', '--env', 'prod', '--version', 'v1.2.3', '--url', url],
    ['rollback', '--env', 'staging', '--url', url],
    ['rollback', '--env', 'prod', '--to', 'v1.2.2', '--url', url, '--dry-run'],
    ['watch', '--env', 'prod', '--url', url, '--duration', '1m'],
    ['watch', '--env', 'prod', '--url', 'http://127.0.0.1:9', '--prometheus', url, '--duration', '1m'],
  ];
  const cases = urls.flatMap((url) => commands(url).map((argv) => [argv.join(' '), argv] as const));

  it.each(cases)('%s', async (_name, argv) => {
    const cwd = tempDir();
    const summary = join(cwd, 'summary.md');
    const io = captureIo({ API_KEY: 'k'.repeat(24), GITHUB_STEP_SUMMARY: summary, PATH: process.env.PATH }, cwd);
    expect(await runCli(argv, io)).toBe(2);
    const printed = io.out() + io.err();
    expect(printed).toMatch(/--(url|prometheus): (credentials in the URL are refused|not a URL \(value not shown)/);
    expect(printed.toLowerCase()).not.toContain(SECRET.toLowerCase().slice(0, 6));
    expect(printed).not.toMatch(/deployer/i);
    // Nothing ran: no report, no record, no job summary.
    expect(readdirSync(cwd)).toEqual([]);
    expect(existsSync(summary)).toBe(false);
  });

  it("every environment's own url is an http(s) URL without credentials", () => {
    for (const env of Object.values(ENVIRONMENTS))
      expect(parseHttpUrl(env.url, `${env.name}.url`)).toBe(new URL(env.url).toString());
  });

  it('a library caller of deploy is refused too', async () => {
    const deps = { out: () => undefined, err: () => undefined, cwd: tempDir(), env: {} } as unknown as Parameters<
      typeof runDeploy
    >[1];
    await expect(
      runDeploy(
        { env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3', url: `http://u:${SECRET}@h`, dryRun: true },
        deps,
      ),
    ).rejects.toThrow(UsageError);
  });

  it('a clean URL is accepted as given (normalised)', async () => {
    const io = captureIo();
    // Passes option parsing; fails later for a reason that is not the URL (no API key).
    expect(await runCli(['gate', 'latency', '--env', 'staging', '--url', 'HTTP://127.0.0.1:9'], io)).toBe(2);
    expect(io.err()).toMatch(/API_KEY is not set/);
  });
});

describe('--repo and GitHub access', () => {
  it('--repo falls back to GITHUB_REPOSITORY; a malformed one is exit 2 naming it', async () => {
    expect(repositoryOf(undefined, captureIo({ GITHUB_REPOSITORY: 'acme/kgraph' }))).toEqual({
      owner: 'acme',
      repo: 'kgraph',
    });
    expect(repositoryOf({ owner: 'o', repo: 'r' }, captureIo({ GITHUB_REPOSITORY: 'acme/kgraph' }))).toEqual({
      owner: 'o',
      repo: 'r',
    });
    const none = captureIo({ GITHUB_TOKEN: 't' });
    expect(await runCli(['release', 'cut'], none)).toBe(2);
    expect(none.err()).toMatch(/no repository: set GITHUB_REPOSITORY or --repo/);
    const bad = captureIo({ GITHUB_TOKEN: 't' });
    expect(await runCli(['release', 'cut', '--repo', 'not a repo'], bad)).toBe(2);
    expect(bad.err()).toMatch(/repository "not a repo" is not owner\/name/);
  });

  it('--deployed-to takes environment names only', async () => {
    const io = captureIo({ GITHUB_TOKEN: 't', GITHUB_REPOSITORY: 'acme/kgraph' });
    expect(await runCli(['release', '--tag', 'v1.2.3', '--deployed-to', 'qa'], io)).toBe(2);
    expect(io.err()).toMatch(/Allowed choices are dev, staging, prod/);
  });

  it('Octokit is constructed in one place', () => {
    const hits: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (/new Octokit\(/.test(readFileSync(p, 'utf8'))) hits.push(p.slice(REPO_ROOT.length + 1));
      }
    };
    walk(join(REPO_ROOT, 'ci/src'));
    expect(hits).toEqual(['ci/src/platform/github/client.ts']);
  });
});

describe('one file per command', () => {
  it('every top-level command has commands/<name>.ts', () => {
    const names = buildProgram(captureIo()).commands.map((c) => c.name());
    expect(names).toContain('generate');
    for (const name of names) expect(existsSync(join(REPO_ROOT, 'ci/src/cli/commands', `${name}.ts`)), name).toBe(true);
  });
});
