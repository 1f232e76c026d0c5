/**
 * What schema this code needs, and whether the database has it. Readiness and the API gate use it so a
 * pod takes no traffic before the migration Job ran (503 "schema at X, expected Y", never a 500 from a
 * missing table), and notices a schema that drifted after it was migrated (a dropped column or unique
 * index). Newer migrations than this code knows are allowed: a later release may have migrated first.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));
export const MIGRATIONS_TABLE = 'pgmigrations';

/** Migration names (file names without extension, as node-pg-migrate records them), in order. */
export function knownMigrations(dir = MIGRATIONS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.(sql|js|ts)$/.test(f))
    .map((f) => f.replace(/\.(sql|js|ts)$/, ''))
    .sort();
}

/** The columns every query of repo.ts reads or writes, and the unique indexes it relies on. */
export const REQUIRED_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  tools: ['id', 'slug', 'name', 'description', 'category', 'tags', 'search', 'created_at', 'updated_at'],
  prompts: ['id', 'tool_id', 'title', 'template', 'created_at', 'updated_at'],
  tool_relations: ['source_id', 'target_id', 'kind', 'weight'],
  cache_generation: ['token'],
};
export const REQUIRED_UNIQUE: readonly (readonly [string, readonly string[]])[] = [
  ['tools', ['id']],
  ['tools', ['slug']],
  ['prompts', ['id']],
  ['tool_relations', ['source_id', 'target_id', 'kind']],
];
/** Triggers whose absence would not fail a query but silently break search or cache invalidation. */
export const REQUIRED_TRIGGERS: readonly (readonly [string, string])[] = [
  ['tools', 'tools_search_trg'],
  ['tools', 'tools_cache_generation'],
  ['prompts', 'prompts_cache_generation'],
  ['tool_relations', 'tool_relations_cache_generation'],
];

export interface SchemaReport {
  readonly ok: boolean;
  /** The last migration applied (by name order), or null on an empty database. */
  readonly at: string | null;
  readonly expected: string;
  readonly missing: readonly string[];
  readonly newer: readonly string[];
  /** Drift from what the code needs, e.g. "tools.description is missing". */
  readonly problems: readonly string[];
}

export interface CatalogFacts {
  readonly columns: readonly { table: string; column: string }[];
  readonly uniques: readonly { table: string; columns: readonly string[] }[];
  readonly triggers: readonly { table: string; name: string }[];
}

/** Pure: the report for these applied migrations and catalogue facts. */
export function judgeSchema(
  applied: readonly string[],
  known: readonly string[],
  facts: CatalogFacts | undefined,
): SchemaReport {
  const appliedSet = new Set(applied);
  const knownSet = new Set(known);
  const missing = known.filter((m) => !appliedSet.has(m));
  const newer = [...applied].filter((m) => !knownSet.has(m)).sort();
  const sorted = [...applied].sort();
  const problems: string[] = [];
  // The catalogue is judged only once the migrations are all there (before that, "behind" says it all).
  if (missing.length === 0 && facts) {
    const cols = new Set(facts.columns.map((c) => `${c.table}.${c.column}`));
    for (const [table, columns] of Object.entries(REQUIRED_COLUMNS)) {
      for (const c of columns) if (!cols.has(`${table}.${c}`)) problems.push(`${table}.${c} is missing`);
    }
    const uniques = new Set(facts.uniques.map((u) => `${u.table}(${[...u.columns].sort().join(',')})`));
    for (const [table, columns] of REQUIRED_UNIQUE) {
      if (!uniques.has(`${table}(${[...columns].sort().join(',')})`))
        problems.push(`no unique index on ${table} (${columns.join(', ')})`);
    }
    const triggers = new Set(facts.triggers.map((t) => `${t.table}.${t.name}`));
    for (const [table, name] of REQUIRED_TRIGGERS)
      if (!triggers.has(`${table}.${name}`)) problems.push(`trigger ${name} on ${table} is missing`);
  }
  return {
    ok: missing.length === 0 && problems.length === 0,
    at: sorted[sorted.length - 1] ?? null,
    expected: known[known.length - 1] ?? '',
    missing,
    newer,
    problems,
  };
}

/** Why the API must not serve with this schema (one line per reason); empty when it may. */
export function schemaReasons(r: SchemaReport): string[] {
  return [
    ...(r.missing.length > 0 ? [`schema at ${r.at ?? 'none'}, expected ${r.expected}`] : []),
    ...r.problems.map((p) => `schema: ${p}`),
  ];
}
