/**
 * A migration file as the rules see it: its marks, and each statement of its Up section parsed by the
 * real PostgreSQL 15 parser (libpg-query: the server's own grammar compiled to WebAssembly, no native
 * build). pgsql-ast-parser was the other kept candidate; it is a hand-written grammar that misses parts of
 * DDL (e.g. some ALTER TABLE forms), and a linter must not guess. The Up/Down split is node-pg-migrate's.
 */
import { loadModule, parseSync } from 'libpg-query';

/** Marks a migration's author writes as `-- kgraph:<mark>` lines (docs/migrations.md). */
export const MIGRATION_MARKS = ['contract', 'no-transaction'] as const;
export type MigrationMark = (typeof MIGRATION_MARKS)[number];

/** A migration the check reads: <timestamp>_<name>.sql (node-pg-migrate's SQL form). */
export const MIGRATION_FILE = /^\d+_.+\.sql$/;

/** One parsed statement: the AST node (one key: its type), where it is, and its SQL. */
export interface ParsedStatement {
  /** 1-based position in the Up section. */
  readonly index: number;
  /** 1-based line of its first token in the file. */
  readonly line: number;
  readonly lastLine: number;
  readonly sql: string;
  readonly type: string;
  readonly node: Record<string, unknown>;
}

export interface ParsedMigration {
  /** File name without extension, as node-pg-migrate records it. */
  readonly name: string;
  readonly marks: ReadonlySet<MigrationMark>;
  /** `-- kgraph:` marks that are not known (a typo must not silently drop a contract mark). */
  readonly unknownMarks: readonly string[];
  readonly statements: readonly ParsedStatement[];
  /** Why the Up section did not parse; statements is empty then. */
  readonly parseError?: string;
  /** The Up section with the Down section blanked out, line numbers kept (what squawk reads). */
  readonly upSql: string;
}

const UP = /^\s*--[\s-]*up\s+migration/im;
const DOWN = /^\s*--[\s-]*down\s+migration/im;
const MARK = /^\s*--\s*kgraph:([\w-]+)\s*$/gim;

/** The Up section, as node-pg-migrate cuts it, with everything else blanked (same length in lines). */
export function upSection(content: string): string {
  const up = content.search(UP);
  const down = content.search(DOWN);
  // Exactly node-pg-migrate's cut: without an Up marker the whole file is the Up section.
  const start = up >= 0 ? up : 0;
  const end = up >= 0 && down > up ? down : content.length;
  const blank = (s: string) => s.replace(/[^\n]/g, '');
  return blank(content.slice(0, start)) + content.slice(start, end) + blank(content.slice(end));
}

let loaded: Promise<void> | undefined;
/** The parser's WebAssembly loads once per process. */
export async function loadParser(): Promise<void> {
  await (loaded ??= loadModule());
}

/** Leading blank lines and comments are part of a statement's span in the parser's output; skip them. */
function firstTokenOffset(text: string): number {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text.startsWith('--', i)) {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (text.startsWith('/*', i)) {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 2;
    } else return i;
  }
}

const linesIn = (s: string): number => s.split('\n').length - 1;

/** Parses one migration; call loadParser() once first. */
export function parseMigration(name: string, content: string): ParsedMigration {
  const upSql = upSection(content);
  const marks = new Set<MigrationMark>();
  const unknownMarks: string[] = [];
  for (const m of upSql.matchAll(MARK)) {
    const mark = m[1]!.toLowerCase();
    if ((MIGRATION_MARKS as readonly string[]).includes(mark)) marks.add(mark as MigrationMark);
    else unknownMarks.push(mark);
  }
  let tree: { stmts?: { stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = parseSync(upSql) as typeof tree;
  } catch (err) {
    return { name, marks, unknownMarks, statements: [], parseError: (err as Error).message, upSql };
  }
  // Locations are byte offsets into the UTF-8 text.
  const bytes = Buffer.from(upSql, 'utf8');
  const statements = (tree.stmts ?? []).map((s, i) => {
    const start = s.stmt_location ?? 0;
    const raw = bytes.subarray(start, s.stmt_len ? start + s.stmt_len : undefined).toString('utf8');
    const skip = firstTokenOffset(raw);
    const before = bytes.subarray(0, start).toString('utf8') + raw.slice(0, skip);
    const sql = raw.slice(skip).trim();
    const type = Object.keys(s.stmt)[0] ?? 'Unknown';
    const line = linesIn(before) + 1;
    return {
      index: i + 1,
      line,
      lastLine: line + linesIn(sql),
      sql,
      type,
      node: (s.stmt[type] ?? {}) as Record<string, unknown>,
    };
  });
  return { name, marks, unknownMarks, statements, upSql };
}
