/**
 * The backup phase's judge: the manifest the backup Job printed (its log), the pure judgeBackup over it with
 * the environment's policy (fresh, verified, of this environment, taken before this migration), and a
 * `backup` ledger record (size, SHA-256, the migration it precedes, where it is) whatever the verdict, so
 * rollback advice can name the newest backup. No manifest, a stale or unverified one, or a record the ledger
 * did not take: the migration does not run.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { judgeBackup, manifestFromLog, type BackupManifest } from '../backup/manifest.js';
import { PAYLOAD_SCHEMA, type LedgerPayload } from '../../platform/ledger/entry.js';
import { writeRecord, type RecordTarget } from '../../platform/ledger/recorder.js';
import type { CommandRunner } from '../../platform/kube/runner.js';
import type { JudgeOutcome } from './execute.js';
import type { PlanStep } from './plan.js';

export interface BackupJudgeDeps {
  readonly runner: CommandRunner;
  readonly target: RecordTarget;
  readonly now: () => number;
}

export function backupPayload(env: EnvironmentDefinition, m: BackupManifest, now: number): LedgerPayload {
  const storage = env.database.backup?.storage;
  return {
    schema: PAYLOAD_SCHEMA,
    operation: 'backup',
    environment: env.name,
    startedAt: new Date(now).toISOString(),
    backup: {
      id: m.id,
      bytes: m.bytes,
      sha256: m.sha256,
      precedes: m.precedes,
      createdAt: m.createdAt,
      verified: m.verified,
      location: storage ? `pvc/${storage.claimName}:${storage.mountPath}/${m.id}.dump` : `${m.id}.dump`,
    },
  };
}

export async function judgeBackupStep(
  step: Extract<PlanStep, { kind: 'backup' }>,
  env: EnvironmentDefinition,
  deps: BackupJudgeDeps,
): Promise<JudgeOutcome> {
  const policy = env.database.backup;
  if (!policy) return { ok: false, detail: `${env.name} has no backup policy, yet the plan asks for a backup` };
  if (!step.precedes)
    return {
      ok: false,
      detail: 'cannot tell which migration the deploy applies, so no backup can be said to precede it',
    };
  const logs = await deps.runner({
    argv: ['kubectl', '--namespace', env.namespace, 'logs', `job/${step.job}`, '--tail=200'],
    timeoutMs: 60_000,
  });
  const manifest = logs.exitCode === 0 ? manifestFromLog(logs.stdout) : undefined;
  const now = deps.now();
  const verdict = judgeBackup(manifest, {
    environment: env.name,
    precedes: step.precedes,
    maxAgeMinutes: policy.maxAgeMinutes,
    now,
  });
  const detail = verdict.ok ? verdict.detail : verdict.reason;
  if (!manifest)
    return { ok: false, detail: logs.exitCode === 0 ? detail : `${detail} (kubectl logs exit ${logs.exitCode})` };
  try {
    const { problems } = await writeRecord(
      backupPayload(env, manifest, now),
      verdict.ok ? 'success' : 'failure',
      detail,
      deps.target,
    );
    if (problems.length && deps.target.required)
      return { ok: false, detail: `${detail}; but the ledger did not take it: ${problems.join('; ')}` };
  } catch (err) {
    return { ok: false, detail: `${detail}; but the ledger did not take it: ${(err as Error).message}` };
  }
  return { ok: verdict.ok, detail };
}
