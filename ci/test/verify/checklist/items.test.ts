import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import {
  approvers,
  checklistVerdict,
  migrationNames,
  migrationsItem,
  presenceItem,
  reviewItem,
  scanItem,
  testsItem,
} from '../../../src/verify/checklist/items.js';

const run = (steps: Record<string, string>, commit = 'a'.repeat(40)) => ({
  commit,
  steps: Object.entries(steps).map(([name, status]) => ({ name, status })),
});

describe('tests passed', () => {
  it('passes when test and integrationTest passed at HEAD', () => {
    expect(
      testsItem(run({ lint: 'passed', test: 'passed', integrationTest: 'passed' }), {
        path: 'r.json',
        headCommit: 'a'.repeat(40),
      }).outcome,
    ).toBe('passed');
  });
  it.each([
    [undefined, /no run report at r.json/],
    ['nonsense', /not a kgraph-ci run report/],
    [run({ test: 'passed' }), /integrationTest not run/],
    [run({ test: 'failed', integrationTest: 'passed' }), /test failed/],
    [run({ test: 'passed', integrationTest: 'passed', lint: 'failed' }), /tests passed but: lint failed/],
    [
      run({ test: 'passed', integrationTest: 'passed' }, 'b'.repeat(40)),
      /report is for bbbbbbbbbbbb, HEAD is aaaaaaaaaaaa/,
    ],
  ])('fails for %j', (report, detail) => {
    const item = testsItem(report, { path: 'r.json', headCommit: 'a'.repeat(40) });
    expect(item).toMatchObject({ outcome: 'failed', required: true });
    expect(item.reasons.join('; ')).toMatch(detail);
  });
});

describe('review approved', () => {
  it('counts the latest decisive review per user', () => {
    expect(
      approvers([
        { user: { login: 'ann' }, state: 'APPROVED' },
        { user: { login: 'bob' }, state: 'APPROVED' },
        { user: { login: 'bob' }, state: 'CHANGES_REQUESTED' },
        { user: { login: 'cy' }, state: 'CHANGES_REQUESTED' },
        { user: { login: 'cy' }, state: 'APPROVED' },
        { user: { login: 'cy' }, state: 'COMMENTED' },
        { user: null, state: 'APPROVED' },
      ]),
    ).toEqual(['ann', 'cy']);
  });
  it('is required for prod, where unknown fails closed', () => {
    const item = reviewItem(ENVIRONMENTS.prod, { known: false, reason: 'no GITHUB_TOKEN' });
    expect(item).toMatchObject({ required: true, outcome: 'inconclusive' });
    expect(item.reasons.join('; ')).toMatch(/fails closed/);
    // A required item that cannot tell holds the checklist back: inconclusive, naming it.
    expect(checklistVerdict([item])).toEqual({ outcome: 'inconclusive', reasons: ['review approved (inconclusive)'] });
    expect(reviewItem(ENVIRONMENTS.prod, { known: true, approvals: [], pullNumber: 3 })).toMatchObject({
      outcome: 'failed',
      reasons: ['PR #3: 0 approval(s), 1 required'],
    });
    expect(reviewItem(ENVIRONMENTS.prod, { known: true, approvals: ['ann'], pullNumber: 3 }).outcome).toBe('passed');
  });
  it('is optional for dev, so unknown does not block', () => {
    const item = reviewItem(ENVIRONMENTS.dev, { known: false, reason: 'no GITHUB_TOKEN' });
    expect(item).toMatchObject({ required: false, outcome: 'inconclusive' });
    expect(checklistVerdict([item])).toEqual({ outcome: 'passed', reasons: ['0 required item(s) passed'] });
  });
});

describe('migrations prepared', () => {
  const files = ['1700000000000_schema.sql', '1700000000001_index.sql', '.DS_Store', 'README.md'];
  it('names migrations as node-pg-migrate does', () => {
    expect(migrationNames(files)).toEqual(['1700000000000_schema', '1700000000001_index']);
  });
  it('lists pending ones', () => {
    expect(migrationsItem(files, { known: true, applied: ['1700000000000_schema'] })).toMatchObject({
      outcome: 'passed',
      reasons: ['1 pending, will run on deploy: 1700000000001_index'],
    });
    expect(
      migrationsItem(files, { known: true, applied: ['1700000000000_schema', '1700000000001_index'] }).reasons.join(
        '; ',
      ),
    ).toBe('up to date (2 applied)');
  });
  it('fails when the database knows migrations this version does not, or order is broken', () => {
    expect(
      migrationsItem(files, { known: true, applied: ['1700000000000_schema', '1800000000000_future'] }),
    ).toMatchObject({ outcome: 'failed', reasons: [expect.stringMatching(/does not know.*1800000000000_future/)] });
    expect(migrationsItem(files, { known: true, applied: ['1700000000001_index'] })).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/sort before/)],
    });
  });
  it('is unknown without a database', () => {
    expect(migrationsItem(files, { known: false, reason: 'no DATABASE_URL' })).toMatchObject({
      outcome: 'inconclusive',
      required: true,
    });
  });
});

describe('presence of env vars and secrets', () => {
  it('names what is missing and never a value', () => {
    const item = presenceItem('secrets present', ['DATABASE_URL', 'API_KEYS', 'SENTRY_DSN'], {
      DATABASE_URL: 'postgres://u:hunter2@db/x',
      API_KEYS: '',
    });
    expect(item).toMatchObject({ outcome: 'failed', reasons: ['missing: API_KEYS, SENTRY_DSN'] });
    const ok = presenceItem('secrets present', ['DATABASE_URL'], { DATABASE_URL: 'postgres://u:hunter2@db/x' });
    expect(ok.outcome).toBe('passed');
    expect(JSON.stringify([item, ok])).not.toContain('hunter2');
  });
});

describe('the checklist verdict', () => {
  it('is the worst of the required items, each that did not pass named with its outcome', () => {
    const item = (name: string, outcome: 'passed' | 'failed' | 'inconclusive', required = true) => ({
      name,
      required,
      outcome,
      reasons: [`${name} says ${outcome}`],
    });
    const v = checklistVerdict([
      item('a', 'passed'),
      item('b', 'inconclusive'),
      item('c', 'failed'),
      item('d', 'failed', false),
    ]);
    expect(v).toEqual({ outcome: 'failed', reasons: ['b (inconclusive)', 'c (failed)'] });
    expect(checklistVerdict([item('a', 'passed'), item('d', 'failed', false)])).toEqual({
      outcome: 'passed',
      reasons: ['1 required item(s) passed'],
    });
  });
});

describe('scan passed', () => {
  it('reads the scan report', () => {
    expect(
      scanItem(
        {
          outcome: 'passed',
          checks: [
            { name: 'secrets', outcome: 'passed' },
            { name: 'audit', outcome: 'skipped' },
          ],
        },
        's.json',
      ),
    ).toMatchObject({ outcome: 'passed', reasons: ['2 checks passed (skipped: audit)'] });
    expect(scanItem({ outcome: 'failed', checks: [{ name: 'secrets', outcome: 'failed' }] }, 's.json')).toMatchObject({
      outcome: 'failed',
      reasons: ['failed: secrets'],
    });
    expect(scanItem(undefined, 's.json').reasons.join('; ')).toMatch(/no scan report at s.json/);
    expect(scanItem({ hello: 1 }, 's.json').reasons.join('; ')).toMatch(/not a kgraph-ci scan report/);
    // A report of the old shape (a bare ok boolean, no verdict) is not read as a pass.
    expect(scanItem({ ok: true, checks: [] }, 's.json')).toMatchObject({ outcome: 'failed' });
  });
  it('does not accept a skipped audit for prod', () => {
    const report = {
      outcome: 'passed',
      checks: [
        { name: 'secrets', outcome: 'passed' },
        { name: 'audit', outcome: 'skipped' },
      ],
    };
    expect(scanItem(report, 's.json', { strict: true })).toMatchObject({
      outcome: 'failed',
      reasons: ['skipped, which this environment does not accept: audit'],
    });
    expect(scanItem({ ...report, checks: [report.checks[0]] }, 's.json', { strict: true }).outcome).toBe('passed');
  });
});
