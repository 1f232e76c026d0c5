/**
 * `migrations check` end to end on temporary repositories: real git, the real parser and the real squawk
 * binary; the ledger, table sizes and the compatibility record are plain data. The three migrations in
 * fixtures/ are written as a user would (docs/migrations.md quotes what the check says about each).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { BaseError } from '../../../src/verify/migrations/base.js';
import { checkMigrations, formatCheck, type CheckDeps } from '../../../src/verify/migrations/check.js';
import type { CompatibilityFacts, TableSizes } from '../../../src/verify/migrations/rules.js';
import { runSquawk } from '../../../src/verify/migrations/squawk.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { runCli } from '../../../src/cli/program.js';
import { captureIo } from '../../cli/io.js';
import { git, makeRepo, writeTree } from '../runner/fixtures/repo.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const APP_MIGRATIONS = Object.fromEntries(
  readdirSync(join(REPO_ROOT, 'app/migrations')).map((f) => [
    `app/migrations/${f}`,
    readFileSync(join(REPO_ROOT, 'app/migrations', f), 'utf8'),
  ]),
);

const repos: (() => void)[] = [];
afterEach(() => repos.splice(0).forEach((d) => d()));

/** The project's migrations released as v1.0.0, then `added` written on top (uncommitted, as in a PR). */
function repoWith(added: Record<string, string>): string {
  const r = makeRepo(APP_MIGRATIONS, 'kgraph-migrations-');
  repos.push(r.dispose);
  git(r.dir, 'tag', 'v1.0.0');
  writeTree(r.dir, Object.fromEntries(Object.entries(added).map(([k, v]) => [`app/migrations/${k}`, v])));
  return r.dir;
}

const UNKNOWN: CompatibilityFacts = { known: false, reason: 'the ledger holds no compatibility record' };
const deps = (repo: string, over: Partial<CheckDeps> = {}): CheckDeps => ({
  repo,
  sizes: async (): Promise<TableSizes> => ({ known: false, reason: 'not asked' }),
  compatibility: async () => UNKNOWN,
  squawk: (m) => runSquawk(m),
  ...over,
});
const bigTools = async (): Promise<TableSizes> => ({
  known: true,
  where: 'db.example/kgraph',
  tables: new Map([['tools', { rows: 4_000_000, bytes: 3 * 2 ** 30 }]]),
});

describe('the three user migrations', { timeout: 60_000 }, () => {
  it('a safe expand (nullable column, timeouts set) passes, base the newest v* tag', async () => {
    const repo = repoWith({ '1800000000000_tools_homepage.sql': fixture('1800000000000_tools_homepage.sql') });
    const r = await checkMigrations({}, deps(repo));
    expect(r.base).toMatchObject({ label: 'v1.0.0' });
    expect(r.migrations.map((m) => m.name)).toEqual(['1800000000000_tools_homepage']);
    expect(r.findings.filter((f) => f.severity !== 'pass')).toEqual([]);
    expect(r.outcome).toBe('passed');
  });

  it('a plain CREATE INDEX warns without an environment and refuses prod on a table over the limit', async () => {
    const repo = repoWith({
      '1800000000001_tools_updated_at_index.sql': fixture('1800000000001_tools_updated_at_index.sql'),
    });
    const ci = await checkMigrations({}, deps(repo));
    // A warning still passes; the pass says so.
    expect(ci).toMatchObject({ outcome: 'passed', reasons: [expect.stringMatching(/^warn: \d+ new migration\(s\)$/)] });
    const prod = await checkMigrations(
      { environment: ENVIRONMENTS.prod, base: 'v1.0.0' },
      deps(repo, { databaseUrl: 'postgres://db.example/kgraph', sizes: bigTools }),
    );
    expect(prod.outcome).toBe('failed');
    const text = formatCheck(prod);
    expect(text).toContain(
      '[lock-size] statement 3 (line 5): CREATE INDEX tools_updated_at_idx ON tools (updated_at, id)',
    );
    expect(text).toContain('fix: build the index CONCURRENTLY');
    // squawk says the same, and the project rule (which knows the size) decides.
    expect(prod.findings.find((f) => f.rule === 'squawk:require-concurrent-index-creation')?.severity).toBe('pass');
  });

  it('dropping a column the previous release reads refuses; marked as a contract step it still refuses without the N-1 record', async () => {
    const sql = fixture('1800000000002_drop_tools_description.sql');
    const plain = await checkMigrations({}, deps(repoWith({ '1800000000002_drop_tools_description.sql': sql })));
    expect(plain.outcome).toBe('failed');
    expect(plain.findings.filter((f) => f.severity === 'refuse').map((f) => f.rule)).toEqual(['expand-contract']);
    // Each refusing finding is a reason of the failed verdict.
    expect(plain.reasons).toEqual([expect.stringMatching(/^\[expand-contract\] /)]);
    const contract = sql.replace('-- Up Migration\n', '-- Up Migration\n-- kgraph:contract\n');
    const repo = repoWith({ '1800000000002_drop_tools_description.sql': contract });
    const prod = await checkMigrations(
      { environment: ENVIRONMENTS.prod, base: 'v1.0.0' },
      deps(repo, { databaseUrl: 'postgres://x/y', sizes: bigTools }),
    );
    expect(formatCheck(prod)).toContain(
      'nothing shows the release running in prod works on it: the ledger holds no compatibility record',
    );
    const passed: CompatibilityFacts = { known: true, release: 'v1.0.0', against: () => true };
    const ok = await checkMigrations(
      { environment: ENVIRONMENTS.prod, base: 'v1.0.0' },
      deps(repo, { databaseUrl: 'postgres://x/y', sizes: bigTools, compatibility: async () => passed }),
    );
    expect(ok.outcome).toBe('passed');
  });
});

describe('the base', { timeout: 60_000 }, () => {
  const drop = { '1800000000002_drop_tools_description.sql': fixture('1800000000002_drop_tools_description.sql') };
  it('is the release running in the environment, from the ledger', async () => {
    const repo = repoWith(drop);
    const commit = git(repo, 'rev-parse', 'HEAD');
    const ledger = async () => ({
      entries: [
        {
          environment: 'staging',
          operation: 'deploy' as const,
          commit,
          state: 'success' as const,
          at: '2026-01-01T00:00:00Z',
        },
      ],
    });
    const r = await checkMigrations({ environment: ENVIRONMENTS.staging }, deps(repo, { ledger }));
    expect(r.base).toMatchObject({ commit, how: 'the release running in staging (ledger)' });
  });
  it('refuses prod when the ledger cannot be read, and a --base that names nothing is bad usage', async () => {
    const repo = repoWith(drop);
    const ledger = async () => ({ unreadable: 'GitHub said 502' });
    await expect(checkMigrations({ environment: ENVIRONMENTS.prod }, deps(repo, { ledger }))).rejects.toThrow(
      /cannot tell which release runs in prod: GitHub said 502/,
    );
    await expect(checkMigrations({ base: 'v9.9.9' }, deps(repo))).rejects.toSatisfy(
      (e) => e instanceof BaseError && e.kind === 'usage',
    );
  });
  it('refuses an applied migration edited since the base, and a new one sorting before it', async () => {
    const first = Object.keys(APP_MIGRATIONS)[0]!.replace('app/migrations/', '');
    const repo = repoWith({
      [first]: `${APP_MIGRATIONS[`app/migrations/${first}`]}\n-- edited\n`,
      '1000000000000_early.sql': 'SELECT 1;',
    });
    const r = await checkMigrations({}, deps(repo));
    expect(
      r.findings
        .filter((f) => f.rule === 'history')
        .map((f) => f.migration)
        .sort(),
    ).toEqual(['1000000000000_early', first.replace('.sql', '')]);
  });
  it('with no release and no tag, every migration is new', async () => {
    const r = makeRepo(APP_MIGRATIONS, 'kgraph-migrations-');
    repos.push(r.dispose);
    const report = await checkMigrations({}, deps(r.dir));
    expect(report.base.commit).toBeUndefined();
    expect(report.migrations).toHaveLength(Object.keys(APP_MIGRATIONS).length);
    expect(report.outcome).toBe('passed');
  });
});

describe('fails closed', { timeout: 60_000 }, () => {
  it('refuses when squawk cannot run', async () => {
    const repo = repoWith({ '1800000000000_tools_homepage.sql': fixture('1800000000000_tools_homepage.sql') });
    const r = await checkMigrations({}, deps(repo, { squawk: (m) => runSquawk(m, '/nonexistent/squawk') }));
    expect(r.outcome).toBe('failed');
    expect(formatCheck(r)).toContain('squawk could not run');
  });
  it('refuses a file the migrator would load but the check cannot read (a JS migration, a misnamed SQL file)', async () => {
    const repo = repoWith({
      '1800000000000_drop.js': "exports.up = (pgm) => pgm.dropColumn('tools', 'description');\n",
      'notes.sql': 'ALTER TABLE tools DROP COLUMN description;\n',
      '.gitkeep': '',
    });
    const r = await checkMigrations({}, deps(repo));
    expect(r.outcome).toBe('failed');
    expect(r.findings.filter((f) => f.rule === 'files').map((f) => f.migration)).toEqual([
      '1800000000000_drop.js',
      'notes.sql',
    ]);
    expect(formatCheck(r)).toMatch(/1800000000000_drop\.js is not a SQL migration .* run it as code/);
  });
});

// The end-to-end case reads this repository's own history; a checkout without it (the Dagger module's
// source leaves .git out) cannot run it, and says so rather than failing on a missing HEAD.
const history = spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--verify', '-q', 'HEAD']).status === 0;
if (!history)
  console.warn(`skipping the migrations check on this repository's history: ${REPO_ROOT} is no git checkout`);

describe('kgraph-ci migrations check', { timeout: 60_000 }, () => {
  it('2 for bad usage: an unknown environment, a base that names nothing', async () => {
    expect(await runCli(['migrations', 'check', '--env', 'nowhere'], captureIo({}))).toBe(2);
    expect(await runCli(['migrations', 'check', '--base', 'no-such-ref'], captureIo({}))).toBe(2);
  });

  it.skipIf(!history)('exit 0 with nothing new, 1 naming the statement, rule and fix', async () => {
    const ok = captureIo({});
    expect(await runCli(['migrations', 'check', '--base', 'HEAD'], ok)).toBe(0);
    expect(ok.out()).toContain('no new migrations');
    // Since the commit before the cache-generation migration: its triggers lock `tools` with no timeouts set.
    const added = git(
      REPO_ROOT,
      'log',
      '--diff-filter=A',
      '--format=%H',
      '--',
      'app/migrations/1764590000000_cache_generation.sql',
    )
      .split('\n')
      .at(-1)!;
    const refused = captureIo({});
    expect(await runCli(['migrations', 'check', '--base', `${added}~1`], refused)).toBe(1);
    expect(refused.out()).toMatch(
      /REFUSE \[timeouts\] statement \d+ \(line \d+\): CREATE TRIGGER tools_cache_generation/,
    );
    expect(refused.out()).toContain('fix: start the migration with SET lock_timeout');
  });
});
