/**
 * `runDoctor`: probes this machine (probes.ts, or fakes in tests) and judges each finding (checks.ts).
 * `kgraph-ci doctor` runs every check; `kgraph-ci run` runs those its selected steps depend on and prints
 * the problems that will sink one of them before anything starts.
 */
import { join } from 'node:path';
import { DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, redactUrl } from '../../platform/services/ephemeral.js';
import { dockerCli } from '../../verify/image/docker.js';
import { messageOf } from '../../definitions/errors.js';
import { STEPS, type StepDefinition } from '../../definitions/steps.js';
import {
  advisoryLine,
  baseImageLine,
  engineLine,
  githubTokenLine,
  kubectlLine,
  nodeLine,
  serviceLine,
  type AdvisoryProbe,
  type BaseImageProbe,
  type DoctorLine,
  type EngineProbe,
  type KubectlProbe,
  type PackageEngine,
  type ServiceProbe,
} from './checks.js';
import * as real from './probes.js';

export * from './checks.js';

export const DOCTOR_CHECKS = ['node', 'postgres', 'redis', 'docker', 'advisory', 'github', 'kubectl'] as const;
export type DoctorCheck = (typeof DOCTOR_CHECKS)[number];

/** The measuring edges, replaceable in tests. */
export interface DoctorProbes {
  lockfileEngines(root: string): Promise<{ floor?: string; locked: PackageEngine[] }>;
  postgres(url: string): Promise<ServiceProbe>;
  redis(url: string): Promise<ServiceProbe>;
  engine(): Promise<EngineProbe>;
  baseImages(dockerfilePath: string): Promise<BaseImageProbe[]>;
  advisory(registry: string): Promise<AdvisoryProbe>;
  kubectl(): Promise<KubectlProbe>;
}

export function realProbes(env: NodeJS.ProcessEnv): DoctorProbes {
  const docker = dockerCli(env);
  return {
    lockfileEngines: real.lockfileEngines,
    postgres: real.probePostgres,
    redis: real.probeRedis,
    engine: () => real.probeEngine(docker),
    baseImages: (path) => real.probeBaseImages(docker, path),
    advisory: real.probeAdvisory,
    kubectl: () => real.probeKubectl(env),
  };
}

export interface DoctorOptions {
  readonly env: NodeJS.ProcessEnv;
  readonly root: string;
  /** Default: every check. */
  readonly checks?: readonly DoctorCheck[];
  readonly probes?: DoctorProbes;
  readonly nodeVersion?: string;
  readonly table?: readonly StepDefinition[];
}

/** The checks the selected steps depend on: what `run` asks the doctor before it starts them. */
export function checksFor(
  steps: readonly { readonly name: string; readonly services: readonly string[] }[],
  env: NodeJS.ProcessEnv,
): DoctorCheck[] {
  const names = steps.map((s) => s.name);
  const checks: DoctorCheck[] = ['node'];
  if (steps.some((s) => s.services.includes('postgres'))) checks.push('postgres');
  if (steps.some((s) => s.services.includes('redis'))) checks.push('redis');
  const offlineOk = env.KGRAPH_SCAN_ALLOW_OFFLINE === '1' || env.KGRAPH_SCAN_ALLOW_OFFLINE === 'true';
  if (names.includes('scan') && !offlineOk) checks.push('advisory');
  if (names.includes('release')) checks.push('github');
  if (names.includes('deploy') || names.includes('rollback')) checks.push('kubectl');
  return checks;
}

async function lineFor(check: DoctorCheck, o: Required<Omit<DoctorOptions, 'checks'>>): Promise<DoctorLine[]> {
  const { env, probes, table } = o;
  switch (check) {
    case 'node': {
      const { floor, locked } = await probes.lockfileEngines(o.root);
      return [nodeLine(o.nodeVersion, floor, locked, table)];
    }
    case 'postgres': {
      const url = env.DATABASE_URL || DEFAULT_DATABASE_URL;
      return [serviceLine('postgres', redactUrl(url), await probes.postgres(url), table)];
    }
    case 'redis': {
      const url = env.REDIS_URL || DEFAULT_REDIS_URL;
      return [serviceLine('redis', redactUrl(url), await probes.redis(url), table)];
    }
    case 'docker': {
      const engine = await probes.engine();
      const spec = STEPS.build.image!;
      if (!engine.available) return [engineLine(engine)];
      const bases = await probes.baseImages(join(o.root, spec.context, spec.dockerfile));
      return [engineLine(engine), ...bases.map((b) => baseImageLine(b, spec))];
    }
    case 'advisory': {
      const registry = env.npm_config_registry || 'https://registry.npmjs.org/';
      return [advisoryLine(registry, await probes.advisory(registry))];
    }
    case 'github':
      return [githubTokenLine(Boolean(env.GITHUB_TOKEN))];
    case 'kubectl':
      return [kubectlLine(await probes.kubectl())];
  }
}

/** Every requested check, probed at once; lines in the order of DOCTOR_CHECKS. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorLine[]> {
  const full = {
    env: opts.env,
    root: opts.root,
    probes: opts.probes ?? realProbes(opts.env),
    nodeVersion: opts.nodeVersion ?? process.version,
    table: opts.table ?? Object.values(STEPS),
  };
  const checks = DOCTOR_CHECKS.filter((c) => (opts.checks ?? DOCTOR_CHECKS).includes(c));
  const lines = await Promise.all(
    checks.map((c) =>
      lineFor(c, full).catch((err: unknown): DoctorLine[] => [
        { name: c, status: 'warn', detail: `could not check: ${messageOf(err)}`, sinks: [] },
      ]),
    ),
  );
  return lines.flat();
}
