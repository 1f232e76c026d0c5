/**
 * The pipeline's steps, defined once. The host runner (`kgraph-ci run`), the Dagger module, the
 * workflows and the README are all checked against this table, so it stays plain, typed data.
 */
export const SERVICE_NAMES = ['postgres', 'redis'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const STEP_NAMES = [
  'lint',
  'typecheck',
  'test',
  'integrationTest',
  'migrationsCheck',
  'rolloutRehearsal',
  'coverage',
  'build',
  'scan',
  'latencyGate',
  'deploy',
  'rollback',
  'release',
] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** check: verifies the tree; artifact: produces or inspects what ships; delivery: changes the world. */
export type StepKind = 'check' | 'artifact' | 'delivery';

export interface StepDefinition {
  readonly name: StepName;
  /** kebab-case name, as the Dagger CLI and the workflows spell functions (`integration-test`). */
  readonly cliName: string;
  readonly description: string;
  readonly kind: StepKind;
  /** argv arrays run in order from the repository root; `${param}` is filled from `params`. */
  readonly commands: readonly (readonly string[])[];
  /** Parameters a caller must supply (for example the environment of a deploy). */
  readonly params: readonly string[];
  readonly services: readonly ServiceName[];
  readonly env: Readonly<Record<string, string>>;
  readonly dependsOn: readonly StepName[];
  /** Paths (relative to $HOME or the repository) worth keeping between runs. */
  readonly cachePaths: readonly string[];
  readonly timeoutSeconds: number;
  /** Part of `kgraph-ci run all`, the pipeline's main job. Delivery steps never are. */
  readonly inAll: boolean;
  /** Whether the host runner may replay this step's result, and from what (see ci/src/verify/runner/cache). */
  readonly cache: StepCache;
  /** The image the step builds, when it builds one. */
  readonly image?: ImageSpec;
  /**
   * CI runs the step only for changes under these paths (its workflow's `paths` filter, checked against
   * this by the workflow tests); absent = every change.
   */
  readonly triggerPaths?: readonly string[];
}

/** The container image a step builds: the host build step and the Dagger module build the same thing from it. */
export interface ImageSpec {
  /** Relative to the context. */
  readonly dockerfile: string;
  /** Relative to the repository root. */
  readonly context: string;
  /** `${param}` is filled from the step's params, as in commands. */
  readonly buildArgs: Readonly<Record<string, string>>;
  /** Local name of the built image; the tag is the environment. */
  readonly repository: string;
  /** Size budgets (bytes, uncompressed as the engine reports them): what the image adds to its base, and in all. */
  readonly maxBytesOverBase: number;
  readonly maxBytes: number;
}

/**
 * `inputs`: the step's result is a function of these, so the host runner replays it when they hash the
 * same. The key also always covers the Node version on PATH, the platform, the step's own definition
 * and the keys of the steps it depends on. `never`: its result depends on the world, with the reason.
 */
export type StepCache =
  | {
      readonly mode: 'inputs';
      /**
       * Globs over the files git tracks or would track (untracked, not ignored), in order, last match wins;
       * `!glob` excludes. Content, the executable bit and symlink targets count; mtimes and paths outside do not.
       */
      readonly files: readonly string[];
      /** Environment variables the step reads; their values are hashed into the key, never stored. */
      readonly env: readonly string[];
      /** Files and directories the step writes (relative to the repository), restored exactly on a hit. */
      readonly outputs: readonly string[];
    }
  | { readonly mode: 'never'; readonly reason: string };

/** The unit and integration steps' timeouts; coverage, which runs both projects, gets their sum. */
const UNIT_TIMEOUT_S = 900;
const INTEGRATION_TIMEOUT_S = 900;
const NPM_CACHE = '~/.npm';
/** What npm installs from: every step's result depends on the installed packages. */
const DEPENDENCIES = ['package.json', '*/package.json', 'package-lock.json'];
const SOURCES = '**/*.{ts,mts,cts,js,mjs,cjs}';
/** The test suites read the whole tree (README and docs/, k8s/, workflows, the Dagger module, fixtures); benchmarks and other notes aside. */
const TEST_TREE = ['**', '!bench/**', '!**/*.md', 'README.md', 'docs/**'];
const ciCli = (...args: string[]): string[] => ['npx', '--no-install', 'kgraph-ci', ...args];

const table: readonly StepDefinition[] = [
  {
    name: 'lint',
    cliName: 'lint',
    description:
      'Import cycles and layers (dependency-cruiser), generated files up to date, ESLint with typescript-eslint over every workspace, no warnings allowed',
    kind: 'check',
    commands: [['npm', 'run', 'lint', '--', '--cache', '--cache-location', 'node_modules/.cache/eslint/']],
    params: [],
    services: [],
    env: {},
    dependsOn: [],
    cachePaths: [NPM_CACHE, 'node_modules/.cache/eslint'],
    timeoutSeconds: 300,
    inAll: true,
    // k8s/ and docs/reference/: `kgraph-ci generate --check` compares the committed overlays, alert rules and reference pages.
    cache: {
      mode: 'inputs',
      files: [SOURCES, '**/tsconfig*.json', 'k8s/**', 'docs/reference/**', ...DEPENDENCIES],
      env: [],
      outputs: [],
    },
  },
  {
    name: 'typecheck',
    cliName: 'typecheck',
    description: 'tsc --noEmit over app, ci, bench and tests, then over the Dagger module',
    kind: 'check',
    commands: [['npm', 'run', 'typecheck']],
    params: [],
    services: [],
    env: {},
    dependsOn: [],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: 300,
    inAll: true,
    cache: { mode: 'inputs', files: [SOURCES, '**/*.json'], env: [], outputs: [] },
  },
  {
    name: 'test',
    cliName: 'test',
    description: 'Unit tests (vitest project "unit"): pure logic, no services',
    kind: 'check',
    commands: [['npx', '--no-install', 'vitest', 'run', '--project', 'unit']],
    params: [],
    services: [],
    env: { NODE_ENV: 'test' },
    dependsOn: [],
    cachePaths: [NPM_CACHE],
    // The unit project took 531 s in the module's Node 22 container at load 14 on 2 cores (rehearsed,
    // docs/dagger.md): 600 s left no room. A hung test still fails at vitest's 30 s per test.
    timeoutSeconds: UNIT_TIMEOUT_S,
    inAll: true,
    cache: { mode: 'inputs', files: TEST_TREE, env: ['TZ', 'CI'], outputs: [] },
  },
  {
    name: 'integrationTest',
    cliName: 'integration-test',
    description: 'Integration tests (vitest project "integration") against real Postgres and Redis',
    kind: 'check',
    commands: [['npx', '--no-install', 'vitest', 'run', '--project', 'integration']],
    params: [],
    services: ['postgres', 'redis'],
    env: { NODE_ENV: 'test' },
    dependsOn: [],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: INTEGRATION_TIMEOUT_S,
    inAll: true,
    cache: { mode: 'inputs', files: TEST_TREE, env: ['TZ', 'CI', 'DATABASE_URL', 'REDIS_URL'], outputs: [] },
  },
  {
    name: 'migrationsCheck',
    cliName: 'migrations-check',
    description:
      'Migrations new since the last release: squawk plus the project rules (timeouts, CONCURRENTLY, NOT VALID, expand/contract, lock size); deploy runs it again with --env',
    kind: 'check',
    commands: [ciCli('migrations', 'check')],
    params: [],
    services: [],
    env: {},
    dependsOn: [],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: 300,
    inAll: true,
    cache: {
      mode: 'never',
      reason: 'its base is the newest v* tag, which moves without the tree changing',
    },
  },
  {
    name: 'rolloutRehearsal',
    cliName: 'rollout-rehearsal',
    description:
      "The previous release (newest v* tag) on prod's strategy behind a round-robin proxy under load, the migration, a rolling update to this tree and an automatic rollback: 0 failed requests and no read staler than 1 s (short CI profile; timeline in the job summary)",
    kind: 'check',
    // Short profile: 2 instances keep prod's maxSurge/maxUnavailable order (start one, drain one) in ~3 min.
    commands: [
      ciCli(
        'rehearse',
        'rollout',
        '--env',
        'prod',
        '--instances',
        '2',
        '--rate',
        '20',
        '--steady-seconds',
        '5',
        '--seed',
        '100',
        '--self-when-no-previous',
      ),
    ],
    params: [],
    services: ['postgres', 'redis'],
    env: {},
    dependsOn: [],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: 1200,
    // Not in `all`: minutes of load on a shared machine; CI runs it on changes to the service (triggerPaths).
    inAll: false,
    cache: {
      mode: 'never',
      reason:
        'its previous release is the newest v* tag, which moves without the tree changing, and it measures this machine now',
    },
    triggerPaths: ['app/**', 'ci/src/deliver/rollout/**', 'k8s/base/**', 'package-lock.json'],
  },
  {
    name: 'coverage',
    cliName: 'coverage',
    description:
      'Every test (unit and integration) with V8 coverage against real Postgres and Redis; the report lands in coverage/',
    kind: 'check',
    commands: [['npx', '--no-install', 'vitest', 'run', '--coverage', '--coverage.reportsDirectory=coverage']],
    params: [],
    services: ['postgres', 'redis'],
    env: { NODE_ENV: 'test' },
    dependsOn: [],
    cachePaths: [NPM_CACHE],
    // Both projects, one after the other (the integration project's groupOrder): the time of both test
    // steps. 1200 s timed out in the module's Node 22 container at load 22-28, 43 of 106 files done.
    timeoutSeconds: UNIT_TIMEOUT_S + INTEGRATION_TIMEOUT_S,
    // Not in `all`: the two test steps already run every test; CI runs this once for the report.
    inAll: false,
    cache: { mode: 'inputs', files: TEST_TREE, env: ['TZ', 'CI', 'DATABASE_URL', 'REDIS_URL'], outputs: ['coverage'] },
  },
  {
    name: 'build',
    cliName: 'build',
    description:
      'Compile the service (app/dist) and build the image from app/Dockerfile when a container engine answers',
    kind: 'artifact',
    commands: [ciCli('image', 'build', '--env', '${env}')],
    params: ['env'],
    services: [],
    env: {},
    dependsOn: ['typecheck'],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: 600,
    inAll: true,
    // A replay restores app/dist and the image report; the scan then checks the image is still in the engine.
    cache: {
      mode: 'inputs',
      files: [
        'app/src/**',
        'app/tsconfig*.json',
        'tsconfig.base.json',
        'app/Dockerfile*',
        'app/migrations/**',
        'ci/scripts/standin-base.sh',
        'ci/src/verify/image/**',
        ...DEPENDENCIES,
      ],
      env: ['KGRAPH_DOCKER'],
      outputs: ['app/dist', '.reports/image.json'],
    },
    image: {
      dockerfile: 'app/Dockerfile',
      context: '.',
      buildArgs: { ENVIRONMENT: '${env}' },
      repository: 'kgraph-mcp',
      // Raised from 40 MB / 300 MB at the 2026-12-06 stop: @sentry/node (with OpenTelemetry) and libpg-query
      // (the migrator's parser) added about 65 MB. A known regression to win back, not a new target.
      maxBytesOverBase: 110_000_000,
      maxBytes: 360_000_000,
    },
  },
  {
    name: 'scan',
    cliName: 'scan',
    description: 'Secret scan of the tree, Dockerfile policy and a dependency audit (fails closed offline)',
    kind: 'artifact',
    commands: [ciCli('scan')],
    params: [],
    services: [],
    env: {},
    dependsOn: ['build'],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: 600,
    inAll: true,
    cache: {
      mode: 'never',
      reason: 'its dependency audit asks the npm advisory service, whose answer changes without the tree changing',
    },
  },
  {
    name: 'latencyGate',
    cliName: 'latency-gate',
    description:
      "Serve the built service on fresh Postgres and Redis and hold it to the environment's latency thresholds",
    kind: 'artifact',
    commands: [ciCli('gate', 'latency', '--serve', '--env', '${env}')],
    params: ['env'],
    services: ['postgres', 'redis'],
    // No NODE_ENV=test: the gate measures the service as it ships, and test mode unlocks nothing in it.
    env: {},
    dependsOn: ['build'],
    cachePaths: [NPM_CACHE],
    timeoutSeconds: 900,
    inAll: true,
    cache: {
      mode: 'never',
      reason: "it measures the service's latency on this machine now, which no input hash captures",
    },
  },
  {
    name: 'deploy',
    cliName: 'deploy',
    description:
      'Checklist, migrations, kubectl apply, rollout wait, smoke test and latency gate; rolls back on failure',
    kind: 'delivery',
    commands: [ciCli('deploy', '--env', '${env}', '--image', '${image}')],
    params: ['env', 'image'],
    services: [],
    env: {},
    dependsOn: [],
    cachePaths: [],
    timeoutSeconds: 1800,
    inAll: false,
    cache: { mode: 'never', reason: 'it changes a cluster' },
  },
  {
    name: 'rollback',
    cliName: 'rollback',
    description: 'Roll an environment back to its previous revision or to a given released version',
    kind: 'delivery',
    commands: [ciCli('rollback', '--env', '${env}')],
    params: ['env'],
    services: [],
    env: {},
    dependsOn: [],
    cachePaths: [],
    timeoutSeconds: 900,
    inAll: false,
    cache: { mode: 'never', reason: 'it changes a cluster' },
  },
  {
    name: 'release',
    cliName: 'release',
    description: 'Validate a v* tag on main and create or update its GitHub release with generated notes',
    kind: 'delivery',
    commands: [ciCli('release', '--tag', '${tag}')],
    params: ['tag'],
    services: [],
    env: {},
    dependsOn: [],
    cachePaths: [],
    timeoutSeconds: 300,
    inAll: false,
    cache: { mode: 'never', reason: 'it changes GitHub releases' },
  },
];

export const STEPS: Readonly<Record<StepName, StepDefinition>> = Object.freeze(
  Object.fromEntries(table.map((s) => [s.name, s])) as Record<StepName, StepDefinition>,
);

export function isStepName(value: string): value is StepName {
  return (STEP_NAMES as readonly string[]).includes(value);
}

/** Accepts `integrationTest` or `integration-test`; undefined when neither names a step. */
export function findStep(name: string): StepDefinition | undefined {
  return table.find((s) => s.name === name || s.cliName === name);
}

export function stepsInAll(): StepDefinition[] {
  return table.filter((s) => s.inAll);
}

/** Fills `${param}` placeholders; a missing parameter is an error naming it, never an empty string. */
export function resolveCommands(
  step: Pick<StepDefinition, 'params' | 'commands'> & { readonly name: string },
  params: Readonly<Record<string, string>>,
): string[][] {
  const missing = step.params.filter((p) => params[p] === undefined || params[p] === '');
  if (missing.length > 0) {
    throw new Error(`step ${step.name} needs ${missing.map((m) => `--${m}`).join(', ')}`);
  }
  return step.commands.map((argv) => argv.map((arg) => arg.replace(/\$\{(\w+)\}/g, (_, p: string) => params[p] ?? '')));
}
