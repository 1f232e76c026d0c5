/**
 * What `dagger call <check>` costs, measured by rehearsing the module's checks on the local Docker engine
 * (ci/src/verify/rehearse): `npx tsx bench/dagger-rehearsal.ts [--node 22,24] [--checks lint,typecheck,test,integration-test]`.
 * Run it under `flock /work/bench.lock`; it prints, never asserts.
 *
 * Per Node version, against a fresh exec cache (the engine's layer cache, empty; the npm download cache
 * volume and the stand-in images are kept, as on a laptop that has run Dagger before):
 *   cold  each check in order, as `dagger check` would meet them: the first pays the shared layers
 *         (apt for git, `npm ci`), the later ones reuse them; the install layer's own time is printed apart
 *   warm  the same calls again with nothing changed: what the engine replays from its cache
 * and the whole set (sum of the cold runs: the rehearsal runs one exec at a time; the engine would run
 * the checks in parallel on more cores). Then the stand-in images' sizes. Load average beside each figure.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { dockerCli } from '../ci/src/verify/image/docker.js';
import { rehearse, type RehearsalResult } from '../ci/src/verify/rehearse/run.js';

const args = process.argv.slice(2);
const listArg = (flag: string, dflt: string) =>
  (args.includes(flag) ? args[args.indexOf(flag) + 1]! : dflt).split(',').filter(Boolean);
const nodes = listArg('--node', '22,24');
const checks = listArg('--checks', 'lint,typecheck,test,integration-test');

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
const secs = (s: number) => `${s.toFixed(1)} s`;

interface Measured {
  readonly result: RehearsalResult;
  /** Seconds the `npm ci` exec took when it ran (undefined when replayed from the cache). */
  readonly install: number | undefined;
  readonly load: string;
}

/** One rehearsal, timing the install layer from the engine's log (the line after `exec npm ci` ends it). */
async function measure(check: string, node: string, cacheDir: string): Promise<Measured> {
  let installStart: number | undefined;
  let install: number | undefined;
  const log = (line: string) => {
    if (line.startsWith('  |')) return;
    if (installStart !== undefined && install === undefined) install = (Date.now() - installStart) / 1000;
    if (line.startsWith('exec npm ci')) installStart = Date.now();
  };
  const result = await rehearse({ words: [check], node, cache: true, cacheDir, log });
  return { result, install, load: load() };
}

function row(phase: string, m: Measured): string {
  const r = m.result;
  const install = m.install === undefined ? '' : ` (npm ci layer ${secs(m.install)})`;
  return `| ${r.fn} | ${r.node} | ${phase} | ${r.outcome} | ${secs(r.seconds)}${install} | ${m.load} |`;
}

async function imageSizes(): Promise<string[]> {
  const docker = dockerCli();
  const res = await docker([
    'image',
    'ls',
    '--filter',
    'label=io.kgraph.standin',
    '--format',
    '{{.Repository}}:{{.Tag}} {{.Size}}',
  ]);
  if (res.code !== 0) return [`(docker image ls failed: ${res.stderr.trim()})`];
  return (
    res.stdout
      .trim()
      .split('\n')
      // Tagged stand-ins only: the rehearsal's own layers inherit the label and carry no tag.
      .filter((l) => l && !l.startsWith('<none>'))
      .map((l) => {
        const [name, size] = l.split(' ');
        return `| ${name} | ${size} |`;
      })
  );
}

async function main(): Promise<void> {
  console.log(
    `dagger rehearsal cost: checks ${checks.join(', ')} on Node ${nodes.join(', ')}; load at start ${load()}`,
  );
  console.log('| function | node | phase | outcome | wall time | load (1/5/15 min) |');
  console.log('|---|---|---|---|---|---|');
  const totals: string[] = [];
  for (const node of nodes) {
    const cacheDir = mkdtempSync(join(tmpdir(), 'kgraph-bench-rehearse-'));
    try {
      let cold = 0;
      let warm = 0;
      for (const check of checks) {
        const m = await measure(check, node, cacheDir);
        cold += m.result.seconds;
        console.log(row('cold', m));
      }
      for (const check of checks) {
        const m = await measure(check, node, cacheDir);
        warm += m.result.seconds;
        console.log(row('warm', m));
      }
      totals.push(
        `Node ${node}: the whole set cold ${secs(cold)}, warm ${secs(warm)} (warm/cold ${(warm / cold).toFixed(3)}), load ${load()}`,
      );
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  }
  for (const t of totals) console.log(t);
  console.log('\n| stand-in image | size |\n|---|---|');
  for (const l of await imageSizes()) console.log(l);
}

void main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
