/**
 * `kgraph-ci rehearse rollout`: the real transition on one machine. The previous release serves N
 * instances behind a round-robin proxy under open-model load while a probe writes and reads; the
 * candidate's migration runs; candidate instances start and previous ones drain by SIGTERM one at a time
 * as the Deployment's maxSurge/maxUnavailable allow; then an automatic rollback takes it back the same
 * way. Every phase is measured (report.ts judges it). Local services only; bounded in time.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { UsageError } from '../../definitions/errors.js';
import { discoverToolId } from '../../gate/latency.js';
import { DEPLOYMENT_NAME, overlayDir } from '../../platform/kube/overlays.js';
import { parseManifests } from '../../platform/kube/validate.js';
import type { CommandRunner } from '../../platform/kube/runner.js';
import { createEphemeralServices } from '../../platform/services/ephemeral.js';
import { createFleet, runAppScript, type Fleet, type Release } from './fleet.js';
import { runFreshnessProbe, staleness } from './freshness.js';
import { startBackgroundLoad } from './load.js';
import { resolvePreviousRef, withPreviousCheckout } from './previous.js';
import { startRoundRobinProxy } from './proxy.js';
import { failureSources, type FailureSource } from './sources.js';
import { judgeRehearsal, type PhaseSpan, type RehearsalInput, type RehearsalReport } from './report.js';
import { rolloutSteps, strategyOf, type RollingStrategy } from './strategy.js';

export interface RehearsalOptions {
  readonly environment: EnvironmentDefinition;
  /** The previous release's git ref; default the newest v* tag. */
  readonly previous?: string;
  /** Instances (default: the environment's replicas as rendered). */
  readonly instances?: number;
  /** Total requests per second (default: the environment's gate rate). */
  readonly rate?: number;
  /** Seconds of each steady phase. */
  readonly steadySeconds: number;
  readonly seedCount: number;
  /** Extra environment for candidate instances (e.g. to rehearse with a setting off). */
  readonly candidateEnv?: Readonly<Record<string, string>>;
  readonly maxStaleMs: number;
  /**
   * No previous release at all (no v* tag, no --previous): rehearse this tree against itself (the rolling
   * update, drain and rollback, without a second version) and say so, instead of refusing.
   */
  readonly selfWhenNoPrevious?: boolean;
}

export interface RehearsalDeps {
  readonly repoRoot: string;
  /** kubectl (renders the overlay the strategy is read from). */
  readonly runner: CommandRunner;
  readonly log: (line: string) => void;
}

export interface RehearsalResult {
  readonly report: RehearsalReport;
  readonly input: RehearsalInput;
  readonly previous: { readonly ref: string; readonly sha: string };
  readonly strategy: RollingStrategy;
  /** Server errors by the instance that answered, with what it logged: where each failure came from. */
  readonly failureSources: readonly FailureSource[];
}

const WARMUP_SECONDS = 10;
const API_KEY = 'rehearsal-api-key-0123456789abcdef';
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function readStrategy(o: RehearsalOptions, deps: RehearsalDeps): Promise<RollingStrategy> {
  const argv = ['kubectl', 'kustomize', overlayDir(o.environment.name)];
  const res = await deps.runner({ argv });
  if (res.exitCode !== 0) throw new Error(`${argv.join(' ')} failed: ${res.stderr.trim().split('\n').at(-1)}`);
  return strategyOf(parseManifests(res.stdout), DEPLOYMENT_NAME, o.instances);
}

export async function rehearseRollout(o: RehearsalOptions, deps: RehearsalDeps): Promise<RehearsalResult> {
  const ref = await resolvePreviousRef(o.previous, deps.repoRoot);
  const strategy = await readStrategy(o, deps);
  if ('none' in ref) {
    if (!o.selfWhenNoPrevious || o.previous !== undefined)
      throw new UsageError(`no previous release to rehearse from (${ref.none}): give --previous REF`);
    deps.log(`${ref.none}: rehearsing this tree against itself (no second version to check)`);
    const self: Release = { version: 'previous', root: deps.repoRoot };
    const candidate: Release = { version: 'candidate', root: deps.repoRoot, env: o.candidateEnv ?? {} };
    const { input, sources } = await transition(o, deps, self, candidate, strategy);
    const previous = { ref: `this tree (${ref.none})`, sha: 'HEAD' };
    return { report: judgeRehearsal(input), input, previous, strategy, failureSources: sources };
  }
  deps.log(
    `previous release ${ref.ref} (${ref.sha.slice(0, 12)}); ${strategy.replicas} instances, maxSurge ${strategy.maxSurge}, maxUnavailable ${strategy.maxUnavailable}`,
  );
  return withPreviousCheckout(
    deps.repoRoot,
    ref.sha,
    async (previousRoot) => {
      const previous: Release = { version: 'previous', root: previousRoot };
      const candidate: Release = { version: 'candidate', root: deps.repoRoot, env: o.candidateEnv ?? {} };
      const { input, sources } = await transition(o, deps, previous, candidate, strategy);
      return { report: judgeRehearsal(input), input, previous: ref, strategy, failureSources: sources };
    },
    deps.log,
  );
}

async function transition(
  o: RehearsalOptions,
  deps: RehearsalDeps,
  previous: Release,
  candidate: Release,
  strategy: RollingStrategy,
): Promise<{ input: RehearsalInput; sources: FailureSource[] }> {
  const services = await createEphemeralServices({ services: ['postgres', 'redis'] });
  const proxy = await startRoundRobinProxy();
  const env = {
    ...services.env,
    API_KEYS: API_KEY,
    RATE_LIMIT_MAX: '100000000',
    SHUTDOWN_DELAY_MS: '2000',
    LOG_LEVEL: 'warn',
  };
  const fleet = createFleet(proxy, env, deps.log);
  try {
    deps.log(`migrating and seeding ${o.seedCount} tools with the previous release`);
    await runAppScript(previous.root, 'migrate', [], env);
    await runAppScript(previous.root, 'seed', ['--count', String(o.seedCount)], env);
    await fleet.start(previous, strategy.replicas);
    const phases = await measured(o, deps, proxy.url, (phase) =>
      phasesOf(o, fleet, phase, previous, candidate, strategy, env),
    );
    const input: RehearsalInput = {
      ...phases,
      instances: fleet.spans(),
      answers: proxy.records().map((r) => ({ at: r.at, status: r.status, version: r.version })),
      allowance: o.environment.latencyGate.regression,
      maxStaleMs: o.maxStaleMs,
    };
    return { input, sources: failureSources(proxy.records(), (id) => fleet.logsOf(id)) };
  } finally {
    await fleet.stopAll();
    await proxy.close();
    await services.dispose();
  }
}

type PhaseRunner = (name: string, detail: string, body: () => Promise<void>, judged?: boolean) => Promise<void>;

/** Load and the freshness probe run across all phases; returns the phase spans and what was measured. */
async function measured(
  o: RehearsalOptions,
  deps: RehearsalDeps,
  baseUrl: string,
  body: (phase: PhaseRunner) => Promise<void>,
): Promise<Pick<RehearsalInput, 'phases' | 'latencies' | 'clientErrors' | 'stale' | 'probeReads'>> {
  const headers = { 'x-api-key': API_KEY };
  const toolId = await discoverToolId(fetch, baseUrl, headers);
  const rate = o.rate ?? o.environment.latencyGate.requestsPerSecond;
  const load = startBackgroundLoad({
    baseUrl,
    headers,
    scenarios: o.environment.latencyGate.scenarios,
    toolId,
    rate,
    timeoutMs: o.environment.latencyGate.requestTimeoutMs,
  });
  const probe = runFreshnessProbe({
    baseUrl,
    headers,
    tool: 'github-create-issue',
    writeEveryMs: 250,
    readEveryMs: 40,
    label: String(process.pid),
  });
  const phases: PhaseSpan[] = [];
  const finished = body(async (name, detail, run, judged = true) => {
    const start = Date.now();
    deps.log(`phase ${name}: ${detail}`);
    await run();
    phases.push({ name, detail, start, end: Date.now(), ...(judged ? {} : { judged: false }) });
  });
  // Load and probe stop whether or not the phases got through; a failed phase is then reported as such.
  const outcome = await finished.then(
    () => undefined,
    (err: unknown) => err,
  );
  const sampled = await probe.stop();
  const measuredLoad = await load.stop();
  if (outcome !== undefined) throw outcome;
  return {
    phases,
    ...measuredLoad,
    stale: staleness(sampled.writes, sampled.reads, sampled.unknown),
    probeReads: sampled.reads.length,
  };
}

async function phasesOf(
  o: RehearsalOptions,
  fleet: Fleet,
  phase: PhaseRunner,
  previous: Release,
  candidate: Release,
  s: RollingStrategy,
  env: Readonly<Record<string, string>>,
): Promise<void> {
  const steady = () => sleep(o.steadySeconds * 1000);
  const mix = () =>
    [`${fleet.count('previous')} previous`, `${fleet.count('candidate')} candidate`]
      .filter((x) => !x.startsWith('0'))
      .join(' + ');
  // As the gate warms up before it measures: cold processes and first connections are shown, not judged.
  await phase('warm-up', mix(), () => sleep(WARMUP_SECONDS * 1000), false);
  await phase('previous', mix(), steady);
  await phase('migrate', `candidate's migrations under ${mix()}`, () =>
    runAppScript(candidate.root, 'migrate', [], env),
  );
  await phase('rollout', `surge ${s.maxSurge}, unavailable ${s.maxUnavailable}`, () =>
    roll(fleet, s, candidate, 'previous'),
  );
  await phase('candidate', mix(), steady);
  await phase('rollback', 'automatic rollback to the previous release', () => roll(fleet, s, previous, 'candidate'));
  await phase('rolled back', mix(), steady);
}

/** Replaces every `from` instance with one of `to`, in the strategy's order. */
async function roll(fleet: Fleet, s: RollingStrategy, to: Release, from: string): Promise<void> {
  for (const step of rolloutSteps(s)) {
    if (step.kind === 'start') await fleet.start(to, step.count);
    else await fleet.drainOne(from);
  }
}
