/**
 * The ledger where GitHub keeps it: each record is a deployment (task `kgraph-ci:<operation>`, payload
 * a LedgerPayload) and its statuses. Runners come and go; the repository's deployments stay. Records are
 * believed only as trust.ts says: a trusted writer, its own statuses, image and digest agreeing, and for
 * evidence environments the workflow run its status links to (log_url), read back from the Actions API.
 */
import type { Octokit } from '@octokit/rest';
import { gh } from '../github/client.js';
import { createDeployment, setDeploymentStatus } from '../github/deployments.js';
import type { RepoRef } from '../github/repository.js';
import { asPayload, FINDING_OPERATIONS, type FinalState, type LedgerPayload, type LedgerRecord } from './entry.js';
import { imageDigestConflict, isTrustedWriter, runIdOf, runRefusal, runRulesFor, type WorkflowRun } from './trust.js';

export interface LedgerHandle {
  readonly id: string;
  finish(state: FinalState, description: string): Promise<void>;
}

export interface ReadOptions {
  readonly environment?: string;
  /** Only records created at or after this time (ms since the epoch). */
  readonly sinceMs?: number;
  /** Newest first, at most this many deployments are read (default 500). */
  readonly max?: number;
}

export interface Ledger {
  /** Where the records live, for messages ("GitHub acme/kgraph"). */
  readonly where: string;
  read(opts?: ReadOptions): Promise<LedgerRecord[]>;
  /** Starts a record (state in_progress); `ref` is the commit or tag it is about. */
  open(
    payload: LedgerPayload,
    opts: {
      readonly ref: string;
      readonly production: boolean;
      readonly environmentUrl?: string;
      readonly description: string;
    },
  ): Promise<LedgerHandle>;
}

export interface GithubLedgerOptions {
  /** This workflow run's URL (GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID): the log_url of every status written. */
  readonly runUrl?: string;
  /** GITHUB_RUN_ID: records of this very run are believed while it is still in progress. */
  readonly ownRunId?: number;
  /** Told about each record that is not believed, with why. */
  readonly warn?: (line: string) => void;
  /** Trusted writers (default: LEDGER_TRUST.writers). */
  readonly writers?: readonly string[];
}

/** The run URL of the process environment's workflow run, when it runs in GitHub Actions. */
export function actionsRunOf(
  env: Readonly<Record<string, string | undefined>>,
): Pick<GithubLedgerOptions, 'runUrl' | 'ownRunId'> {
  const id = Number(env.GITHUB_RUN_ID);
  if (!env.GITHUB_REPOSITORY || !Number.isSafeInteger(id) || id <= 0) return {};
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  return { runUrl: `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${id}`, ownRunId: id };
}

type Status = {
  state: string;
  created_at: string;
  creator?: { login?: string } | null;
  log_url?: string;
  target_url?: string;
};

export function githubLedger(octokit: Octokit, repo: RepoRef, ledgerOpts: GithubLedgerOptions = {}): Ledger {
  const where = `GitHub ${repo.owner}/${repo.repo}`;
  const refusal = refuser(octokit, repo, ledgerOpts.ownRunId);
  const trusted = (login: string | undefined) => isTrustedWriter(login, ledgerOpts.writers);
  const warn = (line: string) => ledgerOpts.warn?.(line);
  return {
    where,
    async read(opts = {}) {
      const records: LedgerRecord[] = [];
      for (const { d, payload } of await listOurs(octokit, repo, opts)) {
        if (!trusted(d.creator?.login)) {
          warn(
            `ledger: not believing deployment ${d.id}: created by ${d.creator?.login ?? 'nobody'}, not a trusted writer`,
          );
          continue;
        }
        const latest = await decidingStatus(octokit, repo, d.id, trusted);
        const why = await refusal(payload, latest);
        if (why) {
          warn(`ledger: not believing deployment ${d.id} (${payload.operation} to ${payload.environment}): ${why}`);
          continue;
        }
        records.push({
          id: String(d.id),
          payload,
          state: (latest?.state ?? 'pending') as LedgerRecord['state'],
          createdAt: d.created_at,
          updatedAt: latest?.created_at ?? d.created_at,
        });
      }
      return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    open: recordOpener(octokit, repo, where, ledgerOpts.runUrl),
  };
}

/** A new record: a deployment with the payload, in progress until its handle finishes it. */
function recordOpener(octokit: Octokit, repo: RepoRef, where: string, runUrl: string | undefined): Ledger['open'] {
  return async (payload, opts) => {
    const id = await createDeployment(
      octokit,
      repo,
      {
        ref: opts.ref,
        environment: payload.environment,
        description: opts.description,
        production: opts.production,
        task: `kgraph-ci:${payload.operation}`,
        payload: payload as unknown as Record<string, unknown>,
      },
      `recording ${payload.operation} of ${payload.version ?? payload.digest ?? opts.ref} to ${payload.environment} in ${where}`,
    );
    const setState = (state: 'in_progress' | FinalState, description: string) =>
      setDeploymentStatus(
        octokit,
        repo,
        id,
        {
          state,
          description,
          ...(opts.environmentUrl ? { environmentUrl: opts.environmentUrl } : {}),
          ...(runUrl ? { logUrl: runUrl } : {}),
          // Gate verdicts and compatibility checks must not mark the deploy they judged inactive.
          autoInactive: !FINDING_OPERATIONS.includes(payload.operation),
        },
        `setting deployment ${id} to ${state} in ${where}`,
      );
    await setState('in_progress', `${payload.operation} started`);
    return { id: String(id), finish: (state, description) => setState(state, description) };
  };
}

/**
 * The newest deployments (newest first, within the window, at most `max`) that carry a ledger payload whose
 * environment is GitHub's own: a payload claiming another environment is not believed.
 */
async function listOurs(octokit: Octokit, repo: RepoRef, opts: ReadOptions) {
  const deployments = await gh(`reading deployments of ${repo.owner}/${repo.repo}`, () =>
    octokit.paginate(
      octokit.rest.repos.listDeployments,
      { ...repo, per_page: 100, ...(opts.environment ? { environment: opts.environment } : {}) },
      (res, done) => {
        const page = res.data;
        if (opts.sinceMs !== undefined && page.some((d) => Date.parse(d.created_at) < opts.sinceMs!)) done();
        return page;
      },
    ),
  );
  return deployments
    .filter((d) => opts.sinceMs === undefined || Date.parse(d.created_at) >= opts.sinceMs)
    .slice(0, opts.max ?? 500)
    .map((d) => ({ d, payload: asPayload(d.payload) }))
    .filter(
      (x): x is { d: (typeof deployments)[number]; payload: LedgerPayload } =>
        x.payload !== undefined && x.payload.environment === x.d.environment,
    );
}

/**
 * The status a record's state is read from. Statuses come newest first. GitHub adds `inactive` to a successful
 * deployment once a newer one succeeds in its environment (auto_inactive): that is "superseded", not an
 * outcome, so it is the newest status other than inactive, and only a trusted writer's status counts.
 */
async function decidingStatus(
  octokit: Octokit,
  repo: RepoRef,
  id: number,
  trusted: (login: string | undefined) => boolean,
): Promise<Status | undefined> {
  const statuses = await gh(`reading the statuses of deployment ${id}`, () =>
    octokit.rest.repos.listDeploymentStatuses({ ...repo, deployment_id: id, per_page: 100 }),
  );
  return (statuses.data as Status[]).find((st) => st.state !== 'inactive' && trusted(st.creator?.login));
}

/** Why a record with a trusted creator and this deciding status is still not believed (undefined: believed). */
function refuser(octokit: Octokit, repo: RepoRef, ownRunId: number | undefined) {
  const runOf = workflowRuns(octokit, repo);
  return async (payload: LedgerPayload, decided: Status | undefined): Promise<string | undefined> => {
    const conflict = imageDigestConflict(payload);
    if (conflict) return conflict;
    const rules = runRulesFor(payload.environment);
    // Only a pass is evidence; a failure or a rollback is believed from a trusted writer alone.
    if (!rules || decided?.state !== 'success' || payload.operation === 'rollback') return undefined;
    const runId = runIdOf(decided.log_url ?? decided.target_url, repo);
    if (runId === undefined) return 'its status links no workflow run of this repository';
    try {
      return runRefusal(rules, payload, await runOf(runId), ownRunId);
    } catch (err) {
      return (err as Error).message;
    }
  };
}

/** Workflow runs read from the Actions API, each once per ledger. */
function workflowRuns(octokit: Octokit, repo: RepoRef): (id: number) => Promise<WorkflowRun> {
  const runs = new Map<number, Promise<WorkflowRun>>();
  return (id) => {
    if (!runs.has(id))
      runs.set(
        id,
        gh(`reading workflow run ${id}`, () => octokit.rest.actions.getWorkflowRun({ ...repo, run_id: id })).then(
          ({ data }) => ({
            id: data.id,
            path: data.path ?? '',
            headBranch: data.head_branch ?? null,
            headSha: data.head_sha,
            status: data.status ?? '',
            conclusion: data.conclusion ?? null,
          }),
        ),
      );
    return runs.get(id)!;
  };
}
