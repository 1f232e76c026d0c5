/**
 * The project's own migration rules, as data: each one a pure function over the parsed statements of the
 * migrations new since the base, with the facts the check gathered (the environment's limits, table sizes,
 * the compatibility record). Each finding has a severity; the check's verdict is the worst of them (check.ts).
 * A rule that cannot decide refuses.
 */
import { effectsOf, type Effect } from './effects.js';
import type { ParsedMigration, ParsedStatement } from './parse.js';

/**
 * How much a finding weighs: `refuse` stops the migrations; `warn` is said but lets them go, like `pass`. Not a
 * verdict (a warning passes): the check's verdict (definitions/verdict.ts) is failed when any finding refuses.
 */
export type Severity = 'refuse' | 'warn' | 'pass';

export interface Finding {
  readonly migration: string;
  readonly statement?: { readonly index: number; readonly line: number; readonly sql: string };
  /** A project rule id, or `squawk:<rule>`. */
  readonly rule: string;
  readonly severity: Severity;
  readonly message: string;
  readonly fix?: string;
}

export interface TableSize {
  /** Estimated rows (pg_class.reltuples); undefined when the table was never analysed. */
  readonly rows: number | undefined;
  readonly bytes: number;
}

export type TableSizes =
  | { readonly known: true; readonly where: string; readonly tables: ReadonlyMap<string, TableSize> }
  | { readonly known: false; readonly reason: string };

/**
 * Whether the release running in the environment passed the compatibility check (N-1) against a
 * migration. Unknown = refuse: a contract step with no record of that check is not allowed.
 */
export type CompatibilityFacts =
  | { readonly known: false; readonly reason: string }
  | {
      readonly known: true;
      /** The release running in the environment. */
      readonly release: string;
      /** true = passed against a schema with this migration applied; a string = why not. */
      readonly against: (migration: string) => true | string;
    };

export interface RuleContext {
  /** The environment the migrations are about to run in; absent = CI, no environment. */
  readonly environment?: {
    readonly name: string;
    /** Over-limit lock-taking statements refuse here (prod); elsewhere they warn. */
    readonly refuseOverLimit: boolean;
    readonly limit: { readonly rows: number; readonly bytes: number };
  };
  readonly sizes: TableSizes;
  readonly compatibility: CompatibilityFacts;
}

/** One statement with what it does and which tables the new migrations created before it. */
export interface WalkedStatement {
  readonly migration: ParsedMigration;
  readonly statement: ParsedStatement;
  readonly effects: readonly Effect[];
  /** Tables created earlier in the migrations being checked: nothing running uses them yet. */
  readonly isNew: (table: string) => boolean;
}

export interface Rule {
  readonly id: string;
  readonly summary: string;
  readonly check: (
    walk: readonly WalkedStatement[],
    migrations: readonly ParsedMigration[],
    ctx: RuleContext,
  ) => Finding[];
}

const bare = (table: string): string => table.replace(/^public\./, '').toLowerCase();

/** Walks the migrations in order, tracking the tables they create. */
export function walk(migrations: readonly ParsedMigration[]): WalkedStatement[] {
  const created = new Set<string>();
  const out: WalkedStatement[] = [];
  for (const migration of migrations) {
    for (const statement of migration.statements) {
      const effects = effectsOf(statement);
      const before = new Set(created);
      out.push({ migration, statement, effects, isNew: (t) => before.has(bare(t)) });
      for (const e of effects) if (e.type === 'create' && e.object !== 'other') created.add(bare(e.name));
    }
  }
  return out;
}

const at = (w: WalkedStatement): NonNullable<Finding['statement']> => ({
  index: w.statement.index,
  line: w.statement.line,
  sql: w.statement.sql.length > 160 ? `${w.statement.sql.slice(0, 157)}...` : w.statement.sql,
});

const finding = (w: WalkedStatement, rule: string, severity: Severity, message: string, fix?: string): Finding => ({
  migration: w.migration.name,
  statement: at(w),
  rule,
  severity,
  message,
  ...(fix ? { fix } : {}),
});

const existingLocks = (w: WalkedStatement) =>
  w.effects.filter((e): e is Extract<Effect, { type: 'lock' }> => e.type === 'lock' && !w.isNew(e.table));

const TIMEOUTS = ['lock_timeout', 'statement_timeout'] as const;
const disables = (value: string | undefined): boolean => value === undefined || /^0+(ms|s|min)?$/i.test(value.trim());

const timeouts: Rule = {
  id: 'timeouts',
  summary: 'lock_timeout and statement_timeout are set (non-zero) before a statement locks a table in use',
  check(walked) {
    const out: Finding[] = [];
    const set = new Map<string, Set<string>>();
    for (const w of walked) {
      const mine = set.get(w.migration.name) ?? new Set<string>();
      set.set(w.migration.name, mine);
      for (const e of w.effects)
        if (e.type === 'set' && (TIMEOUTS as readonly string[]).includes(e.name)) {
          if (disables(e.value)) mine.delete(e.name);
          else mine.add(e.name);
        }
      const touches = existingLocks(w).length > 0 || w.effects.some((e) => e.type === 'concurrent');
      if (!touches) continue;
      const missing = TIMEOUTS.filter((t) => !mine.has(t));
      if (missing.length)
        out.push(
          finding(
            w,
            'timeouts',
            'refuse',
            `${missing.join(' and ')} not set before this statement: waiting for its lock queues every read and write of the table behind it`,
            `start the migration with SET lock_timeout = '5s'; SET statement_timeout = '15min'; (a value, not 0; retry the deploy if the lock is not granted)`,
          ),
        );
    }
    return out;
  },
};

const concurrentOutsideTransaction: Rule = {
  id: 'concurrent-outside-transaction',
  summary: 'CREATE/DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY run in a migration marked no-transaction',
  check(walked) {
    const out: Finding[] = [];
    for (const w of walked) {
      const noTx = w.migration.marks.has('no-transaction');
      for (const e of w.effects) {
        if (e.type === 'concurrent' && !noTx)
          out.push(
            finding(
              w,
              this.id,
              'refuse',
              `${e.what} cannot run inside a transaction, and this migration runs in one`,
              `move it to its own migration whose first line is -- kgraph:no-transaction`,
            ),
          );
        if (e.type === 'transaction' && noTx)
          out.push(
            finding(
              w,
              this.id,
              'refuse',
              `${e.kind} in a no-transaction migration: each statement commits on its own`,
              'remove the transaction statements',
            ),
          );
        if (e.type === 'transaction' && !noTx)
          out.push(
            finding(
              w,
              this.id,
              'refuse',
              `${e.kind} inside a migration the migrator already runs in a transaction`,
              'remove it; the migrator commits the migration as a whole',
            ),
          );
      }
    }
    return out;
  },
};

const constraintNotValid: Rule = {
  id: 'constraint-not-valid',
  summary:
    'CHECK and FOREIGN KEY constraints on tables in use are added NOT VALID, then validated in a later migration',
  check(walked) {
    const out: Finding[] = [];
    for (const w of walked) {
      for (const e of w.effects) {
        if (e.type !== 'add-constraint' || w.isNew(e.table)) continue;
        if (!e.notValid) {
          out.push(
            finding(
              w,
              this.id,
              'refuse',
              `constraint ${e.name ?? '(unnamed)'} on ${e.table} is validated while ACCESS EXCLUSIVE is held: reads and writes wait for a full scan`,
              `ADD CONSTRAINT ${e.name ?? 'name'} ... NOT VALID here; ALTER TABLE ${e.table} VALIDATE CONSTRAINT ${e.name ?? 'name'} in a later migration`,
            ),
          );
          continue;
        }
        const validations = walked.filter((v) =>
          v.effects.some(
            (x) => x.type === 'validate-constraint' && x.name === e.name && bare(x.table) === bare(e.table),
          ),
        );
        const later = validations.filter((v) => v.migration !== w.migration || w.migration.marks.has('no-transaction'));
        if (later.length === 0)
          out.push(
            finding(
              w,
              this.id,
              'refuse',
              validations.length
                ? `constraint ${e.name} is validated in the same transaction that added it: the ADD's ACCESS EXCLUSIVE lock is held through the scan`
                : `constraint ${e.name} is added NOT VALID and never validated: rows written before it stay unchecked`,
              `add a later migration: ALTER TABLE ${e.table} VALIDATE CONSTRAINT ${e.name};`,
            ),
          );
        else
          out.push(finding(w, this.id, 'pass', `${e.name} added NOT VALID, validated in ${later[0]!.migration.name}`));
      }
    }
    return out;
  },
};

const expandContract: Rule = {
  id: 'expand-contract',
  summary:
    'a statement that breaks the release running before it (drop, rename, type change, new NOT NULL, new unique) only in a contract migration the running release was checked against',
  check(walked, _migrations, ctx) {
    const out: Finding[] = [];
    for (const w of walked) {
      for (const e of w.effects) {
        if (e.type !== 'breaking' || (e.table && w.isNew(e.table))) continue;
        const what = `${e.what} (${e.change}) on ${e.table}`;
        if (!w.migration.marks.has('contract')) {
          out.push(
            finding(
              w,
              this.id,
              'refuse',
              `${what} breaks the release running before it, which serves during the rollout and again after a rollback`,
              `expand now (add, dual-write, backfill), and contract in a later release: a migration marked -- kgraph:contract, once the release it replaces no longer reads it`,
            ),
          );
          continue;
        }
        const compat = ctx.compatibility;
        const shown = compat.known ? compat.against(w.migration.name) : compat.reason;
        out.push(
          shown === true
            ? finding(
                w,
                this.id,
                'pass',
                `${what}: contract step; ${compat.known ? compat.release : ''} passed the compatibility check against it`,
              )
            : finding(
                w,
                this.id,
                'refuse',
                `${what} is a contract step, but nothing shows the release running${ctx.environment ? ` in ${ctx.environment.name}` : ''} works on it: ${shown}`,
                ctx.environment
                  ? `run the compatibility check (N-1) of the running release against this migration, then deploy again`
                  : `check against an environment: kgraph-ci migrations check --env <env> (a contract step needs the running release's compatibility record)`,
              ),
        );
      }
    }
    return out;
  },
};

const fmtBytes = (b: number): string =>
  b >= 1 << 30
    ? `${(b / (1 << 30)).toFixed(1)} GiB`
    : b >= 1 << 20
      ? `${(b / (1 << 20)).toFixed(1)} MiB`
      : `${Math.round(b / 1024)} KiB`;

const LOCK_FIX: Readonly<Record<string, string>> = {
  build:
    'build the index CONCURRENTLY in a -- kgraph:no-transaction migration (then ADD CONSTRAINT ... USING INDEX for a unique one)',
  scan: 'add constraints NOT VALID and VALIDATE them in a later migration; backfill in batches from the application or a job, not in one statement',
  rewrite: 'add a new column, backfill it in batches, switch reads, drop the old one in a later contract step',
};

type LockEffect = Extract<Effect, { type: 'lock' }>;

/**
 * One lock held for work proportional to a table's size, judged where it will run: refused (prod) or warned
 * when the table is over the limit or its size is unknown, passed under the limit; without --env, a warning.
 */
function judgeLock(e: LockEffect, ctx: RuleContext): { severity: Severity; message: string; fix?: string | undefined } {
  const env = ctx.environment;
  const head = `${e.what} blocks ${e.blocks} of ${e.table} for a ${e.work} of the whole table`;
  const fix = LOCK_FIX[e.work];
  if (!env) return { severity: 'warn', message: `${head}; table size unknown (no --env)`, fix };
  const refuseOrWarn = env.refuseOverLimit ? 'refuse' : 'warn';
  if (!ctx.sizes.known)
    return {
      severity: refuseOrWarn,
      message: `${head}; the size of ${e.table} in ${env.name} is unknown: ${ctx.sizes.reason}`,
      fix,
    };
  const size = ctx.sizes.tables.get(bare(e.table));
  if (!size) return { severity: refuseOrWarn, message: `${head}; ${e.table} is not in ${env.name}'s database`, fix };
  const rows = size.rows === undefined ? 'rows unknown' : `${size.rows} rows`;
  // Never analysed (rows unknown): bytes bound the row count, so they decide alone.
  const over = size.bytes > env.limit.bytes || (size.rows !== undefined && size.rows > env.limit.rows);
  const limit = `limit ${env.limit.rows} rows / ${fmtBytes(env.limit.bytes)}`;
  return over
    ? {
        severity: refuseOrWarn,
        message: `${head}; ${e.table} has ${rows}, ${fmtBytes(size.bytes)} in ${env.name} (${limit})`,
        fix,
      }
    : {
        severity: 'pass',
        message: `${head}; ${e.table} has ${rows}, ${fmtBytes(size.bytes)} in ${env.name}, under the ${limit}`,
      };
}

const lockSize: Rule = {
  id: 'lock-size',
  summary:
    "a statement that blocks reads or writes for work proportional to a table's size is refused in prod above the table limit",
  check(walked, _m, ctx) {
    const out: Finding[] = [];
    for (const w of walked) {
      for (const e of existingLocks(w)) {
        if (e.work === 'instant' || e.blocks === 'nothing') continue;
        const judged = judgeLock(e, ctx);
        out.push(finding(w, this.id, judged.severity, judged.message, judged.fix));
      }
    }
    return out;
  },
};

const opaque: Rule = {
  id: 'opaque',
  summary: 'every statement is one the check can weigh: no DO blocks, procedures or unknown kinds of statement',
  check(walked) {
    return walked.flatMap((w) =>
      w.effects
        .filter((e): e is Extract<Effect, { type: 'opaque' }> => e.type === 'opaque')
        .map((e) =>
          finding(
            w,
            this.id,
            'refuse',
            `${e.what}; a migration the check cannot read is not let through`,
            'write what it does as plain statements in the migration (ALTER, CREATE, UPDATE ... WHERE), so every rule can weigh them',
          ),
        ),
    );
  },
};

const marks: Rule = {
  id: 'marks',
  summary: 'every migration parses, and its -- kgraph: marks are known ones',
  check(_w, migrations) {
    const out: Finding[] = [];
    for (const m of migrations) {
      if (m.parseError)
        out.push({
          migration: m.name,
          rule: this.id,
          severity: 'refuse',
          message: `does not parse as PostgreSQL 15: ${m.parseError}`,
          fix: 'fix the SQL',
        });
      for (const u of m.unknownMarks)
        out.push({
          migration: m.name,
          rule: this.id,
          severity: 'refuse',
          message: `unknown mark -- kgraph:${u}`,
          fix: 'use -- kgraph:contract or -- kgraph:no-transaction',
        });
    }
    return out;
  },
};

/** The project's rules, in the order their findings are printed. */
export const RULES: readonly Rule[] = [
  marks,
  opaque,
  timeouts,
  concurrentOutsideTransaction,
  constraintNotValid,
  expandContract,
  lockSize,
];

export function applyRules(
  migrations: readonly ParsedMigration[],
  ctx: RuleContext,
): { walked: WalkedStatement[]; findings: Finding[] } {
  const walked = walk(migrations);
  return { walked, findings: RULES.flatMap((r) => r.check(walked, migrations, ctx)) };
}
