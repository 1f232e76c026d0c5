/**
 * Chaos run (issue 11), about two minutes: two service processes under mixed read and write load while
 * Postgres and Redis are each cut and restored 5 times (TCP proxies on 127.0.0.1 between the service
 * and them). Prints crashes, 5xx other than 503, acknowledged writes lost, reads staler than 1 s after a
 * write's 200, and the recovery time after each restore, then the targets (0, 0, 0, 0, recovery <= 2 s).
 * Exit 1 when a target is missed.
 * Run: flock /tmp/kgraph-heavy.lock npx tsx bench/chaos.ts [--cycles N] [--outage-ms MS] [--normal-ms MS]
 */
import { createEphemeralServices } from '../ci/src/platform/services/ephemeral.js';
import { table } from '../ci/src/platform/report/markdown.js';
import { runChaos } from '../app/test/chaos.js';

const args = process.argv.slice(2);
const argOf = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`${name}: must be a positive integer`);
    process.exit(2);
  }
  return v;
};
const CYCLES = argOf('--cycles', 5);
const OUTAGE_MS = argOf('--outage-ms', 3_000);
const NORMAL_MS = argOf('--normal-ms', 4_000);
const RECOVERY_TARGET_MS = 2_000;
const started = Date.now();
const log = (msg: string) => console.error(`[chaos +${((Date.now() - started) / 1000).toFixed(1)} s] ${msg}`);

const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
let failed: boolean;
try {
  const r = await runChaos({
    env: services.env,
    cycles: CYCLES,
    normalMs: NORMAL_MS,
    outageMs: OUTAGE_MS,
    writers: 8,
    readers: 8,
    log,
  });
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `\n## Chaos: 2 instances, Postgres and Redis each cut ${CYCLES} times for ${OUTAGE_MS} ms (${seconds.toFixed(0)} s in all)\n`,
  );
  console.log(
    `requests by status: ${JSON.stringify(r.statuses)}; acknowledged writes ${r.acknowledgedWrites}; reads checked ${r.reads}\n`,
  );
  console.log(
    table(
      ['restore', 'recovered after'],
      r.recoveries.map((x) => [`${x.dependency} #${x.cycle}`, x.ms === null ? 'never (15 s)' : `${x.ms} ms`]),
    ),
  );
  const worst = Math.max(...r.recoveries.map((x) => x.ms ?? Number.POSITIVE_INFINITY));
  const targets: [string, string, boolean][] = [
    ['crashes = 0', String(r.crashes), r.crashes === 0],
    [
      '5xx other than 503 = 0 (and no refused/reset connection)',
      `${r.serverErrors} (+${r.transportErrors} transport)`,
      r.serverErrors === 0 && r.transportErrors === 0,
    ],
    ['acknowledged writes lost = 0', String(r.lostWrites), r.lostWrites === 0],
    ['reads staler than 1 s after a write 200 = 0', String(r.staleReads), r.staleReads === 0],
    [
      `recovery after every restore <= ${RECOVERY_TARGET_MS} ms`,
      `worst ${Number.isFinite(worst) ? `${worst} ms` : 'never'}`,
      worst <= RECOVERY_TARGET_MS,
    ],
    ['both instances exit 0 on SIGTERM', r.exitCodes.join(', '), r.exitCodes.every((c) => c === 0)],
  ];
  console.log('\n## Targets\n');
  console.log(
    table(
      ['target', 'measured', 'met'],
      targets.map(([t, m, ok]) => [t, m, ok ? 'yes' : 'MISSED']),
    ),
  );
  if (r.examples.length > 0) console.log(`\nexamples:\n${r.examples.map((e) => `- ${e}`).join('\n')}`);
  failed = targets.some(([, , ok]) => !ok);
} finally {
  await services.dispose();
}
process.exit(failed ? 1 : 0);
