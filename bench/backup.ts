/**
 * Backup and restore at scale. `npx tsx bench/backup.ts [--counts 10000,100000]` (run under
 * `flock /work/bench.lock`): for each tool count, a fresh database migrated and seeded by app/src/seed.ts,
 * then `createBackup` (pg_dump -Fc, SHA-256, pg_restore --list) and `restoreBackup` into a fresh database,
 * the content fingerprint compared. Baselines measured in the same run: a bare `pg_dump -Fc` of the same
 * database (what the checks add), the database's own size (the dump's compression), and the smallest count
 * (how time and size scale).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../app/src/migrate.js';
import { seed } from '../app/src/seed.js';
import { contentFingerprint, dumpTo } from '../ci/src/deliver/backup/postgres.js';
import { createBackup, restoreBackup } from '../ci/src/deliver/backup/store.js';
import { createEphemeralServices, newRunId, type EphemeralServices } from '../ci/src/platform/services/ephemeral.js';

const args = process.argv.slice(2);
const countsArg = args[args.indexOf('--counts') + 1];
const counts = (args.includes('--counts') && countsArg ? countsArg : '10000,100000').split(',').map(Number);
const runId = newRunId();
const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const v = await fn();
  return [v, performance.now() - t];
};
const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function dbSize(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query<{ b: string }>('SELECT pg_database_size(current_database())::text AS b')).rows[0]!.b);
  } finally {
    await c.end();
  }
}

interface Row {
  count: number;
  dbBytes: number;
  dumpBytes: number;
  bareDumpMs: number;
  backupMs: number;
  restoreMs: number;
  equal: boolean;
}
const rows: Row[] = [];
const services: EphemeralServices[] = [];
const store = await mkdtemp(join(tmpdir(), 'kgraph-bench-backup-'));
try {
  for (const count of counts) {
    const [source, target] = await Promise.all(
      [0, 1].map(() => createEphemeralServices({ services: ['postgres'], runId })),
    );
    services.push(source!, target!);
    const src = source!.env.DATABASE_URL!;
    process.stderr.write(`seeding ${count} tools...\n`);
    await migrate(src);
    await seed(src, count);
    const dbBytes = await dbSize(src);
    const [, bareDumpMs] = await timed(() => dumpTo(src, join(store, `bare-${count}.dump`)));
    process.stderr.write(`backing up ${count}...\n`);
    const [m, backupMs] = await timed(() =>
      createBackup({ databaseUrl: src, store, environment: 'prod', precedes: 'bench' }),
    );
    process.stderr.write(`restoring ${count}...\n`);
    const [, restoreMs] = await timed(() => restoreBackup({ store, id: m.id, to: target!.env.DATABASE_URL! }));
    const [a, b] = await Promise.all([contentFingerprint(src), contentFingerprint(target!.env.DATABASE_URL!)]);
    rows.push({
      count,
      dbBytes,
      dumpBytes: m.bytes,
      bareDumpMs,
      backupMs,
      restoreMs,
      equal: JSON.stringify(a) === JSON.stringify(b),
    });
  }
} finally {
  await Promise.all(services.map((x) => x.dispose().catch(() => undefined)));
  await rm(store, { recursive: true, force: true });
}

const base = rows[0]!;
console.log(
  `backup/restore benchmark (load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}: a busy, shared 2-core machine)`,
);
console.log(
  '| tools | database | dump (ratio to database) | bare pg_dump | backup (x bare) | restore | x smallest (backup / restore / size) | content equal |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows)
  console.log(
    `| ${r.count} | ${mib(r.dbBytes)} | ${mib(r.dumpBytes)} (${(r.dumpBytes / r.dbBytes).toFixed(2)}) | ${s(r.bareDumpMs)} | ${s(r.backupMs)} (${(r.backupMs / r.bareDumpMs).toFixed(2)}x) | ${s(r.restoreMs)} | ${(r.backupMs / base.backupMs).toFixed(1)} / ${(r.restoreMs / base.restoreMs).toFixed(1)} / ${(r.dumpBytes / base.dumpBytes).toFixed(1)} | ${r.equal ? 'yes' : 'NO'} |`,
  );
if (rows.some((r) => !r.equal)) process.exitCode = 1;
