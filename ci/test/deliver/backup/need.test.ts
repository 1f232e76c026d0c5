import { describe, expect, it } from 'vitest';
import { backupNeed } from '../../../src/deliver/backup/need.js';
import { PAYLOAD_SCHEMA, type LedgerPayload, type LedgerRecord } from '../../../src/platform/ledger/entry.js';

const A = '1764590000000_cache_generation';
const B = '1765030000000_tools_tags_search_index';
const C = '1800000000000_tools_homepage';

let seq = 0;
const rec = (payload: Partial<LedgerPayload>, state: LedgerRecord['state'], at: string): LedgerRecord => ({
  id: String(++seq),
  payload: { schema: PAYLOAD_SCHEMA, operation: 'deploy', environment: 'prod', startedAt: at, ...payload },
  state,
  createdAt: at,
  updatedAt: at,
});
const deployed = (head: string | undefined, state: LedgerRecord['state'] = 'success', at = '2026-12-01T10:00:00Z') =>
  rec(head ? { schemaHead: head } : {}, state, at);

describe('backupNeed: a prod deploy backs up only when its migration can change the schema', () => {
  it("skips when the database is already at the tree's newest migration, saying why", () => {
    const need = backupNeed('prod', B, { records: [deployed(A, 'success', '2026-11-01T00:00:00Z'), deployed(B)] });
    expect(need).toEqual({
      take: false,
      why: `no migration to apply: prod's database is at ${B} or later (successful deploy at 2026-12-01T10:00:00Z) and this tree's newest is ${B}`,
    });
    // A tree behind the database (a redeploy of an older release) applies nothing either.
    expect(backupNeed('prod', A, { records: [deployed(B)] }).take).toBe(false);
  });

  it('takes it when the tree has a migration the database has not run', () => {
    expect(backupNeed('prod', C, { records: [deployed(B)] })).toEqual({
      take: true,
      why: `the migrations after ${B} up to ${C} will run`,
    });
  });

  it('counts only successful deploys: a failed one may have stopped before (or during) its migration', () => {
    const records = [
      deployed(A),
      deployed(C, 'failure', '2026-12-02T00:00:00Z'),
      deployed(C, 'error', '2026-12-03T00:00:00Z'),
    ];
    expect(backupNeed('prod', C, { records })).toMatchObject({
      take: true,
      why: expect.stringContaining(`after ${A}`),
    });
    // Another environment's deploys say nothing about this database.
    const staging = rec({ environment: 'staging', schemaHead: C }, 'success', '2026-12-04T00:00:00Z');
    expect(backupNeed('prod', C, { records: [deployed(A), staging] }).take).toBe(true);
  });

  it('takes it after a restore since the last deploy (the database may be below the recorded head)', () => {
    const restore = rec(
      { operation: 'restore', restore: { backup: 'prod-x', target: 'db:5432/kgraph' } as never },
      'success',
      '2026-12-02T00:00:00Z',
    );
    expect(backupNeed('prod', B, { records: [deployed(B), restore] })).toMatchObject({
      take: true,
      why: expect.stringContaining('a restore (prod-x, 2026-12-02T00:00:00Z) since the last deploy'),
    });
    // A restore that failed rolled back: the schema is as the deploy left it.
    const failed = { ...restore, state: 'failure' as const };
    expect(backupNeed('prod', B, { records: [deployed(B), failed] }).take).toBe(false);
  });

  it("takes it whenever something is unknown: the tree's migrations, the ledger, any recorded schema", () => {
    expect(backupNeed('prod', undefined, { records: [deployed(B)] })).toEqual({
      take: true,
      why: 'cannot tell which migrations this deploy applies',
    });
    expect(backupNeed('prod', B, { reason: 'HTTP 502' })).toEqual({
      take: true,
      why: "cannot read prod's ledger (HTTP 502)",
    });
    expect(backupNeed('prod', B, { records: [] }).take).toBe(true);
    expect(backupNeed('prod', B, { records: [deployed(undefined)] })).toMatchObject({
      take: true,
      why: 'no successful deploy in prod recorded the schema it left',
    });
  });
});
