/**
 * squawk (npm squawk-cli, its binary in the platform package @squawk-cli/<os>-<arch>, nothing downloaded at
 * install time): the Postgres migration linter, run over each new migration's Up section. Its findings
 * meet the project's rules here: where a project rule decides the same question with the facts squawk has
 * not got (table sizes, contract marks, the compatibility record), the project rule's severity stands;
 * where it said nothing about the statement, squawk's refusal stands. A squawk rule not listed refuses.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProcess } from '../../platform/process/run.js';
import type { ParsedMigration } from './parse.js';
import type { Finding, WalkedStatement } from './rules.js';

export interface SquawkViolation {
  readonly file: string;
  /** 0-based, as squawk reports it. */
  readonly line: number;
  readonly rule_name: string;
  readonly message: string;
  readonly help?: string | null;
}

export type SquawkTreatment =
  | { readonly by: 'project'; readonly rule: string }
  | { readonly by: 'warn' }
  /** Refuse in a no-transaction migration (a statement half done must be re-runnable), warn elsewhere. */
  | { readonly by: 'refuse-without-transaction' }
  | { readonly by: 'refuse' };

const project = (rule: string): SquawkTreatment => ({ by: 'project', rule });
const WARN: SquawkTreatment = { by: 'warn' };

/** How each squawk rule counts here. Not listed = refuse. */
export const SQUAWK_POLICY: Readonly<Record<string, SquawkTreatment>> = {
  'require-lock-timeout': project('timeouts'),
  'require-statement-timeout': project('timeouts'),
  'require-timeout-settings': project('timeouts'),
  'require-concurrent-index-deletion': project('timeouts'),
  'ban-concurrent-index-creation-in-transaction': project('concurrent-outside-transaction'),
  'transaction-nesting': project('concurrent-outside-transaction'),
  'constraint-missing-not-valid': project('constraint-not-valid'),
  'adding-foreign-key-constraint': project('constraint-not-valid'),
  'ban-drop-column': project('expand-contract'),
  'ban-drop-table': project('expand-contract'),
  'ban-drop-not-null': project('expand-contract'),
  'renaming-column': project('expand-contract'),
  'renaming-table': project('expand-contract'),
  'changing-column-type': project('expand-contract'),
  'adding-required-field': project('expand-contract'),
  'adding-not-nullable-field': project('expand-contract'),
  'disallowed-unique-constraint': project('expand-contract'),
  'require-concurrent-index-creation': project('lock-size'),
  'adding-field-with-default': project('lock-size'),
  'adding-serial-primary-key-field': project('lock-size'),
  'prefer-robust-stmts': { by: 'refuse-without-transaction' },
  'prefer-bigint-over-int': WARN,
  'prefer-bigint-over-smallint': WARN,
  'prefer-big-int': WARN,
  'prefer-identity': WARN,
  'prefer-text-field': WARN,
  'prefer-timestamptz': WARN,
  'ban-char-field': WARN,
};

/** The binary from squawk-cli's platform package (SQUAWK overrides). */
export function squawkBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SQUAWK) return env.SQUAWK;
  const pkg = `@squawk-cli/${process.platform}-${process.arch}`;
  try {
    return join(createRequire(import.meta.url).resolve(`${pkg}/package.json`), '..', 'bin', 'squawk');
  } catch {
    throw new Error(`squawk-cli's platform package ${pkg} is not installed (npm ci installs it as a devDependency)`);
  }
}

/** Runs squawk over the Up sections; throws when it cannot run or says something that is not its JSON report. */
export async function runSquawk(
  migrations: readonly ParsedMigration[],
  binary = squawkBinary(),
): Promise<SquawkViolation[]> {
  if (migrations.length === 0) return [];
  const dir = await mkdtemp(join(tmpdir(), 'kgraph-squawk-'));
  try {
    const groups = [
      { files: migrations.filter((m) => !m.marks.has('no-transaction')), flags: ['--assume-in-transaction'] },
      { files: migrations.filter((m) => m.marks.has('no-transaction')), flags: [] },
    ];
    const out: SquawkViolation[] = [];
    for (const g of groups) {
      if (g.files.length === 0) continue;
      for (const m of g.files) await writeFile(join(dir, `${m.name}.sql`), m.upSql);
      const argv = [
        binary,
        '--reporter',
        'json',
        '--pg-version',
        '15.0',
        ...g.flags,
        ...g.files.map((m) => `${m.name}.sql`),
      ];
      const res = await runProcess({ argv, cwd: dir, timeoutMs: 60_000 });
      // squawk exits 1 when it found something; anything but its JSON array means it did not run.
      let parsed: unknown;
      try {
        parsed = JSON.parse(res.stdout.trim() || 'null');
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || (res.exitCode !== 0 && res.exitCode !== 1))
        throw new Error(
          `squawk did not run (exit ${res.exitCode ?? res.signal}): ${(res.stderr || res.stdout).trim().slice(0, 300)}`,
        );
      out.push(...(parsed as SquawkViolation[]).map((v) => ({ ...v, file: v.file.replace(/\.sql$/, '') })));
      for (const m of g.files) await rm(join(dir, `${m.name}.sql`), { force: true });
    }
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const touchedTables = (w: WalkedStatement): string[] =>
  w.effects.flatMap((e) =>
    e.type === 'lock' || e.type === 'breaking' || e.type === 'add-constraint' ? [e.table] : [],
  );

/** The walked statement a violation's line falls in (squawk counts lines from 0). */
function statementAt(v: SquawkViolation, walked: readonly WalkedStatement[]): WalkedStatement | undefined {
  return walked.find(
    (s) => s.migration.name === v.file && v.line + 1 >= s.statement.line && v.line + 1 <= s.statement.lastLine,
  );
}

/** Everything the statement touches is created by these migrations, so nothing uses it yet. */
function onlyNewObjects(w: WalkedStatement): boolean {
  const tables = touchedTables(w);
  return tables.length ? tables.every((t) => w.isNew(t)) : w.effects.some((e) => e.type === 'create');
}

type SquawkFinding = Omit<Finding, 'severity'>;

/** A project rule that judged the same statement decides (pass here); one that did not leaves squawk's refusal. */
function byProjectRule(
  base: SquawkFinding,
  rule: string,
  w: WalkedStatement | undefined,
  projectFindings: readonly Finding[],
): Finding {
  const decided = w
    ? projectFindings.find(
        (f) => f.rule === rule && f.migration === base.migration && f.statement?.index === w.statement.index,
      )
    : undefined;
  return decided
    ? { ...base, severity: 'pass', message: `${base.message} (decided by project rule ${rule}: ${decided.severity})` }
    : {
        ...base,
        severity: 'refuse',
        message: `${base.message} (project rule ${rule} did not judge this statement, so squawk's word stands)`,
      };
}

/** The violation as SQUAWK_POLICY counts its rule (not listed: refuse). */
function byPolicy(
  v: SquawkViolation,
  base: SquawkFinding,
  w: WalkedStatement | undefined,
  walked: readonly WalkedStatement[],
  projectFindings: readonly Finding[],
): Finding {
  const treatment = SQUAWK_POLICY[v.rule_name] ?? { by: 'refuse' };
  switch (treatment.by) {
    case 'warn':
      return { ...base, severity: 'warn' };
    case 'refuse-without-transaction': {
      const noTx = walked.some((s) => s.migration.name === v.file && s.migration.marks.has('no-transaction'));
      return {
        ...base,
        severity: noTx ? 'refuse' : 'warn',
        ...(noTx ? { fix: 'a migration without a transaction must be re-runnable: IF [NOT] EXISTS' } : {}),
      };
    }
    case 'project':
      return byProjectRule(base, treatment.rule, w, projectFindings);
    default:
      return { ...base, severity: 'refuse' };
  }
}

/** squawk's violations as findings, weighed against what the project rules said about the same statement. */
export function judgeSquawk(
  violations: readonly SquawkViolation[],
  walked: readonly WalkedStatement[],
  projectFindings: readonly Finding[],
): Finding[] {
  return violations.map((v) => {
    const w = statementAt(v, walked);
    const message = `${v.message}${v.help ? ` ${v.help}` : ''}`;
    const base: SquawkFinding = {
      migration: v.file,
      ...(w
        ? { statement: { index: w.statement.index, line: w.statement.line, sql: w.statement.sql.slice(0, 160) } }
        : {}),
      rule: `squawk:${v.rule_name}`,
      message,
    };
    if (w && onlyNewObjects(w))
      return {
        ...base,
        severity: 'pass',
        message: `${message} (on an object these migrations create: nothing uses it yet)`,
      };
    return byPolicy(v, base, w, walked, projectFindings);
  });
}
