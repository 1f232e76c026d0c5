/**
 * The real DeliveryDeps for `deploy` and `rollback`: kubectl via spawn, the checklist and latency gate from
 * their modules, smoke over fetch, GitHub deployments when a token and a repository are given. It belongs to the
 * CLI (it reads the CLI's io); deploy/ only receives the deps.
 */
import type { EnvironmentDefinition } from '../environments.js';
import { runChecklist } from '../checklist/index.js';
import type { DeliveryDeps, DeploymentTracker } from '../deploy/run.js';
import { runSmoke } from '../deploy/smoke.js';
import { runLatencyGate } from '../gate/latency.js';
import { githubClient } from '../github/client.js';
import { createDeployment, setDeploymentStatus } from '../github/deployments.js';
import type { RepoRef } from '../github/repository.js';
import { spawnRunner } from '../kube/runner.js';
import { REPO_ROOT } from '../repo-root.js';
import { appendJobSummary } from '../report/summary.js';
import { writeLine, type CliIo } from './io.js';
import { repositoryOf } from './options.js';

export function githubTracker(io: CliIo, repoOverride?: RepoRef): DeploymentTracker | undefined {
  if (!io.env.GITHUB_TOKEN || !(repoOverride || io.env.GITHUB_REPOSITORY)) return undefined;
  const repo = repositoryOf(repoOverride, io);
  const octokit = githubClient(io.env);
  let id: number | undefined;
  const ref = (version: string) => (/^v\d/.test(version) ? version : io.env.GITHUB_SHA ?? version);
  return {
    async start(plan) {
      id = await createDeployment(octokit, repo, { ref: ref(plan.version), environment: plan.environment, description: `kgraph-ci ${plan.operation} ${plan.version}`, production: plan.environment === 'prod' });
      await setDeploymentStatus(octokit, repo, id, { state: 'in_progress', description: `${plan.operation} started` });
    },
    async finish(plan, ok, description) {
      if (id === undefined) return;
      const { getEnvironment } = await import('../environments.js');
      await setDeploymentStatus(octokit, repo, id, { state: ok ? 'success' : 'failure', description, environmentUrl: getEnvironment(plan.environment).url });
    },
  };
}

export function realDeps(io: CliIo, opts: { repo?: RepoRef } = {}): DeliveryDeps {
  const tracker = githubTracker(io, opts.repo);
  // kubectl runs from the repository root, where k8s/ lives, wherever the CLI was started.
  const root = REPO_ROOT;
  return {
    runner: spawnRunner(io.env, root),
    checklist: (env: EnvironmentDefinition) => runChecklist({ env: env.name, environment: env, processEnv: io.env, root }),
    gate: (env: EnvironmentDefinition, baseUrl: string) =>
      runLatencyGate({ baseUrl, environment: env, ...(io.env.API_KEY ? { apiKey: io.env.API_KEY } : {}), log: (l) => writeLine(io.stderr, l) }),
    smoke: (baseUrl: string) => runSmoke({ baseUrl, ...(io.env.API_KEY ? { apiKey: io.env.API_KEY } : {}) }),
    ...(tracker ? { tracker } : {}),
    out: (l) => writeLine(io.stdout, l),
    err: (l) => writeLine(io.stderr, l),
    summary: (md) => appendJobSummary(md, io.env),
    cwd: io.cwd,
    env: io.env,
  };
}
