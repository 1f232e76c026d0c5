/**
 * The prod overlay's backup Job, run for real: its shell script (as rendered by kubectl kustomize) under sh
 * with this machine's pg_dump 15 against a seeded database and a directory standing in for the volume. What
 * it writes must be what `kgraph-ci backup verify|restore` read, its manifest line what the deploy's judge
 * reads; a store that cannot be written prints no manifest, so prod refuses to migrate.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../../app/src/migrate.js';
import { seed } from '../../../../app/src/seed.js';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import { judgeBackup, manifestFromLog } from '../../../src/deliver/backup/manifest.js';
import { contentFingerprint } from '../../../src/deliver/backup/postgres.js';
import { restoreBackup, verifyBackup } from '../../../src/deliver/backup/store.js';
import { BACKUP_JOB_NAME } from '../../../src/platform/kube/backup-job.js';
import { parseManifests } from '../../../src/platform/kube/validate.js';
import { REPO_ROOT } from '../../../src/platform/repo-root.js';
import { useScratch } from '../../../../testkit/services.js';

const scratch = useScratch();
const { freshDatabase } = scratch;
const tempDir = () => scratch.tempDir('kgraph-backup-job-');

type Ctr = { command: string[]; env: { name: string; value?: string }[] };
const rendered = parseManifests(
  execFileSync('kubectl', ['kustomize', join(REPO_ROOT, 'k8s/overlays/prod')], { encoding: 'utf8' }),
);
const job = rendered.find((o) => o.kind === 'Job' && o.metadata?.name === BACKUP_JOB_NAME)!;
const container = (job.spec as { template: { spec: { containers: Ctr[] } } }).template.spec.containers[0]!;
const script = container.command[2]!;
const fixed = Object.fromEntries(container.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));

function runJob(env: Record<string, string>) {
  const r = spawnSync('sh', ['-c', script], {
    env: { PATH: process.env.PATH!, ...fixed, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const PRECEDES = '1800000000000_tools_homepage';
const policy = ENVIRONMENTS.prod.database.backup!;

describe('the backup Job of the prod overlay', { timeout: 180_000 }, () => {
  it('dumps, checksums and prints a manifest the judge accepts; backup verify and restore read what it wrote', async () => {
    expect(container.command.slice(0, 2)).toEqual(['sh', '-c']);
    expect(fixed).toMatchObject({ BACKUP_ENVIRONMENT: 'prod', BACKUP_DIR: policy.storage.mountPath });
    const source = await freshDatabase();
    await migrate(source);
    await seed(source, 200);
    const store = tempDir();
    const r = runJob({ DATABASE_URL: source, BACKUP_DIR: store, BACKUP_PRECEDES: PRECEDES });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const m = manifestFromLog(r.out)!;
    expect(m).toMatchObject({ environment: 'prod', precedes: PRECEDES, format: 'custom', verified: true });
    expect(m.source).not.toMatch(/@|postgres:\/\//); // host:port/database only, no user or password
    expect(r.out).not.toContain(source);
    const verdict = judgeBackup(m, { environment: 'prod', precedes: PRECEDES, maxAgeMinutes: 30, now: Date.now() });
    expect(verdict.outcome).toBe('passed');
    expect(await verifyBackup(store, m.id)).toEqual(m);
    const target = await freshDatabase();
    await restoreBackup({ store, id: m.id, to: target });
    const [a, b] = await Promise.all([contentFingerprint(source), contentFingerprint(target)]);
    expect(b).toEqual(a);
    expect(readdirSync(store).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('keeps the newest BACKUP_KEEP backups and removes older dumps with their manifests', async () => {
    const source = await freshDatabase();
    await migrate(source);
    const store = tempDir();
    for (const n of [1, 2, 3])
      expect(
        runJob({ DATABASE_URL: source, BACKUP_DIR: store, BACKUP_PRECEDES: `180000000000${n}_m`, BACKUP_KEEP: '2' })
          .code,
      ).toBe(0);
    const left = readdirSync(store).sort();
    expect(left.filter((f) => f.endsWith('.json'))).toHaveLength(2);
    expect(left.filter((f) => f.endsWith('.dump'))).toHaveLength(2);
    expect(left.some((f) => f.includes('1800000000001_m'))).toBe(false);
  });

  it('a store that cannot be written: exit non-zero, no manifest line, and the judge refuses (prod does not migrate)', async () => {
    const source = await freshDatabase();
    const dir = tempDir();
    // A volume that is not a writable directory (a file where the mount should be: root ignores modes).
    const store = join(dir, 'not-a-directory');
    writeFileSync(store, '');
    const r = runJob({ DATABASE_URL: source, BACKUP_DIR: store, BACKUP_PRECEDES: PRECEDES });
    expect(r.code).not.toBe(0);
    expect(manifestFromLog(r.out)).toBeUndefined();
    const v = judgeBackup(manifestFromLog(r.out), {
      environment: 'prod',
      precedes: PRECEDES,
      maxAgeMinutes: 30,
      now: Date.now(),
    });
    expect(v).toMatchObject({ outcome: 'failed', reasons: [expect.stringMatching(/could not be written/)] });
    expect(readdirSync(dir)).toEqual(['not-a-directory']);
  });

  it('an unreachable database or a missing BACKUP_PRECEDES: no manifest, no dump left behind', async () => {
    const store = tempDir();
    const down = runJob({
      DATABASE_URL: 'postgres://nobody:secret-pw@127.0.0.1:1/none',
      BACKUP_DIR: store,
      BACKUP_PRECEDES: PRECEDES,
    });
    expect(down.code).not.toBe(0);
    expect(down.out + down.err).not.toContain('secret-pw');
    expect(manifestFromLog(down.out)).toBeUndefined();
    expect(readdirSync(store)).toEqual([]);
    const unset = runJob({ DATABASE_URL: 'postgres://x@127.0.0.1/x', BACKUP_DIR: store, BACKUP_PRECEDES: 'a"b' });
    expect(unset.code).toBe(2);
    expect(unset.err).toMatch(/BACKUP_PRECEDES must be a migration name/);
  });
});
