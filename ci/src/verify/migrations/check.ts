/**
 * `kgraph-ci migrations check`: the migrations new since the base, parsed, judged by the project's rules
 * and by squawk; the verdict fails when any finding refuses (warnings pass). Every fact it needs (git, the ledger, table sizes, the compatibility
 * record, squawk) comes in through CheckDeps, so tests swap any of them.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { LedgerEntry } from '../../definitions/release-policy.js';
import { failed, isPass, passed, type Verdict } from '../../definitions/verdict.js';
import { blobId, chooseBase, compareWithBase, migrationsAt, type BaseChoice, type MigrationFileState } from './base.js';
import { loadParser, MIGRATION_FILE, parseMigration, type ParsedMigration } from './parse.js';
import {
  applyRules,
  type CompatibilityFacts,
  type Finding,
  type RuleContext,
  type TableSizes,
  type Severity,
  type WalkedStatement,
} from './rules.js';
import { judgeSquawk, type SquawkViolation } from './squawk.js';

export const MIGRATIONS_PATH = 'app/migrations';

export interface CheckDeps {
  /** The repository (git work tree) whose migrations are checked. */
  readonly repo: string;
  /** Repository-relative folder of the migrations. */
  readonly migrationsPath?: string;
  /** The environment's ledger entries, or why they cannot be read; absent without --env. */
  readonly ledger?: () => Promise<{ entries: readonly LedgerEntry[] } | { unreadable: string }>;
  /** The environment's database, for table sizes; absent = sizes unknown. */
  readonly databaseUrl?: string;
  readonly sizes: (databaseUrl: string) => Promise<TableSizes>;
  readonly compatibility: (env: EnvironmentDefinition, migrations: readonly string[]) => Promise<CompatibilityFacts>;
  readonly squawk: (migrations: readonly ParsedMigration[]) => Promise<SquawkViolation[]>;
}

export interface CheckOptions {
  readonly base?: string;
  readonly environment?: EnvironmentDefinition;
}

/** The check's verdict (failed: a finding refuses; its reasons are those findings) and what it rests on. */
export interface CheckReport extends Verdict {
  readonly base: BaseChoice;
  readonly environment?: string;
  readonly migrations: readonly { readonly name: string; readonly marks: readonly string[] }[];
  readonly sizes: string;
  readonly findings: readonly Finding[];
}

const RANK: Readonly<Record<Severity, number>> = { pass: 0, warn: 1, refuse: 2 };
export const worst = (findings: readonly Finding[]): Severity =>
  findings.reduce<Severity>((w, f) => (RANK[f.severity] > RANK[w] ? f.severity : w), 'pass');

/** The migration names in `dir` (the work tree's), oldest first: the newest is the schema head a deploy leaves. */
export async function migrationNames(dir: string): Promise<string[]> {
  return (await readdir(dir))
    .filter((f) => MIGRATION_FILE.test(f))
    .sort()
    .map((f) => f.replace(/\.sql$/, ''));
}

async function workingMigrations(dir: string): Promise<(MigrationFileState & { content: string })[]> {
  const files = (await readdir(dir)).filter((f) => MIGRATION_FILE.test(f)).sort();
  return Promise.all(
    files.map(async (f) => {
      const bytes = await readFile(join(dir, f));
      return { name: f.replace(/\.sql$/, ''), blob: blobId(bytes), content: bytes.toString('utf8') };
    }),
  );
}

/**
 * Files in the migrations directory the check cannot read: node-pg-migrate (the migrator's runner) loads
 * every file there but hidden ones, and runs a .js or .ts migration as code. Each one refuses, new or not:
 * a migration the guard cannot see must not reach a database.
 */
async function unreadableFiles(dir: string): Promise<Finding[]> {
  return (await readdir(dir))
    .filter((f) => !f.startsWith('.') && !MIGRATION_FILE.test(f))
    .sort()
    .map((f) => ({
      migration: f,
      rule: 'files',
      severity: 'refuse' as const,
      message: `${f} is not a SQL migration the check can read, and the migrator's runner (node-pg-migrate) would load it${/\.(c|m)?[jt]s$/.test(f) ? ' and run it as code' : ''}`,
      fix: 'write it as <timestamp>_<name>.sql with -- Up Migration / -- Down Migration sections, or move it out of the migrations directory',
    }));
}

/** The base the migrations are new since: --base, else what the environment's ledger (or git) says. */
async function baseOf(opts: CheckOptions, deps: CheckDeps): Promise<BaseChoice> {
  const env = opts.environment;
  return chooseBase({
    repo: deps.repo,
    ...(opts.base !== undefined ? { base: opts.base } : {}),
    ...(env ? { environment: env.name, ledgerRequired: env.release.production } : {}),
    ...(env && deps.ledger ? { ledger: await deps.ledger() } : {}),
  });
}

/** What the rules know of where the migrations will run: table sizes and the compatibility record (with --env). */
async function ruleContext(
  env: EnvironmentDefinition | undefined,
  fresh: readonly string[],
  deps: CheckDeps,
): Promise<RuleContext> {
  const sizes: TableSizes = !env
    ? { known: false, reason: 'no --env' }
    : deps.databaseUrl
      ? await deps.sizes(deps.databaseUrl)
      : { known: false, reason: `no database URL for ${env.name} (DATABASE_URL)` };
  const compatibility: CompatibilityFacts = env
    ? await deps.compatibility(env, fresh)
    : { known: false, reason: 'no --env: no running release to have been checked' };
  return {
    ...(env
      ? {
          environment: {
            name: env.name,
            refuseOverLimit: env.database.refuseOverLimit,
            limit: env.database.lockTakingLimit,
          },
        }
      : {}),
    sizes,
    compatibility,
  };
}

/** squawk's findings weighed against the project's; a squawk that cannot run refuses everything. */
async function squawkFindings(
  deps: CheckDeps,
  parsed: readonly ParsedMigration[],
  walked: readonly WalkedStatement[],
  findings: readonly Finding[],
): Promise<Finding[]> {
  try {
    return judgeSquawk(await deps.squawk(parsed.filter((p) => !p.parseError)), walked, findings);
  } catch (err) {
    // The linter that cannot run lets nothing through.
    return [
      {
        migration: '(all)',
        rule: 'squawk',
        severity: 'refuse',
        message: `squawk could not run: ${(err as Error).message}`,
        fix: 'npm ci (squawk-cli is a devDependency)',
      },
    ];
  }
}

/**
 * Any refusing finding fails the check, each one a reason; else it passes, saying the worst severity (a pass
 * may carry warnings) and how many migrations were new.
 */
function checkVerdict(findings: readonly Finding[], fresh: number): Verdict {
  const refusing = findings.filter((f) => f.severity === 'refuse');
  if (refusing.length > 0) return failed(...refusing.map((f) => `[${f.rule}] ${f.migration}: ${f.message}`));
  return passed(`${worst(findings)}: ${fresh} new migration(s)`);
}

export async function checkMigrations(opts: CheckOptions, deps: CheckDeps): Promise<CheckReport> {
  const env = opts.environment;
  const path = deps.migrationsPath ?? MIGRATIONS_PATH;
  const base = await baseOf(opts, deps);
  const current = await workingMigrations(join(deps.repo, path));
  const atBase = base.commit ? await migrationsAt(deps.repo, base.commit, path) : undefined;
  const { fresh, findings: history } = compareWithBase(current, atBase, base.label);
  await loadParser();
  const parsed = current.filter((c) => fresh.includes(c.name)).map((c) => parseMigration(c.name, c.content));
  const ctx = await ruleContext(env, fresh, deps);
  const { walked, findings } = applyRules(parsed, ctx);
  const squawk = await squawkFindings(deps, parsed, walked, findings);
  const all = [...(await unreadableFiles(join(deps.repo, path))), ...history, ...findings, ...squawk];
  const sizes = ctx.sizes;
  return {
    base,
    ...(env ? { environment: env.name } : {}),
    migrations: parsed.map((p) => ({ name: p.name, marks: [...p.marks] })),
    sizes: sizes.known ? `table sizes from ${sizes.where}` : `table sizes unknown: ${sizes.reason}`,
    findings: all,
    ...checkVerdict(all, parsed.length),
  };
}

const ICON: Readonly<Record<Severity, string>> = { refuse: 'REFUSE', warn: 'warn  ', pass: 'ok    ' };

/** The report as people read it: base, then per migration its findings, worst first; then the verdict. */
export function formatCheck(r: CheckReport, verbose = false): string {
  const lines = [
    `migrations check${r.environment ? ` for ${r.environment}` : ''}: base ${r.base.label} (${r.base.how})`,
    `  ${r.sizes}`,
  ];
  if (r.migrations.length === 0 && r.findings.length === 0) lines.push('  no new migrations');
  const names = [...new Set([...r.migrations.map((m) => m.name), ...r.findings.map((f) => f.migration)])];
  for (const name of names) {
    const marks = r.migrations.find((m) => m.name === name)?.marks ?? [];
    lines.push(`${name}${marks.length ? ` [${marks.join(', ')}]` : ''}`);
    const mine = r.findings
      .filter((f) => f.migration === name && (verbose || f.severity !== 'pass'))
      .sort((a, b) => RANK[b.severity] - RANK[a.severity] || (a.statement?.index ?? 0) - (b.statement?.index ?? 0));
    if (mine.length === 0) lines.push('  ok');
    for (const f of mine) {
      const where = f.statement
        ? ` statement ${f.statement.index} (line ${f.statement.line}): ${f.statement.sql.replace(/\s+/g, ' ')}`
        : '';
      lines.push(`  ${ICON[f.severity]} [${f.rule}]${where}`, `         ${f.message}`);
      if (f.fix && f.severity !== 'pass') lines.push(`         fix: ${f.fix}`);
    }
  }
  const count = (v: Severity) => r.findings.filter((f) => f.severity === v).length;
  lines.push(
    !isPass(r)
      ? `REFUSED: ${count('refuse')} finding(s) refuse, ${count('warn')} warning(s)`
      : `OK: ${r.migrations.length} new migration(s), ${count('warn')} warning(s)`,
  );
  return lines.join('\n');
}
