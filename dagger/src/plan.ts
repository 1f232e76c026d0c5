/**
 * Pure decisions behind the module's functions: pinned images, service wiring, argv and argument
 * validation. No Dagger calls here, so unit tests can check them directly.
 */
import { DURATION_GRAMMAR, ENVIRONMENT_NAMES, ENVIRONMENTS, SERVICE_NAMES, STEPS, STEP_NAMES } from './ci.generated.js';
import type { EnvironmentName, ServiceName, StepName } from './ci.generated.js';
import { GIT_OBJECT_ID, isReleaseTag, referenceRules } from './eligibility.generated.js';
import { isPass } from './verdict.generated.js';

/** Pinned tags: a floating tag would make two runs of the same commit test different things. */
export const IMAGES = {
  node: {
    '22': 'node:22.21.1-bookworm-slim',
    '24': 'node:24.11.1-bookworm-slim',
  },
  postgres: 'postgres:16.10-alpine',
  redis: 'redis:7.4.5-alpine',
  trivy: 'aquasec/trivy:0.67.2',
  kubectl: 'registry.k8s.io/kubectl:v1.33.5',
} as const;

export type NodeVersion = keyof typeof IMAGES.node;
export const NODE_VERSIONS = Object.keys(IMAGES.node) as NodeVersion[];

/** Where the repository lives inside every container the module runs. */
export const WORKDIR = '/src';
export const IMAGE_NAME = 'kgraph-mcp';
export const APP_ALIAS = 'app';
export const APP_PORT = 8000;
export const KUBECONFIG_PATH = '/run/secrets/kubeconfig';
/**
 * The served apps the latency gate measures: the gate drives hundreds of requests per second with one key,
 * and the limiter is not under test (the host gate sets the same, ci/src/gate/serve.ts). Without it every
 * measured request came back 429 and the gate was inconclusive (found by rehearsing it, docs/dagger.md).
 */
export const GATE_APP_ENV = { RATE_LIMIT_MAX: '100000000' } as const;
/** Where a generated API key is mounted for serve() and the gate (never passed as a value). */
export const API_KEY_PATH = '/run/secrets/api-key';

/**
 * Tells `kgraph-ci run` that DATABASE_URL / REDIS_URL already point at services Dagger started, so it
 * uses them as they are instead of starting or expecting local ones.
 */
export const EXTERNAL_SERVICES_ENV = { name: 'KGRAPH_SERVICES', value: 'external' } as const;

export interface ServiceSpec {
  readonly name: ServiceName;
  /** Hostname the step container reaches it by (withServiceBinding alias). */
  readonly alias: string;
  readonly image: string;
  readonly port: number;
  readonly env: Readonly<Record<string, string>>;
  /** Run inside the service container: the engine waits for it before any dependent starts. */
  readonly healthcheck: readonly string[];
  /** The variable and value the step container gets. */
  readonly urlVar: 'DATABASE_URL' | 'REDIS_URL';
  readonly url: string;
  /** Run in the step container before the step: proves the service answers real requests. */
  readonly wait: readonly string[];
}

// Trust auth: an ephemeral, unpublished database reachable only inside this engine session, so no
// password exists to leak.
export const SERVICES: Readonly<Record<ServiceName, ServiceSpec>> = {
  postgres: {
    name: 'postgres',
    alias: 'postgres',
    image: IMAGES.postgres,
    port: 5432,
    env: { POSTGRES_USER: 'postgres', POSTGRES_DB: 'postgres', POSTGRES_HOST_AUTH_METHOD: 'trust' },
    healthcheck: ['pg_isready', '-U', 'postgres', '-h', '127.0.0.1', '-p', '5432'],
    urlVar: 'DATABASE_URL',
    url: 'postgres://postgres@postgres:5432/postgres',
    wait: waitLoop('postgres', 'pg_isready -h postgres -p 5432 -U postgres -t 2'),
  },
  redis: {
    name: 'redis',
    alias: 'redis',
    image: IMAGES.redis,
    port: 6379,
    env: {},
    healthcheck: ['redis-cli', '-h', '127.0.0.1', '-p', '6379', 'ping'],
    urlVar: 'REDIS_URL',
    url: 'redis://redis:6379/0',
    wait: waitLoop('redis', 'redis-cli -h redis -p 6379 ping | grep -qx PONG'),
  },
};

/** Clients for the readiness wait, installed into step containers that bind services. */
export const WAIT_PACKAGES = ['postgresql-client', 'redis-tools'] as const;

/**
 * What a step that runs the test suite needs besides Node: the tests drive the real tools (git history and
 * tags for the policy and deploy tests, kubectl's kustomize for the manifests, promtool for the alert rules,
 * which CI must not skip), so the container gets git and Debian's prometheus (promtool 2.42, as .ci/run
 * installs) and kubectl from the pinned kubectl image (docs/dagger.md says why not fakes).
 */
export const TEST_PACKAGES = ['git', 'prometheus'] as const;

/**
 * What the delivery commands need besides Node and kubectl: git, because a deploy's migrations-check phase
 * reads the migrations at the base release from the history and the release checks its tag is on main.
 */
export const DELIVERY_PACKAGES = ['git'] as const;

/** Whether a step runs the vitest suite (its commands call vitest): it then needs TEST_PACKAGES and kubectl. */
export function runsTests(step: StepName): boolean {
  return (STEPS[step].commands as readonly (readonly string[])[]).some((argv) => argv.includes('vitest'));
}

/** Steps that are not the test suite but drive the same real tools: the rehearsal checks out the previous release (git) and reads the strategy from the rendered overlay (kubectl). */
const REPO_TOOL_STEPS: readonly StepName[] = ['rolloutRehearsal'];

/** Whether a step needs TEST_PACKAGES and kubectl: it runs the tests, or drives git and kubectl as they do. */
export function needsRepoTools(step: StepName): boolean {
  return runsTests(step) || REPO_TOOL_STEPS.includes(step);
}

/**
 * Debian packages a step container installs before `npm ci`: readiness clients, test tools. Every step that
 * runs the suite gets the same set (the wait clients too, ~10 MB, even without services), so test,
 * integration-test and coverage share one apt + `npm ci` layer per Node version instead of paying the
 * install once each (measured in the rehearsal: about a minute and a half per install on this machine).
 * The rollout rehearsal needs the same tools (git, kubectl) and binds both services: the same set too.
 */
export function stepPackages(step: StepName, services: readonly ServiceName[]): string[] {
  if (needsRepoTools(step)) return [...WAIT_PACKAGES, ...TEST_PACKAGES];
  return services.length > 0 ? [...WAIT_PACKAGES] : [];
}

/** Where the rollout rehearsal writes its report inside the step container (returned as a directory). */
export const REHEARSAL_REPORT_DIR = '.reports/rollout';

function waitLoop(what: string, probe: string, attempts = 60): string[] {
  return [
    'sh',
    '-c',
    `i=0; until ${probe}; do i=$((i+1)); if [ "$i" -ge ${attempts} ]; then echo "${what} not ready after ${attempts} attempts" >&2; exit 1; fi; sleep 1; done`,
  ];
}

/** The kgraph-ci argv, spelled the way `npx` runs the workspace binary. */
export function ciArgv(...args: string[]): string[] {
  return ['npx', '--no-install', 'kgraph-ci', ...args];
}

/**
 * `kgraph-ci run <step>`: the runner owns the commands, timeouts and reports of the step table.
 * --no-deps: each function is one step (Dagger callers order them); --no-services: use the
 * DATABASE_URL / REDIS_URL of the bound service containers as they are.
 */
export function runStepArgv(step: StepName): string[] {
  return ciArgv('run', STEPS[step].cliName, '--no-deps', '--no-services');
}

/** The step's own command from the table with `${param}` filled; a missing value is an error naming it. */
export function stepCommand(step: StepName, params: Readonly<Record<string, string>>): string[] {
  const def = STEPS[step];
  const missing = def.params.filter((p) => !params[p]);
  if (missing.length > 0) {
    throw new Error(`step ${step} needs ${missing.join(', ')}`);
  }
  const [argv] = def.commands;
  if (!argv || def.commands.length !== 1) {
    throw new Error(`step ${step} has ${def.commands.length} commands; the module runs exactly one`);
  }
  return argv.map((arg) => arg.replace(/\$\{(\w+)\}/g, (_, p: string) => params[p] ?? ''));
}

/**
 * What `build` hands to dockerBuild, from the build step's image spec: the same Dockerfile, context
 * and build arguments the host build step (`kgraph-ci image build`) uses.
 */
export function imageBuild(environment: EnvironmentName): {
  context: string;
  dockerfile: string;
  buildArgs: { name: string; value: string }[];
} {
  const spec = STEPS.build.image;
  const params: Record<string, string> = { env: environment };
  return {
    context: spec.context,
    dockerfile: spec.dockerfile,
    buildArgs: Object.entries(spec.buildArgs).map(([name, value]) => ({
      name,
      value: value.replace(/\$\{(\w+)\}/g, (_, p: string) => {
        const v = params[p];
        if (v === undefined) throw new Error(`image build argument ${name} needs ${p}`);
        return v;
      }),
    })),
  };
}

/**
 * The build of the one artifact promoted through every environment: the step table's image spec without the
 * build arguments that depend on the environment (the Dockerfile's defaults apply; each Deployment sets
 * ENVIRONMENT itself), so its digest is the same wherever it runs.
 */
export function promotableImageBuild(): {
  context: string;
  dockerfile: string;
  buildArgs: { name: string; value: string }[];
} {
  const spec = STEPS.build.image;
  const perEnvironment = new Set(
    Object.entries(spec.buildArgs)
      .filter(([, v]) => v.includes('${env}'))
      .map(([k]) => k),
  );
  const plan = imageBuild(productionEnvironment());
  return { ...plan, buildArgs: plan.buildArgs.filter((a) => !perEnvironment.has(a.name)) };
}

/** trivy's exit code for findings at or above the threshold: its own code 1 also means "could not run". */
export const TRIVY_FINDINGS_EXIT = 3;

export function servicesOf(step: StepName): readonly ServiceName[] {
  return STEPS[step].services;
}

/** Accepts `integrationTest` or `integration-test`. */
export function findStep(name: string): StepName {
  const found = STEP_NAMES.find((s) => s === name || STEPS[s].cliName === name);
  if (!found) {
    throw new Error(`unknown step "${name}": expected one of ${STEP_NAMES.map((s) => STEPS[s].cliName).join(', ')}`);
  }
  return found;
}

export function checkEnvironment(name: string): EnvironmentName {
  const found = ENVIRONMENT_NAMES.find((e) => e === name);
  if (!found) {
    throw new Error(`unknown environment "${name}": expected one of ${ENVIRONMENT_NAMES.join(', ')}`);
  }
  return found;
}

export function environmentSettings(name: EnvironmentName) {
  return ENVIRONMENTS[name];
}

/** What kgraph-ci scan reads to skip the dependency audit when the advisory service gives no answer. */
export const SCAN_ALLOW_OFFLINE_ENV = { name: 'KGRAPH_SCAN_ALLOW_OFFLINE', value: '1' } as const;

/**
 * A scan may skip the audit only for an environment whose release policy accepts a skipped audit: a
 * verdict the release would refuse is not worth producing (prod: skip nothing).
 */
export function checkAllowOffline(environment: EnvironmentName, allowOffline: boolean): boolean {
  if (allowOffline && !ENVIRONMENTS[environment].release.skippedAuditAcceptable)
    throw new Error(
      `allowOffline refused for ${environment}: its release policy does not accept a skipped dependency audit; scan where npm's advisory service answers`,
    );
  return allowOffline;
}

export function checkNodeVersion(value: string): NodeVersion {
  const found = NODE_VERSIONS.find((v) => v === value);
  if (!found) {
    throw new Error(`unsupported nodeVersion "${value}": expected one of ${NODE_VERSIONS.join(', ')}`);
  }
  return found;
}

/** Paths from the step table (`~/.npm`, `node_modules/.cache/eslint`) as absolute container paths. */
export function cacheMounts(step: StepName): { path: string; key: string }[] {
  return STEPS[step].cachePaths.map((p) => {
    const path = p.startsWith('~/') ? `/root/${p.slice(2)}` : `${WORKDIR}/${p.replace(/\/$/, '')}`;
    return {
      path,
      key: `kgraph-mcp-${p
        .replace(/^~\//, 'home-')
        .replace(/[^A-Za-z0-9]+/g, '-')
        .replace(/-$/, '')}`,
    };
  });
}

/**
 * Seconds of a `kgraph-ci watch --duration` value, by ci/'s own grammar (generated copy), so a value the
 * watch would refuse fails here before any container starts; the text itself is passed on unchanged.
 */
export function checkDuration(text: string): number {
  const s = text.trim();
  let total = 0;
  if (new RegExp(DURATION_GRAMMAR.plainSeconds).test(s)) total = Number(s);
  else if (new RegExp(DURATION_GRAMMAR.withUnits).test(s)) {
    for (const m of s.matchAll(new RegExp(DURATION_GRAMMAR.part, 'g'))) {
      total += Number(m[1]) * DURATION_GRAMMAR.unitSeconds[m[2] as keyof typeof DURATION_GRAMMAR.unitSeconds];
    }
  }
  if (!(total > 0))
    throw new Error(`invalid duration "${text}": expected a positive number of seconds or e.g. 90s, 15m, 1h30m`);
  return total;
}

export function checkRepository(repository: string): string {
  if (!/^[\w.-]+\/[\w.-]+$/.test(repository)) throw new Error(`repository "${repository}" must be owner/name`);
  return repository;
}

export function checkVersionTag(tag: string, what = 'tag'): string {
  if (!isReleaseTag(tag)) {
    throw new Error(`${what} "${tag}" is not a release tag: expected vMAJOR.MINOR.PATCH`);
  }
  return tag;
}

/** The tag of an image reference (`host/repo:tag` or `host/repo:tag@sha256:…`); undefined when absent. */
export function imageTag(ref: string): string | undefined {
  const withoutDigest = ref.split('@')[0] ?? '';
  const lastSlash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > lastSlash ? withoutDigest.slice(colon + 1) : undefined;
}

/**
 * The environment's release policy (ci/src/definitions/environments.ts, via the generated tables) on the reference
 * and release tag, before any container starts: the same function kgraph-ci deploy runs. The rules
 * that need the ledger (promotion, soak) run inside kgraph-ci deploy, before its first kubectl call.
 */
export function checkDeployImage(environment: EnvironmentName, image: string, version?: string): void {
  const policy = ENVIRONMENTS[environment].release;
  const { rules } = referenceRules(environment, policy, { image, ...(version ? { release: { tag: version } } : {}) });
  const refused = rules.find((r) => !isPass(r));
  if (refused)
    throw new Error(
      `refusing to deploy ${image} to ${environment}: release policy rule "${refused.rule}": ${refused.reasons.join('; ')}`,
    );
}

/** The environment GitHub calls production (release policy `production`): what releases promote to. */
export function productionEnvironment(): EnvironmentName {
  const prod = ENVIRONMENT_NAMES.filter((e) => ENVIRONMENTS[e].release.production);
  if (prod.length !== 1)
    throw new Error(`the release policy marks ${prod.length} environments as production; releases need exactly one`);
  return prod[0]!;
}

/** OCI labels the promoted image carries: what it was built from. */
export const REVISION_LABEL = 'org.opencontainers.image.revision';
export const TREE_LABEL = 'io.kgraph.tree';
/** Where release() mounts the promoted image's filesystem and writes its SBOM. */
export const IMAGE_ROOT = '/run/promoted-image';
export const SBOM_PATH = '/tmp/sbom/kgraph-mcp.cdx.json';

/** publishCandidate's answer: the pushed reference by digest, and its parts for the attestation. */
export function candidateJson(published: string, commit: string, tree: string): string {
  const at = published.indexOf('@');
  const digest = at >= 0 ? published.slice(at + 1) : '';
  if (!/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`the registry answered "${published}", which has no sha256 digest`);
  const withoutDigest = published.slice(0, at);
  const name = withoutDigest.slice(
    0,
    withoutDigest.lastIndexOf(':') > withoutDigest.lastIndexOf('/') ? withoutDigest.lastIndexOf(':') : undefined,
  );
  return JSON.stringify({ image: `${name}@${digest}`, name, digest, commit, tree });
}

/** A git object id (commit or tree), as the image labels and the ledger carry it: the pipeline's one validator. */
export function checkGitObject(value: string, what: string): string {
  if (!GIT_OBJECT_ID.test(value))
    throw new Error(`${what} "${value}" is not a git object id (40 lowercase hex digits, SHA-1)`);
  return value;
}

/** A git ref name the host resolves (tag, branch, commit, `HEAD~1`): never an option (no leading dash). */
const GIT_REF = /^[A-Za-z0-9][A-Za-z0-9._/@{}~^-]{0,199}$/;

/**
 * `kgraph-ci migrations compat` for the module: the N-1 check against the release `previous` (a git ref;
 * absent, kgraph-ci takes the release running in `environment` from the ledger, else the newest v* tag).
 * `image` is the candidate, `name@sha256:…` or `sha256:…`: the record keeps its digest, which is what
 * prod's compatibility rule compares with the deploy's.
 */
export function compatArgv(
  environment: EnvironmentName,
  opts: { previous?: string; image?: string; previousDigest?: string; repository?: string },
): string[] {
  const argv = ciArgv('migrations', 'compat', '--env', environment);
  if (opts.previous !== undefined) {
    if (!GIT_REF.test(opts.previous)) throw new Error(`previous "${opts.previous}" is not a git ref name`);
    argv.push('--previous', opts.previous);
  }
  if (opts.previousDigest !== undefined)
    argv.push('--previous-digest', digestOf(opts.previousDigest, 'previousDigest'));
  if (opts.image !== undefined) argv.push('--image', digestOf(opts.image, 'image'));
  if (opts.repository !== undefined) argv.push('--repo', checkRepository(opts.repository));
  return argv;
}

/** The sha256 digest of `name@sha256:…` or of a bare `sha256:…`; anything else is refused by name. */
export function digestOf(ref: string, what: string): string {
  const digest = ref.slice(ref.lastIndexOf('@') + 1);
  if (!/^sha256:[0-9a-f]{64}$/.test(digest))
    throw new Error(`${what} "${ref}" has no sha256 digest (expected name@sha256:<64 hex> or sha256:<64 hex>)`);
  return digest;
}

/** A vulnerability severity as trivy grades it, lowest first; a scan fails at its threshold and above. */
export enum Severity {
  /** Not yet graded by its source; the strictest threshold. */
  UNKNOWN = 'UNKNOWN',
  /** Low and above. */
  LOW = 'LOW',
  /** Medium and above. */
  MEDIUM = 'MEDIUM',
  /** High and critical (the default). */
  HIGH = 'HIGH',
  /** Critical only. */
  CRITICAL = 'CRITICAL',
}

export const SEVERITIES = Object.values(Severity);

/** Trivy's --severity list for a threshold: the threshold and everything above it. */
export function severitiesFrom(threshold: string): string {
  const upper = threshold.toUpperCase();
  const index = SEVERITIES.findIndex((s) => s === upper);
  if (index < 0) {
    throw new Error(`unknown severity "${threshold}": expected one of ${SEVERITIES.join(', ')}`);
  }
  return SEVERITIES.slice(index).join(',');
}

/** The alias the latency gate's baseline service is bound as, next to APP_ALIAS. */
export const BASELINE_ALIAS = 'baseline';

/**
 * A baseline image reference for the latency gate (`host/repo:tag` or `host/repo@sha256:…`) and the
 * registry host its auth needs; refused when it is not a plain reference.
 */
export function checkBaselineImage(ref: string): { address: string; host: string } {
  if (
    !/^[a-z0-9][a-z0-9.-]*(?::\d+)?(?:\/[a-z0-9._-]+)+(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/.test(
      ref,
    )
  ) {
    throw new Error(`baseline image "${ref}" is not an image reference like ghcr.io/owner/kgraph-mcp:v1.2.3`);
  }
  return { address: ref, host: ref.split('/')[0]! };
}

/** `ghcr.io/owner` + `v1.2.3` -> `ghcr.io/owner/kgraph-mcp:v1.2.3`; the host is what registry auth needs. */
export function publishAddress(registry: string, tag: string): { address: string; host: string } {
  const base = registry.replace(/\/+$/, '');
  if (!base || /\s/.test(base)) throw new Error(`registry "${registry}" is empty or contains whitespace`);
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) throw new Error(`image tag "${tag}" is not a valid tag`);
  const host = base.split('/')[0] ?? base;
  return { address: `${base}/${IMAGE_NAME}:${tag}`, host };
}

export { SERVICE_NAMES, STEP_NAMES, STEPS };
