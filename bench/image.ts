/**
 * Image build benchmark. `flock /tmp/kgraph-heavy.lock npx tsx bench/image.ts [--rounds N]`
 *
 * On a copy of the build context (so the checkout is never edited), with the step table's image spec:
 * 1. cold: `--no-cache` (no layer cache; base images present, npm downloads everything again);
 * 2. one-file: one app source file changed (its content, which is what BuildKit's cache keys on);
 * 3. no-change: the same context again.
 * Then the image size over its base. Targets: one-file <= 20% of cold, no-change <= 5% of cold.
 * A stand-in base (this machine's Node, not the pinned one) is said so in the output.
 */
import { execFileSync } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildImage, type BuiltImage } from '../ci/src/verify/image/build.js';
import { describeBase } from '../ci/src/verify/image/base.js';
import { dockerCli, engineStatus } from '../ci/src/verify/image/docker.js';
import { standinMaker } from '../ci/src/verify/image/step.js';
import { REPO_ROOT } from '../ci/src/platform/repo-root.js';
import { STEPS } from '../ci/src/definitions/steps.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1] ?? 3) || 3;
const docker = dockerCli();
const engine = await engineStatus(docker);
if (!engine.available) {
  console.log(`bench/image: no image benchmark: ${engine.reason}`);
  process.exit(1);
}
const spec = STEPS.build.image!;
const tag = 'kgraph-mcp:bench';
const quiet = () => undefined;

// The context as git sees it (tracked or untracked-but-not-ignored files), copied.
const ctx = await mkdtemp(join(tmpdir(), 'kgraph-bench-image-'));
const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
  cwd: REPO_ROOT,
  encoding: 'utf8',
})
  .split('\0')
  .filter(Boolean);
for (const f of files.filter((f) => /^(package(-lock)?\.json|tsconfig\.base\.json|app\/|ci\/package\.json)/.test(f))) {
  await mkdir(dirname(join(ctx, f)), { recursive: true });
  await cp(join(REPO_ROOT, f), join(ctx, f)).catch(() => undefined); // deleted since listing
}

const build = async (noCache = false): Promise<BuiltImage> =>
  buildImage(
    { root: ctx, spec, params: { env: 'prod' }, tag, noCache },
    { docker, makeStandin: standinMaker(process.env, quiet), log: quiet },
  );
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;

try {
  await build(); // bases ready and the cache warm, so "cold" below measures the build, not the stand-in
  const colds: number[] = [];
  const oneFile: number[] = [];
  const noChange: number[] = [];
  let last: BuiltImage | undefined;
  for (let r = 1; r <= rounds; r++) {
    const cold = await build(true);
    colds.push(cold.durationMs);
    await appendFile(join(ctx, 'app/src/main.ts'), `\n// bench round ${r} ${Date.now()}\n`);
    const one = await build();
    oneFile.push(one.durationMs);
    last = await build();
    noChange.push(last.durationMs);
    console.log(
      `round ${r}: cold ${s(cold.durationMs)}, one-file ${s(one.durationMs)}, no-change ${s(last.durationMs)}`,
    );
  }
  const cold = median(colds);
  const one = median(oneFile);
  const none = median(noChange);
  const over = last!.sizeBytes - last!.baseSizeBytes;
  const base = last!.bases.find((b) => b.name === last!.finalBase);
  console.log('');
  console.log(`engine docker ${engine.version}, BuildKit, ${rounds} rounds, medians`);
  console.log(`base: ${base ? describeBase(base) : last!.finalBase}`);
  console.log(`cold build (no layer cache)   ${s(cold)}`);
  console.log(
    `one app file changed          ${s(one)}  = ${pct(one, cold)} of cold  (target <= 20%: ${one <= 0.2 * cold ? 'met' : 'MISSED'})`,
  );
  console.log(
    `nothing changed               ${s(none)}  = ${pct(none, cold)} of cold  (target <= 5%: ${none <= 0.05 * cold ? 'met' : 'MISSED'})`,
  );
  console.log(
    `image ${(last!.sizeBytes / 1e6).toFixed(1)} MB, base ${(last!.baseSizeBytes / 1e6).toFixed(1)} MB, over the base ${(over / 1e6).toFixed(1)} MB (budget ${(spec.maxBytesOverBase / 1e6).toFixed(1)} MB)`,
  );
  if (base?.source === 'standin')
    console.log("NOTE: measured on the stand-in base (this machine's Node 20), not the pinned Node 22 image.");
} finally {
  await docker(['image', 'rm', '--force', tag]);
  await rm(ctx, { recursive: true, force: true });
}
