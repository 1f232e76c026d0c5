/**
 * Runs a Plan. Every external effect is injected: kubectl through the command runner, the checklist,
 * the smoke test and the latency gate as functions. A failed step stops the plan; if the workload had
 * already changed, the plan's onFailure steps (rollout undo) run. The result is plain data.
 */
import type { CommandRunner } from '../../platform/kube/runner.js';
import { formatArgv } from '../../platform/process/argv.js';
import type { GateBaseline, Plan, PlanStep } from './plan.js';
import { failed, inconclusive, isPass, passed, type Verdict } from '../../definitions/verdict.js';
import type { SmokeResult } from './smoke.js';

/** The checklist's verdict, with each item's own (a required item that did not pass refuses the deploy). */
export interface ChecklistOutcome extends Verdict {
  readonly items: readonly (Verdict & { readonly name: string; readonly required: boolean })[];
}
export interface GateOutcome extends Verdict {
  /** The gate compared against a baseline (not only absolute thresholds); undefined = not reported. */
  readonly baselineCompared?: boolean;
}
export type SmokeOutcome = SmokeResult;

export interface ExecuteDeps {
  readonly runner: CommandRunner;
  readonly checklist?: () => Promise<ChecklistOutcome>;
  readonly smoke: (baseUrl: string) => Promise<SmokeOutcome>;
  readonly gate?: (baseUrl: string, baseline?: GateBaseline) => Promise<GateOutcome>;
  /** `migrations check --env` for the plan's environment; absent = cannot check = refuse. */
  readonly migrationsCheck?: () => Promise<Verdict>;
  /** Reads the backup Job's manifest, judges it, records it; absent = cannot judge = refuse. */
  readonly backup?: (step: Extract<PlanStep, { kind: 'backup' }>) => Promise<Verdict>;
  /** Progress, one line per step. */
  readonly log: (line: string) => void;
  readonly now?: () => number;
}

/** One step's verdict (why it failed, or what it printed), and how long it took. */
export interface StepOutcome extends Verdict {
  readonly name: string;
  readonly durationMs: number;
}

/** The run's verdict: a pass, or the verdict of the step it stopped at (`failedStep`). */
export interface ExecutionResult extends Verdict {
  readonly steps: readonly StepOutcome[];
  readonly failedStep?: string;
  /** The image the Deployment ran before (empty on a first deploy). */
  readonly previousImage?: string;
  /** The automatic rollback's verdict; absent = none ran. */
  readonly rollback?: Verdict;
  /** Cleanup steps that failed (a baseline left running), named for the operator. */
  readonly cleanupFailed?: readonly string[];
}

/** kubectl's stderr, trimmed to its last lines: enough to act on, never the manifests we piped in. */
const tail = (text: string, lines = 5): string => text.trim().split('\n').slice(-lines).join(' | ');
const why = (v: Verdict): string => v.reasons.join('; ');

/** A step's verdict, and what a kubectl step printed (read for the previous image). */
type StepVerdict = Verdict & { readonly stdout?: string };

async function checklistStep(deps: ExecuteDeps): Promise<Verdict> {
  if (!deps.checklist) return inconclusive('no checklist available (fails closed)');
  const res = await deps.checklist();
  const failing = res.items.filter((i) => i.required && !isPass(i));
  if (isPass(res) && failing.length === 0) return passed(`${res.items.length} items pass`);
  const told = failing.map((i) => `${i.name} (${i.outcome}: ${why(i)})`).join('; ') || 'checklist not ok';
  return { outcome: isPass(res) ? 'failed' : res.outcome, reasons: [`failed: ${told}`] };
}

async function smokeStep(deps: ExecuteDeps, baseUrl: string): Promise<Verdict> {
  const res = await deps.smoke(baseUrl);
  return { outcome: res.outcome, reasons: [why(res)] };
}

async function gateStep(deps: ExecuteDeps, step: Extract<PlanStep, { kind: 'gate' }>): Promise<Verdict> {
  if (!deps.gate) return inconclusive('no latency gate available (fails closed)');
  const res = await deps.gate(step.baseUrl, step.baseline);
  return isPass(res) ? passed('passed') : { outcome: res.outcome, reasons: [`failed: ${res.reasons.join('; ')}`] };
}

async function kubectlStep(deps: ExecuteDeps, step: Extract<PlanStep, { kind: 'kubectl' }>): Promise<StepVerdict> {
  const res = await deps.runner({
    argv: step.argv,
    ...(step.stdin ? { stdin: step.stdin.yaml } : {}),
    ...(step.timeoutMs ? { timeoutMs: step.timeoutMs } : {}),
  });
  if (res.exitCode !== 0) return failed(`exit ${res.exitCode}: ${tail(res.stderr) || 'no output'}`);
  return { ...passed(tail(res.stdout, 2)), stdout: res.stdout };
}

async function runStep(step: PlanStep, deps: ExecuteDeps): Promise<StepVerdict> {
  switch (step.kind) {
    case 'checklist':
      return checklistStep(deps);
    case 'smoke':
      return smokeStep(deps, step.baseUrl);
    case 'migrations-check':
      return deps.migrationsCheck
        ? deps.migrationsCheck()
        : inconclusive('no migrations check available (fails closed)');
    case 'backup':
      return deps.backup ? deps.backup(step) : inconclusive('no backup judge available (fails closed)');
    case 'gate':
      return gateStep(deps, step);
    case 'kubectl':
      return kubectlStep(deps, step);
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
    let result: StepVerdict;
    try {
      result = await runStep(step, deps);
    } catch (err) {
      result = failed((err as Error).message);
    }
    const { stdout, ...verdict } = result;
    outcomes.push({ name: step.name, ...verdict, durationMs: now() - start });
    if (step.kind === 'kubectl' && step.changesWorkload) workloadChanged = true;
    if (isPass(verdict) && stdout !== undefined) onStdout(step, stdout);
    if (!isPass(verdict)) {
      const optional = step.kind === 'kubectl' && step.optional === true;
      deps.log(`    ${optional ? 'skipped' : 'FAILED'}: ${why(verdict)}`);
      if (optional) continue;
      return { failed: step, verdict, workloadChanged };
    }
  }
  return { workloadChanged };
}

export async function executePlan(plan: Plan, deps: ExecuteDeps): Promise<ExecutionResult> {
  const outcomes: StepOutcome[] = [];
  const result = await executeMain(plan, deps, outcomes);
  if (!plan.cleanup?.length) return result;
  // Each cleanup step runs whatever the one before it did: one failure must not leave the rest behind.
  const left: string[] = [];
  for (const step of plan.cleanup) {
    const r = await runSteps([step], deps, outcomes, () => undefined);
    if (r.failed) left.push(`${step.name}: ${why(r.verdict)}`);
  }
  if (left.length) deps.log(`warning: cleanup left something behind: ${left.join('; ')}`);
  return { ...result, steps: outcomes, ...(left.length ? { cleanupFailed: left } : {}) };
}

async function executeMain(plan: Plan, deps: ExecuteDeps, outcomes: StepOutcome[]): Promise<ExecutionResult> {
  let previousImage: string | undefined;
  const capture = (step: PlanStep, out: string) => {
    if (step.name === 'current-image') previousImage = out.trim();
  };
  const main = await runSteps(plan.steps, deps, outcomes, capture);
  const previous = previousImage !== undefined ? { previousImage } : {};
  if (!main.failed) return { ...passed(`${outcomes.length} steps passed`), steps: outcomes, ...previous };
  const failure = { ...main.verdict, failedStep: main.failed.name, ...previous, steps: outcomes };
  if (!main.workloadChanged || plan.onFailure.length === 0) return failure;
  if (previousImage === '') {
    deps.log('    no previous revision to roll back to (first deploy); leaving the failed rollout for inspection');
    return failure;
  }
  deps.log(`rolling back ${plan.environment} to the previous revision${previousImage ? ` (${previousImage})` : ''}`);
  const undo = await runSteps(plan.onFailure, deps, outcomes, () => undefined);
  const rollback = undo.failed
    ? failed(`${undo.failed.name}: ${why(undo.verdict)}`)
    : passed('back on the previous revision');
  return { ...failure, rollback };
}
