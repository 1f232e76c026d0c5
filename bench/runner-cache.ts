/**
 * Result-cache benchmark for the host runner. `npx tsx bench/runner-cache.ts [--steps a,b,c] [--lock FILE]`
 * (`--lock /tmp/kgraph-heavy.lock` takes the shared lock around each run, not around the whole
 * benchmark, and times the run from inside the lock, so waiting for it is not counted.)
 *
 * Runs `kgraph-ci run lint typecheck test integrationTest build` (through the CLI, as a developer
 * would) against a fresh cache directory, then again after each change, restoring every change after
 * its run:
 *   1. cold (empty cache)            2. nothing changed          3. only mtimes changed (touch)
 *   4. one file under app/src edited 5. one file under ci/src edited 6. the lockfile changed
 * Each edit appends a comment or whitespace, so the tree stays valid and every step can pass.
 * For each run it prints the wall time (ratio against cold) and which steps ran or were replayed,
 * and checks the re-run set against the steps whose declared inputs match the changed file plus
 * their dependants (computed from the step table, not hard-coded).
 * Targets: nothing changed <= 5% of cold; an app/src edit re-runs only the steps whose inputs include it.
 * It also deletes app/dist before the nothing-changed run and checks that the hit restores it exactly.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { affectedSteps } from '../ci/src/verify/runner/cache/key.js';
import { selectSteps } from '../ci/src/verify/runner/graph.js';
import { formatDuration } from '../ci/src/verify/runner/report.js';
import type { RunReport } from '../ci/src/verify/runner/types.js';
import { STEPS } from '../ci/src/definitions/steps.js';

const repo = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const stepsArg = args.includes('--steps')
  ? args[args.indexOf('--steps') + 1]!
  : 'lint,typecheck,test,integrationTest,build';
const steps = stepsArg.split(',');
const table = Object.values(STEPS);
const selected = selectSteps(table, steps);

const lock = args.includes('--lock') ? args[args.indexOf('--lock') + 1]! : undefined;

/** Runs the CLI and returns its exit code and wall time, measured inside the lock when there is one. */
function timedCli(cliArgs: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; ms: number }> {
  const inner = `const t = performance.now(); const r = require('child_process').spawnSync(process.execPath, ['ci/bin/kgraph-ci.js', ...JSON.parse(process.argv[1])], { stdio: 'ignore' });
    console.log(JSON.stringify({ code: r.status, ms: performance.now() - t }));`;
  const argv = [...(lock ? ['flock', lock] : []), process.execPath, '-e', inner, JSON.stringify(cliArgs)];
  return new Promise((res, rej) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: repo, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.once('close', () => {
      try {
        res(JSON.parse(out.trim().split('\n').at(-1)!) as { code: number | null; ms: number });
      } catch {
        rej(new Error(`no timing from the run: ${out}`));
      }
    });
  });
}

async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    for (const e of (await readdir(join(dir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const p = join(rel, e.name);
      if (e.isDirectory()) await walk(p);
      else h.update(`${p}\0${(await stat(join(dir, p))).mode & 0o111}\0`).update(await readFile(join(dir, p)));
    }
  };
  await walk('');
  return h.digest('hex');
}

interface Scenario {
  readonly label: string;
  /** Repository-relative paths whose content the change alters (empty: none). */
  readonly changed: readonly string[];
  readonly apply: () => Promise<() => Promise<void>>;
}

const appendTo = (path: string, text: string) => async () => {
  const abs = join(repo, path);
  const before = await readFile(abs);
  const st = await stat(abs);
  await writeFile(abs, Buffer.concat([before, Buffer.from(text)]));
  return async () => {
    await writeFile(abs, before);
    await utimes(abs, st.atime, st.mtime);
  };
};

const scenarios: Scenario[] = [
  { label: 'cold (empty cache)', changed: [], apply: () => Promise.resolve(() => Promise.resolve()) },
  { label: 'nothing changed', changed: [], apply: () => Promise.resolve(() => Promise.resolve()) },
  {
    label: 'touch only (mtimes of app/src/main.ts, ci/src/definitions/steps.ts)',
    changed: [],
    apply: async () => {
      const now = new Date();
      for (const p of ['app/src/main.ts', 'ci/src/definitions/steps.ts']) await utimes(join(repo, p), now, now);
      return () => Promise.resolve();
    },
  },
  {
    label: 'one file under app/src edited (app/src/errors.ts)',
    changed: ['app/src/errors.ts'],
    apply: appendTo('app/src/errors.ts', `\n// bench edit ${Date.now()}\n`),
  },
  {
    label: 'one file under ci/src edited (ci/src/definitions/errors.ts)',
    changed: ['ci/src/definitions/errors.ts'],
    apply: appendTo('ci/src/definitions/errors.ts', `\n// bench edit ${Date.now()}\n`),
  },
  {
    label: 'lockfile changed (package-lock.json)',
    changed: ['package-lock.json'],
    apply: appendTo('package-lock.json', '\n'),
  },
];

const cacheDir = await mkdtemp(join(tmpdir(), 'kgraph-bench-cache-'));
const reports = await mkdtemp(join(tmpdir(), 'kgraph-bench-reports-'));
console.log(`## kgraph-ci run ${steps.join(' ')}: result cache (cache ${cacheDir})`);
console.log('scenario | wall | vs cold | ran | cached | expected re-run | check');
console.log('--- | --- | --- | --- | --- | --- | ---');
let coldMs = 0;
let distAfterCold = '';
const verdicts: string[] = [];
try {
  for (const [i, sc] of scenarios.entries()) {
    if (sc.label === 'nothing changed') await rm(join(repo, 'app/dist'), { recursive: true, force: true });
    const undo = await sc.apply();
    const json = join(reports, `run-${i}.json`);
    let code: number | null;
    let wall: number;
    try {
      ({ code, ms: wall } = await timedCli(['run', ...steps, '--json', json, '--cache-dir', cacheDir], {
        ...process.env,
        GITHUB_STEP_SUMMARY: '',
      }));
    } finally {
      await undo();
    }
    const report = JSON.parse(await readFile(json, 'utf8')) as RunReport;
    const ran = report.steps.filter((s) => s.status !== 'cached').map((s) => s.name);
    const cached = report.steps.filter((s) => s.status === 'cached').map((s) => s.name);
    const failed = report.steps
      .filter((s) => s.status !== 'cached' && s.status !== 'passed')
      .map((s) => `${s.name} ${s.status}`);
    const expected = i === 0 ? selected.map((s) => s.name) : [...affectedSteps(table, selected, sc.changed).keys()];
    const same = ran.length === expected.length && ran.every((n) => expected.includes(n));
    if (i === 0) coldMs = wall;
    const ratio = wall / coldMs;
    const check = [
      same ? 're-run set as declared' : 'RE-RUN SET DIFFERS',
      failed.length ? `failed: ${failed.join(', ')}` : '',
      code === 0 ? '' : `exit ${code}`,
    ]
      .filter(Boolean)
      .join('; ');
    console.log(
      `${sc.label} | ${formatDuration(wall)} | ${ratio.toFixed(3)}x | ${ran.join(', ') || '-'} | ${cached.join(', ') || '-'} | ${expected.join(', ') || '-'} | ${check} (load ${loadavg()[0]!.toFixed(1)})`,
    );
    if (i === 0) distAfterCold = await treeHash(join(repo, 'app/dist'));
    if (sc.label === 'nothing changed') {
      const restored = await treeHash(join(repo, 'app/dist')).catch(() => 'missing');
      verdicts.push(
        `nothing changed: ${formatDuration(wall)} = ${(ratio * 100).toFixed(1)}% of cold ${formatDuration(coldMs)}; target <= 5%: ${ratio <= 0.05 ? 'met' : 'MISSED'}`,
      );
      verdicts.push(
        `app/dist deleted before it, restored from the cache: ${restored === distAfterCold ? 'identical to the cold build' : 'DIFFERENT from the cold build'}`,
      );
    }
    if (sc.label.startsWith('one file under app/src'))
      verdicts.push(
        `app/src edit re-runs only the steps whose inputs include it: ${same ? 'met' : 'MISSED'} (ran ${ran.join(', ')})`,
      );
    if (sc.label.startsWith('touch only'))
      verdicts.push(`mtime-only change: ${ran.length === 0 ? 'nothing re-ran' : `RE-RAN ${ran.join(', ')}`}`);
  }
  console.log('');
  for (const v of verdicts) console.log(v);
  console.log(
    '(eslint keeps its own --cache in node_modules/.cache across all runs, as on a developer machine; the result cache starts empty.)',
  );
} finally {
  await rm(cacheDir, { recursive: true, force: true });
  await rm(reports, { recursive: true, force: true });
}
