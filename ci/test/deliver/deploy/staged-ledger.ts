/** A fake GitHub holding a ledger where staging passed one digest; shared by tests and the closing-note demo. */
import { PAYLOAD_SCHEMA } from '../../../src/platform/ledger/entry.js';
import { fakeLedger, type FakeLedger } from '../../platform/github/fake-ledger.js';

export const TOKEN = 'ghp_cli_token_must_never_be_printed_0123456789';
export const DIGEST = `sha256:${'4f'.repeat(32)}`;
export const TREE = 'a1'.repeat(20);
const SHA = 'c0'.repeat(20);

/** A ledger where staging passed DIGEST (tree TREE) an hour ago with the baseline gate; v1.4.0 is that tree on main. */
export async function stagedLedger(now = Date.now()): Promise<FakeLedger> {
  const f = await fakeLedger({
    commits: {
      'tags/v1.4.0': { sha: SHA, tree: TREE, date: new Date(now - 3 * 3_600_000).toISOString(), onMain: true },
      'tags/v1.4.1': {
        sha: 'd0'.repeat(20),
        tree: 'b2'.repeat(20),
        date: new Date(now - 600_000).toISOString(),
        onMain: true,
      },
    },
  });
  const at = (ms: number) => new Date(now - ms).toISOString();
  const p = {
    schema: PAYLOAD_SCHEMA,
    environment: 'staging',
    digest: DIGEST,
    commit: SHA,
    tree: TREE,
    version: `sha-${SHA.slice(0, 7)}`,
    startedAt: at(3_700_000),
    auditSkipped: false,
  };
  const d = f.seed({
    environment: 'staging',
    payload: { ...p, operation: 'deploy' },
    createdAt: at(3_700_000),
    statuses: [
      { state: 'in_progress', at: at(3_690_000) },
      { state: 'success', at: at(3_600_000) },
    ],
  });
  f.seed({
    environment: 'staging',
    task: 'kgraph-ci:gate',
    payload: { ...p, operation: 'gate', of: String(d.id), gate: { passed: true, baselineCompared: true } },
    createdAt: at(3_600_000),
    statuses: [{ state: 'success', at: at(3_599_000) }],
  });
  return f;
}
