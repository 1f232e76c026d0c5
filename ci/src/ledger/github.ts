/**
 * The ledger where GitHub keeps it: each record is a deployment (task `kgraph-ci:<operation>`, payload
 * a LedgerPayload) and its statuses. Runners come and go; the repository's deployments stay.
 */
import type { Octokit } from '@octokit/rest';
import { gh } from '../github/client.js';
import type { RepoRef } from '../github/repository.js';
import { asPayload, FINDING_OPERATIONS, type FinalState, type LedgerPayload, type LedgerRecord } from './entry.js';

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

export function githubLedger(octokit: Octokit, repo: RepoRef): Ledger {
  const where = `GitHub ${repo.owner}/${repo.repo}`;
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
      for (const { d, payload } of ours) {
        // Statuses come newest first. GitHub adds `inactive` to a successful deployment once a newer one
        // succeeds in its environment (auto_inactive): that is "superseded", not an outcome, so the
        // record's state is its newest status other than inactive.
        const statuses = await gh(`reading the statuses of deployment ${d.id}`, () =>
          octokit.rest.repos.listDeploymentStatuses({ ...repo, deployment_id: d.id, per_page: 100 }),
        );
        const latest = statuses.data.find((st) => st.state !== 'inactive');
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
            // Gate verdicts and compatibility checks must not mark the deploy they judged inactive.
            auto_inactive: !FINDING_OPERATIONS.includes(payload.operation),
          }),
        );
      await setState('in_progress', `${payload.operation} started`);
      return { id: String(id), finish: async (state, description) => void (await setState(state, description)) };
    },
  };
}
