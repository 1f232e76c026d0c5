import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { UsageError } from '../../../src/definitions/errors.js';
import { ledgerRequiredFor } from '../../../src/definitions/release-policy.js';
import { isPass } from '../../../src/definitions/verdict.js';
import { decideDeploy, decideRollback } from '../../../src/deliver/deploy/decide.js';
import { deployQueries } from '../../../src/deliver/deploy/facts.js';
import { parseDeployRequest, parseRollbackRequest } from '../../../src/deliver/deploy/request.js';

const SHA = 'c'.repeat(40);
const TREE = 'e'.repeat(40);
const D1 = `sha256:${'d1'.repeat(32)}`;

describe('deploy phases', () => {
  it('parse: the request is typed once; bad flags are usage errors before anything is read', () => {
    const req = parseDeployRequest(
      { env: 'staging', image: `ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3`, dryRun: true },
      { GITHUB_SHA: SHA },
    );
    expect(req).toMatchObject({ tag: 'v1.2.3', commit: SHA, dryRun: true, skipGate: false });
    expect(req.environment.name).toBe('staging');
    expect(() => parseDeployRequest({ env: 'staging', dryRun: true }, {})).toThrow(UsageError);
    expect(() => parseDeployRequest({ env: 'qa', image: 'x:1', dryRun: true }, {})).toThrow(/unknown environment/);
    expect(() => parseDeployRequest({ env: 'dev', image: 'x:1', tree: 'abc', dryRun: true }, {})).toThrow(/--tree/);
  });

  it('facts: which facts a request needs is a pure decision', () => {
    const byTag = parseDeployRequest({ env: 'prod', version: 'v1.2.3', dryRun: true }, { GITHUB_SHA: SHA });
    expect(deployQueries(byTag)).toEqual({
      source: { kind: 'tag', tag: 'v1.2.3' },
      ledger: 'staging',
      running: 'prod',
    });
    const dev = parseDeployRequest({ env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:abc', dryRun: true }, {});
    expect(deployQueries(dev)).toEqual({ source: { kind: 'head' } });
    const given = parseDeployRequest(
      { env: 'dev', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:abc', tree: TREE, dryRun: true },
      { GITHUB_SHA: 'not-a-sha' },
    );
    expect(deployQueries(given).source).toEqual({ kind: 'given' });
  });

  it('decide: version alone resolves to the digest that passed the previous environment, else says why', () => {
    const req = parseDeployRequest({ env: 'prod', version: 'v1.2.3', dryRun: true }, {});
    const at = '2026-01-01T00:00:00Z';
    const now = Date.parse(at) + 3600_000;
    const passed = decideDeploy(
      req,
      {
        source: { commit: SHA, tree: TREE, onMain: true },
        ledger: {
          reachable: true,
          entries: [
            {
              environment: 'staging',
              operation: 'deploy',
              digest: D1,
              tree: TREE,
              state: 'success',
              at,
              gate: { outcome: 'passed' as const, reasons: [], baselineCompared: true },
              auditSkipped: false,
            },
          ],
        },
      },
      now,
    );
    expect(passed.image).toBe(`ghcr.io/kgraph-mcp/kgraph-mcp@${D1}`);
    expect(passed.version).toBe('v1.2.3');
    const none = decideDeploy(req, { source: { tree: TREE }, ledger: { reachable: false, reason: 'down' } }, now);
    expect(none.image).toBe('ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3');
    expect(none.note).toMatch(/no digest to promote for v1.2.3: down/);
    expect(isPass(none.eligibility)).toBe(false);
  });

  it('policy data: the previous revision is the emergency exit, a named version is recorded first', () => {
    const prod = ENVIRONMENTS.prod.release;
    expect(ledgerRequiredFor(prod, 'deploy')).toBe(true);
    expect(ledgerRequiredFor(prod, 'rollback-to-version')).toBe(true);
    expect(ledgerRequiredFor(prod, 'rollback-to-previous')).toBe(false);
    expect(ledgerRequiredFor({ ...prod, unrecordedAllowed: [] }, 'rollback-to-previous')).toBe(true);
    expect(ledgerRequiredFor(ENVIRONMENTS.dev.release, 'deploy')).toBe(false);
    const back = parseRollbackRequest({ env: 'prod', dryRun: true }, {});
    expect(decideRollback(back, { ledger: { reachable: false, reason: 'x' }, backups: [], source: {} }, 0)).toEqual({});
  });

  it('decide: a rollback to a version with the ledger unreachable names the ledger, not the digest it could not look up', () => {
    const to = parseRollbackRequest({ env: 'prod', to: 'v1.2.2', dryRun: true }, {});
    const down = { reachable: false as const, reason: 'no GitHub ledger: GITHUB_TOKEN is not set' };
    const d = decideRollback(to, { ledger: down, backups: [], source: { onMain: true } }, 0);
    expect(d.eligibility?.outcome).not.toBe('passed');
    expect(d.eligibility?.refusedBy?.rule).toBe('ledger');
    expect(d.eligibility?.refusedBy?.reasons.join('; ')).toMatch(/unreachable.*GITHUB_TOKEN/);
    // The digest rule is still listed, as "cannot tell": it rests on the ledger, which did not pass.
    const digest = d.eligibility?.rules.find((r) => r.rule === 'digest');
    expect(digest).toMatchObject({ outcome: 'inconclusive', dependsOn: 'ledger' });
    expect(digest?.reasons.join('; ')).toMatch(/rests on rule "ledger"/);
    // With the ledger reachable but no record of v1.2.2 in prod, the digest is the real reason.
    const empty = decideRollback(
      to,
      { ledger: { reachable: true, entries: [] }, backups: [], source: { onMain: true } },
      0,
    );
    expect(empty.eligibility?.refusedBy).toMatchObject({ rule: 'digest', outcome: 'failed' });
  });

  it('decide: a deploy by version with the ledger unreachable names the ledger, not the digest it could not look up', () => {
    const req = parseDeployRequest({ env: 'prod', version: 'v1.2.3', dryRun: true }, {});
    const down = { reachable: false as const, reason: 'no GitHub ledger: GITHUB_TOKEN is not set' };
    const d = decideDeploy(req, { source: { tree: TREE, onMain: true }, ledger: down }, 0);
    expect(d.eligibility.refusedBy?.rule).toBe('ledger');
    expect(d.eligibility.outcome).toBe('inconclusive');
    // An image given by the user rests on nothing: its missing digest is the user's, and leads.
    const given = parseDeployRequest({ env: 'prod', image: 'ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3', dryRun: true }, {});
    const g = decideDeploy(given, { source: { tree: TREE, onMain: true }, ledger: down }, 0);
    expect(g.eligibility.refusedBy).toMatchObject({ rule: 'digest', outcome: 'failed' });
  });
});

describe('compatibility records (N-1)', () => {
  it('the reader believes only finished, well-formed compat records; passed needs a successful state', async () => {
    const { compatEntries, ledgerEntries, PAYLOAD_SCHEMA } = await import('../../../src/platform/ledger/entry.js');
    const rec = (id: string, state: 'success' | 'failure' | 'in_progress', compat: unknown) => ({
      id,
      state,
      createdAt: '2026-01-01T00:00:00Z',
      updatedAt: `2026-01-01T00:00:0${id}Z`,
      payload: { schema: PAYLOAD_SCHEMA, operation: 'compat', environment: 'prod', startedAt: 'x', compat } as never,
    });
    const good = {
      previous: { commit: 'a'.repeat(40) },
      candidate: { commit: SHA, tree: TREE },
      schemaHead: '004_x',
      migrations: ['004_x'],
      passed: true,
    };
    const entries = compatEntries([
      rec('1', 'success', good),
      rec('2', 'failure', good),
      rec('3', 'in_progress', good),
      rec('4', 'success', { ...good, previous: {} }),
      rec('5', 'success', { ...good, passed: 'yes' }),
    ]);
    expect(entries.map((e) => [e.at.slice(-3, -1), e.outcome])).toEqual([
      ['01', 'passed'],
      ['02', 'failed'],
    ]);
    // A compat record is a finding, never a deployment the policy counts.
    expect(ledgerEntries([rec('1', 'success', good)])).toEqual([]);
  });
});

describe("prod's compatibility rule (the previous release checked against the candidate's migrations)", () => {
  const D0 = `sha256:${'d0'.repeat(32)}`;
  const at = '2026-01-01T00:00:00Z';
  const staged = {
    environment: 'staging',
    operation: 'deploy' as const,
    digest: D1,
    tree: TREE,
    state: 'success' as const,
    at,
    gate: { outcome: 'passed' as const, reasons: [], baselineCompared: true },
    auditSkipped: false,
  };
  const running = { environment: 'prod', operation: 'promotion' as const, digest: D0, state: 'success' as const, at };
  const compat = (passed: boolean, previous = { digest: D0 }) => ({
    environment: 'prod',
    previous,
    candidate: { digest: D1 },
    schemaHead: '002_x',
    migrations: ['002_x'],
    outcome: passed ? 'passed' : 'failed',
    reasons: [],
    at,
  });
  const decide = (entries: object[], checks: object[]) =>
    decideDeploy(
      parseDeployRequest({ env: 'prod', version: 'v1.2.3', dryRun: true }, {}),
      {
        source: { commit: SHA, tree: TREE, onMain: true },
        ledger: { reachable: true, entries: entries as never, compat: checks as never },
      },
      Date.parse(at) + 3600_000,
    ).eligibility.rules.find((r) => r.rule === 'compatibility')!;

  it('passes when what runs in prod passed the check against this digest, or nothing runs there yet', () => {
    expect(decide([staged, running], [compat(true)])).toMatchObject({ outcome: 'passed' });
    expect(decide([staged], [])).toMatchObject({
      outcome: 'passed',
      reasons: [expect.stringMatching(/nothing ran in prod/)],
    });
  });

  it('refuses when it was never checked, failed, or was checked for another release', () => {
    expect(decide([staged, running], [])).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/never checked/)],
    });
    expect(decide([staged, running], [compat(false)])).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/failed the compat/)],
    });
    expect(decide([staged, running], [compat(true, { digest: D1 })])).toMatchObject({ outcome: 'failed' });
    expect(decide([staged, { ...running, digest: undefined, operation: 'rollback' }], [compat(true)])).toMatchObject({
      outcome: 'inconclusive',
      reasons: [expect.stringMatching(/cannot tell/)],
    });
  });
});
