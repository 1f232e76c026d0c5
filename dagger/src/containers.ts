/**
 * The containers every area builds from: Node with the repository installed, a step's container with its
 * caches, env and services, the delivery container (kubectl, secrets), the service image and the app
 * served on fresh Postgres and Redis. Plain functions over the module's state (source, Node version), so
 * each area object stays a thin list of functions.
 */
import { dag, CacheSharingMode, Container, Directory, File, Secret, Service } from '@dagger.io/dagger';
import { STEPS } from './ci.generated.js';
import type { ServiceName, StepName } from './ci.generated.js';
import {
  API_KEY_PATH,
  APP_PORT,
  EXTERNAL_SERVICES_ENV,
  IMAGES,
  KUBECONFIG_PATH,
  SERVICES,
  TEST_PACKAGES,
  WAIT_PACKAGES,
  WORKDIR,
  cacheMounts,
  checkEnvironment,
  checkNodeVersion,
  environmentSettings,
  imageBuild,
  runStepArgv,
  needsRepoTools,
  stepPackages,
  servicesOf,
} from './plan.js';

/** What every area object carries: the repository and the Node major its step containers run. */
export interface Workspace {
  readonly source: Directory;
  readonly nodeVersion: string;
}

/**
 * Node, npm caches and installed dependencies, source at /src. `packages` (Debian: the readiness clients,
 * git) are installed first, so their layer stays cached while the source changes.
 */
export function toolContainer(ws: Workspace, packages: readonly string[] = []): Container {
  const version = checkNodeVersion(ws.nodeVersion);
  // Lockfiles first, so `npm ci` stays a cached layer until dependencies change. The workspaces' bin
  // scripts come too: npm links a bin (node_modules/.bin/kgraph-ci) only when its file exists at install.
  const manifests = dag.directory().withDirectory('.', ws.source, {
    include: ['package.json', 'package-lock.json', '*/package.json', '*/bin/*'],
  });
  let base = dag.container().from(IMAGES.node[version]);
  if (packages.length > 0) {
    base = base.withExec([
      'sh',
      '-c',
      `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${packages.join(' ')} >/dev/null && rm -rf /var/lib/apt/lists/*`,
    ]);
  }
  return base
    .withEnvVariable('CI', 'true')
    .withMountedCache('/root/.npm', dag.cacheVolume(`kgraph-mcp-npm-node${version}`), {
      sharing: CacheSharingMode.Shared,
    })
    .withWorkdir(WORKDIR)
    .withDirectory(WORKDIR, manifests)
    .withExec(['npm', 'ci', '--no-audit', '--no-fund'])
    .withDirectory(WORKDIR, ws.source);
}

/** A step's container: its cache paths, env and services from the step table, not yet run. */
export function stepContainer(ws: Workspace, step: StepName, services: readonly ServiceName[]): Container {
  let ctr = toolContainer(ws, stepPackages(step, services));
  if (needsRepoTools(step)) ctr = withKubectl(ctr);
  for (const { path, key } of cacheMounts(step)) {
    if (path === '/root/.npm') continue; // already mounted, shared by every step
    ctr = ctr.withMountedCache(path, dag.cacheVolume(`${key}-node${ws.nodeVersion}`));
  }
  for (const [name, value] of Object.entries(STEPS[step].env)) ctr = ctr.withEnvVariable(name, value);
  return withServices(ctr, services);
}

/** Binds each service by alias, points its URL variable at it and waits until it answers. */
function withServices(ctr: Container, services: readonly ServiceName[]): Container {
  if (services.length === 0) return ctr;
  let out = ctr.withEnvVariable(EXTERNAL_SERVICES_ENV.name, EXTERNAL_SERVICES_ENV.value);
  for (const name of services) {
    const spec = SERVICES[name];
    out = out.withServiceBinding(spec.alias, serviceContainer(name)).withEnvVariable(spec.urlVar, spec.url);
  }
  for (const name of services) out = out.withExec([...SERVICES[name].wait]);
  return out;
}

/** The step's container with `kgraph-ci run <step>` as its last exec. */
export function stepRun(ws: Workspace, step: StepName): Container {
  return stepContainer(ws, step, servicesOf(step)).withExec(runStepArgv(step));
}

/**
 * kgraph-ci with kubectl, the kubeconfig mounted as a file and the given secrets as variables; a run
 * stamp makes every call really run despite layer caching.
 */
export function deliveryContainer(
  ws: Workspace,
  kubeconfig?: Secret,
  secrets: Record<string, Secret | undefined> = {},
): Container {
  let ctr = withKubectl(toolContainer(ws)).withEnvVariable('KGRAPH_RUN_AT', runStamp());
  if (kubeconfig)
    ctr = ctr.withMountedSecret(KUBECONFIG_PATH, kubeconfig).withEnvVariable('KUBECONFIG', KUBECONFIG_PATH);
  for (const [name, secret] of Object.entries(secrets)) if (secret) ctr = ctr.withSecretVariable(name, secret);
  return ctr;
}

/**
 * For kgraph-ci commands that serve releases themselves (the N-1 check): git for the previous release's
 * worktree, Postgres and Redis bound as services, secrets as variables, a run stamp. The packages are the
 * test steps' set, so this shares their apt and `npm ci` layers instead of paying its own.
 */
export function servingContainer(ws: Workspace, secrets: Record<string, Secret | undefined> = {}): Container {
  let ctr = toolContainer(ws, [...WAIT_PACKAGES, ...TEST_PACKAGES]).withEnvVariable('KGRAPH_RUN_AT', runStamp());
  for (const [name, secret] of Object.entries(secrets)) if (secret) ctr = ctr.withSecretVariable(name, secret);
  return withServices(ctr, ['postgres', 'redis']);
}

/** kubectl from the pinned kubectl image, on PATH. */
function withKubectl(ctr: Container): Container {
  return ctr.withFile('/usr/local/bin/kubectl', dag.container().from(IMAGES.kubectl).file('/bin/kubectl'));
}

/** The step table's image spec, as the host build step builds it. */
export function serviceImage(ws: Workspace, environment: string, source: Directory = ws.source): Container {
  const plan = imageBuild(checkEnvironment(environment));
  const context = plan.context === '.' ? source : source.directory(plan.context);
  return context.dockerBuild({ dockerfile: plan.dockerfile, buildArgs: plan.buildArgs });
}

/** A random API key made inside the engine (cached with its layer): it never crosses the wire. */
export function generatedApiKey(ws: Workspace): File {
  const version = checkNodeVersion(ws.nodeVersion);
  return dag
    .container()
    .from(IMAGES.node[version])
    .withExec([
      'sh',
      '-c',
      `node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('hex'))" > /api-key`,
    ])
    .file('/api-key');
}

/**
 * `image` migrated, seeded and serving. `instance` names a second copy (the gate's baseline): its
 * Postgres and Redis get that name too, so the engine runs them apart instead of sharing one identical
 * service between both copies.
 */
export function appService(
  ws: Workspace,
  image: Container,
  environment: string,
  apiKey?: Secret,
  instance?: string,
): Service {
  const env = environmentSettings(checkEnvironment(environment));
  // The gate needs tools to query even where the environment itself seeds nothing.
  const seedCount = Math.max(env.seedCount, 200);
  let ctr = instance ? image.withEnvVariable('KGRAPH_SERVICE_INSTANCE', instance) : image;
  for (const name of ['postgres', 'redis'] as const) {
    const spec = SERVICES[name];
    ctr = ctr.withServiceBinding(spec.alias, serviceContainer(name, instance)).withEnvVariable(spec.urlVar, spec.url);
  }
  // A given key arrives as a secret variable; otherwise the generated key file is read at start.
  ctr = apiKey ? ctr.withSecretVariable('API_KEYS', apiKey) : ctr.withMountedFile(API_KEY_PATH, generatedApiKey(ws));
  const start = `node dist/migrate.js && node dist/seed.js --count ${seedCount} && exec node dist/main.js`;
  const keyFromFile = `API_KEYS="$(cat ${API_KEY_PATH})"; export API_KEYS; `;
  return (
    ctr
      .withEnvVariable('APP_NAME', 'kgraph-mcp')
      .withEnvVariable('ENVIRONMENT', env.name)
      .withEnvVariable('LOG_LEVEL', env.logLevel)
      .withEnvVariable('DEBUG', String(env.debug))
      .withEnvVariable('PORT', String(APP_PORT))
      .withEnvVariable('REDIS_PREFIX', `kgraph:${env.name}:`)
      .withExposedPort(APP_PORT)
      // Ready means migrated, seeded and serving with its dependencies: /readyz, with room for the
      // migrate and seed that run first (the image's own HEALTHCHECK is liveness only).
      .withDockerHealthcheck(
        [
          'node',
          '-e',
          `fetch("http://127.0.0.1:${APP_PORT}/readyz").then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`,
        ],
        { interval: '2s', timeout: '3s', startPeriod: '120s', retries: 30 },
      )
      .asService({ args: ['sh', '-c', apiKey ? start : keyFromFile + start] })
  );
}

/** A Postgres or Redis service with a Docker healthcheck the engine waits on. */
function serviceContainer(name: ServiceName, instance?: string): Service {
  const spec = SERVICES[name];
  let ctr = dag.container().from(spec.image);
  for (const [key, value] of Object.entries(spec.env)) ctr = ctr.withEnvVariable(key, value);
  if (instance) ctr = ctr.withEnvVariable('KGRAPH_SERVICE_INSTANCE', instance);
  return ctr
    .withExposedPort(spec.port)
    .withDockerHealthcheck([...spec.healthcheck], { interval: '1s', timeout: '3s', startPeriod: '30s', retries: 30 })
    .asService();
}

/** Polls `url` from inside a container until it answers 2xx, at most `attempts` seconds. */
export function waitForHttp(url: string, attempts = 60): string[] {
  const probe = `node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" ${url}`;
  return [
    'sh',
    '-c',
    `i=0; until ${probe}; do i=$((i+1)); if [ "$i" -ge ${attempts} ]; then echo "${url} not ready after ${attempts} attempts" >&2; exit 1; fi; sleep 1; done`,
  ];
}

/** Changes on every call: the cache buster for functions that must act each time. */
export function runStamp(): string {
  return new Date().toISOString();
}
