/**
 * The check-runs edge through a real Octokit against a local HTTP server: paging, the PR-head fallback by tree,
 * and GitHub failures as reasons (never a throw, never the token).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Octokit } from '@octokit/rest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { commitChecksIfConfigured, readCommitChecks } from '../../../src/verify/checklist/github-checks.js';

const repo = { owner: 'acme', repo: 'kgraph' };
const merge = 'e5'.repeat(20);
const head = 'f6'.repeat(20);
const actions = { slug: 'github-actions' };

/** path (with query) -> [status, body]; anything else 404. */
let routes: Record<string, [number, unknown]> = {};
const requests: string[] = [];
let server: Server;
let octokit: Octokit;

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url!);
    const [status, body] = routes[req.url!] ?? [404, { message: 'Not Found' }];
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  octokit = new Octokit({
    auth: 'ghs_secrettoken123',
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  routes = {};
  requests.length = 0;
});

const runsPath = (sha: string, page: number) =>
  `/repos/acme/kgraph/commits/${sha}/check-runs?per_page=100&page=${page}`;
const run = (id: number, name: string, conclusion: string | null = 'success') => ({
  id,
  name,
  status: conclusion ? 'completed' : 'in_progress',
  conclusion,
  app: actions,
});
const filler = (from: number, n: number) => Array.from({ length: n }, (_, i) => run(from + i, `other ${from + i}`));

describe('readCommitChecks', () => {
  it('reads every page and keeps the latest run per name', async () => {
    routes[runsPath(merge, 1)] = [
      200,
      { total_count: 230, check_runs: [run(1, 'verify (dev)', 'failure'), ...filler(100, 99)] },
    ];
    routes[runsPath(merge, 2)] = [200, { total_count: 230, check_runs: filler(200, 100) }];
    routes[runsPath(merge, 3)] = [
      200,
      { total_count: 230, check_runs: [run(400, 'verify (dev)'), ...filler(300, 29)] },
    ];
    const facts = await readCommitChecks(octokit, repo, merge, { pullHead: true });
    expect(requests).toEqual([runsPath(merge, 1), runsPath(merge, 2), runsPath(merge, 3)]);
    if (!facts.known) throw new Error(facts.reason);
    expect(facts.runs).toHaveLength(229);
    expect(facts.runs.find((r) => r.name === 'verify (dev)')).toEqual({
      name: 'verify (dev)',
      status: 'completed',
      conclusion: 'success',
    });
    // Its own test runs: no pull request is looked up.
    expect(facts.pullHead).toBeUndefined();
  });

  it('no test runs of its own: the merged PR (the one it merges) and both trees, then the head runs when equal', async () => {
    routes[runsPath(merge, 1)] = [200, { total_count: 1, check_runs: [run(1, 'scan (prod)')] }];
    routes[`/repos/acme/kgraph/commits/${merge}/pulls`] = [
      200,
      [
        {
          number: 7,
          merged_at: '2026-12-01T00:00:00Z',
          merge_commit_sha: 'ab'.repeat(20),
          head: { sha: 'cd'.repeat(20) },
        },
        { number: 8, merged_at: null, head: { sha: 'ef'.repeat(20) } },
        { number: 31, merged_at: '2026-12-05T00:00:00Z', merge_commit_sha: merge, head: { sha: head } },
      ],
    ];
    routes[`/repos/acme/kgraph/git/commits/${merge}`] = [200, { sha: merge, tree: { sha: '11'.repeat(20) } }];
    routes[`/repos/acme/kgraph/git/commits/${head}`] = [200, { sha: head, tree: { sha: '11'.repeat(20) } }];
    routes[runsPath(head, 1)] = [
      200,
      { total_count: 2, check_runs: [run(5, 'checks (node 22)'), run(6, 'checks (node 24)')] },
    ];
    const facts = await readCommitChecks(octokit, repo, merge, { pullHead: true });
    expect(facts).toEqual({
      known: true,
      commit: merge,
      runs: [{ name: 'scan (prod)', status: 'completed', conclusion: 'success' }],
      pullHead: {
        kind: 'same-tree',
        pull: 31,
        head,
        runs: [
          { name: 'checks (node 22)', status: 'completed', conclusion: 'success' },
          { name: 'checks (node 24)', status: 'completed', conclusion: 'success' },
        ],
      },
    });

    routes[`/repos/acme/kgraph/git/commits/${head}`] = [200, { sha: head, tree: { sha: '22'.repeat(20) } }];
    const differs = await readCommitChecks(octokit, repo, merge, { pullHead: true });
    expect(differs).toMatchObject({
      known: true,
      pullHead: { kind: 'tree-differs', pull: 31, head, headTree: '22'.repeat(20), commitTree: '11'.repeat(20) },
    });

    routes[`/repos/acme/kgraph/commits/${merge}/pulls`] = [200, [{ number: 8, merged_at: null, head: { sha: head } }]];
    expect(await readCommitChecks(octokit, repo, merge, { pullHead: true })).toMatchObject({
      pullHead: { kind: 'none' },
    });
  });

  it('GitHub failing or unreachable is a reason, not a throw, and never carries the token', async () => {
    routes[runsPath(merge, 1)] = [503, { message: 'Service Unavailable' }];
    const down = await readCommitChecks(octokit, repo, merge, { pullHead: true });
    expect(down).toEqual({
      known: false,
      reason: 'reading the check runs of e5e5e5e5e5e5: GitHub answered 503 (Service Unavailable)',
    });
    const closed = new Octokit({ auth: 'ghs_secrettoken123', baseUrl: 'http://127.0.0.1:1' });
    const unreachable = await readCommitChecks(closed, repo, merge, { pullHead: false });
    expect(unreachable.known).toBe(false);
    expect(JSON.stringify([down, unreachable])).not.toContain('secrettoken');
  });

  it('only when configured: no client, repository or commit means undefined (local reports decide)', async () => {
    const base = { api: octokit, repository: 'acme/kgraph', commit: merge, pullHead: false };
    expect(await commitChecksIfConfigured({ ...base, api: null })).toBeUndefined();
    expect(await commitChecksIfConfigured({ ...base, repository: undefined })).toBeUndefined();
    expect(await commitChecksIfConfigured({ ...base, commit: undefined })).toBeUndefined();
    expect(requests).toEqual([]);
    expect(await commitChecksIfConfigured({ ...base, repository: 'not a repo' })).toEqual({
      known: false,
      reason: 'repository "not a repo" is not owner/name',
    });
  });
});
