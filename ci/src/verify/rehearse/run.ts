/**
 * One rehearsal: the module's function called through the real SDK (driver.ts, its own process) against a
 * session whose every query the rehearsal engine executes on the local Docker engine. Passed: the function
 * returned. Reached: it stopped where the rehearsal stops on purpose (a push, trivy, the first kubectl
 * call against the fake API). Failed: anything else, with the engine's or the module's error.
 */
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailedError, UsageError } from '../../definitions/errors.js';
import { dockerCli, engineStatus, type Docker } from '../image/docker.js';
import { runChecked, runProcess } from '../../platform/process/run.js';
import { REPO_ROOT } from '../../platform/repo-root.js';
import { TEMP_PREFIX } from './files.js';
import { callSpec, parseCall, type CallSpec, type ValueSources } from './call.js';
import { baseImages } from './bases.js';
import { removeContainers, type DockerSession } from './docker-steps.js';
import { RehearsalEngine, type StopEvent } from './engine.js';
import { startFakeKube, type FakeKube } from './fake-kube.js';
import { startSessionServer, type SessionServer } from './server.js';
import { loopbackAllocator, serviceStarter } from './services.js';
import { readSurface } from './surface.js';

export type Outcome = 'passed' | 'reached' | 'failed';

export interface RehearsalResult {
  /** `test`, `delivery deploy`. */
  readonly fn: string;
  readonly node: string;
  readonly outcome: Outcome;
  readonly detail: string;
  readonly seconds: number;
  /** Dagger API operations executed (`Container.withExec`, ...). */
  readonly operations: readonly string[];
}

export interface RehearseOptions {
  /** What follows `dagger call`: module flags, the function, its flags, a chained call. */
  readonly words: readonly string[];
  /** Sets --node-version unless the words do. */
  readonly node?: string;
  /** Reuse identical exec results from earlier rehearsals (Dagger's layer cache); default on. */
  readonly cache?: boolean;
  /** Where exec results are kept between rehearsals (default: one directory under the temp dir). */
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  readonly docker?: Docker;
  readonly repoRoot?: string;
}

/** Where the rehearsal stops on purpose, before anything leaves this machine or needs a tool it lacks. */
export function stopRule(event: StopEvent): string | undefined {
  if (event.kind === 'push')
    return `the push of ${event.address} (built image ${event.image.slice(0, 19)}, labels ${event.labels.map(([k, v]) => `${k}=${v}`).join(', ') || 'none'}; nothing leaves this machine)`;
  if (event.base?.startsWith('aquasec/trivy'))
    return `trivy (${event.argv.slice(0, 2).join(' ')}: no trivy image or package on this machine)`;
  return undefined;
}

const SECRET_PREFIX = 'rehearsal-test-';

function valueSources(root: string, kube: FakeKube): ValueSources {
  return {
    secret: (flag) => (flag === 'kubeconfig' ? kube.kubeconfig : `${SECRET_PREFIX}${flag}`),
    directory: (flag, given) => {
      const git = /^https:\/\/github\.com\/[\w.-]+\/[\w.-]+(?:\.git)?#(.+)$/.exec(given);
      if (!git) return { path: given };
      // A checkout of that ref: this repository's own ref (nothing is fetched from GitHub here).
      const dir = join(tmpdir(), `${TEMP_PREFIX}git-${flag}`);
      return { path: dir, exclude: [], gitRef: git[1]! } as { path: string; exclude: string[] };
    },
    defaultPath: (path, ignore) => ({ path: join(root, path).replace(/\/$/, ''), exclude: [...ignore] }),
  };
}

/** Writes `git archive <ref>` of the repository into each directory argument that names a git ref. */
async function checkoutRefs(root: string, spec: CallSpec): Promise<void> {
  for (const arg of [...spec.args, ...spec.constructorArgs]) {
    const ref = (arg as { gitRef?: string }).gitRef;
    if (arg.kind !== 'directory' || !ref) continue;
    rmSync(arg.path, { recursive: true, force: true });
    await runChecked({ argv: ['mkdir', '-p', arg.path] });
    await runChecked({ argv: ['sh', '-c', 'git -C "$1" archive "$2" | tar -x -C "$3"', 'sh', root, ref, arg.path] });
  }
}

/** The words of the `dagger call`, led by --node-version when --node is given (giving both is bad usage). */
function callWords(opts: RehearseOptions): string[] {
  const words = [...opts.words];
  if (opts.node === undefined) return words;
  if (words.some((w) => w.startsWith('--node-version')))
    throw new UsageError('give --node or --node-version, not both');
  return [`--node-version=${opts.node}`, ...words];
}

/** What a rehearsal runs beside the module: the fake Kubernetes API, the engine, the session server the SDK calls. */
interface Rig {
  readonly kube: FakeKube;
  readonly session: DockerSession;
  readonly engine: RehearsalEngine;
  readonly server: SessionServer;
}

async function startRig(opts: RehearseOptions, docker: Docker, log: (line: string) => void): Promise<Rig> {
  const kube = await startFakeKube();
  const session: DockerSession = {
    docker,
    runId: `${process.pid}-${Date.now().toString(36)}`,
    containers: [],
    onLine: (l) => log(`  | ${l}`),
  };
  const engine = new RehearsalEngine({
    session,
    cache: opts.cache ?? true,
    cacheDir: opts.cacheDir ?? join(tmpdir(), 'kgraph-rehearse-cache'),
    stopAt: stopRule,
    log,
    services: serviceStarter(loopbackAllocator()),
    baseImage: baseImages(docker, log),
  });
  const server = await startSessionServer(engine);
  return { kube, session, engine, server };
}

/** Containers, servers and the rehearsal's temporary directories (git checkouts) go, whatever the outcome. */
async function stopRig(rig: Rig): Promise<void> {
  await removeContainers(rig.session);
  await rig.server.close();
  await rig.kube.close();
  for (const f of readdirSync(tmpdir()))
    if (f.startsWith(TEMP_PREFIX)) rmSync(join(tmpdir(), f), { recursive: true, force: true });
}

interface DriverOutcome {
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
}

const OUTCOME_LINE = 'KGRAPH_REHEARSE_OUTCOME ';

/** The module's function called by driver.ts in its own process; no outcome line is a failure naming how it ended. */
async function runDriver(root: string, server: SessionServer, spec: CallSpec): Promise<DriverOutcome> {
  const res = await runProcess({
    argv: [process.execPath, '--import', 'tsx/esm', join(root, 'ci/src/verify/rehearse/driver.ts')],
    cwd: root,
    env: {
      ...process.env,
      DAGGER_SESSION_PORT: String(server.port),
      DAGGER_SESSION_TOKEN: server.token,
      TSX_TSCONFIG_PATH: join(root, 'dagger/tsconfig.json'),
      KGRAPH_REHEARSE_CALL: JSON.stringify(spec),
    },
    maxOutputChars: 200_000,
  });
  const line = res.stdout.split('\n').find((l) => l.startsWith(OUTCOME_LINE));
  if (line) return JSON.parse(line.slice(OUTCOME_LINE.length)) as DriverOutcome;
  return {
    ok: false,
    error: `the module process ended without an outcome (exit ${res.exitCode}): ${res.stderr.trim().split('\n').slice(-5).join(' | ')}`,
  };
}

/** Passed: the function returned. Reached: a stop rule or the first kubectl call stopped it. Failed: anything else. */
function judge(outcome: DriverOutcome, rig: Rig): Pick<RehearsalResult, 'outcome' | 'detail'> {
  if (outcome.ok) {
    const served = rig.engine.started.map((s) => `${s.base} at ${s.address}:${s.ports.join(',')}`).join('; ');
    return { outcome: 'passed', detail: served ? `serving ${served}` : summarize(outcome.result) };
  }
  const stop = rig.server.errors.find((e) => e.name === 'StopReached');
  if (stop) return { outcome: 'reached', detail: stop.message };
  if (rig.kube.requests.length > 0)
    return { outcome: 'reached', detail: `the first kubectl call, against the fake API: ${rig.kube.requests[0]}` };
  return { outcome: 'failed', detail: outcome.error ?? 'failed' };
}

export async function rehearse(opts: RehearseOptions): Promise<RehearsalResult> {
  const root = opts.repoRoot ?? REPO_ROOT;
  const log = opts.log ?? (() => undefined);
  const surface = readSurface(join(root, 'dagger/src'));
  const words = callWords(opts);
  const call = parseCall(surface, words);
  const node = call.moduleFlags.get('node-version') ?? '22';
  const docker = opts.docker ?? dockerCli();
  const status = await engineStatus(docker);
  if (!status.available)
    throw new FailedError(`no container engine answers, so nothing was rehearsed: ${status.reason}`);

  const started = Date.now();
  const rig = await startRig(opts, docker, log);
  try {
    const spec = callSpec(surface, call, join(root, 'dagger/src/index.ts'), valueSources(root, rig.kube));
    await checkoutRefs(root, spec);
    log(`rehearse dagger call ${words.join(' ')} (Node ${node})`);
    const outcome = await runDriver(root, rig.server, spec);
    const seconds = (Date.now() - started) / 1000;
    return { fn: call.key, node, seconds, operations: [...rig.engine.operations].sort(), ...judge(outcome, rig) };
  } finally {
    await stopRig(rig);
  }
}

function summarize(result: unknown): string {
  const text = typeof result === 'string' ? result : JSON.stringify(result);
  const lines = (text ?? '').trim().split('\n');
  return lines.length > 6 ? [...lines.slice(0, 3), '…', ...lines.slice(-2)].join('\n') : lines.join('\n') || 'done';
}
