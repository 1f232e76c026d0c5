/**
 * Rollout rehearsal benchmark (issue 23): 3 instances at 200 req/s through the round-robin proxy, the
 * previous release -> migration -> candidate (prod's maxSurge/maxUnavailable) -> automatic rollback.
 * Prints per phase: requests, failures, p50/p95 and their ratio to the previous release at rest (the
 * baseline, measured in the same run), stale reads and the stalest, and the time each phase took.
 * Exit 1 when the rehearsal fails (any failed request, any read staler than 1 s).
 * Run: flock /work/bench.lock npx tsx bench/rollout.ts --previous REF [--rate 200] [--instances 3] [--steady 10]
 *      [--candidate-env KEY=VALUE] (e.g. CACHE_LEGACY_INVALIDATION=false to rehearse without the fix)
 */
import { ENVIRONMENTS } from '../ci/src/definitions/environments.js';
import { spawnRunner } from '../ci/src/platform/kube/runner.js';
import { table } from '../ci/src/platform/report/markdown.js';
import { REPO_ROOT } from '../ci/src/platform/repo-root.js';
import { rehearseRollout } from '../ci/src/deliver/rollout/rehearsal.js';
import { failureSourcesText } from '../ci/src/deliver/rollout/sources.js';
import { isPass } from '../ci/src/definitions/verdict.js';

const args = process.argv.slice(2);
const arg = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const int = (name: string, fallback: number) => {
  const v = Number(arg(name) ?? fallback);
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`${name}: must be a positive integer`);
    process.exit(2);
  }
  return v;
};
const previous = arg('--previous');
const candidateEnv = Object.fromEntries(
  args.flatMap((a, i) => (args[i - 1] === '--candidate-env' ? [a.split('=', 2) as [string, string]] : [])),
);
const started = Date.now();
const log = (m: string) => console.error(`[rollout +${((Date.now() - started) / 1000).toFixed(1)} s] ${m}`);

const result = await rehearseRollout(
  {
    environment: ENVIRONMENTS.prod,
    // No --previous and no v* tag: this tree against itself (the report says so).
    ...(previous ? { previous } : { selfWhenNoPrevious: true }),
    instances: int('--instances', 3),
    rate: int('--rate', 200),
    steadySeconds: int('--steady', 10),
    seedCount: 200,
    candidateEnv,
    maxStaleMs: 1_000,
  },
  { repoRoot: REPO_ROOT, runner: spawnRunner(process.env, REPO_ROOT), log },
);
const r = result.report;
const f = (x?: number, d = 1) => (x === undefined ? '-' : x.toFixed(d));
console.log(
  `rollout rehearsal from ${result.previous.ref}, ${result.strategy.replicas} instances (surge ${result.strategy.maxSurge}, unavailable ${result.strategy.maxUnavailable}), ${arg('--rate') ?? 200} req/s${Object.keys(candidateEnv).length ? `, candidate env ${JSON.stringify(candidateEnv)}` : ''}`,
);
console.log(
  table(
    ['phase', 's', 'requests', 'failures', 'p50 ms', 'p95 ms', 'p95 / previous', 'stale reads', 'stalest ms'],
    r.phases.map((p) => [
      p.judged ? p.name : `${p.name} (not judged)`,
      f(p.seconds),
      p.requests,
      p.failures,
      f(p.p50),
      f(p.p95),
      f(p.p95Ratio, 2),
      p.staleReads,
      Math.round(p.maxStaleMs),
    ]),
  ),
);
if (result.failureSources.length) console.log(failureSourcesText(result.failureSources));
console.log(`total ${f(r.seconds)} s; ${isPass(r) ? 'PASSED' : `FAILED: ${r.reasons.join('; ')}`}`);
process.exitCode = isPass(r) ? 0 : 1;
