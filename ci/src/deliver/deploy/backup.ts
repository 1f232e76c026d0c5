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
import { failed, inconclusive, isPass, type Verdict } from '../../definitions/verdict.js';
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
): Promise<Verdict> {
  const policy = env.database.backup;
  if (!policy) return failed(`${env.name} has no backup policy, yet the plan asks for a backup`);
  if (!step.precedes)
    return inconclusive('cannot tell which migration the deploy applies, so no backup can be said to precede it');
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
  const detail = verdict.reasons.join('; ');
  if (!manifest) return failed(logs.exitCode === 0 ? detail : `${detail} (kubectl logs exit ${logs.exitCode})`);
  try {
    const { problems } = await writeRecord(
      backupPayload(env, manifest, now),
      isPass(verdict) ? 'success' : 'failure',
      detail,
      deps.target,
    );
    if (problems.length && deps.target.required)
      return failed(`${detail}; but the ledger did not take it: ${problems.join('; ')}`);
  } catch (err) {
    return failed(`${detail}; but the ledger did not take it: ${(err as Error).message}`);
  }
  return verdict;
}
