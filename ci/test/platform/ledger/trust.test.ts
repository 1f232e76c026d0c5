/**
 * Who the ledger believes. Records planted by an ordinary user account, statuses a user adds to the Actions
 * app's record, records whose image and digest disagree, and records whose workflow run (read back from the
 * Actions API) is not the staging workflow on release/* or hotfix/* for the same commit, or did not succeed:
 * none of them makes a digest eligible for prod or a promotion candidate.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/program.js';
import { createOctokit } from '../../../src/platform/github/client.js';
import { PAYLOAD_SCHEMA } from '../../../src/platform/ledger/entry.js';
import { githubLedger } from '../../../src/platform/ledger/github.js';
import { captureIo } from '../../cli/io.js';
import { fakeLedger, type FakeLedger } from '../github/fake-ledger.js';

const TOKEN = 'ghp_actions_token_never_printed_0123456789';
const MALLORY = 'ghp_mallory_user_token_0123456789abcdef';
const SHA = 'c0'.repeat(20);
const TREE = 'a1'.repeat(20);
const FORGED = `sha256:${'66'.repeat(32)}`;
const IMAGE = 'ghcr.io/kgraph-mcp/kgraph-mcp';
const now = Date.now();
const at = (msAgo: number) => new Date(now - msAgo).toISOString();

let fake: FakeLedger | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

async function ledger(): Promise<FakeLedger> {
  fake = await fakeLedger({
    identities: { [MALLORY]: 'mallory' },
    commits: { 'tags/v1.4.0': { sha: SHA, tree: TREE, date: at(3 * 3_600_000), onMain: true } },
  });
  return fake;
}

const payload = (operation: string, over: Record<string, unknown> = {}) => ({
  schema: PAYLOAD_SCHEMA,
  operation,
  environment: 'staging',
  image: `${IMAGE}@${FORGED}`,
  digest: FORGED,
  commit: SHA,
  tree: TREE,
  version: 'staging-forged',
  startedAt: at(3_700_000),
  auditSkipped: false,
  ...over,
});

type Seed = Parameters<FakeLedger['seed']>[0];
/** A staging deploy and its passed gate (baseline compared), an hour old: what prod promotes. */
function stagePass(
  f: FakeLedger,
  over: { deploy?: Partial<Seed>; gate?: Partial<Seed>; payload?: Record<string, unknown> } = {},
) {
  const d = f.seed({
    environment: 'staging',
    payload: payload('deploy', over.payload),
    createdAt: at(3_700_000),
    statuses: [
      { state: 'in_progress', at: at(3_690_000) },
      { state: 'success', at: at(3_600_000) },
    ],
    ...over.deploy,
  });
  f.seed({
    environment: 'staging',
    task: 'kgraph-ci:gate',
    payload: payload('gate', { of: String(d.id), gate: { passed: true, baselineCompared: true }, ...over.payload }),
    createdAt: at(3_600_000),
    statuses: [{ state: 'success', at: at(3_599_000) }],
    ...over.gate,
  });
  return d;
}

async function cli(args: string[], env: Record<string, string>) {
  const io = captureIo(env, mkdtempSync(join(tmpdir(), 'kgraph-trust-')));
  const code = await runCli(args, io);
  return { code, out: io.out(), err: io.err() };
}

const env = (f: FakeLedger, extra: Record<string, string> = {}) => ({
  GITHUB_TOKEN: TOKEN,
  GITHUB_API_URL: f.url,
  GITHUB_REPOSITORY: 'acme/kgraph',
  PATH: process.env.PATH ?? '',
  ...extra,
});
const candidate = (f: FakeLedger, extra: Record<string, string> = {}) =>
  cli(['promotion', 'candidate', '--version', 'v1.4.0'], env(f, extra));

describe('the ledger believes the GitHub Actions app, and the run behind a pass', { timeout: 60_000 }, () => {
  it('control: a pass recorded by the Actions app from deploy-staging on release/* for the commit is the candidate', async () => {
    const f = await ledger();
    stagePass(f);
    expect(await candidate(f)).toMatchObject({ code: 0, out: `${IMAGE}@${FORGED}\n` });
  });

  it('a staging pass created by an ordinary user account makes nothing eligible and is no candidate', async () => {
    const f = await ledger();
    stagePass(f, { deploy: { creator: 'mallory' }, gate: { creator: 'mallory' } });
    const c = await candidate(f);
    expect(c.out).toBe('none\n');
    expect(c.err).toMatch(/not believing deployment \d+: created by mallory, not a trusted writer/);
    const deploy = await cli(['deploy', '--env', 'prod', '--version', 'v1.4.0', '--dry-run'], env(f));
    expect(deploy.code).not.toBe(0);
    expect(deploy.out + deploy.err).not.toMatch(/ELIGIBLE/);
    expect(deploy.out + deploy.err).not.toContain(FORGED);
  });

  it('a staging pass a user writes through the API (deployment and statuses) is not believed', async () => {
    const f = await ledger();
    const asMallory = githubLedger(createOctokit({ token: MALLORY, baseUrl: f.url }), {
      owner: 'acme',
      repo: 'kgraph',
    });
    const d = await asMallory.open(payload('deploy') as never, { ref: SHA, production: false, description: 'x' });
    await d.finish('success', 'passed');
    const g = await asMallory.open(
      payload('gate', { of: d.id, gate: { passed: true, baselineCompared: true } }) as never,
      {
        ref: SHA,
        production: false,
        description: 'gate',
      },
    );
    await g.finish('success', 'passed');
    expect(f.deployments.map((x) => x.creator.login)).toEqual(['mallory', 'mallory']);
    expect((await candidate(f)).out).toBe('none\n');
  });

  it('a user\'s later "passed" does not override the Actions app\'s "failed": the last word is the app\'s', async () => {
    const f = await ledger();
    stagePass(f, {
      deploy: {
        statuses: [
          { state: 'in_progress', at: at(3_690_000) },
          { state: 'failure', at: at(3_650_000) },
          { state: 'success', at: at(3_600_000), creator: 'mallory' },
        ],
      },
    });
    expect((await candidate(f)).out).toBe('none\n');
    const records = await githubLedger(createOctokit({ token: TOKEN, baseUrl: f.url }), {
      owner: 'acme',
      repo: 'kgraph',
    }).read({ environment: 'staging' });
    expect(records.find((r) => r.payload.operation === 'deploy')?.state).toBe('failure');
  });

  it('a record whose image and digest disagree is refused', async () => {
    const f = await ledger();
    stagePass(f, { payload: { image: `${IMAGE}@sha256:${'77'.repeat(32)}` } });
    const c = await candidate(f);
    expect(c.out).toBe('none\n');
    expect(c.err).toMatch(/its image is sha256:7777\S*, its digest says sha256:6666/);
  });

  it.each([
    [
      'a feature-branch run of another workflow',
      { path: '.github/workflows/ci.yml', head_branch: 'feature/x' },
      /ci\.yml on feature\/x, not/,
    ],
    ['deploy-staging on a feature branch', { head_branch: 'feature/x' }, /deploy-staging\.yml on feature\/x, not/],
    ['the staging workflow for another commit', { head_sha: 'd0'.repeat(20) }, /built d0d0\S*, not c0c0/],
    ['a staging run that failed', { conclusion: 'failure' }, /ended failure/],
    ['a staging run still in progress', { status: 'in_progress', conclusion: null }, /is in_progress/],
    [
      'deploy-prod on a tag, read from outside that run',
      { path: '.github/workflows/deploy-prod.yml', head_branch: 'v1.4.0' },
      /trusted only from inside that run/,
    ],
  ])('a pass whose status links %s is not believed', async (_what, run, why) => {
    const f = await ledger();
    const r = f.addRun({ head_sha: SHA, ...run });
    stagePass(f, { deploy: { run: r.id }, gate: { run: r.id } });
    const c = await candidate(f);
    expect(c.out).toBe('none\n');
    expect(c.err).toMatch(why);
  });

  it('a pass whose status links no run, or a run that GitHub does not know, is not believed', async () => {
    const f = await ledger();
    stagePass(f, { deploy: { run: null }, gate: { run: null } });
    expect((await candidate(f)).err).toMatch(/its status links no workflow run of this repository/);
    const g = await ledger();
    stagePass(g, { deploy: { run: 424242 }, gate: { run: 424242 } });
    const c = await candidate(g);
    expect(c.out).toBe('none\n');
    expect(c.err).toMatch(/reading workflow run 424242: not found \(404\)/);
  });

  it('hotfix/* through hotfix.yml is believed; deploy-prod staging inside its own run is believed', async () => {
    const f = await ledger();
    const hot = f.addRun({ head_sha: SHA, path: '.github/workflows/hotfix.yml', head_branch: 'hotfix/1.4.1' });
    stagePass(f, { deploy: { run: hot.id }, gate: { run: hot.id } });
    expect((await candidate(f)).out).toBe(`${IMAGE}@${FORGED}\n`);
    const g = await ledger();
    const own = g.addRun({
      head_sha: SHA,
      path: '.github/workflows/deploy-prod.yml',
      head_branch: 'v1.4.0',
      status: 'in_progress',
      conclusion: null,
    });
    stagePass(g, { deploy: { run: own.id }, gate: { run: own.id } });
    expect((await candidate(g, { GITHUB_RUN_ID: String(own.id) })).out).toBe(`${IMAGE}@${FORGED}\n`);
  });

  it('every status the ledger writes links the workflow run that wrote it', async () => {
    const f = await ledger();
    const l = githubLedger(
      createOctokit({ token: TOKEN, baseUrl: f.url }),
      { owner: 'acme', repo: 'kgraph' },
      {
        runUrl: f.runUrl(99),
        ownRunId: 99,
      },
    );
    const h = await l.open(payload('deploy') as never, { ref: SHA, production: false, description: 'x' });
    await h.finish('success', 'done');
    expect(f.deployments[0]!.statuses.map((s) => s.log_url)).toEqual([f.runUrl(99), f.runUrl(99)]);
  });
});
