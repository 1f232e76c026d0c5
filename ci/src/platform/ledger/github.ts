/**
 * The ledger where GitHub keeps it: each record is a deployment (task `kgraph-ci:<operation>`, payload
 * a LedgerPayload) and its statuses. Runners come and go; the repository's deployments stay. Records are
 * believed only as trust.ts says: a trusted writer, its own statuses, image and digest agreeing, and for
 * evidence environments the workflow run its status links to (log_url), read back from the Actions API.
 */
import type { Octokit } from '@octokit/rest';
import { gh } from '../github/client.js';
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
  const runs = new Map<number, Promise<WorkflowRun>>();
  const runOf = (id: number) => {
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
  /** Why a record with a trusted creator and this deciding status is still not believed. */
  const refusal = async (payload: LedgerPayload, decided: Status | undefined): Promise<string | undefined> => {
    const conflict = imageDigestConflict(payload);
    if (conflict) return conflict;
    const rules = runRulesFor(payload.environment);
    // Only a pass is evidence; a failure or a rollback is believed from a trusted writer alone.
    if (!rules || decided?.state !== 'success' || payload.operation === 'rollback') return undefined;
    const runId = runIdOf(decided.log_url ?? decided.target_url, repo);
    if (runId === undefined) return 'its status links no workflow run of this repository';
    try {
      return runRefusal(rules, payload, await runOf(runId), ledgerOpts.ownRunId);
    } catch (err) {
      return (err as Error).message;
    }
  };
  return {
    where,
    async read(opts = {}) {
      const max = opts.max ?? 500;
      const deployments = await gh(`reading deployments of ${repo.owner}/${repo.repo}`, () =>
        octokit.paginate(
          octokit.rest.repos.listDeployments,
          { ...repo, per_page: 100, ...(opts.environment ? { environment: opts.environment } : {}) },
          (res, done) => {
            const page = res.data;
            const old = opts.sinceMs !== undefined && page.some((d) => Date.parse(d.created_at) < opts.sinceMs!);
            if (old) done();
            return page;
          },
        ),
      );
      const ours = deployments
        .filter((d) => opts.sinceMs === undefined || Date.parse(d.created_at) >= opts.sinceMs)
        .slice(0, max)
        .map((d) => ({ d, payload: asPayload(d.payload) }))
        // GitHub's own environment field is authoritative: a payload claiming another environment is not believed.
        .filter(
          (x): x is { d: (typeof deployments)[number]; payload: LedgerPayload } =>
            x.payload !== undefined && x.payload.environment === x.d.environment,
        );
      const records: LedgerRecord[] = [];
      const trusted = (login: string | undefined) => isTrustedWriter(login, ledgerOpts.writers);
      for (const { d, payload } of ours) {
        if (!trusted(d.creator?.login)) {
          ledgerOpts.warn?.(
            `ledger: not believing deployment ${d.id}: created by ${d.creator?.login ?? 'nobody'}, not a trusted writer`,
          );
          continue;
        }
        // Statuses come newest first. GitHub adds `inactive` to a successful deployment once a newer one
        // succeeds in its environment (auto_inactive): that is "superseded", not an outcome, so the
        // record's state is its newest status other than inactive, and only a trusted writer's status counts.
        const statuses = await gh(`reading the statuses of deployment ${d.id}`, () =>
          octokit.rest.repos.listDeploymentStatuses({ ...repo, deployment_id: d.id, per_page: 100 }),
        );
        const latest = (statuses.data as Status[]).find((st) => st.state !== 'inactive' && trusted(st.creator?.login));
        const why = await refusal(payload, latest);
        if (why) {
          ledgerOpts.warn?.(
            `ledger: not believing deployment ${d.id} (${payload.operation} to ${payload.environment}): ${why}`,
          );
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
    async open(payload, opts) {
      const runUrl = ledgerOpts.runUrl;
      const res = await gh(
        `recording ${payload.operation} of ${payload.version ?? payload.digest ?? opts.ref} to ${payload.environment} in ${where}`,
        () =>
          octokit.rest.repos.createDeployment({
            ...repo,
            ref: opts.ref,
            task: `kgraph-ci:${payload.operation}`,
            environment: payload.environment,
            description: opts.description.slice(0, 140),
            payload: payload as unknown as Record<string, unknown>,
            auto_merge: false,
            required_contexts: [],
            production_environment: opts.production,
            transient_environment: false,
          }),
      );
      const data = res.data as { id?: number; message?: string };
      if (typeof data.id !== 'number')
        throw new Error(`GitHub did not create the deployment: ${data.message ?? 'no id returned'}`);
      const id = data.id;
      const setState = (state: 'in_progress' | FinalState, description: string) =>
        gh(`setting deployment ${id} to ${state} in ${where}`, () =>
          octokit.rest.repos.createDeploymentStatus({
            ...repo,
            deployment_id: id,
            state,
            description: description.slice(0, 140),
            ...(opts.environmentUrl ? { environment_url: opts.environmentUrl } : {}),
            // The run that wrote it: what a reader checks the record against.
            ...(runUrl ? { log_url: runUrl } : {}),
            // Gate verdicts and compatibility checks must not mark the deploy they judged inactive.
            auto_inactive: !FINDING_OPERATIONS.includes(payload.operation),
          }),
        );
      await setState('in_progress', `${payload.operation} started`);
      return { id: String(id), finish: async (state, description) => void (await setState(state, description)) };
    },
  };
}
