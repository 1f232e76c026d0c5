/**
 * A migration file's Up section and its marks, cut exactly as node-pg-migrate cuts SQL migrations, and
 * its statements split by the real PostgreSQL 15 parser (libpg-query, WebAssembly). The migrator needs the
 * split for a migration marked `-- kgraph:no-transaction` (CREATE INDEX CONCURRENTLY cannot run inside a
 * transaction, nor in a multi-statement query, which PostgreSQL wraps in one). `kgraph-ci migrations check`
 * reads the same marks (ci/src/verify/migrations/parse.ts; a test keeps the two in agreement).
 */
import { loadModule, parseSync } from 'libpg-query';

export const NO_TRANSACTION_MARK = /^\s*--\s*kgraph:no-transaction\s*$/im;

const UP = /^\s*--[\s-]*up\s+migration/im;
const DOWN = /^\s*--[\s-]*down\s+migration/im;

/** The Up section: from the Up marker (or the start) to the Down marker after it (or the end). */
export function upSql(content: string): string {
  const up = content.search(UP);
  const down = content.search(DOWN);
  if (up < 0) return content;
  return content.slice(up, down > up ? down : undefined);
}

export const runsWithoutTransaction = (content: string): boolean => NO_TRANSACTION_MARK.test(upSql(content));

let loaded: Promise<void> | undefined;

/** The Up section's statements, each as its own SQL text, in order. */
export async function splitStatements(content: string): Promise<string[]> {
  await (loaded ??= loadModule());
  const sql = upSql(content);
  const bytes = Buffer.from(sql, 'utf8');
  const tree = parseSync(sql) as { stmts?: { stmt_location?: number; stmt_len?: number }[] };
  return (tree.stmts ?? [])
    .map((s) => {
      const start = s.stmt_location ?? 0;
      return bytes
        .subarray(start, s.stmt_len ? start + s.stmt_len : undefined)
        .toString('utf8')
        .trim();
    })
    .filter((s) => s.length > 0);
}
