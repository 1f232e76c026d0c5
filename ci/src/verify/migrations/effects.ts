/**
 * What a parsed statement does to the database, as plain data the rules read: the settings it makes, the
 * objects it creates, the locks it takes (how strong, for how much work), and whether it breaks the release
 * that runs before it. Pure; conservative where PostgreSQL's behaviour depends on data it cannot see (a type
 * change counts as a rewrite, a function default as volatile).
 */
import type { ParsedStatement } from './parse.js';

/** What a lock blocks while held. SHARE UPDATE EXCLUSIVE (CONCURRENTLY, VALIDATE) blocks neither reads nor writes. */
export type Blocks = 'reads and writes' | 'writes' | 'rows it writes' | 'nothing';
/** instant: catalogue only; scan/rewrite/build: proportional to the table's size. */
export type Work = 'instant' | 'scan' | 'rewrite' | 'build';

export type BreakingChange =
  | 'drop table'
  | 'drop column'
  | 'drop object'
  | 'drop constraint'
  | 'rename'
  | 'type change'
  | 'NOT NULL without default'
  | 'SET NOT NULL'
  | 'DROP NOT NULL'
  | 'unique constraint'
  | 'truncate'
  | 'delete every row'
  | 'drop default'
  | 'disable trigger'
  | 'row security'
  | 'revoke';

export type Effect =
  | { readonly type: 'set'; readonly name: string; readonly value: string | undefined }
  | { readonly type: 'transaction'; readonly kind: string }
  | { readonly type: 'create'; readonly object: 'table' | 'index' | 'other'; readonly name: string }
  | {
      readonly type: 'lock';
      readonly table: string;
      readonly blocks: Blocks;
      readonly work: Work;
      readonly what: string;
    }
  | { readonly type: 'concurrent'; readonly what: string }
  | { readonly type: 'breaking'; readonly change: BreakingChange; readonly table: string; readonly what: string }
  | {
      readonly type: 'add-constraint';
      readonly table: string;
      readonly name: string | undefined;
      readonly notValid: boolean;
    }
  | { readonly type: 'validate-constraint'; readonly table: string; readonly name: string }
  /** A statement whose effect the check cannot see (a DO block, a procedure, an unknown kind): never passes. */
  | { readonly type: 'opaque'; readonly what: string };

type Node = Record<string, unknown>;
const obj = (v: unknown): Node => (v && typeof v === 'object' ? (v as Node) : {});
const list = (v: unknown): Node[] => (Array.isArray(v) ? (v as Node[]) : []);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** `schema.name` when a schema is given, else the bare name (lower-cased as PostgreSQL folds it). */
function relName(v: unknown): string {
  const r = obj(v);
  const name = str(r.relname) ?? '?';
  return str(r.schemaname) ? `${str(r.schemaname)}.${name}` : name;
}
const names = (items: unknown): string =>
  list(obj(items).items ?? items)
    .map((i) => str(obj(i.String).sval) ?? '?')
    .join('.');

/** A constant's text: `'5s'` -> 5s, 0 -> "0" (libpg-query omits zero integers). */
function constValue(v: unknown): string | undefined {
  const c = obj(obj(v).A_Const);
  if (!('A_Const' in obj(v))) return undefined;
  if (c.sval) return str(obj(c.sval).sval);
  if (c.ival) return String(obj(c.ival).ival ?? 0);
  if (c.fval) return str(obj(c.fval).fval);
  return undefined;
}

const STABLE_DEFAULTS = new Set(['now', 'statement_timestamp', 'transaction_timestamp', 'current_timestamp']);
/** A default PostgreSQL must compute per row rewrites the table; constants and now() are stored once. */
function defaultRewrites(expr: unknown): boolean {
  const e = obj(expr);
  if ('FuncCall' in e) {
    const fn =
      list(obj(e.FuncCall).funcname)
        .map((n) => str(obj(n.String).sval))
        .at(-1) ?? '';
    return !STABLE_DEFAULTS.has(fn);
  }
  return JSON.stringify(e).includes('FuncCall') || JSON.stringify(e).includes('SubLink');
}

function addColumn(table: string, def: Node): Effect[] {
  const col = obj(def.ColumnDef);
  const cons = list(col.constraints).map((c) => obj(c.Constraint));
  const what = `ADD COLUMN ${str(col.colname) ?? '?'}`;
  const dflt = cons.find((c) => c.contype === 'CONSTR_DEFAULT');
  const rewrites =
    (dflt !== undefined && defaultRewrites(dflt.raw_expr)) ||
    cons.some((c) => c.contype === 'CONSTR_IDENTITY' || c.contype === 'CONSTR_GENERATED') ||
    /serial/i.test(JSON.stringify(col.typeName));
  const out: Effect[] = [
    { type: 'lock', table, blocks: 'reads and writes', work: rewrites ? 'rewrite' : 'instant', what },
  ];
  if (cons.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY') && !dflt && !rewrites)
    out.push({ type: 'breaking', change: 'NOT NULL without default', table, what });
  if (cons.some((c) => c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY')) {
    out.push({ type: 'breaking', change: 'unique constraint', table, what });
    out.push({ type: 'lock', table, blocks: 'reads and writes', work: 'build', what: `${what} with a unique index` });
  }
  if (cons.some((c) => c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK'))
    out.push({ type: 'add-constraint', table, name: undefined, notValid: false });
  return out;
}

function addConstraint(table: string, def: Node): Effect[] {
  const c = obj(def.Constraint);
  const name = str(c.conname);
  const what = `ADD CONSTRAINT ${name ?? '(unnamed)'}`;
  switch (c.contype) {
    case 'CONSTR_CHECK':
    case 'CONSTR_FOREIGN': {
      const notValid = c.skip_validation === true;
      const out: Effect[] = [
        { type: 'add-constraint', table, name, notValid },
        { type: 'lock', table, blocks: 'reads and writes', work: notValid ? 'instant' : 'scan', what },
      ];
      // A foreign key also locks the table it references (SHARE ROW EXCLUSIVE: its writes wait).
      if (c.contype === 'CONSTR_FOREIGN')
        out.push({
          type: 'lock',
          table: relName(c.pktable),
          blocks: 'writes',
          work: notValid ? 'instant' : 'scan',
          what,
        });
      return out;
    }
    case 'CONSTR_UNIQUE':
    case 'CONSTR_PRIMARY':
    case 'CONSTR_EXCLUSION': {
      const usingIndex = Boolean(c.indexname);
      return [
        { type: 'breaking', change: 'unique constraint', table, what },
        { type: 'lock', table, blocks: 'reads and writes', work: usingIndex ? 'instant' : 'build', what },
      ];
    }
    default:
      return [{ type: 'lock', table, blocks: 'reads and writes', work: 'scan', what }];
  }
}

/** How the ALTER TABLE forms the rules name are written in SQL. */
const SPELLED: Readonly<Record<string, string>> = {
  AT_DisableTrig: 'DISABLE TRIGGER',
  AT_DisableTrigAll: 'DISABLE TRIGGER ALL',
  AT_DisableTrigUser: 'DISABLE TRIGGER USER',
  AT_DisableRule: 'DISABLE RULE',
  AT_EnableRowSecurity: 'ENABLE ROW LEVEL SECURITY',
  AT_ForceRowSecurity: 'FORCE ROW LEVEL SECURITY',
};

/** ALTER TABLE forms on a named column or constraint that break the release before it: [change, what, lock]. */
const BREAKING_FORMS: Readonly<Record<string, (name: string) => [BreakingChange, string, [Work, string]]>> = {
  AT_DropColumn: (n) => ['drop column', `DROP COLUMN ${n}`, ['instant', `DROP COLUMN ${n}`]],
  AT_AlterColumnType: (n) => ['type change', `ALTER COLUMN ${n} TYPE`, ['rewrite', `ALTER COLUMN ${n} TYPE`]],
  AT_SetNotNull: (n) => ['SET NOT NULL', `ALTER COLUMN ${n} SET NOT NULL`, ['scan', `SET NOT NULL ${n}`]],
  AT_DropNotNull: (n) => ['DROP NOT NULL', `ALTER COLUMN ${n} DROP NOT NULL`, ['instant', 'DROP NOT NULL']],
  AT_DropConstraint: (n) => ['drop constraint', `DROP CONSTRAINT ${n}`, ['instant', `DROP CONSTRAINT ${n}`]],
  AT_DropIdentity: (n) => ['drop default', `ALTER COLUMN ${n} DROP IDENTITY`, ['instant', 'DROP IDENTITY']],
};

/** Forms that rewrite the whole table. */
const REWRITING_FORMS: ReadonlySet<string> = new Set([
  'AT_SetLogged',
  'AT_SetUnLogged',
  'AT_SetTableSpace',
  'AT_ClusterOn',
]);

function alterTableCmd(table: string, cmd: Node): Effect[] {
  const subtype = String(cmd.subtype);
  const column = str(cmd.name) ?? '?';
  const lock = (work: Work, what: string): Effect => ({ type: 'lock', table, blocks: 'reads and writes', work, what });
  const breaking = (change: BreakingChange, what: string): Effect[] => [{ type: 'breaking', change, table, what }];
  if (Object.hasOwn(BREAKING_FORMS, subtype)) {
    const [change, what, [work, locked]] = BREAKING_FORMS[subtype]!(column);
    return [...breaking(change, what), lock(work, locked)];
  }
  switch (subtype) {
    case 'AT_AddColumn':
      return addColumn(table, obj(cmd.def));
    case 'AT_AddConstraint':
      return addConstraint(table, obj(cmd.def));
    case 'AT_ValidateConstraint':
      return [
        { type: 'validate-constraint', table, name: column },
        { type: 'lock', table, blocks: 'nothing', work: 'scan', what: `VALIDATE CONSTRAINT ${column}` },
      ];
    case 'AT_ColumnDefault':
      // SET DEFAULT is instant and harmless; DROP DEFAULT breaks an old release that leaves the column to it.
      return cmd.def
        ? [lock('instant', `ALTER COLUMN ${column} SET DEFAULT`)]
        : [...breaking('drop default', `ALTER COLUMN ${column} DROP DEFAULT`), lock('instant', 'DROP DEFAULT')];
    case 'AT_DisableTrig':
    case 'AT_DisableTrigAll':
    case 'AT_DisableTrigUser':
    case 'AT_DisableRule': {
      // A trigger the old release relies on (cache generation, audit) stops firing for it too.
      const what = `${SPELLED[subtype]} ${str(cmd.name) ?? ''}`.trim();
      return [...breaking('disable trigger', what), lock('instant', what)];
    }
    case 'AT_EnableRowSecurity':
    case 'AT_ForceRowSecurity': {
      // With no policy for the app's role, row security hides every row from it.
      const what = SPELLED[subtype]!;
      return [...breaking('row security', what), lock('instant', what)];
    }
    default:
      return [lock(REWRITING_FORMS.has(subtype) ? 'rewrite' : 'instant', subtype.replace(/^AT_/, ''))];
  }
}

const DROP_KINDS: Readonly<Record<string, BreakingChange>> = { OBJECT_TABLE: 'drop table', OBJECT_VIEW: 'drop table' };

function dropEffects(n: Node): Effect[] {
  const kind = str(n.removeType) ?? '';
  const objects = list(n.objects).map((o) => ('List' in o ? names(o.List) : names(obj(o.ObjectWithArgs).objname)));
  if (kind === 'OBJECT_INDEX') {
    // Without CONCURRENTLY: ACCESS EXCLUSIVE on the index's table (unknown here, named by the index).
    if (n.concurrent === true)
      return objects.map((o) => ({ type: 'concurrent', what: `DROP INDEX CONCURRENTLY ${o}` }));
    return objects.map((o) => ({
      type: 'lock',
      table: o,
      blocks: 'reads and writes',
      work: 'instant',
      what: `DROP INDEX ${o}`,
    }));
  }
  return objects.flatMap((o): Effect[] => {
    // DROP TRIGGER t ON tab: the last name is the trigger, the rest its table.
    const table = kind === 'OBJECT_TRIGGER' ? o.split('.').slice(0, -1).join('.') : o;
    return [
      {
        type: 'breaking',
        change: DROP_KINDS[kind] ?? 'drop object',
        table,
        what: `DROP ${kind.replace('OBJECT_', '')} ${o}`,
      },
      ...(kind === 'OBJECT_TABLE' || kind === 'OBJECT_TRIGGER'
        ? [
            {
              type: 'lock',
              table,
              blocks: 'reads and writes',
              work: 'instant',
              what: `DROP ${kind.replace('OBJECT_', '')} ${o}`,
            } as const,
          ]
        : []),
    ];
  });
}

const hasOption = (opts: unknown, name: string): boolean => list(opts).some((o) => obj(o.DefElem).defname === name);

type StatementEffects = (n: Node, type: string) => Effect[];

const createTable: StatementEffects = (n) => {
  return [{ type: 'create', object: 'table', name: relName(n.relation ?? obj(n.into).rel) }];
};
/** UPDATE and DELETE: one transaction over every matching row. */
const writeRows: StatementEffects = (n, type) => {
  const table = relName(n.relation);
  const what = `${type === 'UpdateStmt' ? 'UPDATE' : 'DELETE FROM'} ${table} (one transaction over every matching row)`;
  const everyRow = type === 'DeleteStmt' && n.whereClause === undefined;
  return [
    ...(everyRow
      ? [{ type: 'breaking', change: 'delete every row', table, what: `DELETE FROM ${table}` } as const]
      : []),
    { type: 'lock', table, blocks: 'rows it writes', work: 'scan', what },
  ];
};
const createOther: StatementEffects = (n, type) => {
  return [{ type: 'create', object: 'other', name: type }];
};

/** What each kind of statement does, in the order PostgreSQL performs it. */
const STATEMENT_EFFECTS: Readonly<Record<string, StatementEffects>> = {
  VariableSetStmt: (n) => {
    return [
      {
        type: 'set',
        name: str(n.name) ?? '',
        value: n.kind === 'VAR_SET_VALUE' ? constValue(list(n.args)[0]) : undefined,
      },
    ];
  },
  TransactionStmt: (n) => {
    return [{ type: 'transaction', kind: String(n.kind).replace('TRANS_STMT_', '') }];
  },
  CreateStmt: createTable,
  CreateTableAsStmt: createTable,
  IndexStmt: (n) => {
    const table = relName(n.relation);
    const index = str(n.idxname) ?? `(unnamed index on ${table})`;
    const what = `CREATE ${n.unique ? 'UNIQUE ' : ''}INDEX ${n.concurrent ? 'CONCURRENTLY ' : ''}${index}`;
    return [
      { type: 'create', object: 'index', name: index },
      n.concurrent ? { type: 'concurrent', what } : { type: 'lock', table, blocks: 'writes', work: 'build', what },
      ...(n.unique ? [{ type: 'breaking', change: 'unique constraint', table, what } as const] : []),
    ];
  },
  AlterTableStmt: (n) => {
    const table = relName(n.relation);
    return list(n.cmds).flatMap((c) => alterTableCmd(table, obj(c.AlterTableCmd)));
  },
  RenameStmt: (n) => {
    const table = relName(n.relation);
    const what = `RENAME ${String(n.renameType).replace('OBJECT_', '')} ${str(n.subname) ?? table} TO ${str(n.newname)}`;
    // Renaming an index or constraint breaks no query; renaming what queries name does.
    const breaks = ['OBJECT_TABLE', 'OBJECT_COLUMN', 'OBJECT_VIEW', 'OBJECT_TYPE', 'OBJECT_FUNCTION'].includes(
      String(n.renameType),
    );
    return [
      ...(breaks ? [{ type: 'breaking', change: 'rename', table, what } as const] : []),
      { type: 'lock', table, blocks: 'reads and writes', work: 'instant', what },
    ];
  },
  DropStmt: (n) => {
    return dropEffects(n);
  },
  TruncateStmt: (n) => {
    return list(n.relations).flatMap((r): Effect[] => {
      const table = relName(r.RangeVar);
      return [
        { type: 'breaking', change: 'truncate', table, what: `TRUNCATE ${table}` },
        { type: 'lock', table, blocks: 'reads and writes', work: 'instant', what: `TRUNCATE ${table}` },
      ];
    });
  },
  UpdateStmt: writeRows,
  DeleteStmt: writeRows,
  LockStmt: (n) => {
    // Held until the migration commits; lock_timeout bounds the wait for it.
    return list(n.relations).map((r) => {
      const table = relName(r.RangeVar);
      return {
        type: 'lock',
        table,
        blocks: 'reads and writes',
        work: 'instant',
        what: `LOCK TABLE ${table}`,
      } as const;
    });
  },
  GrantStmt: (n) => {
    return grantEffects(n);
  },
  AlterEnumStmt: (n) => {
    // ADD VALUE adds a label the old release never sees; renaming one changes what it reads and writes.
    return n.oldVal !== undefined
      ? [
          {
            type: 'breaking',
            change: 'rename',
            table: names(n.typeName),
            what: `ALTER TYPE ${names(n.typeName)} RENAME VALUE`,
          },
        ]
      : [];
  },
  DoStmt: () => {
    return [{ type: 'opaque', what: 'a DO block: its code can do anything, and the check cannot see what' }];
  },
  CallStmt: () => {
    return [{ type: 'opaque', what: 'CALL of a procedure: the check cannot see what it does' }];
  },
  ExecuteStmt: () => {
    return [{ type: 'opaque', what: 'EXECUTE of a prepared statement: the check cannot see what it runs' }];
  },
  SelectStmt: (n) => {
    return selectEffects(n);
  },
  CreateTrigStmt: (n) => {
    return [
      {
        type: 'lock',
        table: relName(n.relation),
        blocks: 'writes',
        work: 'instant',
        what: `CREATE TRIGGER ${str(n.trigname)}`,
      },
    ];
  },
  ReindexStmt: (n) => {
    const target = relName(n.relation);
    return hasOption(n.params, 'concurrently')
      ? [{ type: 'concurrent', what: `REINDEX CONCURRENTLY ${target}` }]
      : [{ type: 'lock', table: target, blocks: 'writes', work: 'build', what: `REINDEX ${target}` }];
  },
  VacuumStmt: (n) => {
    return hasOption(n.options, 'full')
      ? list(n.rels).map(
          (r) =>
            ({
              type: 'lock',
              table: relName(obj(r.VacuumRelation).relation),
              blocks: 'reads and writes',
              work: 'rewrite',
              what: 'VACUUM FULL',
            }) as const,
        )
      : [];
  },
  ClusterStmt: (n) => {
    return [{ type: 'lock', table: relName(n.relation), blocks: 'reads and writes', work: 'rewrite', what: 'CLUSTER' }];
  },
  RefreshMatViewStmt: (n) => {
    return [
      {
        type: 'lock',
        table: relName(n.relation),
        blocks: n.concurrent ? 'writes' : 'reads and writes',
        work: 'build',
        what: 'REFRESH MATERIALIZED VIEW',
      },
    ];
  },
  CreateFunctionStmt: createOther,
  CompositeTypeStmt: createOther,
  CreateEnumStmt: createOther,
  ViewStmt: createOther,
  CreateSeqStmt: createOther,
};

/** The effects of one statement, in the order PostgreSQL performs them. */
export function effectsOf(s: Pick<ParsedStatement, 'type' | 'node'>): Effect[] {
  if (Object.hasOwn(STATEMENT_EFFECTS, s.type)) return STATEMENT_EFFECTS[s.type]!(s.node, s.type);
  // Fail closed: a kind of statement not weighed here is not assumed harmless.
  return HARMLESS.has(s.type)
    ? []
    : [{ type: 'opaque', what: `a ${s.type.replace(/Stmt$/, '')} statement, which the check does not know` }];
}

/** Statement kinds known to change nothing the running release reads or writes (creating, commenting, adding rows). */
const HARMLESS = new Set([
  'InsertStmt',
  'CommentStmt',
  'CreateSchemaStmt',
  'CreateExtensionStmt',
  'CreateDomainStmt',
  'DefineStmt',
  'CreatePolicyStmt',
  'CreateStatsStmt',
  'AlterSeqStmt',
  'NotifyStmt',
]);

/** GRANT adds access; REVOKE can take away what the running release needs. */
function grantEffects(n: Node): Effect[] {
  if (n.is_grant === true) return [];
  const targets = list(n.objects).map((o) => ('RangeVar' in o ? relName(o.RangeVar) : names(o)));
  return (targets.length ? targets : ['?']).map((table) => ({
    type: 'breaking',
    change: 'revoke',
    table,
    what: `REVOKE on ${table}`,
  }));
}

/** Functions a SELECT in a migration may call: settings and pure built-ins. Anything else may write. */
const SAFE_FUNCTIONS = new Set([
  'set_config',
  'current_setting',
  'now',
  'count',
  'max',
  'min',
  'coalesce',
  'lower',
  'upper',
  'length',
  'to_regclass',
  'pg_sleep',
]);

/** A SELECT reads, unless it calls a function that may write (a user function, a sequence's setval). */
function selectEffects(n: Node): Effect[] {
  const called = new Set<string>();
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      const call = (v as Node).FuncCall;
      if (call)
        called.add(
          list(obj(call).funcname)
            .map((x) => str(obj(x.String).sval) ?? '?')
            .join('.'),
        );
      Object.values(v).forEach(visit);
    }
  };
  visit(n);
  const unknown = [...called].filter((f) => !SAFE_FUNCTIONS.has(f.replace(/^pg_catalog\./, '')));
  return unknown.length
    ? [{ type: 'opaque', what: `SELECT calling ${unknown.join(', ')}: the check cannot see what it does` }]
    : [];
}
