import { describe, expect, it } from 'vitest';
import { PAYLOAD_SCHEMA, type LedgerPayload, type LedgerRecord } from '../../../src/platform/ledger/entry.js';
import { compatibilityFrom } from '../../../src/verify/migrations/compatibility.js';

const OLD = 'a'.repeat(40);
const NEW = 'b'.repeat(40);
let n = 0;
const record = (
  payload: Omit<LedgerPayload, 'schema' | 'startedAt'>,
  state: LedgerRecord['state'] = 'success',
): LedgerRecord => {
  const at = new Date(Date.UTC(2026, 0, 1, 0, ++n)).toISOString();
  return {
    id: String(n),
    payload: { schema: PAYLOAD_SCHEMA, startedAt: at, ...payload },
    state,
    createdAt: at,
    updatedAt: at,
  };
};
const deploy = record({ operation: 'deploy', environment: 'prod', commit: OLD, version: 'v1.0.0' });
const compat = (passed: boolean, migrations: string[], schemaHead = migrations.at(-1)!) =>
  record(
    {
      operation: 'compat',
      environment: 'prod',
      commit: NEW,
      compat: { previous: { commit: OLD }, candidate: { commit: NEW }, schemaHead, migrations, passed },
    },
    passed ? 'success' : 'failure',
  );

describe('compatibility facts from the ledger', () => {
  it('unknown without a running release or without a check of it', () => {
    expect(compatibilityFrom([], 'prod')).toMatchObject({ known: false });
    expect(compatibilityFrom([deploy], 'prod')).toMatchObject({
      known: false,
      reason: expect.stringContaining('no compatibility check (N-1) of v1.0.0'),
    });
  });
  it('the newest check of the running release covering the migration decides', () => {
    const facts = compatibilityFrom([deploy, compat(true, ['1800_drop'])], 'prod');
    expect(facts.known && facts.against('1800_drop')).toBe(true);
    expect(facts.known && facts.against('1900_later')).toContain('covered');
    const failedSince = compatibilityFrom([deploy, compat(true, ['1800_drop']), compat(false, ['1800_drop'])], 'prod');
    expect(failedSince.known && failedSince.against('1800_drop')).toContain('failed');
  });
  it('a check of another release does not count', () => {
    const other = record({
      operation: 'compat',
      environment: 'prod',
      compat: {
        previous: { commit: NEW },
        candidate: { commit: NEW },
        schemaHead: '1800_drop',
        migrations: ['1800_drop'],
        passed: true,
      },
    });
    expect(compatibilityFrom([deploy, other], 'prod')).toMatchObject({ known: false });
  });
});
