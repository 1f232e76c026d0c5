/**
 * The real DeliveryDeps for the CLI: kubectl via spawn, the checklist and latency gate from their
 * modules (loaded lazily, and failing closed when missing), smoke over fetch, GitHub deployments when a
 * token and repository are given.
 */
import { fileURLToPath } from 'node:url';
import type { EnvironmentDefinition } from '../environments.js';
import { writeLine, type CliIo } from '../cli/io.js';
import { createOctokit, parseRepository } from '../github/client.js';
import { createDeployment, setDeploymentStatus } from '../github/deployments.js';
import { spawnRunner } from '../kube/runner.js';
import { appendJobSummary } from '../report/summary.js';
import type { ChecklistOutcome, GateOutcome } from './execute.js';
import type { DeliveryDeps, DeploymentTracker } from './run.js';
import { runSmoke } from './smoke.js';

type AnyFn = (opts: Record<string, unknown>) => Promise<unknown>;

/** Loads a named export; the specifier is a variable so this module builds before the other lands. */
async function loadExport(specifier: string, name: string): Promise<AnyFn> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${name} is not available (${(err as Error).message.split('\n')[0]})`, { cause: err });
  }
  const fn = mod[name];
  if (typeof fn !== 'function') throw new Error(`${specifier} does not export ${name}`);
  return fn as AnyFn;
}

const CHECKLIST_MODULE = new URL('../checklist/index.js', import.meta.url).href;
const GATE_MODULE = new URL('../gate/latency.js', import.meta.url).href;

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
  return {
    // kubectl runs from the repository root, where k8s/ lives, wherever the CLI was started.
    runner: spawnRunner(io.env, fileURLToPath(new URL('../../..', import.meta.url))),
    checklist: async (env: EnvironmentDefinition) => (await (await loadExport(CHECKLIST_MODULE, 'runChecklist'))({ env: env.name, environment: env })) as ChecklistOutcome,
    gate: async (env: EnvironmentDefinition, baseUrl: string) =>
      (await (await loadExport(GATE_MODULE, 'runLatencyGate'))({ baseUrl, environment: env, ...(io.env.API_KEY ? { apiKey: io.env.API_KEY } : {}) })) as GateOutcome,
    smoke: (baseUrl: string) => runSmoke({ baseUrl, ...(io.env.API_KEY ? { apiKey: io.env.API_KEY } : {}) }),
    ...(tracker ? { tracker } : {}),
    out: (l) => writeLine(io.stdout, l),
    err: (l) => writeLine(io.stderr, l),
    summary: (md) => appendJobSummary(md, io.env),
    cwd: io.cwd,
    env: io.env,
  };
}
