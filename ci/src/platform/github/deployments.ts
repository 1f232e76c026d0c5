/** GitHub deployments and their statuses: how a deploy shows up on the repository's Environments page. */
import type { Octokit } from '@octokit/rest';
import { gh } from './client.js';
import type { RepoRef } from './repository.js';

export type DeploymentState = 'in_progress' | 'success' | 'failure' | 'error' | 'inactive';

export interface DeploymentTarget {
  readonly ref: string;
  readonly environment: string;
  readonly description: string;
  readonly production: boolean;
}

/** Creates the deployment; status checks are the pipeline's business, so none are required here. */
async function createDeployment(octokit: Octokit, repo: RepoRef, target: DeploymentTarget): Promise<number> {
  const res = await gh(`creating a GitHub deployment of ${target.ref} to ${target.environment}`, () =>
    octokit.rest.repos.createDeployment({
      ...repo,
      ref: target.ref,
      environment: target.environment,
      description: target.description,
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

async function setDeploymentStatus(
  octokit: Octokit,
  repo: RepoRef,
  id: number,
  status: { readonly state: DeploymentState; readonly environmentUrl?: string; readonly description: string },
): Promise<void> {
  await gh(`setting GitHub deployment ${id} to ${status.state}`, () =>
    octokit.rest.repos.createDeploymentStatus({
      ...repo,
      deployment_id: id,
      state: status.state,
      description: status.description.slice(0, 140),
      ...(status.environmentUrl ? { environment_url: status.environmentUrl } : {}),
      auto_inactive: true,
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
