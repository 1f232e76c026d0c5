/**
 * Where runChecklist takes "tests passed" and "scan passed" from: local history, else the commit's check runs
 * on GitHub when a client and repository are configured, else the run report; the scan report, else GitHub.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPass } from '../../../src/definitions/verdict.js';
import { runChecklist, type ChecklistOptions } from '../../../src/verify/checklist/index.js';
import { recordResult } from '../../../src/verify/runner/history.js';

const commit = '9a'.repeat(20);
let root: string;
const calls: string[] = [];

type Api = NonNullable<ChecklistOptions['octokit']>;
/** A GitHub stand-in: these check runs on `commit`, and no pull requests. */
function api(runs: { name: string; conclusion: string }[], fail?: Error): Api {
  return {
    rest: {
      checks: {
        listForRef: async (p: { ref: string }) => {
          calls.push(`checks ${p.ref}`);
          if (fail) throw fail;
          const check_runs = runs.map((r, i) => ({
            id: i + 1,
            ...r,
            status: 'completed',
            app: { slug: 'github-actions' },
          }));
          return { data: { total_count: check_runs.length, check_runs } };
        },
      },
      git: {
        getCommit: async () => {
          throw new Error('not used');
        },
      },
      repos: {
        listPullRequestsAssociatedWithCommit: async () => {
          calls.push('pulls');
          return { data: [] };
        },
      },
      pulls: { listReviews: async () => ({ data: [] }) },
    },
  };
}

const check = (r: Awaited<ReturnType<typeof runChecklist>>, name: string) => r.items.find((i) => i.name === name)!;
const run = (octokit: Api | null, repository: { repository?: string } = { repository: 'acme/kgraph' }) =>
  runChecklist({
    env: 'dev',
    root,
    commit,
    octokit,
    db: null,
    // The review item reads this PR, so the only pull request lookup left is the tests item's own.
    pullNumber: 1,
    migrationsDir: root,
    processEnv: { KGRAPH_HISTORY_DIR: join(root, 'history') },
    ...repository,
  });

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'kgraph-checklist-sources-'));
  calls.length = 0;
});
afterEach(() => rm(root, { recursive: true, force: true }));

describe('runChecklist: tests and scan sources', () => {
  it('no local results: both from the commit check runs on GitHub', async () => {
    const r = await run(api([{ name: 'verify (dev)', conclusion: 'success' }]));
    expect(check(r, 'tests passed')).toMatchObject({
      outcome: 'passed',
      reasons: [expect.stringMatching(/^check runs on 9a9a9a9a9a9a: test passed \(verify \(dev\)\)/)],
    });
    expect(check(r, 'scan passed')).toMatchObject({
      outcome: 'passed',
      reasons: [expect.stringMatching(/scan passed \(verify \(dev\)\)/)],
    });
    // One listing serves both items; the commit has its own test runs, so no pull request is looked up.
    expect(calls).toEqual([`checks ${commit}`]);
  });

  it('GitHub unreachable: both inconclusive, naming why', async () => {
    const r = await run(api([], new Error('connect ECONNREFUSED 127.0.0.1:443')));
    for (const name of ['tests passed', 'scan passed'])
      expect(check(r, name)).toMatchObject({
        outcome: 'inconclusive',
        reasons: [`check runs unknown: reading the check runs of 9a9a9a9a9a9a: connect ECONNREFUSED 127.0.0.1:443`],
      });
    expect(isPass(r)).toBe(false);
  });

  it('local history for the commit and a scan report: GitHub is not asked', async () => {
    const dir = join(root, 'history');
    for (const step of ['test', 'integrationTest'])
      await recordResult(
        root,
        {
          version: 1,
          commit,
          step,
          status: 'passed',
          finishedAt: '2026-12-06T20:00:00Z',
          durationMs: 1,
          source: 'npm test',
          tree: 'clean',
        },
        dir,
      );
    await mkdir(join(root, '.reports'));
    await writeFile(
      join(root, '.reports/scan.json'),
      JSON.stringify({ outcome: 'passed', checks: [{ name: 'secrets', outcome: 'passed' }] }),
    );
    const r = await run(api([{ name: 'verify (dev)', conclusion: 'failure' }]));
    expect(check(r, 'tests passed').outcome).toBe('passed');
    expect(check(r, 'scan passed')).toMatchObject({ outcome: 'passed', reasons: ['1 checks passed'] });
    expect(calls).toEqual([]);
  });

  it('a scan report but no local tests: tests from GitHub, scan from the report', async () => {
    await mkdir(join(root, '.reports'));
    await writeFile(
      join(root, '.reports/scan.json'),
      JSON.stringify({ outcome: 'passed', checks: [{ name: 'secrets', outcome: 'passed' }] }),
    );
    const r = await run(api([{ name: 'checks (node 22)', conclusion: 'failure' }]));
    expect(check(r, 'tests passed')).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/checks \(node 22\) failure/)],
    });
    expect(check(r, 'scan passed').reasons.join('; ')).toBe('1 checks passed');
  });

  it('GitHub not configured: the run report, and no scan report fails', async () => {
    const r = await run(null);
    expect(check(r, 'tests passed')).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/^no run report at /)],
    });
    expect(check(r, 'scan passed')).toMatchObject({
      outcome: 'failed',
      reasons: [expect.stringMatching(/^no scan report at /)],
    });
    const noRepo = await run(api([{ name: 'verify (dev)', conclusion: 'success' }]), {});
    expect(check(noRepo, 'tests passed').reasons.join('; ')).toMatch(/^no run report at /);
    expect(calls).toEqual([]);
  });
});
