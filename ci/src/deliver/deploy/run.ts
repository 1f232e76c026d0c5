/**
 * `kgraph-ci deploy` and `rollback` as a sequence of named phases, data flowing one way:
 *
 *   parse (request.ts) → facts (facts.ts) → decide (decide.ts, pure) → render (render.ts)
 *   → plan (plan.ts, pure) → [--dry-run: print] → record-open → execute (execute.ts)
 *   → record-outcome (record.ts) → conclude (verdict.ts)
 *
 * Each phase is one function with one job; this file only puts them in order. All I/O comes in through
 * DeliveryDeps. Exceptions to the policy (a rollback to the previous revision is never blocked on the
 * ledger) live in the policy data (ReleasePolicy.unrecordedAllowed), not here.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { ledgerRequiredFor, type Eligibility } from '../../definitions/release-policy.js';
import { isPass } from '../../definitions/verdict.js';
import { parseVersionTag } from '../release/semver.js';
import { formatArgv } from '../../platform/process/argv.js';
import { decideDeploy, decideRollback, decideRollbackSchema, formatEligibility, pickCandidate } from './decide.js';
import { formatRollbackRefusal } from '../../platform/ledger/rollback-schema.js';
import type { RollbackRequest } from './request.js';
import type { RollbackFacts } from './facts.js';
import type { RollbackDecision } from './decide.js';
import type { ChecklistDeployment, DeliveryDeps } from './deps.js';
import { endAnnouncements, runLink, startAnnouncement } from './announce.js';
import { executePlan, type ExecutionResult, type GateOutcome } from './execute.js';
import { describe, gatherDeployFacts, gatherRollbackFacts, readLedger } from './facts.js';
import { formatPlan, planDeploy, planRollback, type Plan } from './plan.js';
import { deployPayload, openOperation, recordAftermath, recordTarget, rollbackPayload } from './record.js';
import { renderManifests } from './render.js';
import { judgeBackupStep } from './backup.js';
import {
  parseDeployRequest,
  parseRollbackRequest,
  resolveEnvironment,
  type DeployOptions,
  type RollbackOptions,
} from './request.js';
import { conclude, summaryOf, verdictOf } from './verdict.js';
import type { LedgerPayload } from '../../platform/ledger/entry.js';
import type { Announcement } from '../../platform/notify/announcement.js';

export type { DeliveryDeps } from './deps.js';
export type { DeployOptions, RollbackOptions } from './request.js';
export { formatEligibility } from './decide.js';
export { resolveEnvironment } from './request.js';

/** Refused: the verdict to stderr, exit 1 naming the rule. */
function enforce(eligibility: Eligibility, image: string, what: string, deps: DeliveryDeps): string {
  const verdict = formatEligibility(eligibility, image);
  if (isPass(eligibility)) return verdict;
  deps.err(verdict);
  const rule = eligibility.refusedBy!;
  throw new FailedError(`release policy refuses ${what}: rule "${rule.rule}": ${rule.reasons.join('; ')}`);
}

export async function runDeploy(opts: DeployOptions, deps: DeliveryDeps): Promise<ExecutionResult | Plan> {
  const now = deps.now ?? Date.now;
  const req = parseDeployRequest(opts, deps.env);
  const env = req.environment;
  const facts = await gatherDeployFacts(req, deps);
  const decision = decideDeploy(req, facts, now());
  if (decision.note) deps.err(decision.note);
  const verdict = enforce(decision.eligibility, decision.image, `${decision.image} for ${env.name}`, deps);
  // Said before anything else runs, so the output reads in the order things happen.
  (req.dryRun ? deps.out : deps.err)(verdict);
  if (facts.backup)
    (req.dryRun ? deps.out : deps.err)(
      `backup before the migration: ${facts.backup.take ? 'taken' : 'none taken'}: ${facts.backup.why}`,
    );
  const manifests = await renderManifests(env, decision.image, deps);
  const plan = planDeploy({
    environment: env,
    image: decision.image,
    version: decision.version,
    manifests,
    ...(req.baseUrl ? { baseUrl: req.baseUrl } : {}),
    ...(req.skipGate ? { skipGate: true } : {}),
    ...(facts.schemaHead ? { precedes: facts.schemaHead } : {}),
    ...(facts.backup && !facts.backup.take ? { skipBackup: facts.backup.why } : {}),
    ...(facts.baseline ? { baseline: facts.baseline } : {}),
  });
  if (req.dryRun) return printPlan(plan, deps);
  const auditSkipped = await deps.auditSkipped?.(facts.source.commit);
  const promotedFrom = decision.eligibility.promotedFrom;
  const payload = deployPayload({
    environment: env.name,
    image: decision.image,
    version: decision.version,
    source: facts.source,
    startedAt: now(),
    ...(auditSkipped !== undefined ? { auditSkipped } : {}),
    ...(promotedFrom ? { promotedFrom } : {}),
    ...(facts.schemaHead ? { schemaHead: facts.schemaHead } : {}),
  });
  const required = ledgerRequiredFor(env.release, 'deploy');
  const deployment = { manifests, ...(facts.source.commit ? { commit: facts.source.commit } : {}) };
  return executeAndRecord(plan, env, deps, payload, {
    ledger: { ref: facts.source.commit ?? req.tag, required },
    deployment,
  });
}

export async function runRollback(opts: RollbackOptions, deps: DeliveryDeps): Promise<ExecutionResult | Plan> {
  const now = deps.now ?? Date.now;
  const req = parseRollbackRequest(opts, deps.env);
  const env = req.environment;
  const facts = await gatherRollbackFacts(req, deps);
  const decision = decideRollback(req, facts, now());
  const { target } = decision;
  if (target && decision.eligibility)
    deps.err(enforce(decision.eligibility, target.image, `rolling ${env.name} back to ${target.image}`, deps));
  await enforceSchema(req, facts, decision, deps);
  const plan = planRollback({ environment: env, ...(target ?? {}), ...(req.baseUrl ? { baseUrl: req.baseUrl } : {}) });
  if (req.dryRun) return printPlan(plan, deps);
  const payload = rollbackPayload(env.name, plan.version, target, now());
  const required = ledgerRequiredFor(env.release, target ? 'rollback-to-version' : 'rollback-to-previous');
  return executeAndRecord(plan, env, deps, payload, {
    ledger: { ...(req.ref ? { ref: req.ref } : {}), required },
    ...(req.trigger ? { trigger: req.trigger } : {}),
  });
}

/**
 * Migration-aware rollback: the code goes back only onto a schema the ledger shows it fits. Otherwise: say so,
 * page (an automatic one opens an incident), print the two ways out, exit 1. A person may go ahead with
 * --accept-schema-risk (after restoring the backup, say); the watcher never can.
 */
async function enforceSchema(
  req: RollbackRequest,
  facts: RollbackFacts,
  decision: RollbackDecision,
  deps: DeliveryDeps,
): Promise<void> {
  const env = req.environment;
  const verdict = decideRollbackSchema(req, facts, decision);
  const why = verdict.reasons.join('; ');
  if (isPass(verdict)) return deps.err(`schema: ${why}`);
  const automatic = req.trigger !== undefined;
  const lines = formatRollbackRefusal(verdict, env.name, automatic);
  if (req.acceptSchemaRisk) {
    deps.err(`warning: --accept-schema-risk: going ahead although ${why}`);
    return;
  }
  for (const l of lines) deps.err(l);
  if (!req.dryRun)
    await announce(deps, env, [
      {
        operation: 'rollback',
        stage: 'failed',
        environment: env.name,
        version: decision.target?.version ?? 'previous',
        ...(automatic ? { automatic: true } : {}),
        reason: `rollback refused, nothing changed: ${why}${automatic ? ` (trigger: ${req.trigger})` : ''}`,
        links: { environment: env.url, ...(runLink(deps.env) ? { run: runLink(deps.env)! } : {}) },
      },
    ]);
  throw new FailedError(`rollback of ${env.name} refused: ${why}`);
}

function printPlan(plan: Plan, deps: DeliveryDeps): Plan {
  deps.out(formatPlan(plan, formatArgv));
  return plan;
}

interface RecordOptions {
  /** The ref the ledger record names, and whether the operation may go unrecorded. */
  readonly ledger: { readonly ref?: string | undefined; readonly required: boolean };
  /** Why an automatic rollback runs (the watcher's trigger); absent = a person asked for it. */
  readonly trigger?: string;
  /** A deploy's own facts for its checklist (the manifests it applies, the commit). */
  readonly deployment?: ChecklistDeployment;
}

/** record-open → execute → record-outcome → summary → conclude. */
async function executeAndRecord(
  plan: Plan,
  env: EnvironmentDefinition,
  deps: DeliveryDeps,
  payload: LedgerPayload,
  { ledger, trigger, deployment }: RecordOptions,
): Promise<ExecutionResult> {
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const target = recordTarget(env, deps, ledger.ref, ledger.required);
  const record = await openOperation(payload, plan, env, target);
  const told = { plan, env, payload, processEnv: deps.env, ...(trigger ? { trigger } : {}) };
  await announce(deps, env, [startAnnouncement(told)]);
  let gate: GateOutcome | undefined;
  const migrationsCheck = deps.migrationsCheck;
  const result = await executePlan(plan, {
    runner: deps.runner,
    checklist: () => deps.checklist(env, deployment),
    smoke: deps.smoke,
    gate: async (url, baseline) => (gate = await deps.gate(env, url, baseline)),
    ...(migrationsCheck ? { migrationsCheck: () => migrationsCheck(env) } : {}),
    backup: (step) => judgeBackupStep(step, env, { runner: deps.runner, target, now }),
    log: deps.err,
    now,
  });
  const durationMs = now() - startedAt;
  const verdict = verdictOf(plan, env, result, durationMs);
  const problems = await recordAftermath(
    { record, payload, plan, result, verdict, durationMs, now, ...(gate ? { gate } : {}) },
    target,
  );
  await deps.summary?.(summaryOf(plan, env, result));
  await announce(deps, env, endAnnouncements(told, result, gate, durationMs));
  conclude(verdict, result, problems, ledger.required, target.local.where, deps);
  return result;
}

/** Announcements in order; the notifier never throws, and if a custom one does, the operation goes on. */
async function announce(deps: DeliveryDeps, env: EnvironmentDefinition, list: readonly Announcement[]) {
  for (const a of list) await deps.announce?.(env, a).catch((e: Error) => deps.err(`warning: notify: ${e.message}`));
}

export interface CandidateOptions {
  readonly env: string;
  readonly version: string;
}

/**
 * `kgraph-ci promotion candidate`: the digest reference a release tag would promote, or undefined (the
 * workflow then builds the tag, runs the previous environment's gates on it, and promotes that).
 * A ledger or source that cannot be read is an error, never "none": that would rebuild for no reason.
 */
export async function promotionCandidate(
  opts: CandidateOptions,
  deps: DeliveryDeps,
): Promise<{ image?: string; reason: string }> {
  const env = resolveEnvironment(opts.env);
  parseVersionTag(opts.version);
  if (!env.release.promotion)
    throw new UsageError(`${env.name} does not promote from another environment: its release policy has no promotion`);
  const source = await describe(deps, () => deps.sources?.describeTag(opts.version));
  if (!source.tree)
    throw new FailedError(`cannot tell the source tree of ${opts.version} from ${deps.sources?.where ?? 'anywhere'}`);
  const ledger = await readLedger(deps, env.release.promotion.from);
  if (!ledger.reachable) throw new FailedError(`the delivery ledger is unreachable: ${ledger.reason}`);
  return pickCandidate(env, opts.version, source, ledger, (deps.now ?? Date.now)());
}
