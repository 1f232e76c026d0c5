import { beforeAll, describe, expect, it } from 'vitest';
import { loadParser, parseMigration, upSection } from '../../../src/verify/migrations/parse.js';
import {
  applyRules,
  type CompatibilityFacts,
  type Finding,
  type RuleContext,
  type TableSizes,
} from '../../../src/verify/migrations/rules.js';

beforeAll(loadParser);

const T = "SET lock_timeout = '5s';\nSET statement_timeout = '1min';\n";
const UNKNOWN: CompatibilityFacts = { known: false, reason: 'no record' };
const NO_SIZES: TableSizes = { known: false, reason: 'no --env' };
const ctx = (over: Partial<RuleContext> = {}): RuleContext => ({ sizes: NO_SIZES, compatibility: UNKNOWN, ...over });
const PROD = { name: 'prod', refuseOverLimit: true, limit: { rows: 1_000_000, bytes: 1 << 30 } };
const STAGING = { ...PROD, name: 'staging', refuseOverLimit: false };
const sizes = (tables: Record<string, { rows?: number; bytes: number }>): TableSizes => ({
  known: true,
  where: 'test',
  tables: new Map(Object.entries(tables).map(([k, v]) => [k, { rows: v.rows, bytes: v.bytes }])),
});

function judge(files: Record<string, string>, c: RuleContext = ctx()): Finding[] {
  const parsed = Object.entries(files).map(([name, sql]) =>
    parseMigration(name, `-- Up Migration\n${sql}\n-- Down Migration\nDROP TABLE tools;\n`),
  );
  return applyRules(parsed, c).findings;
}
const refusals = (f: Finding[]) =>
  f.filter((x) => x.severity === 'refuse').map((x) => `${x.migration}#${x.statement?.index ?? '-'} ${x.rule}`);

describe('timeouts', () => {
  it('refuses a lock on a table in use without both timeouts, naming the statement and the fix', () => {
    const f = judge({ '1_a': "SET lock_timeout = '5s';\nALTER TABLE tools ADD COLUMN x text;" });
    const t = f.find((x) => x.rule === 'timeouts')!;
    expect(t).toMatchObject({ severity: 'refuse', statement: { index: 2, line: 3 } });
    expect(t.message).toContain('statement_timeout');
    expect(t.fix).toContain('SET statement_timeout');
  });
  it('counts a timeout of 0 as not set, and SET LOCAL as set', () => {
    expect(
      refusals(
        judge({ '1_a': "SET lock_timeout = 0;\nSET statement_timeout = '1s';\nALTER TABLE tools ADD COLUMN x text;" }),
      ),
    ).toEqual(['1_a#3 timeouts']);
    expect(
      refusals(
        judge({
          '1_a':
            "SET LOCAL lock_timeout = '2s';\nSET LOCAL statement_timeout = '1s';\nALTER TABLE tools ADD COLUMN x text;",
        }),
      ),
    ).toEqual([]);
  });
  it('asks nothing of statements on tables the new migrations create', () => {
    expect(
      refusals(
        judge({
          '1_a': 'CREATE TABLE t (id int);',
          '2_b': 'CREATE INDEX t_idx ON t (id);\nALTER TABLE t ADD COLUMN y text NOT NULL;',
        }),
      ),
    ).toEqual([]);
  });
  it('a setting made in one migration does not cover the next', () => {
    expect(refusals(judge({ '1_a': T, '2_b': 'ALTER TABLE tools ADD COLUMN x text;' }))).toEqual(['2_b#1 timeouts']);
  });
});

describe('concurrent-outside-transaction', () => {
  it('refuses CONCURRENTLY in a transactional migration and accepts it in a no-transaction one', () => {
    const sql = `${T}CREATE INDEX CONCURRENTLY IF NOT EXISTS tools_x ON tools (name);`;
    expect(refusals(judge({ '1_a': sql }))).toEqual(['1_a#3 concurrent-outside-transaction']);
    expect(refusals(judge({ '1_a': `-- kgraph:no-transaction\n${sql}` }))).toEqual([]);
    expect(
      refusals(judge({ '1_a': `-- kgraph:no-transaction\n${T}DROP INDEX CONCURRENTLY IF EXISTS tools_x;` })),
    ).toEqual([]);
  });
  it('refuses transaction statements in either kind', () => {
    expect(
      refusals(
        judge({ '1_a': `-- kgraph:no-transaction\nBEGIN;\n${T}CREATE INDEX CONCURRENTLY i ON tools (name);\nCOMMIT;` }),
      ),
    ).toContain('1_a#1 concurrent-outside-transaction');
    expect(refusals(judge({ '1_a': 'BEGIN;\nCREATE TABLE t (id int);\nCOMMIT;' }))).toEqual([
      '1_a#1 concurrent-outside-transaction',
      '1_a#3 concurrent-outside-transaction',
    ]);
  });
});

describe('constraint-not-valid', () => {
  const add = (c: string) => `${T}ALTER TABLE prompts ADD CONSTRAINT ${c}`;
  it('refuses a validating CHECK or FOREIGN KEY on a table in use', () => {
    expect(refusals(judge({ '1_a': add('title_short CHECK (length(title) < 100);') }))).toContain(
      '1_a#3 constraint-not-valid',
    );
    expect(refusals(judge({ '1_a': add('p_tool FOREIGN KEY (tool_id) REFERENCES tools (id);') }))).toContain(
      '1_a#3 constraint-not-valid',
    );
  });
  it('accepts NOT VALID validated in a later migration; refuses it never validated or validated in the same transaction', () => {
    const notValid = add('title_short CHECK (length(title) < 100) NOT VALID;');
    const validate = `${T}ALTER TABLE prompts VALIDATE CONSTRAINT title_short;`;
    expect(refusals(judge({ '1_a': notValid, '2_b': validate }))).toEqual([]);
    expect(refusals(judge({ '1_a': notValid }))).toEqual(['1_a#3 constraint-not-valid']);
    expect(
      judge({ '1_a': `${notValid}\nALTER TABLE prompts VALIDATE CONSTRAINT title_short;` }).find(
        (f) => f.severity === 'refuse',
      )?.message,
    ).toContain('same transaction');
  });
});

describe('expand-contract', () => {
  const breaking: Record<string, string> = {
    'drop column': 'ALTER TABLE tools DROP COLUMN description;',
    'drop table': 'DROP TABLE IF EXISTS prompts;',
    rename: 'ALTER TABLE tools RENAME COLUMN name TO title;',
    'rename table': 'ALTER TABLE prompts RENAME TO tool_prompts;',
    'type change': 'ALTER TABLE tools ALTER COLUMN name TYPE varchar(50);',
    'NOT NULL without default': 'ALTER TABLE tools ADD COLUMN owner text NOT NULL;',
    'SET NOT NULL': 'ALTER TABLE prompts ALTER COLUMN title SET NOT NULL;',
    'unique index': 'CREATE UNIQUE INDEX tools_name_key ON tools (name);',
    'unique constraint': 'ALTER TABLE tools ADD CONSTRAINT tools_name_key UNIQUE USING INDEX tools_name_idx;',
    'drop trigger': 'DROP TRIGGER tools_cache_generation ON tools;',
    'drop default': 'ALTER TABLE tools ALTER COLUMN description DROP DEFAULT;',
    'disable trigger': 'ALTER TABLE tools DISABLE TRIGGER tools_cache_generation;',
    'row security': 'ALTER TABLE tools ENABLE ROW LEVEL SECURITY;',
    revoke: 'REVOKE SELECT ON tools FROM PUBLIC;',
    'enum value rename': "ALTER TYPE tool_kind RENAME VALUE 'a' TO 'b';",
    'delete every row': 'DELETE FROM tools;',
  };
  for (const [what, sql] of Object.entries(breaking)) {
    it(`refuses ${what} outside a contract migration, with the expand/contract fix`, () => {
      const f = judge({ '1_a': `${T}${sql}` }).find((x) => x.rule === 'expand-contract' && x.severity === 'refuse');
      expect(f?.fix).toContain('-- kgraph:contract');
    });
  }
  it('does not count a NOT NULL column with a default, a nullable column or a new table as breaking', () => {
    const ok = `${T}ALTER TABLE tools ADD COLUMN a text NOT NULL DEFAULT '';\nALTER TABLE tools ADD COLUMN b text;\nCREATE TABLE n (id int);\nALTER TABLE n DROP COLUMN id;`;
    expect(judge({ '1_a': ok }).filter((f) => f.rule === 'expand-contract')).toEqual([]);
  });
  it('does not count what only adds as breaking: SET DEFAULT, GRANT, DELETE with WHERE, INSERT', () => {
    const ok = `${T}ALTER TABLE tools ALTER COLUMN description SET DEFAULT '';\nGRANT SELECT ON tools TO PUBLIC;\nDELETE FROM tools WHERE id = 'x';\nINSERT INTO prompts (id) VALUES ('p');`;
    expect(refusals(judge({ '1_a': ok }))).toEqual([]);
  });
  it('a contract step refuses until the running release passed the compatibility check against it', () => {
    const sql = `-- kgraph:contract\n${T}ALTER TABLE tools DROP COLUMN description;`;
    expect(refusals(judge({ '9_c': sql }, ctx({ environment: PROD })))).toEqual(['9_c#3 expand-contract']);
    const failed: CompatibilityFacts = {
      known: true,
      release: 'v1.2.0',
      against: () => 'the check failed: 3 answers differ',
    };
    expect(
      judge({ '9_c': sql }, ctx({ environment: PROD, compatibility: failed })).find((f) => f.severity === 'refuse')
        ?.message,
    ).toContain('3 answers differ');
    const passed: CompatibilityFacts = {
      known: true,
      release: 'v1.2.0',
      against: (m) => (m === '9_c' ? true : 'other'),
    };
    expect(refusals(judge({ '9_c': sql }, ctx({ environment: PROD, compatibility: passed })))).toEqual([]);
  });
});

describe('lock-size', () => {
  const index = `${T}CREATE INDEX tools_updated_idx ON tools (updated_at);`;
  it('warns without an environment: the size is unknown', () => {
    expect(judge({ '1_a': index }).find((f) => f.rule === 'lock-size')?.severity).toBe('warn');
  });
  it('refuses prod when the size cannot be read, or the table is over either limit', () => {
    expect(
      refusals(judge({ '1_a': index }, ctx({ environment: PROD, sizes: { known: false, reason: 'ECONNREFUSED' } }))),
    ).toEqual(['1_a#3 lock-size']);
    expect(
      refusals(
        judge({ '1_a': index }, ctx({ environment: PROD, sizes: sizes({ tools: { rows: 2_000_000, bytes: 1e6 } }) })),
      ),
    ).toEqual(['1_a#3 lock-size']);
    expect(
      refusals(
        judge({ '1_a': index }, ctx({ environment: PROD, sizes: sizes({ tools: { rows: 10, bytes: 2 ** 31 } }) })),
      ),
    ).toEqual(['1_a#3 lock-size']);
  });
  it('passes prod under the limits (rows unknown: bytes decide), and only warns in staging over them', () => {
    expect(
      refusals(
        judge({ '1_a': index }, ctx({ environment: PROD, sizes: sizes({ tools: { rows: 5000, bytes: 4e6 } }) })),
      ),
    ).toEqual([]);
    expect(
      refusals(judge({ '1_a': index }, ctx({ environment: PROD, sizes: sizes({ tools: { bytes: 8192 } }) }))),
    ).toEqual([]);
    const staging = judge(
      { '1_a': index },
      ctx({ environment: STAGING, sizes: sizes({ tools: { rows: 9e6, bytes: 9e9 } }) }),
    );
    expect(staging.find((f) => f.rule === 'lock-size')?.severity).toBe('warn');
  });
  it('treats CONCURRENTLY and VALIDATE as not blocking, and a one-statement backfill as blocking the rows it writes', () => {
    const big = ctx({ environment: PROD, sizes: sizes({ tools: { rows: 9e6, bytes: 9e9 } }) });
    expect(
      refusals(
        judge(
          { '1_a': `-- kgraph:no-transaction\n${T}CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON tools (name);` },
          big,
        ),
      ),
    ).toEqual([]);
    expect(refusals(judge({ '1_a': `${T}UPDATE tools SET category = lower(category);` }, big))).toEqual([
      '1_a#3 lock-size',
    ]);
  });
});

describe('opaque', () => {
  // Fail closed: what the check cannot weigh is refused, however harmless it may be.
  const opaque: Record<string, string> = {
    'a DO block': "DO $$ BEGIN EXECUTE 'ALTER TABLE tools DROP COLUMN description'; END $$;",
    'a procedure': 'CALL backfill_tools();',
    'a SELECT of a user function': 'SELECT drop_old_rows();',
    'a SELECT of setval': "SELECT setval('tools_id_seq', 1);",
    'an unknown kind of statement': 'CREATE SERVER remote FOREIGN DATA WRAPPER postgres_fdw;',
    'a prepared statement': 'EXECUTE wipe;',
  };
  for (const [what, sql] of Object.entries(opaque)) {
    it(`refuses ${what}, saying the check cannot see what it does`, () => {
      const f = judge({ '1_a': `${T}${sql}` }).filter((x) => x.rule === 'opaque');
      expect(f).toHaveLength(1);
      expect(f[0]).toMatchObject({ severity: 'refuse', statement: { index: 3 } });
      expect(f[0]!.fix).toContain('plain statements');
    });
  }
  it('lets through a SELECT of settings and built-ins, and statements that only create or comment', () => {
    const ok = `${T}SELECT set_config('search_path', 'public', false);\nSELECT count(*) FROM tools;\nCOMMENT ON TABLE tools IS 'x';\nCREATE SCHEMA IF NOT EXISTS audit;`;
    expect(judge({ '1_a': ok }).filter((f) => f.rule === 'opaque')).toEqual([]);
  });
  it('asks for the timeouts before an explicit LOCK TABLE', () => {
    expect(refusals(judge({ '1_a': 'LOCK TABLE tools IN ACCESS EXCLUSIVE MODE;' }))).toEqual(['1_a#1 timeouts']);
  });
});

describe('parsing', () => {
  it('refuses what does not parse and marks it does not know', () => {
    expect(refusals(judge({ '1_a': 'ALTER TABLE tools ADD COLUM x text;' }))).toEqual(['1_a#- marks']);
    expect(judge({ '1_a': '-- kgraph:contact\nSELECT 1;' }).find((f) => f.rule === 'marks')?.message).toContain(
      'contact',
    );
  });
  it('reads only the Up section, keeping line numbers', () => {
    const sql = 'CREATE TABLE a (id int);\n-- Down Migration\nDROP TABLE tools;\n-- Up Migration\nSELECT 1;\n';
    const up = upSection(sql);
    expect(up.split('\n')).toHaveLength(sql.split('\n').length);
    expect(up).not.toContain('DROP TABLE');
    expect(parseMigration('x', sql).statements.map((s) => [s.line, s.sql])).toEqual([[5, 'SELECT 1']]);
  });
});
