/**
 * The real DeliveryDeps for `deploy` and `rollback`: kubectl via spawn, the checklist and latency gate from
 * their modules, smoke over fetch, and, when a token and a repository are given, the GitHub ledger and the
 * release facts from GitHub (local git facts otherwise). It belongs to the CLI (it reads the CLI's io);
 * deploy/ only receives the deps.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EnvironmentDefinition } from '../definitions/environments.js';
import { runChecklist } from '../verify/checklist/index.js';
import type { ChecklistDeployment, DeliveryDeps } from '../deliver/deploy/deps.js';
import type { MigrationFacts } from '../verify/checklist/items.js';
import { recordedSchemaHead } from '../platform/ledger/rollback-schema.js';
import type { GateBaseline } from '../deliver/deploy/plan.js';
import { runSmoke } from '../deliver/deploy/smoke.js';
import { gitSources, githubSources } from '../deliver/deploy/sources.js';
import { runLatencyGate } from '../gate/latency.js';
import { githubClient } from '../platform/github/client.js';
import type { RepoRef } from '../platform/github/repository.js';
import { spawnRunner, type CommandRunner } from '../platform/kube/runner.js';
import { ledgerEntries } from '../platform/ledger/entry.js';
import { actionsRunOf, githubLedger, type Ledger } from '../platform/ledger/github.js';
import { createNotifier } from '../platform/notify/notifier.js';
import { previousCommitIn } from '../platform/notify/sentry-releases.js';
import { REPO_ROOT } from '../platform/repo-root.js';
import { appendJobSummary } from '../platform/report/summary.js';
import { DEFAULT_SCAN_REPORT } from '../verify/scan/index.js';
import { auditSkippedFromCheckRuns, type CommitChecks } from '../verify/checklist/check-runs.js';
import { commitChecksIfConfigured } from '../verify/checklist/github-checks.js';
import { writeLine, type CliIo } from './io.js';
import { repositoryOf } from './options.js';

/** Whether the scan report says the dependency audit was skipped; undefined without a readable report. */
export async function auditSkippedIn(path: string): Promise<boolean | undefined> {
  try {
    const report = JSON.parse(await readFile(path, 'utf8')) as { checks?: { name?: unknown; outcome?: unknown }[] };
    const audit = report.checks?.find((c) => c.name === 'audit');
    return audit ? audit.outcome === 'skipped' : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether a gate report compared the candidate against a baseline: a `baseline` that names what it measured
 * (not `{ unavailable }`). Undefined when the report has no baseline field at all, which the release policy
 * reads as "no baseline comparison" wherever one is required.
 */
export function baselineCompared(report: object): boolean | undefined {
  if (!('baseline' in report)) return undefined;
  const b = (report as { baseline?: unknown }).baseline;
  return typeof b === 'object' && b !== null && !('unavailable' in b);
}

/** The database's schema head as the ledger records it, for the deploy's checklist; unreadable = unknown. */
async function ledgerSchema(ledger: Ledger, environment: string): Promise<MigrationFacts> {
  try {
    const facts = recordedSchemaHead(ledgerEntries(await ledger.read({ environment })), environment);
    return facts.known ? { known: true, head: facts.head, source: 'the delivery ledger' } : facts;
  } catch (err) {
    return { known: false, reason: `the delivery ledger is unreadable: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** A read done once per key: the promise of the first call answers every later one. */
function oncePer<T>(read: (key: string) => Promise<T>): (key: string) => Promise<T> {
  const seen = new Map<string, Promise<T>>();
  return (key) => {
    const known = seen.get(key);
    if (known) return known;
    const reading = read(key);
    seen.set(key, reading);
    return reading;
  };
}

/** Where the deploy reads GitHub: the repository, its ledger, and the commit's check runs (read once). */
interface DeployGithub {
  readonly repo: RepoRef;
  readonly ledger: Ledger | undefined;
  readonly checksOf: (commit: string) => Promise<CommitChecks | undefined>;
}

/**
 * The checklist as a deploy runs it. In a deploy: variables from the manifests it applies, secret key names from
 * the cluster, the schema the ledger records (the deploying container reaches neither the pods' environment nor
 * the database); the repository and the image's commit too: in CI the tests and scan items read that commit's
 * check runs there.
 */
function deployChecklist(
  io: CliIo,
  root: string,
  runner: CommandRunner,
  github: DeployGithub | undefined,
): DeliveryDeps['checklist'] {
  return async (env: EnvironmentDefinition, deployment?: ChecklistDeployment) =>
    runChecklist({
      env: env.name,
      environment: env,
      processEnv: io.env,
      root,
      ...(github ? { repository: `${github.repo.owner}/${github.repo.repo}` } : {}),
      ...(deployment?.commit ? { commit: deployment.commit } : {}),
      ...(github && deployment?.commit ? { commitChecks: () => github.checksOf(deployment.commit!) } : {}),
      ...(deployment
        ? {
            deployment: {
              manifests: deployment.manifests,
              namespace: env.namespace,
              runner,
              ...(github?.ledger ? { schema: await ledgerSchema(github.ledger, env.name) } : {}),
            },
          }
        : {}),
    });
}

export function realDeps(io: CliIo, opts: { repo?: RepoRef } = {}): DeliveryDeps {
  // kubectl runs from the repository root, where k8s/ lives, wherever the CLI was started.
  const root = REPO_ROOT;
  const { github, missing } = githubOf(io, opts.repo);
  const ledger = github
    ? githubLedger(github.octokit, github.repo, { ...actionsRunOf(io.env), warn: (l) => writeLine(io.stderr, l) })
    : undefined;
  // Sentry's commit range starts at the previous release that went live in the same environment (the ledger).
  const previousCommit = async (environment: string, commit: string) =>
    ledger ? previousCommitIn(ledgerEntries(await ledger.read({ environment })), environment, commit) : undefined;
  const notifier = createNotifier({ env: io.env, log: (l) => writeLine(io.stderr, l), previousCommit });
  const runner = spawnRunner(io.env, root);
  // In CI the checklist (tests, scan) and the audit record both read the commit's check runs: one read serves both.
  const checksOf = oncePer(
    async (commit: string) =>
      github &&
      commitChecksIfConfigured({
        api: github.octokit,
        repository: `${github.repo.owner}/${github.repo.repo}`,
        commit,
        pullHead: true,
      }),
  );
  return {
    runner,
    checklist: deployChecklist(io, root, runner, github && { repo: github.repo, ledger, checksOf }),
    gate: latencyGateDep(io),
    smoke: (baseUrl: string) => runSmoke({ baseUrl, ...(io.env.API_KEY ? { apiKey: io.env.API_KEY } : {}) }),
    ...(github
      ? { ledger: ledger!, sources: githubSources(github.octokit, github.repo) }
      : { ledgerMissing: `no GitHub ledger: ${missing}`, sources: gitSources(io.cwd) }),
    auditSkipped: auditSkippedDep(io, checksOf),
    out: (l) => writeLine(io.stdout, l),
    err: (l) => writeLine(io.stderr, l),
    summary: (md) => appendJobSummary(md, io.env),
    announce: (env, a) => notifier.announce(env, a),
    cwd: io.cwd,
    env: io.env,
  };
}

/** The GitHub client and repository when a token and a repository are given, else why not. */
function githubOf(io: CliIo, repo: RepoRef | undefined) {
  const hasRepo = Boolean(repo || io.env.GITHUB_REPOSITORY);
  const github =
    io.env.GITHUB_TOKEN && hasRepo ? { octokit: githubClient(io.env), repo: repositoryOf(repo, io) } : undefined;
  const missing = [
    ...(io.env.GITHUB_TOKEN ? [] : ['GITHUB_TOKEN is not set']),
    ...(hasRepo ? [] : ['no --repo or GITHUB_REPOSITORY']),
  ].join(' and ');
  return { github, missing };
}

/**
 * The deploy's latency gate. The baseline comes from the plan: the temporary baseline Deployment in this
 * environment's namespace (deploy/baseline.ts), called at its in-cluster Service with this environment's own
 * API key. Never another environment's URL. No baseline in the plan's step: the gate compares against none,
 * the ledger records no comparison, and a promotion that needs one is refused (its baseline rule fails closed).
 */
function latencyGateDep(io: CliIo): NonNullable<DeliveryDeps['gate']> {
  return async (env: EnvironmentDefinition, baseUrl: string, planned?: GateBaseline) => {
    const apiKey = io.env.API_KEY ? { apiKey: io.env.API_KEY } : {};
    const baseline = planned && 'baseUrl' in planned ? { ...planned, ...apiKey } : planned;
    const report = await runLatencyGate({
      candidate: { baseUrl, ...apiKey },
      ...(baseline ? { baseline } : {}),
      environment: env,
      log: (l) => writeLine(io.stderr, l),
    });
    const compared = baselineCompared(report);
    return { ...report, ...(compared !== undefined ? { baselineCompared: compared } : {}) };
  };
}

/** The scan report where the scan ran here; in CI (none in the deploying container) the commit's scan check run. */
function auditSkippedDep(
  io: CliIo,
  checksOf: (commit: string) => Promise<Parameters<typeof auditSkippedFromCheckRuns>[0] | undefined>,
): NonNullable<DeliveryDeps['auditSkipped']> {
  return async (commit?: string) => {
    const fromReport = await auditSkippedIn(resolve(io.cwd, DEFAULT_SCAN_REPORT));
    if (fromReport !== undefined || !commit) return fromReport;
    const checks = await checksOf(commit);
    return checks ? auditSkippedFromCheckRuns(checks) : undefined;
  };
}
