/**
 * GitHub deployments and their statuses: how a deploy shows up on the repository's Environments page. The one
 * writer of them: the ledger (platform/ledger/github.ts) records through it, and so does a release.
 */
import type { Octokit } from '@octokit/rest';
import { gh } from './client.js';
import type { RepoRef } from './repository.js';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface DeploymentTarget {
  readonly ref: string;
  readonly environment: string;
  readonly description: string;
  readonly production: boolean;
  /** The ledger's `kgraph-ci:<operation>` (GitHub's default is "deploy"). */
  readonly task?: string;
  /** The ledger's record (LedgerPayload); a release's marks carry none. */
  readonly payload?: Readonly<Record<string, unknown>>;
}

export interface DeploymentStatus {
  readonly state: DeploymentState;
  readonly description: string;
  readonly environmentUrl?: string;
  /** The workflow run that wrote it: what a ledger reader checks the record against. */
  readonly logUrl?: string;
  /** Mark earlier successful deployments of the environment inactive (GitHub's default, true). */
  readonly autoInactive?: boolean;
}

/**
 * The one writer of GitHub deployments (the ledger's records and a release's marks). Status checks are the
 * pipeline's business, so none are required here. `doing` names the write in an error message.
 */
export async function createDeployment(
  octokit: Octokit,
  repo: RepoRef,
  target: DeploymentTarget,
  doing = `creating a GitHub deployment of ${target.ref} to ${target.environment}`,
): Promise<number> {
  const res = await gh(doing, () =>
    octokit.rest.repos.createDeployment({
      ...repo,
      ref: target.ref,
      ...(target.task ? { task: target.task } : {}),
      environment: target.environment,
      description: target.description.slice(0, 140),
      ...(target.payload ? { payload: target.payload as Record<string, unknown> } : {}),
      auto_merge: false,
      required_contexts: [],
      production_environment: target.production,
      transient_environment: false,
    }),
  );
  const data = res.data as { id?: number; message?: string };
  if (typeof data.id !== 'number')
    throw new Error(`GitHub did not create the deployment: ${data.message ?? 'no id returned'}`);
  return data.id;
}

export async function setDeploymentStatus(
  octokit: Octokit,
  repo: RepoRef,
  id: number,
  status: DeploymentStatus,
  doing = `setting GitHub deployment ${id} to ${status.state}`,
): Promise<void> {
  await gh(doing, () =>
    octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: id,
      state: status.state,
      description: status.description.slice(0, 140),
      ...(status.environmentUrl ? { environment_url: status.environmentUrl } : {}),
      ...(status.logUrl ? { log_url: status.logUrl } : {}),
      auto_inactive: status.autoInactive ?? true,
    }),
  );
}

/** One deployment marked with a final state (releases mark each environment the tag reached). */
export async function markDeployment(
  octokit: Octokit,
  repo: RepoRef,
  target: DeploymentTarget,
  state: DeploymentState,
  environmentUrl?: string,
): Promise<number> {
  const id = await createDeployment(octokit, repo, target);
  await setDeploymentStatus(octokit, repo, id, {
    state,
    description: target.description,
    ...(environmentUrl ? { environmentUrl } : {}),
  });
  return id;
}
