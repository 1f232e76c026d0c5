/**
 * Host runner benchmark. `npx tsx bench/runner.ts [--steps a,b,c] [--only overhead|parallel]`
 *
 * 1. Overhead: a chain of fixture steps that do nothing (`true`), through runPipeline, against spawning
 *    the same commands directly in the same run. Target: < 300 ms for the whole pipeline.
 * 2. Parallel vs sequential (`--parallel-first` swaps the order): `kgraph-ci run lint typecheck test integrationTest` with the default
 *    concurrency (cores) and with --sequential, one after the other in this run. Target: <= 0.75x.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { runPipeline, type RunReport } from '../ci/src/verify/runner/run.js';
import type { RunnableStep } from '../ci/src/verify/runner/graph.js';
import type { ServicesProvider } from '../ci/src/verify/runner/services.js';
import { formatDuration } from '../ci/src/verify/runner/report.js';

const repo = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const only = opt('only');
const steps = (opt('steps') ?? 'lint,typecheck,test,integrationTest').split(',');

const sink = new Writable({ write: (_c, _e, cb) => cb() });
const none: ServicesProvider = {
  mode: 'external',
  lease: () => Promise.reject(new Error('none')),
  sweep: () => Promise.resolve(),
};
const noop = (name: string, dependsOn: string[]): RunnableStep => ({
  name,
  commands: [['true']],
  params: [],
  services: [],
  env: {},
  dependsOn,
  timeoutSeconds: 30,
  inAll: true,
});
const spawnWait = (argv: string[], cwd = repo, env = process.env) =>
  new Promise<number | null>((r) => spawn(argv[0]!, argv.slice(1), { cwd, env, stdio: 'ignore' }).once('close', r));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function overhead(): Promise<void> {
  const n = 6;
  const chain = Array.from({ length: n }, (_, i) => noop(`s${i}`, i > 0 ? [`s${i - 1}`] : []));
  const wide = Array.from({ length: n }, (_, i) => noop(`w${i}`, []));
  const runner: number[] = [];
  const runnerWide: number[] = [];
  const direct: number[] = [];
  const pipeline = (steps: typeof chain) =>
    runPipeline({
      steps,
      concurrency: availableParallelism(),
      cwd: repo,
      env: process.env,
      out: sink,
      services: none,
      heartbeatMs: 0,
    });
  for (let round = 0; round < 7; round++) {
    let t = performance.now();
    for (let i = 0; i < n; i++) await spawnWait(['true']);
    direct.push(performance.now() - t);
    t = performance.now();
    await pipeline(chain);
    runner.push(performance.now() - t);
    t = performance.now();
    await pipeline(wide);
    runnerWide.push(performance.now() - t);
  }
  const [d, r, w] = [median(direct), median(runner), median(runnerWide)];
  console.log(`\n## Runner overhead (${n} no-op steps, median of 7)`);
  console.log(`direct spawn, sequential (baseline) : ${d.toFixed(1)} ms`);
  console.log(
    `runPipeline, ${n}-step chain          : ${r.toFixed(1)} ms  (${(r / d).toFixed(2)}x baseline, overhead ${(r - d).toFixed(1)} ms)`,
  );
  console.log(`runPipeline, ${n} independent steps   : ${w.toFixed(1)} ms  (${(w / d).toFixed(2)}x baseline)`);
  console.log(`target overhead < 300 ms: ${r - d < 300 ? 'met' : 'MISSED'}`);
  // The CLI's own start-up (tsx compiling the sources) is paid once per `kgraph-ci` call.
  const cli: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await spawnWait([process.execPath, 'ci/bin/kgraph-ci.js', '--help']);
    cli.push(performance.now() - t);
  }
  const node: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await spawnWait([process.execPath, '-e', '0']);
    node.push(performance.now() - t);
  }
  console.log(
    `kgraph-ci --help start-up           : ${median(cli).toFixed(0)} ms (bare node: ${median(node).toFixed(0)} ms)`,
  );
}

async function cliRun(
  extra: string[],
  json: string,
): Promise<{ wallMs: number; report: RunReport; code: number | null }> {
  const t = performance.now();
  const code = await spawnWait(
    [process.execPath, 'ci/bin/kgraph-ci.js', 'run', ...steps, '--json', json, ...extra],
    repo,
    { ...process.env, GITHUB_STEP_SUMMARY: '' },
  );
  const wallMs = performance.now() - t;
  return { wallMs, code, report: JSON.parse(await readFile(json, 'utf8')) as RunReport };
}

async function parallel(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kgraph-bench-'));
  try {
    console.log(`\n## kgraph-ci run ${steps.join(' ')}: parallel vs sequential (${availableParallelism()} cores)`);
    process.stdout.write('warm-up (eslint cache, tsx cache): ');
    await spawnWait([process.execPath, 'ci/bin/kgraph-ci.js', 'run', 'lint', '--json', join(dir, 'warm.json')]);
    console.log('done');
    // --parallel-first swaps the order, to see how much a changing machine load moves the ratio.
    const measure = async (label: string, extra: string[], file: string) => {
      process.stdout.write(`${label}: `);
      const r = await cliRun(extra, join(dir, file));
      console.log(`${formatDuration(r.wallMs)} (load average ${loadavg()[0]!.toFixed(1)})`);
      return r;
    };
    let seq;
    let par;
    if (args.includes('--parallel-first')) {
      par = await measure('parallel  ', [], 'par.json');
      seq = await measure('sequential', ['--sequential'], 'seq.json');
    } else {
      seq = await measure('sequential', ['--sequential'], 'seq.json');
      par = await measure('parallel  ', [], 'par.json');
    }
    console.log('\n| step | sequential | parallel |\n| --- | --- | --- |');
    for (const s of seq.report.steps) {
      const p = par.report.steps.find((x) => x.name === s.name);
      console.log(
        `| ${s.name} | ${formatDuration(s.durationMs)} ${s.status} | ${p ? `${formatDuration(p.durationMs)} ${p.status}` : '-'} |`,
      );
    }
    const ratio = par.wallMs / seq.wallMs;
    console.log(`\nsequential (baseline): ${formatDuration(seq.wallMs)} (exit ${seq.code})`);
    console.log(
      `parallel:              ${formatDuration(par.wallMs)} (exit ${par.code}, concurrency ${par.report.concurrency})`,
    );
    console.log(
      `ratio parallel/sequential: ${ratio.toFixed(2)}x; target <= 0.75x: ${ratio <= 0.75 ? 'met' : 'MISSED'}`,
    );
    if (!seq.report.ok || !par.report.ok) console.log('note: some steps failed; durations still compare like for like');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (only !== 'parallel') await overhead();
if (only !== 'overhead') await parallel();
