import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { FailedError, UsageError } from '../../../src/definitions/errors.js';
import { createOctokit } from '../../../src/platform/github/client.js';
import { parseRepository } from '../../../src/platform/github/repository.js';
import { applyProtection, POLICY_CHECK, protectionPolicy } from '../../../src/platform/github/protect.js';
import { cutRelease, nextReleaseBranch } from '../../../src/deliver/release/cut.js';
import { publishRelease } from '../../../src/deliver/release/release.js';
import { fakeGitHub, type Expectation, type FakeGitHub } from './fake-github.js';
import { Writable } from 'node:stream';

const repo = { owner: 'acme', repo: 'kgraph' };
const SHA = 'a'.repeat(40);
const TOKEN = 'ghp_secret_token_value';
let server: FakeGitHub | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});
const start = async (exp: Expectation[]) => {
  server = await fakeGitHub(exp);
  return createOctokit({ token: TOKEN, baseUrl: server.url });
};
const log: string[] = [];
const pushLog = (l: string) => void log.push(l);

const releaseLookups = (status: 'behind' | 'identical' | 'ahead' | 'diverged'): Expectation[] => [
  { method: 'GET', path: '/repos/acme/kgraph/commits/tags%2Fv1.2.3', response: { sha: SHA } },
  { method: 'GET', path: `/repos/acme/kgraph/compare/main...${SHA}?per_page=1`, response: { status } },
];
const notes: Expectation = {
  method: 'POST',
  path: '/repos/acme/kgraph/releases/generate-notes',
  body: { tag_name: 'v1.2.3' },
  response: { name: 'v1.2.3', body: '## What changed' },
};

describe('release', () => {
  it('creates the release with generated notes when the tag is on main, and marks deployments', async () => {
    const octokit = await start([
      ...releaseLookups('behind'),
      notes,
      {
        method: 'GET',
        path: '/repos/acme/kgraph/releases/tags/v1.2.3',
        status: 404,
        response: { message: 'Not Found' },
      },
      {
        method: 'POST',
        path: '/repos/acme/kgraph/releases',
        body: { tag_name: 'v1.2.3', name: 'v1.2.3', body: '## What changed', prerelease: false, draft: false },
        status: 201,
        response: { id: 7, html_url: 'https://gh/r/7' },
      },
      {
        method: 'POST',
        path: '/repos/acme/kgraph/deployments',
        body: {
          ref: 'v1.2.3',
          environment: 'prod',
          production_environment: true,
          required_contexts: [],
          auto_merge: false,
        },
        status: 201,
        response: { id: 99 },
      },
      {
        method: 'POST',
        path: '/repos/acme/kgraph/deployments/99/statuses',
        body: { state: 'success', environment_url: 'https://kgraph-mcp.example.com' },
        status: 201,
        response: {},
      },
    ]);
    const res = await publishRelease(octokit, repo, { tag: 'v1.2.3', deployedTo: ['prod'], log: pushLog });
    expect(res).toMatchObject({ action: 'created', id: 7, sha: SHA, deployments: [{ environment: 'prod', id: 99 }] });
    expect(server!.problems).toEqual([]);
    expect(server!.seen[0]!.auth).toBe(`token ${TOKEN}`);
  });

  it('re-running updates the existing release instead of failing', async () => {
    const octokit = await start([
      ...releaseLookups('identical'),
      notes,
      { method: 'GET', path: '/repos/acme/kgraph/releases/tags/v1.2.3', response: { id: 7 } },
      {
        method: 'PATCH',
        path: '/repos/acme/kgraph/releases/7',
        body: { tag_name: 'v1.2.3', body: '## What changed' },
        response: { id: 7, html_url: 'https://gh/r/7' },
      },
    ]);
    expect((await publishRelease(octokit, repo, { tag: 'v1.2.3', log: pushLog })).action).toBe('updated');
    expect(server!.problems).toEqual([]);
  });

  it('refuses a tag whose commit is not on main, and a tag that is not semver', async () => {
    const octokit = await start(releaseLookups('ahead'));
    await expect(publishRelease(octokit, repo, { tag: 'v1.2.3', log: pushLog })).rejects.toThrow(
      new FailedError(
        `tag v1.2.3 points at ${SHA.slice(0, 12)}, which is not on main: releases are tagged on main only`,
      ),
    );
    await expect(publishRelease(octokit, repo, { tag: 'v1.2', log: pushLog })).rejects.toThrow(UsageError);
    expect(server!.problems).toEqual([]);
  });

  it.each([
    [
      401,
      {},
      { message: 'Bad credentials' },
      UsageError,
      'looking up tag v1.2.3: GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN',
    ],
    [
      404,
      {},
      { message: 'Not Found' },
      FailedError,
      'looking up tag v1.2.3: not found (404): the repository, branch or tag does not exist or the token cannot see it',
    ],
    [
      422,
      {},
      { message: 'Validation Failed', errors: [{ resource: 'Release', code: 'already_exists', field: 'tag_name' }] },
      FailedError,
      'looking up tag v1.2.3: GitHub rejected the request (422: Validation Failed)',
    ],
    [
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1767225600' },
      { message: 'API rate limit exceeded' },
      FailedError,
      'looking up tag v1.2.3: GitHub rate limit exceeded until 2026-01-01T00:00:00.000Z; retry later',
    ],
    [429, {}, { message: 'slow down' }, FailedError, 'GitHub rate limit exceeded'],
  ])('a %i gets a clear message without the token', async (status, headers, response, type, message) => {
    const octokit = await start([
      { method: 'GET', path: '/repos/acme/kgraph/commits/tags%2Fv1.2.3', status, headers, response },
    ]);
    const err = (await publishRelease(octokit, repo, { tag: 'v1.2.3', log: pushLog }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(type);
    expect(err.message).toContain(message);
    expect(err.message).not.toContain(TOKEN);
  });
});

describe('release cut', () => {
  it('picks the next minor after the latest release tag', () => {
    expect(nextReleaseBranch(['v1.2.3', 'v1.10.0', 'v2.0.0-rc.1', 'junk', 'v1.9.9'])).toEqual({
      version: 'v1.11.0',
      branch: 'release/1.11.0',
    });
    expect(nextReleaseBranch([])).toEqual({ version: 'v0.1.0', branch: 'release/0.1.0' });
  });

  it('creates release/<next> from develop; a second run finds it and does nothing', async () => {
    const ahead = {
      method: 'GET',
      path: '/repos/acme/kgraph/compare/main...develop?per_page=1',
      response: { ahead_by: 3 },
    } as const;
    const octokit = await start([
      ahead,
      {
        method: 'GET',
        path: '/repos/acme/kgraph/tags?per_page=100',
        response: [{ name: 'v0.3.1' }, { name: 'v0.2.0' }],
      },
      { method: 'GET', path: '/repos/acme/kgraph/git/ref/heads%2Fdevelop', response: { object: { sha: SHA } } },
      {
        method: 'GET',
        path: '/repos/acme/kgraph/git/ref/heads%2Frelease%2F0.4.0',
        status: 404,
        response: { message: 'Not Found' },
      },
      {
        method: 'POST',
        path: '/repos/acme/kgraph/git/refs',
        body: { ref: 'refs/heads/release/0.4.0', sha: SHA },
        status: 201,
        response: {},
      },
      ahead,
      { method: 'GET', path: '/repos/acme/kgraph/tags?per_page=100', response: [{ name: 'v0.3.1' }] },
      { method: 'GET', path: '/repos/acme/kgraph/git/ref/heads%2Fdevelop', response: { object: { sha: SHA } } },
      { method: 'GET', path: '/repos/acme/kgraph/git/ref/heads%2Frelease%2F0.4.0', response: { object: { sha: SHA } } },
    ]);
    expect(await cutRelease(octokit, repo, 'develop', pushLog)).toMatchObject({
      branch: 'release/0.4.0',
      created: true,
    });
    expect(await cutRelease(octokit, repo, 'develop', pushLog)).toMatchObject({
      branch: 'release/0.4.0',
      created: false,
    });
    expect(server!.problems).toEqual([]);
  });

  it('an empty train (develop has nothing main lacks) cuts no branch', async () => {
    const octokit = await start([
      {
        method: 'GET',
        path: '/repos/acme/kgraph/compare/main...develop?per_page=1',
        response: { ahead_by: 0 },
      },
    ]);
    const lines: string[] = [];
    expect(await cutRelease(octokit, repo, 'develop', (l) => lines.push(l))).toMatchObject({ empty: true });
    expect(lines.join('\n')).toContain('empty train');
    expect(server!.problems).toEqual([]);
  });
});

describe('github protect', () => {
  it('puts the protection of main and develop', async () => {
    const octokit = await start([
      {
        method: 'PUT',
        path: '/repos/acme/kgraph/branches/main/protection',
        body: {
          required_status_checks: { strict: true, contexts: [POLICY_CHECK] },
          required_pull_request_reviews: { required_approving_review_count: 1, dismiss_stale_reviews: true },
          allow_force_pushes: false,
          allow_deletions: false,
          enforce_admins: true,
          restrictions: null,
        },
      },
      {
        method: 'PUT',
        path: '/repos/acme/kgraph/branches/develop/protection',
        body: {
          required_pull_request_reviews: { required_approving_review_count: 0, dismiss_stale_reviews: false },
          allow_force_pushes: false,
        },
      },
    ]);
    await applyProtection(octokit, repo, protectionPolicy(), pushLog);
    expect(server!.problems).toEqual([]);
  });

  it('needs a token and a repository (exit 2 from the CLI)', async () => {
    const sink = () => {
      const chunks: string[] = [];
      return { chunks, stream: new Writable({ write: (c: Buffer, _e, cb) => (chunks.push(c.toString()), cb()) }) };
    };
    const err = sink();
    expect(
      await runCli(['github', 'protect', '--repo', 'acme/kgraph'], {
        stdout: sink().stream,
        stderr: err.stream,
        env: {},
        cwd: process.cwd(),
      }),
    ).toBe(2);
    expect(err.chunks.join('')).toContain('GITHUB_TOKEN is not set');
    expect(() => parseRepository('not a repo')).toThrow(/"not a repo" is not owner\/name/);
    expect(() => parseRepository(undefined)).toThrow(UsageError);
  });
});

describe('release assets', () => {
  it('attaches the SBOM to the release, replacing an asset of the same name on a re-run', async () => {
    const sbom = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] });
    const octokit = await start([
      ...releaseLookups('behind'),
      notes,
      { method: 'GET', path: '/repos/acme/kgraph/releases/tags/v1.2.3', response: { id: 7 } },
      {
        method: 'PATCH',
        path: '/repos/acme/kgraph/releases/7',
        response: {
          id: 7,
          html_url: 'https://gh/r/7',
          upload_url: '/uploads/repos/acme/kgraph/releases/7/assets{?name,label}',
        },
      },
      {
        method: 'GET',
        path: '/repos/acme/kgraph/releases/7/assets?per_page=100',
        response: [
          { id: 41, name: 'kgraph-mcp-v1.2.3.cdx.json' },
          { id: 42, name: 'other.txt' },
        ],
      },
      { method: 'DELETE', path: '/repos/acme/kgraph/releases/assets/41', status: 204 },
      {
        method: 'POST',
        path: '/uploads/repos/acme/kgraph/releases/7/assets?name=kgraph-mcp-v1.2.3.cdx.json',
        body: { bomFormat: 'CycloneDX' },
        status: 201,
        response: { id: 43 },
      },
    ]);
    const res = await publishRelease(octokit, repo, {
      tag: 'v1.2.3',
      assets: [{ name: 'kgraph-mcp-v1.2.3.cdx.json', contentType: 'application/vnd.cyclonedx+json', data: sbom }],
      log: pushLog,
    }).catch((e: Error) => {
      throw new Error(`${e.message}: ${server!.problems.join('; ')}`);
    });
    expect(res.assets).toEqual(['kgraph-mcp-v1.2.3.cdx.json']);
    expect(server!.problems).toEqual([]);
  });
});
