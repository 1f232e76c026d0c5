/**
 * The real DeliveryDeps for the CLI: kubectl via spawn, the checklist and latency gate from their
 * modules, smoke over fetch, GitHub deployments when a token and repository are given.
 */
import { fileURLToPath } from 'node:url';
import type { EnvironmentDefinition } from '../environments.js';
import { writeLine, type CliIo } from '../cli/io.js';
import { createOctokit, parseRepository } from '../github/client.js';
import { createDeployment, setDeploymentStatus } from '../github/deployments.js';
import { spawnRunner } from '../kube/runner.js';
import { appendJobSummary } from '../report/summary.js';
import { runChecklist } from '../checklist/index.js';
import { runLatencyGate } from '../gate/latency.js';
import type { DeliveryDeps, DeploymentTracker } from './run.js';
import { runSmoke } from './smoke.js';

export function githubTracker(io: CliIo, repoOverride?: string): DeploymentTracker | undefined {
  const token = io.env.GITHUB_TOKEN;
  const repository = repoOverride ?? io.env.GITHUB_REPOSITORY;
  if (!token || !repository) return undefined;
  const repo = parseRepository(repository);
  const octokit = createOctokit({ token, ...(io.env.GITHUB_API_URL ? { baseUrl: io.env.GITHUB_API_URL } : {}) });
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

export function realDeps(io: CliIo, opts: { repo?: string } = {}): DeliveryDeps {
  const tracker = githubTracker(io, opts.repo);
  // kubectl runs from the repository root, where k8s/ lives, wherever the CLI was started.
  const root = fileURLToPath(new URL('../../..', import.meta.url));
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
