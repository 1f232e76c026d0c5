import { describe, expect, it } from 'vitest';
import { COMMIT_CHECKS, type CommitCheck } from '../../../src/definitions/commit-checks.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import {
  auditSkippedFromCheckRuns,
  hasTestRuns,
  latestByName,
  scanFromCheckRuns,
  testsFromCheckRuns,
  type CheckRunState,
  type CommitChecks,
} from '../../../src/verify/checklist/check-runs.js';

const commit = 'a1'.repeat(20);
const head = 'b2'.repeat(20);
const done = (name: string, conclusion = 'success'): CheckRunState => ({ name, status: 'completed', conclusion });
const running = (name: string, status = 'in_progress'): CheckRunState => ({ name, status, conclusion: null });
const on = (...runs: CheckRunState[]): CommitChecks => ({ known: true, commit, runs });

describe('tests passed from check runs', () => {
  it('passes when a check that runs both test steps succeeded on the commit', () => {
    const item = testsFromCheckRuns(on(done('verify (dev)'), running('checks (node 24)')));
    expect(item).toMatchObject({ name: 'tests passed', required: true, outcome: 'passed' });
    expect(item.reasons.join('; ')).toBe(
      'check runs on a1a1a1a1a1a1: test passed (verify (dev)); integrationTest passed (verify (dev))',
    );
  });

  it.each([
    ['missing', on(done('lint')), /test: no check run \(expected checks \(node 22\) or checks \(node 24\) or verify/],
    ['in progress', on(running('verify (dev)')), /test: verify \(dev\) in_progress/],
    ['queued', on(running('checks (node 22)', 'queued')), /integrationTest: checks \(node 22\) queued/],
    ['failed', on(done('verify (dev)', 'failure')), /test: verify \(dev\) failure/],
    ['cancelled', on(done('checks (node 22)', 'cancelled')), /test: checks \(node 22\) cancelled/],
    ['timed out', on(done('checks (hotfix)', 'timed_out')), /test: checks \(hotfix\) timed_out/],
    // A success elsewhere does not outweigh a failure on the same commit.
    [
      'failed beside a success',
      on(done('verify (dev)'), done('checks (node 24)', 'failure')),
      /checks \(node 24\) failure/,
    ],
    // The scan job proves no tests.
    ['only a scan', on(done('scan (prod)')), /test: no check run/],
  ])('fails when the check is %s, naming it and its state', (_, facts, detail) => {
    const item = testsFromCheckRuns(facts);
    expect(item.outcome).toBe('failed');
    expect(item.reasons.join('; ')).toMatch(detail);
  });

  it('a cancelled run says nothing against the commit when another proves the steps', () => {
    expect(testsFromCheckRuns(on(done('verify (dev)'), done('checks (node 22)', 'cancelled'))).outcome).toBe('passed');
  });

  it('is inconclusive, naming why, when GitHub could not be read', () => {
    expect(testsFromCheckRuns({ known: false, reason: 'GitHub answered 503' })).toEqual({
      name: 'tests passed',
      required: true,
      outcome: 'inconclusive',
      reasons: ['check runs unknown: GitHub answered 503'],
    });
  });

  it('a merge commit without test runs: the merged PR head with the same tree stands in, and says so', () => {
    const facts: CommitChecks = {
      known: true,
      commit,
      runs: [done('scan (prod)')],
      pullHead: { kind: 'same-tree', pull: 31, head, runs: [done('checks (node 22)'), done('checks (node 24)')] },
    };
    const item = testsFromCheckRuns(facts);
    expect(item.outcome).toBe('passed');
    expect(item.reasons.join('; ')).toMatch(
      /^via PR #31 head b2b2b2b2b2b2: test passed \(checks \(node 22\), checks \(node 24\)\)/,
    );
    const oneStillRunning = testsFromCheckRuns({
      ...facts,
      pullHead: { kind: 'same-tree', pull: 31, head, runs: [done('checks (node 22)'), running('checks (node 24)')] },
    });
    expect(oneStillRunning.outcome).toBe('passed');
    expect(testsFromCheckRuns({ ...facts, pullHead: { kind: 'same-tree', pull: 31, head, runs: [] } })).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/^via PR #31 head b2b2b2b2b2b2: test: no check run/)],
    });
  });

  it('a PR head with another tree does not count: failed naming both trees', () => {
    const item = testsFromCheckRuns({
      known: true,
      commit,
      runs: [],
      pullHead: { kind: 'tree-differs', pull: 31, head, headTree: 'c3'.repeat(20), commitTree: 'd4'.repeat(20) },
    });
    expect(item).toMatchObject({ outcome: 'failed' });
    expect(item.reasons.join('; ')).toBe(
      "no test check run on a1a1a1a1a1a1; PR #31 head b2b2b2b2b2b2 has tree c3c3c3c3c3c3, a1a1a1a1a1a1 has tree d4d4d4d4d4d4: the PR's checks tested other files",
    );
  });

  it('no test runs and no merged PR: failed', () => {
    const item = testsFromCheckRuns({ known: true, commit, runs: [], pullHead: { kind: 'none' } });
    expect(item).toMatchObject({ outcome: 'failed', reasons: [expect.stringMatching(/no merged pull request/)] });
  });

  it("the commit's own test runs decide even when a PR head was looked up", () => {
    const item = testsFromCheckRuns({
      known: true,
      commit,
      runs: [done('verify (staging)', 'failure')],
      pullHead: { kind: 'same-tree', pull: 2, head, runs: [done('checks (node 22)')] },
    });
    expect(item).toMatchObject({ outcome: 'failed', reasons: [expect.stringMatching(/verify \(staging\) failure/)] });
  });
});

describe('scan passed from check runs', () => {
  const strict = { strict: !ENVIRONMENTS.prod.release.skippedAuditAcceptable };
  it('passes on a successful scan check; fails on a missing, running or failed one', () => {
    expect(scanFromCheckRuns(on(done('scan (prod)')), strict)).toMatchObject({
      name: 'scan passed',
      outcome: 'passed',
      reasons: ['check runs on a1a1a1a1a1a1: scan passed (scan (prod))'],
    });
    expect(scanFromCheckRuns(on(done('checks (node 22)')), strict).reasons.join('; ')).toMatch(
      /scan: no check run \(expected verify \(dev\) or verify \(staging\) or checks \(hotfix\) or scan \(prod\)\)/,
    );
    expect(scanFromCheckRuns(on(running('verify (staging)')), strict)).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/verify \(staging\) in_progress/)],
    });
    expect(scanFromCheckRuns(on(done('verify (dev)', 'failure')), { strict: false }).outcome).toBe('failed');
    expect(scanFromCheckRuns({ known: false, reason: 'offline' }, strict).outcome).toBe('inconclusive');
  });

  it('prod does not count a scan that may have skipped its audit (--allow-offline); staging does', () => {
    const table: CommitCheck[] = [
      ...COMMIT_CHECKS,
      { name: 'scan (offline)', workflow: 'x.yml', job: 'scan', tests: [], scan: { auditMayBeSkipped: true } },
    ];
    const facts = on(done('scan (offline)'));
    const prod = scanFromCheckRuns(facts, { strict: !ENVIRONMENTS.prod.release.skippedAuditAcceptable }, table);
    expect(prod.outcome).toBe('failed');
    expect(prod.reasons.join('; ')).toMatch(
      /not counted: scan \(offline\) \(--allow-offline: its audit may have been skipped\)/,
    );
    const staging = scanFromCheckRuns(facts, { strict: !ENVIRONMENTS.staging.release.skippedAuditAcceptable }, table);
    expect(staging.outcome).toBe('passed');
  });
});

describe('check runs as GitHub lists them', () => {
  it("keeps GitHub Actions' runs only, the latest (highest id) per name", () => {
    const actions = { slug: 'github-actions' };
    expect(
      latestByName([
        { id: 5, name: 'verify (dev)', status: 'completed', conclusion: 'failure', app: actions },
        { id: 9, name: 'verify (dev)', status: 'completed', conclusion: 'success', app: actions },
        { id: 7, name: 'verify (dev)', status: 'in_progress', conclusion: null, app: actions },
        { id: 12, name: 'checks (node 22)', status: 'completed', conclusion: 'success', app: { slug: 'other-app' } },
        { id: 3, name: 'checks (node 24)', status: 'queued', app: null },
      ]),
    ).toEqual([{ name: 'verify (dev)', status: 'completed', conclusion: 'success' }]);
  });

  it('knows which runs are test runs', () => {
    expect(hasTestRuns([running('checks (node 22)')])).toBe(true);
    expect(hasTestRuns([done('scan (prod)'), done('git-flow policy')])).toBe(false);
  });
});

describe('whether the audit was skipped, for the ledger record, from check runs', () => {
  const table: CommitCheck[] = [
    { name: 'strict scan', workflow: 'w.yml', job: 'a', tests: [], scan: { auditMayBeSkipped: false } },
    { name: 'offline scan', workflow: 'w.yml', job: 'b', tests: [], scan: { auditMayBeSkipped: true } },
  ];

  it('is false when a scan that cannot skip its audit succeeded, true when only one that may have did', () => {
    expect(auditSkippedFromCheckRuns(on(done('strict scan'), done('offline scan')), table)).toBe(false);
    expect(auditSkippedFromCheckRuns(on(done('offline scan')), table)).toBe(true);
  });

  it('is unknown when no scan succeeded (failed, running) or the runs are unknown', () => {
    expect(auditSkippedFromCheckRuns(on(done('strict scan', 'failure'), running('offline scan')), table)).toBe(
      undefined,
    );
    expect(auditSkippedFromCheckRuns({ known: false, reason: 'GitHub API error 502' }, table)).toBe(undefined);
  });

  it("reads the project's table: staging's verify job scans without --allow-offline", () => {
    expect(auditSkippedFromCheckRuns(on(done('verify (staging)')))).toBe(false);
  });
});
