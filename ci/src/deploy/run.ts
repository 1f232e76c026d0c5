/**
 * `kgraph-ci deploy` and `rollback` end to end: resolve inputs, render and check manifests, plan,
 * print (--dry-run) or execute, record locally and on GitHub. All I/O comes in through DeliveryDeps.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getEnvironment, type EnvironmentDefinition } from '../environments.js';
import { FailedError, UsageError } from '../errors.js';
import { parseHttpUrl } from '../http-url.js';
import { formatArgv, type CommandRunner } from '../kube/runner.js';
import { parseManifests, policyViolations } from '../kube/validate.js';
import { table } from '../report/markdown.js';
import { executePlan, type ChecklistOutcome, type ExecutionResult, type GateOutcome, type SmokeOutcome } from './execute.js';
import { checkImageRef, imageForVersion, versionOfImage } from './image.js';
import { formatPlan, planDeploy, planRollback, renderArgv, withImage, type Plan } from './plan.js';
import { RECORDS_DIR, writeRecord, type DeployRecord } from './records.js';

/** Tracks one operation as a GitHub deployment; absent when no token is given. */
export interface DeploymentTracker {
  start(plan: Plan): Promise<void>;
  finish(plan: Plan, ok: boolean, description: string): Promise<void>;
}

export interface DeliveryDeps {
  readonly runner: CommandRunner;
  readonly checklist: (env: EnvironmentDefinition) => Promise<ChecklistOutcome>;
  readonly gate: (env: EnvironmentDefinition, baseUrl: string) => Promise<GateOutcome>;
  readonly smoke: (baseUrl: string) => Promise<SmokeOutcome>;
  readonly tracker?: DeploymentTracker;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly summary?: (markdown: string) => Promise<unknown>;
  readonly now?: () => number;
  /** Where records go; relative paths are against cwd. */
  readonly recordsDir?: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}

export interface DeployOptions {
  readonly env: string;
  readonly image?: string;
  readonly version?: string;
  readonly dryRun?: boolean;
  readonly url?: string;
  readonly skipGate?: boolean;
}

export interface RollbackOptions {
  readonly env: string;
  readonly to?: string;
  readonly dryRun?: boolean;
  readonly url?: string;
}

export function resolveEnvironment(name: string | undefined): EnvironmentDefinition {
  if (!name) throw new UsageError('--env is required');
  try {
    return getEnvironment(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** --image or --version, exactly one; returns the image and the version recorded for it. */
export function resolveImage(opts: Pick<DeployOptions, 'image' | 'version'>): { image: string; version: string } {
  if (opts.image && opts.version) throw new UsageError('give either --image or --version, not both');
  if (opts.version) return { image: imageForVersion(opts.version), version: opts.version };
  if (opts.image) return { image: checkImageRef(opts.image), version: versionOfImage(opts.image) };
  throw new UsageError('deploy needs --image REF or --version vX.Y.Z');
}

/** kubectl reads KUBECONFIG itself; we only check the path so a typo fails before anything runs. */
function checkKubeconfig(env: NodeJS.ProcessEnv): void {
  const path = env.KUBECONFIG;
  if (path && path.split(':').every((p) => p && !existsSync(p))) throw new UsageError('KUBECONFIG points at a file that does not exist');
}

async function render(env: EnvironmentDefinition, image: string, deps: DeliveryDeps) {
  const argv = renderArgv(env.name);
  deps.err(`rendering: ${formatArgv(argv)}`);
  const res = await deps.runner({ argv });
  if (res.exitCode !== 0) throw new FailedError(`${formatArgv(argv)} failed (exit ${res.exitCode}): ${res.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const manifests = parseManifests(res.stdout);
  // Refuse to ship manifests that break the schema or policy, checked with the image about to go out.
  const shipped = withImage(manifests, image, 'validation');
  const { schemaErrors } = await import('../kube/schema.js');
  const problems = [...schemaErrors(shipped), ...policyViolations(shipped)];
  if (problems.length) throw new FailedError(`manifests for ${env.name} fail validation:\n  ${problems.join('\n  ')}`);
  return manifests;
}

async function record(plan: Plan, result: ExecutionResult, startedAt: number, deps: DeliveryDeps): Promise<DeployRecord> {
  const now = deps.now ?? Date.now;
  const finishedAt = now();
  const rec: DeployRecord = {
    operation: plan.operation,
    environment: plan.environment,
    version: plan.version,
    ...(plan.image ? { image: plan.image } : {}),
    ...(result.previousImage ? { previousImage: result.previousImage } : {}),
    startedAt: new Date(startedAt).toISOString(),
    finishedAt: new Date(finishedAt).toISOString(),
    durationMs: finishedAt - startedAt,
    result: result.ok ? 'success' : 'failure',
    ...(result.failedStep ? { failedStep: result.failedStep } : {}),
    ...(result.reason ? { reason: result.reason } : {}),
    rolledBack: result.rolledBack,
  };
  const path = await writeRecord(join(deps.cwd, deps.recordsDir ?? RECORDS_DIR), rec);
  deps.err(`recorded ${path}`);
  return rec;
}

async function run(plan: Plan, env: EnvironmentDefinition, deps: DeliveryDeps): Promise<ExecutionResult> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  if (deps.tracker) await deps.tracker.start(plan).catch((e: Error) => deps.err(`warning: GitHub deployment not created: ${e.message}`));
  const result = await executePlan(plan, {
    runner: deps.runner,
    checklist: () => deps.checklist(env),
    smoke: deps.smoke,
    gate: (url) => deps.gate(env, url),
    log: deps.err,
    now,
  });
  const rec = await record(plan, result, startedAt, deps);
  const verdict = result.ok
    ? `${plan.operation} of ${plan.version} to ${env.name} succeeded in ${(rec.durationMs / 1000).toFixed(1)}s`
    : `${plan.operation} of ${plan.version} to ${env.name} failed at ${result.failedStep}: ${result.reason}` +
      (result.rolledBack ? `; rolled back to the previous revision${result.rollbackOk ? '' : ' BUT THE ROLLBACK FAILED'}` : '');
  if (deps.tracker) await deps.tracker.finish(plan, result.ok, verdict).catch((e: Error) => deps.err(`warning: GitHub deployment status not set: ${e.message}`));
  await deps.summary?.(
    [`## ${plan.operation} ${plan.version} → ${env.name}: ${result.ok ? '✅' : '❌'}`, table(['step', 'ok', 'seconds', 'detail'], result.steps.map((s) => [s.name, s.ok ? '✅' : '❌', (s.durationMs / 1000).toFixed(1), s.detail]))].join('\n\n'),
  );
  if (!result.ok) throw new FailedError(verdict);
  deps.out(verdict);
  return result;
}

export async function runDeploy(opts: DeployOptions, deps: DeliveryDeps): Promise<ExecutionResult | Plan> {
  const env = resolveEnvironment(opts.env);
  const baseUrl = opts.url ? parseHttpUrl(opts.url, '--url') : undefined;
  const { image, version } = resolveImage(opts);
  if (!opts.dryRun) checkKubeconfig(deps.env);
  const manifests = await render(env, image, deps);
  const plan = planDeploy({ environment: env, image, version, manifests, ...(baseUrl ? { baseUrl } : {}), ...(opts.skipGate ? { skipGate: true } : {}) });
  if (opts.dryRun) {
    deps.out(formatPlan(plan, formatArgv));
    return plan;
  }
  return run(plan, env, deps);
}

export async function runRollback(opts: RollbackOptions, deps: DeliveryDeps): Promise<ExecutionResult | Plan> {
  const env = resolveEnvironment(opts.env);
  const baseUrl = opts.url ? parseHttpUrl(opts.url, '--url') : undefined;
  const target = opts.to ? { image: imageForVersion(opts.to), version: opts.to } : {};
  if (!opts.dryRun) checkKubeconfig(deps.env);
  const plan = planRollback({ environment: env, ...target, ...(baseUrl ? { baseUrl } : {}) });
  if (opts.dryRun) {
    deps.out(formatPlan(plan, formatArgv));
    return plan;
  }
  return run(plan, env, deps);
}
