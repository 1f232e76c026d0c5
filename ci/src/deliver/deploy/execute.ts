/**
 * Runs a Plan. Every external effect is injected: kubectl through the command runner, the checklist,
 * the smoke test and the latency gate as functions. A failed step stops the plan; if the workload had
 * already changed, the plan's onFailure steps (rollout undo) run. The result is plain data.
 */
import type { CommandRunner } from '../../platform/kube/runner.js';
import { formatArgv } from '../../platform/process/argv.js';
import type { GateBaseline, Plan, PlanStep } from './plan.js';
import type { CheckOutcome } from '../../platform/outcome.js';

export interface ChecklistOutcome {
  readonly ok: boolean;
  readonly items: readonly {
    readonly name: string;
    readonly required: boolean;
    readonly status: CheckOutcome;
    readonly detail: string;
  }[];
}
export interface GateOutcome {
  readonly passed: boolean;
  readonly reasons: readonly string[];
  /** The gate compared against a baseline (not only absolute thresholds); undefined = not reported. */
  readonly baselineCompared?: boolean;
}
export interface SmokeOutcome {
  readonly ok: boolean;
  readonly results: readonly { readonly name: string; readonly ok: boolean; readonly detail: string }[];
}

/** A judge's answer (migrations check, backup): ok, or why not. */
export interface JudgeOutcome {
  readonly ok: boolean;
  readonly detail: string;
}

export interface ExecuteDeps {
  readonly runner: CommandRunner;
  readonly checklist?: () => Promise<ChecklistOutcome>;
  readonly smoke: (baseUrl: string) => Promise<SmokeOutcome>;
  readonly gate?: (baseUrl: string, baseline?: GateBaseline) => Promise<GateOutcome>;
  /** `migrations check --env` for the plan's environment; absent = cannot check = refuse. */
  readonly migrationsCheck?: () => Promise<JudgeOutcome>;
  /** Reads the backup Job's manifest, judges it, records it; absent = cannot judge = refuse. */
  readonly backup?: (step: Extract<PlanStep, { kind: 'backup' }>) => Promise<JudgeOutcome>;
  /** Progress, one line per step. */
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

export interface StepOutcome {
  readonly name: string;
  readonly ok: boolean;
  readonly durationMs: number;
  readonly detail: string;
}

export interface ExecutionResult {
  readonly ok: boolean;
  readonly steps: readonly StepOutcome[];
  readonly failedStep?: string;
  readonly reason?: string;
  /** The image the Deployment ran before (empty on a first deploy). */
  readonly previousImage?: string;
  /** The automatic rollback ran; `rollbackOk` says whether it worked. */
  readonly rolledBack: boolean;
  readonly rollbackOk?: boolean;
  /** Cleanup steps that failed (a baseline left running), named for the operator. */
  readonly cleanupFailed?: readonly string[];
}

/** kubectl's stderr, trimmed to its last lines: enough to act on, never the manifests we piped in. */
const tail = (text: string, lines = 5): string => text.trim().split('\n').slice(-lines).join(' | ');

async function runStep(step: PlanStep, deps: ExecuteDeps): Promise<{ ok: boolean; detail: string; stdout?: string }> {
  switch (step.kind) {
    case 'checklist': {
      if (!deps.checklist) return { ok: false, detail: 'no checklist available (fails closed)' };
      const res = await deps.checklist();
      const failed = res.items.filter((i) => i.required && i.status !== 'passed');
      const ok = res.ok && failed.length === 0;
      return {
        ok,
        detail: ok
          ? `${res.items.length} items pass`
          : `failed: ${failed.map((i) => `${i.name} (${i.status}: ${i.detail})`).join('; ') || 'checklist not ok'}`,
      };
    }
    case 'smoke': {
      const res = await deps.smoke(step.baseUrl);
      return {
        ok: res.ok,
        detail: res.results
          .filter((r) => !r.ok || res.ok)
          .map((r) => `${r.name}: ${r.detail}`)
          .join('; '),
      };
    }
    case 'migrations-check':
      if (!deps.migrationsCheck) return { ok: false, detail: 'no migrations check available (fails closed)' };
      return deps.migrationsCheck();
    case 'backup':
      if (!deps.backup) return { ok: false, detail: 'no backup judge available (fails closed)' };
      return deps.backup(step);
    case 'gate': {
      if (!deps.gate) return { ok: false, detail: 'no latency gate available (fails closed)' };
      const res = await deps.gate(step.baseUrl, step.baseline);
      return { ok: res.passed, detail: res.passed ? 'passed' : `failed: ${res.reasons.join('; ')}` };
    }
    case 'kubectl': {
      const res = await deps.runner({
        argv: step.argv,
        ...(step.stdin ? { stdin: step.stdin.yaml } : {}),
        ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
      });
      const ok = res.exitCode === 0;
      return {
        ok,
        detail: ok ? tail(res.stdout, 2) : `exit ${res.exitCode}: ${tail(res.stderr) || 'no output'}`,
        stdout: res.stdout,
      };
    }
  }
}

async function runSteps(
  steps: readonly PlanStep[],
  deps: ExecuteDeps,
  outcomes: StepOutcome[],
  onStdout: (step: PlanStep, out: string) => void,
) {
  const now = deps.now ?? Date.now;
  let workloadChanged = false;
  for (const [i, step] of steps.entries()) {
    deps.log(`[${i + 1}/${steps.length}] ${step.name}${step.kind === 'kubectl' ? `: ${formatArgv(step.argv)}` : ''}`);
    const start = now();
    let result: { ok: boolean; detail: string; stdout?: string };
    try {
      result = await runStep(step, deps);
    } catch (err) {
      result = { ok: false, detail: (err as Error).message };
    }
    outcomes.push({ name: step.name, ok: result.ok, durationMs: now() - start, detail: result.detail });
    if (step.kind === 'kubectl' && step.changesWorkload) workloadChanged = true;
    if (result.ok && result.stdout !== undefined) onStdout(step, result.stdout);
    if (!result.ok) {
      const optional = step.kind === 'kubectl' && step.optional === true;
      deps.log(`    ${optional ? 'skipped' : 'FAILED'}: ${result.detail}`);
      if (optional) continue;
      return { failed: step, reason: result.detail, workloadChanged };
    }
  }
  return { workloadChanged };
}

export async function executePlan(plan: Plan, deps: ExecuteDeps): Promise<ExecutionResult> {
  const outcomes: StepOutcome[] = [];
  const result = await executeMain(plan, deps, outcomes);
  if (!plan.cleanup?.length) return result;
  // Each cleanup step runs whatever the one before it did: one failure must not leave the rest behind.
  const failed: string[] = [];
  for (const step of plan.cleanup) {
    const r = await runSteps([step], deps, outcomes, () => undefined);
    if (r.failed) failed.push(`${step.name}: ${r.reason}`);
  }
  if (failed.length) deps.log(`warning: cleanup left something behind: ${failed.join('; ')}`);
  return { ...result, steps: outcomes, ...(failed.length ? { cleanupFailed: failed } : {}) };
}

async function executeMain(plan: Plan, deps: ExecuteDeps, outcomes: StepOutcome[]): Promise<ExecutionResult> {
  let previousImage: string | undefined;
  const capture = (step: PlanStep, out: string) => {
    if (step.name === 'current-image') previousImage = out.trim();
  };
  const main = await runSteps(plan.steps, deps, outcomes, capture);
  if (!main.failed)
    return { ok: true, steps: outcomes, ...(previousImage !== undefined ? { previousImage } : {}), rolledBack: false };
  const failure = {
    ok: false,
    failedStep: main.failed.name,
    reason: main.reason,
    ...(previousImage !== undefined ? { previousImage } : {}),
  };
  if (!main.workloadChanged || plan.onFailure.length === 0) return { ...failure, steps: outcomes, rolledBack: false };
  if (previousImage === '') {
    deps.log('    no previous revision to roll back to (first deploy); leaving the failed rollout for inspection');
    return { ...failure, steps: outcomes, rolledBack: false };
  }
  deps.log(`rolling back ${plan.environment} to the previous revision${previousImage ? ` (${previousImage})` : ''}`);
  const undo = await runSteps(plan.onFailure, deps, outcomes, () => undefined);
  return { ...failure, steps: outcomes, rolledBack: true, rollbackOk: !undo.failed };
}
