/**
 * The ledger records of a deploy or rollback: the payloads (pure), opening the operation's record before
 * anything changes (fail closed where the policy requires it), and after the run its outcome, the gate's
 * verdict and an automatic rollback as records of their own.
 */
import { join } from 'node:path';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { FailedError } from '../../definitions/errors.js';
import { isPass } from '../../definitions/verdict.js';
import { PAYLOAD_SCHEMA, type LedgerPayload } from '../../platform/ledger/entry.js';
import { localLedger, RECORDS_DIR } from '../../platform/ledger/local.js';
import {
  LedgerWriteError,
  openRecord,
  writeRecord,
  type OpenRecord,
  type RecordTarget,
} from '../../platform/ledger/recorder.js';
import { digestOf } from './decide.js';
import type { DeliveryDeps } from './deps.js';
import type { ExecutionResult, GateOutcome } from './execute.js';
import type { Plan } from './plan.js';
import type { SourceFacts } from './sources.js';

export function recordTarget(
  env: EnvironmentDefinition,
  deps: DeliveryDeps,
  ref: string | undefined,
  required: boolean,
): RecordTarget {
  return {
    local: localLedger(join(deps.cwd, deps.recordsDir ?? RECORDS_DIR), deps.now ?? Date.now),
    ...(deps.ledger ? { remote: deps.ledger } : {}),
    required,
    ...(ref ? { ref } : {}),
    production: env.release.production,
    environmentUrl: env.url,
    warn: deps.err,
  };
}

export interface DeployRecordInput {
  readonly environment: string;
  readonly image: string;
  readonly version: string;
  readonly source: SourceFacts;
  readonly startedAt: number;
  readonly auditSkipped?: boolean;
  readonly promotedFrom?: { readonly environment: string; readonly at: string };
  /** The newest migration of the deployed tree. */
  readonly schemaHead?: string;
}

export function deployPayload(input: DeployRecordInput): LedgerPayload {
  const { source } = input;
  const digest = digestOf(input.image);
  return {
    schema: PAYLOAD_SCHEMA,
    operation: input.promotedFrom ? 'promotion' : 'deploy',
    environment: input.environment,
    image: input.image,
    ...(digest ? { digest } : {}),
    version: input.version,
    ...(source.commit ? { commit: source.commit } : {}),
    ...(source.tree ? { tree: source.tree } : {}),
    ...(source.mergedAt ? { mergedAt: source.mergedAt } : {}),
    startedAt: new Date(input.startedAt).toISOString(),
    ...(input.auditSkipped !== undefined ? { auditSkipped: input.auditSkipped } : {}),
    ...(input.promotedFrom
      ? { promotedFrom: { environment: input.promotedFrom.environment, at: input.promotedFrom.at } }
      : {}),
    ...(input.schemaHead ? { schemaHead: input.schemaHead } : {}),
  };
}

export function rollbackPayload(
  environment: string,
  version: string,
  target: { image: string } | undefined,
  startedAt: number,
): LedgerPayload {
  const digest = digestOf(target?.image);
  return {
    schema: PAYLOAD_SCHEMA,
    operation: 'rollback',
    environment,
    version,
    ...(target ? { image: target.image } : {}),
    ...(digest ? { digest } : {}),
    startedAt: new Date(startedAt).toISOString(),
  };
}

/** Opens the operation's record; where the ledger is required and cannot take it, nothing runs. */
export async function openOperation(
  payload: LedgerPayload,
  plan: Plan,
  env: EnvironmentDefinition,
  target: RecordTarget,
): Promise<OpenRecord> {
  try {
    return await openRecord(payload, `kgraph-ci ${payload.operation} ${plan.version} to ${env.name}`, target);
  } catch (err) {
    // Fail closed where the ledger is required: nothing has changed yet, and nothing will.
    if (err instanceof LedgerWriteError)
      throw new FailedError(`${err.message}; ${env.name} is never deployed unrecorded, nothing was changed`);
    throw err;
  }
}

export interface Aftermath {
  readonly record: OpenRecord;
  readonly payload: LedgerPayload;
  readonly plan: Plan;
  readonly result: ExecutionResult;
  readonly verdict: string;
  readonly gate?: GateOutcome;
  readonly durationMs: number;
  readonly now: () => number;
}

const caught = (e: Error) => ({ id: '', problems: [e.message] });

/** The outcome, the gate verdict and an automatic rollback, recorded; returns what could not be recorded. */
export async function recordAftermath(a: Aftermath, target: RecordTarget): Promise<string[]> {
  const { payload, plan, result } = a;
  const problems = await a.record.finish(isPass(result) ? 'success' : 'failure', a.verdict);
  const base = {
    schema: PAYLOAD_SCHEMA,
    environment: payload.environment,
    ...(payload.digest ? { digest: payload.digest } : {}),
    ...(payload.tree ? { tree: payload.tree } : {}),
    ...(payload.commit ? { commit: payload.commit } : {}),
    version: plan.version,
  } as const;
  if (a.gate) {
    // Persisted as `passed` (older entries and their readers have it); in memory the gate is a Verdict.
    const gatePassed = isPass(a.gate);
    const gate = {
      passed: gatePassed,
      ...(a.gate.baselineCompared !== undefined ? { baselineCompared: a.gate.baselineCompared } : {}),
      reasons: a.gate.reasons.slice(0, 10),
    };
    const timings = { durationMs: a.durationMs, steps: result.steps.map((s) => ({ name: s.name, ms: s.durationMs })) };
    const g = await writeRecord(
      {
        ...base,
        operation: 'gate',
        startedAt: new Date(a.now()).toISOString(),
        of: a.record.id,
        gate,
        timings,
        ...(payload.auditSkipped !== undefined ? { auditSkipped: payload.auditSkipped } : {}),
      },
      gatePassed ? 'success' : 'failure',
      `gate ${gatePassed ? 'passed' : 'failed'} for ${plan.version}`,
      target,
    ).catch(caught);
    problems.push(...g.problems);
  }
  if (result.rollback) {
    // The digest field of a rollback is where it went back to; `undone` is what it rolled back from.
    const { digest: undone, ...rest } = base as typeof base & { digest?: string };
    const back = digestOf(result.previousImage);
    const r = await writeRecord(
      {
        ...rest,
        operation: 'rollback',
        automatic: true,
        startedAt: new Date(a.now()).toISOString(),
        ...(undone ? { undone } : {}),
        ...(result.previousImage ? { image: result.previousImage } : {}),
        ...(back ? { digest: back } : {}),
      },
      isPass(result.rollback) ? 'success' : 'failure',
      `automatic rollback after ${plan.version} failed`,
      target,
    ).catch(caught);
    problems.push(...r.problems);
  }
  return problems;
}
