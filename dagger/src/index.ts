/**
 * The KGraph-MCP pipeline as Dagger functions: the same steps as `kgraph-ci run`, in containers,
 * with ephemeral Postgres and Redis as service containers. Step commands live in ci/'s step table;
 * these functions only choose the container, its services and secrets, then run the step.
 */
import {
  argument,
  check,
  dag,
  func,
  object,
  CacheSharingMode,
  Container,
  Directory,
  File,
  ReturnType,
  Secret,
  Service,
} from '@dagger.io/dagger';
import { Environment, Step } from './ci.generated.js';
import type { ServiceName, StepName } from './ci.generated.js';
import {
  API_KEY_PATH,
  APP_ALIAS,
  BASELINE_ALIAS,
  APP_PORT,
  EXTERNAL_SERVICES_ENV,
  IMAGES,
  KUBECONFIG_PATH,
  SERVICES,
  STEPS,
  Severity,
  WAIT_PACKAGES,
  WORKDIR,
  cacheMounts,
  checkBaselineImage,
  checkDeployImage,
  checkDuration,
  checkEnvironment,
  checkGitObject,
  candidateJson,
  productionEnvironment,
  promotableImageBuild,
  IMAGE_ROOT,
  REVISION_LABEL,
  SBOM_PATH,
  TREE_LABEL,
  checkNodeVersion,
  checkRepository,
  checkVersionTag,
  ciArgv,
  environmentSettings,
  findStep,
  imageBuild,
  publishAddress,
  runStepArgv,
  servicesOf,
  severitiesFrom,
  stepCommand,
  TRIVY_FINDINGS_EXIT,
} from './plan.js';

/** KGraph-MCP's pipeline: checks, image build and scan, the latency gate, delivery and policy. */
@object()
export class KgraphMcp {
  source: Directory;
  nodeVersion: string;

  constructor(
    /** The repository; by default the git root without dependencies, build output and history. */
    @argument({
      defaultPath: '/',
      ignore: ['**/node_modules', '**/dist', '.git', '**/coverage', 'dagger/sdk', '.reports'],
    })
    source: Directory,
    /** Node.js major version for step containers: "22" or "24". */
    nodeVersion = '22',
  ) {
    this.source = source;
    this.nodeVersion = checkNodeVersion(nodeVersion);
  }

  /**
   * ESLint over every workspace (step `lint`).
   * Example: `dagger call lint`
   */
  @func()
  @check()
  async lint(): Promise<void> {
    await this.checkStep('lint');
  }

  /**
   * tsc over app, ci, tests and this module (step `typecheck`).
   * Example: `dagger call --node-version=24 typecheck`
   */
  @func()
  @check()
  async typecheck(): Promise<void> {
    await this.checkStep('typecheck');
  }

  /**
   * Unit tests, no services (step `test`).
   * Example: `dagger call test`
   */
  @func()
  @check()
  async test(): Promise<void> {
    await this.checkStep('test');
  }

  /**
   * Integration tests against ephemeral Postgres and Redis service containers (step `integration-test`).
   * Example: `dagger call integration-test`
   */
  @func()
  @check()
  async integrationTest(): Promise<void> {
    await this.checkStep('integrationTest');
  }

  /**
   * Migrations new since the newest v* tag, linted with squawk and the project rules (step
   * `migrations-check`). `repo` keeps .git: the base is read from the history, which `source` leaves out.
   * Example: `dagger call migrations-check`
   */
  @func()
  @check()
  async migrationsCheck(
    @argument({ defaultPath: '/', ignore: ['**/node_modules', '**/dist', '**/coverage', 'dagger/sdk'] })
    repo: Directory,
  ): Promise<void> {
    await this.stepContainer('migrationsCheck', servicesOf('migrationsCheck'))
      .withDirectory(`${WORKDIR}/.git`, repo.directory('.git'))
      .withExec(runStepArgv('migrationsCheck'))
      .sync();
  }

  /**
   * Every test with coverage, services bound; returns the coverage report directory.
   * Example: `dagger call coverage export --path coverage`
   */
  @func()
  async coverage(): Promise<Directory> {
    const [report] = STEPS.coverage.cache.outputs;
    return this.stepRun('coverage').directory(`${WORKDIR}/${report}`);
  }

  /**
   * The service image from app/Dockerfile, built for an environment.
   * Example: `dagger call build --environment=staging`
   */
  @func()
  async build(environment: Environment = Environment.dev): Promise<Container> {
    return this.image(environment);
  }

  /**
   * Trivy over the built image and over the source (dependencies and secrets), then the kgraph-ci scan
   * step; fails at the severity threshold or above and returns the reports. Never cached: the
   * vulnerability database moves on, so a verdict must not be replayed from the function cache.
   * Example: `dagger call scan --environment=prod --severity=critical`
   */
  @func({ cache: 'never' })
  async scan(environment: Environment = Environment.dev, severity: Severity = Severity.HIGH): Promise<string> {
    const levels = severitiesFrom(severity);
    const findings = String(TRIVY_FINDINGS_EXIT);
    const trivy = dag
      .container()
      .from(IMAGES.trivy)
      .withMountedCache('/root/.cache/trivy', dag.cacheVolume('kgraph-mcp-trivy'), { sharing: CacheSharingMode.Shared })
      .withMountedFile('/tmp/image.tar', this.image(environment).asTarball())
      .withMountedDirectory(WORKDIR, this.source)
      .withEnvVariable('KGRAPH_RUN_AT', runStamp());
    const imageReport = await this.trivyReport(
      'trivy image scan',
      trivy.withExec(
        ['trivy', 'image', '--input', '/tmp/image.tar', '--severity', levels, '--exit-code', findings, '--no-progress'],
        {
          expect: ReturnType.Any,
        },
      ),
    );
    const sourceReport = await this.trivyReport(
      'trivy source scan',
      trivy.withExec(
        [
          'trivy',
          'fs',
          '--scanners',
          'vuln,secret',
          '--severity',
          levels,
          '--exit-code',
          findings,
          '--no-progress',
          WORKDIR,
        ],
        { expect: ReturnType.Any },
      ),
    );
    const stepReport = await this.runStep('scan');
    return [imageReport, sourceReport, stepReport].join('\n');
  }

  /**
   * Builds the image and pushes it; returns the pushed reference with its digest.
   * Example: `dagger call publish --registry=ghcr.io/kgraph-mcp --tag=v1.2.3 --username=bot --password=env://REGISTRY_PASSWORD`
   */
  @func({ cache: 'never' })
  async publish(
    registry: string,
    tag: string,
    username: string,
    password: Secret,
    environment: Environment = Environment.prod,
  ): Promise<string> {
    const { address, host } = publishAddress(registry, tag);
    return this.image(environment).withRegistryAuth(host, username, password).publish(address);
  }

  /**
   * Build once, promote by digest: the image of `commit` (git `tree`), labelled with both
   * (org.opencontainers.image.revision, io.kgraph.tree), built with the container's default ENVIRONMENT
   * (each Deployment sets its own), pushed as `<registry>/kgraph-mcp:sha-<commit>`. Returns JSON
   * `{"image":"…@sha256:…","name","digest","commit","tree"}`: workflows pass `image` to deploys and
   * `name` + `digest` to the provenance attestation.
   * Example: `dagger call publish-candidate --registry=ghcr.io/kgraph-mcp --username=bot --password=env://REGISTRY_PASSWORD --commit=$COMMIT --tree=$TREE`
   */
  @func({ cache: 'never' })
  async publishCandidate(
    registry: string,
    username: string,
    password: Secret,
    commit: string,
    tree: string,
  ): Promise<string> {
    checkGitObject(commit, 'commit');
    checkGitObject(tree, 'tree');
    const { address, host } = publishAddress(registry, `sha-${commit}`);
    const plan = promotableImageBuild();
    const context = plan.context === '.' ? this.source : this.source.directory(plan.context);
    const ctr = context
      .dockerBuild({ dockerfile: plan.dockerfile, buildArgs: plan.buildArgs })
      .withLabel(REVISION_LABEL, commit)
      .withLabel(TREE_LABEL, tree)
      .withLabel('org.opencontainers.image.source', address.slice(0, address.lastIndexOf(':')));
    return candidateJson(await ctr.withRegistryAuth(host, username, password).publish(address), commit, tree);
  }

  /**
   * The digest reference a release `tag` would promote to prod (what passed staging for the tag's
   * source tree), or `none`: then the workflow builds the tag, runs staging's gates on it, and promotes.
   * Example: `dagger call promotion-candidate --tag=v1.2.3 --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  @func({ cache: 'never' })
  async promotionCandidate(tag: string, githubToken: Secret, repository: string): Promise<string> {
    checkVersionTag(tag);
    const argv = ciArgv(
      'promotion',
      'candidate',
      '--env',
      productionEnvironment(),
      '--version',
      tag,
      '--repo',
      checkRepository(repository),
    );
    return (await this.deliveryContainer(undefined, { GITHUB_TOKEN: githubToken }).withExec(argv).stdout()).trim();
  }

  /**
   * The delivery report from the ledger (GitHub deployments of `repository`) over `since` (30d):
   * a directory holding report.md (tables and chart) and report.json.
   * Example: `dagger call delivery-report --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp export --path=.reports/delivery`
   */
  @func({ cache: 'never' })
  async deliveryReport(githubToken: Secret, repository: string, since = '30d'): Promise<Directory> {
    if (!/^\d{1,4}[dhm]$/.test(since)) throw new Error(`since "${since}" must look like 30d, 12h or 90m`);
    const repo = checkRepository(repository);
    return this.deliveryContainer(undefined, { GITHUB_TOKEN: githubToken })
      .withExec(
        ciArgv('report', '--repo', repo, '--since', since, '--out', '/out/report.md', '--json-out', '/out/report.json'),
      )
      .directory('/out');
  }

  /**
   * The built service on fresh Postgres and Redis, migrated and seeded, listening on 8000. Without an
   * API key, the service gets a random one generated inside the engine (health endpoints need none).
   * Example: `dagger call serve --api-key env://API_KEY up --ports 8000:8000`
   */
  @func()
  async serve(environment: Environment = Environment.dev, apiKey?: Secret): Promise<Service> {
    return this.appService(environment, apiKey);
  }

  /**
   * The latency gate from ci/ against serve() inside the engine; fails when the gate fails or is
   * inconclusive. With a baseline (the release it replaces: a published image, or a checkout of its git
   * ref built here) both are served in the engine, each on its own Postgres and Redis with the same
   * seed, and the gate compares them in alternating rounds. Never cached: a verdict is measured anew on
   * every call, never replayed. `baselineImage`: a published image of the baseline release (pulled with
   * `registryUsername`/`registryPassword` when given); `baselineSource`: a checkout of its git ref
   * (e.g. `https://github.com/owner/repo#v1.2.3`), built with app/Dockerfile.
   * Example: `dagger call latency-gate --environment=staging --baseline-image=ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3`
   */
  @func({ cache: 'never' })
  async latencyGate(
    environment: Environment = Environment.staging,
    baselineImage?: string,
    baselineSource?: Directory,
    registryUsername?: string,
    registryPassword?: Secret,
  ): Promise<string> {
    const env = checkEnvironment(environment);
    if (baselineImage !== undefined && baselineSource !== undefined)
      throw new Error('give at most one of baselineImage and baselineSource');
    if ((registryUsername === undefined) !== (registryPassword === undefined))
      throw new Error('registryUsername and registryPassword go together');
    const url = `http://${APP_ALIAS}:${APP_PORT}`;
    const baseUrl = `http://${BASELINE_ALIAS}:${APP_PORT}`;
    let baseline: Container | undefined;
    if (baselineImage !== undefined) {
      const { address, host } = checkBaselineImage(baselineImage);
      let pull = dag.container();
      if (registryUsername !== undefined && registryPassword !== undefined)
        pull = pull.withRegistryAuth(host, registryUsername, registryPassword);
      baseline = pull.from(address);
    } else if (baselineSource !== undefined) {
      baseline = this.image(env, baselineSource);
    }
    const gate = ciArgv(
      'gate',
      'latency',
      '--url',
      url,
      '--env',
      env,
      ...(baseline ? ['--baseline-url', baseUrl] : []),
    );
    let ctr = this.stepContainer('latencyGate', [])
      .withMountedFile(API_KEY_PATH, this.generatedApiKey())
      .withServiceBinding(APP_ALIAS, this.appService(env));
    if (baseline)
      ctr = ctr.withServiceBinding(BASELINE_ALIAS, this.appServiceFrom(baseline, env, undefined, BASELINE_ALIAS));
    ctr = ctr.withExec(waitForHttp(`${url}/readyz`));
    if (baseline) ctr = ctr.withExec(waitForHttp(`${baseUrl}/readyz`));
    return (
      ctr
        // A run stamp: the gate's exec layer is never replayed from the layer cache either.
        .withEnvVariable('KGRAPH_RUN_AT', runStamp())
        // The key is read from the mounted file inside the container, so it never appears in a query.
        .withExec(['sh', '-c', `API_KEY="$(cat ${API_KEY_PATH})" exec ${gate.join(' ')}`])
        .stdout()
    );
  }

  /**
   * Deploys an image to an environment with kgraph-ci (release policy, checklist, migrations, rollout,
   * smoke test, latency gate). The environment's release policy (ci/src/environments.ts) is checked on
   * the reference here, before any container starts, and in full inside kgraph-ci before any kubectl
   * call. `version` is the release vX.Y.Z it stands for, `commit` and `tree` what it was built from;
   * `apiKey` is what the smoke test and the gate call the API with; `githubToken` with `repository`
   * (owner/name) is the delivery ledger (GitHub deployments), which prod requires; `baselineApiKey` is the
   * API key of the environment the gate compares against (staging's gate against prod).
   * Example: `dagger call deploy --environment=prod --image=ghcr.io/kgraph-mcp/kgraph-mcp@sha256:<digest> --version=v1.2.3 --kubeconfig=file://$HOME/.kube/config --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp --api-key=env://API_KEY`
   */
  @func({ cache: 'never' })
  async deploy(
    environment: Environment,
    image: string,
    kubeconfig: Secret,
    githubToken?: Secret,
    apiKey?: Secret,
    repository?: string,
    version?: string,
    commit?: string,
    tree?: string,
    baselineApiKey?: Secret,
  ): Promise<string> {
    const env = checkEnvironment(environment);
    if (version) checkVersionTag(version, 'version');
    checkDeployImage(env, image, version);
    const argv = stepCommand('deploy', { env, image });
    if (repository) argv.push('--repo', checkRepository(repository));
    if (version) argv.push('--version', version);
    if (commit) argv.push('--commit', checkGitObject(commit, 'commit'));
    if (tree) argv.push('--tree', checkGitObject(tree, 'tree'));
    // BASELINE_API_KEY: the gate's baseline (the environment that promotes from this one) is called with it.
    return this.deliveryContainer(kubeconfig, {
      GITHUB_TOKEN: githubToken,
      API_KEY: apiKey,
      BASELINE_API_KEY: baselineApiKey,
    })
      .withExec(argv)
      .stdout();
  }

  /**
   * Rolls an environment back to its previous revision, or to a released version `to`; `apiKey`
   * is what the smoke test calls the API with.
   * Example: `dagger call rollback --environment=prod --kubeconfig=file://$HOME/.kube/config --to=v1.2.2`
   */
  @func({ cache: 'never' })
  async rollback(
    environment: Environment,
    kubeconfig: Secret,
    to?: string,
    apiKey?: Secret,
    githubToken?: Secret,
    repository?: string,
  ): Promise<string> {
    const env = checkEnvironment(environment);
    const argv = stepCommand('rollback', { env });
    if (to) argv.push('--to', checkVersionTag(to, 'rollback target'));
    // The ledger records the rollback (the report's rollback rate), and finds the digest `to` ran as.
    if (repository) argv.push('--repo', checkRepository(repository));
    return this.deliveryContainer(kubeconfig, { API_KEY: apiKey, GITHUB_TOKEN: githubToken }).withExec(argv).stdout();
  }

  /**
   * Watches a deployed environment and rolls it back when its triggers fire.
   * Example: `dagger call watch --environment=prod --url=https://kgraph-mcp.example.com --kubeconfig=file://$HOME/.kube/config --duration=30m`
   */
  @func({ cache: 'never' })
  async watch(
    environment: Environment,
    url: string,
    kubeconfig: Secret,
    duration = '15m',
    githubToken?: Secret,
    repository?: string,
  ): Promise<string> {
    const env = checkEnvironment(environment);
    if (!/^https?:\/\/\S+$/.test(url)) throw new Error(`watch url "${url}" must be an http(s) URL`);
    checkDuration(duration);
    let ctr = this.deliveryContainer(kubeconfig, { GITHUB_TOKEN: githubToken });
    // The rollback a trigger starts is a kgraph-ci rollback with this environment: it records itself in the ledger.
    if (repository) ctr = ctr.withEnvVariable('GITHUB_REPOSITORY', checkRepository(repository));
    return ctr.withExec(ciArgv('watch', '--env', env, '--url', url, '--duration', duration)).stdout();
  }

  /**
   * Validates a v* tag on main and creates or updates its GitHub release in `repository`
   * (owner/name; CI passes its own). With `image` (the promoted digest reference), the CycloneDX SBOM
   * of what that image ships (its filesystem's npm tree, `kgraph-ci sbom`) is attached to the release;
   * `username` with `githubToken` pulls it from the registry.
   * Example: `dagger call release --tag=v1.2.3 --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp --image=ghcr.io/kgraph-mcp/kgraph-mcp@sha256:<digest>`
   */
  @func({ cache: 'never' })
  async release(
    tag: string,
    githubToken: Secret,
    repository?: string,
    image?: string,
    username?: string,
  ): Promise<string> {
    checkVersionTag(tag);
    const argv = stepCommand('release', { tag });
    if (repository) argv.push('--repo', checkRepository(repository));
    let ctr = this.deliveryContainer(undefined, { GITHUB_TOKEN: githubToken });
    if (image) {
      checkDeployImage(productionEnvironment(), image, tag);
      const host = image.split('/')[0] ?? '';
      const promoted = username
        ? dag.container().withRegistryAuth(host, username, githubToken).from(image)
        : dag.container().from(image);
      ctr = ctr
        .withMountedDirectory(IMAGE_ROOT, promoted.rootfs())
        .withExec(ciArgv('sbom', '--dir', IMAGE_ROOT, '--out', SBOM_PATH, '--version', image));
      argv.push('--sbom', SBOM_PATH);
    }
    return ctr.withExec(argv).stdout();
  }

  /**
   * Branch policy for a pull request: may `source` merge into `target`?
   * Example: `dagger call policy-pr --source=feature/search --target=develop`
   */
  @func()
  async policyPr(source: string, target: string): Promise<string> {
    return this.toolContainer()
      .withExec(ciArgv('policy', 'pr', '--source', source, '--target', target))
      .stdout();
  }

  /**
   * Tag policy: is `tag` a valid release tag reachable from main in `repo` (git history kept)?
   * Example: `dagger call policy-tag --tag=v1.2.3`
   */
  @func()
  async policyTag(
    tag: string,
    @argument({ defaultPath: '/', ignore: ['**/node_modules', '**/dist', '**/coverage', 'dagger/sdk'] })
    repo: Directory,
  ): Promise<string> {
    return this.toolContainer()
      .withMountedDirectory('/repo', repo)
      .withExec(ciArgv('policy', 'tag', tag, '--repo', '/repo'))
      .stdout();
  }

  /**
   * Cuts a release branch from `from` (default develop) in `repository` (owner/name) with kgraph-ci.
   * Example: `dagger call cut-release --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  @func({ cache: 'never' })
  async cutRelease(githubToken: Secret, from = 'develop', repository?: string): Promise<string> {
    const argv = ciArgv('release', 'cut', '--from', from);
    if (repository) argv.push('--repo', checkRepository(repository));
    return this.toolContainer()
      .withEnvVariable('KGRAPH_RUN_AT', runStamp())
      .withSecretVariable('GITHUB_TOKEN', githubToken)
      .withExec(argv)
      .stdout();
  }

  /**
   * Applies branch protection to `repository` (owner/name) with kgraph-ci.
   * Example: `dagger call protect --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  @func({ cache: 'never' })
  async protect(githubToken: Secret, repository: string): Promise<string> {
    return this.toolContainer()
      .withEnvVariable('KGRAPH_RUN_AT', runStamp())
      .withSecretVariable('GITHUB_TOKEN', githubToken)
      .withExec(ciArgv('github', 'protect', '--repo', checkRepository(repository)))
      .stdout();
  }

  /**
   * The container a step runs in, services bound and source mounted, not yet run (step names as
   * `--help` lists them, any case).
   * Example: `dagger call debug --step integration_test terminal`
   */
  @func()
  async debug(step: Step): Promise<Container> {
    const name = findStep(step);
    return this.stepContainer(name, servicesOf(name)).withDefaultTerminalCmd(['bash']);
  }

  /**
   * Node, npm caches and installed dependencies, source at /src. With `waitClients`, also pg_isready
   * and redis-cli for the readiness wait, installed before the source so the layer stays cached.
   */
  private toolContainer(waitClients = false): Container {
    const version = checkNodeVersion(this.nodeVersion);
    // Lockfiles first, so `npm ci` stays a cached layer until dependencies change.
    const manifests = dag.directory().withDirectory('.', this.source, {
      include: ['package.json', 'package-lock.json', '*/package.json'],
    });
    let base = dag.container().from(IMAGES.node[version]);
    if (waitClients) {
      base = base.withExec([
        'sh',
        '-c',
        `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${WAIT_PACKAGES.join(' ')} >/dev/null && rm -rf /var/lib/apt/lists/*`,
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
      .withDirectory(WORKDIR, this.source);
  }

  /** A step's container: its cache paths, env and services from the step table, not yet run. */
  private stepContainer(step: StepName, services: readonly ServiceName[]): Container {
    let ctr = this.toolContainer(services.length > 0);
    for (const { path, key } of cacheMounts(step)) {
      if (path === '/root/.npm') continue; // already mounted, shared by every step
      ctr = ctr.withMountedCache(path, dag.cacheVolume(`${key}-node${this.nodeVersion}`));
    }
    for (const [name, value] of Object.entries(STEPS[step].env)) ctr = ctr.withEnvVariable(name, value);
    return this.withServices(ctr, services);
  }

  /** Binds each service by alias, points its URL variable at it and waits until it answers. */
  private withServices(ctr: Container, services: readonly ServiceName[]): Container {
    if (services.length === 0) return ctr;
    let out = ctr.withEnvVariable(EXTERNAL_SERVICES_ENV.name, EXTERNAL_SERVICES_ENV.value);
    for (const name of services) {
      const spec = SERVICES[name];
      out = out.withServiceBinding(spec.alias, serviceContainer(name)).withEnvVariable(spec.urlVar, spec.url);
    }
    for (const name of services) out = out.withExec([...SERVICES[name].wait]);
    return out;
  }

  private stepRun(step: StepName): Container {
    return this.stepContainer(step, servicesOf(step)).withExec(runStepArgv(step));
  }

  private async runStep(step: StepName): Promise<string> {
    return this.stepRun(step).stdout();
  }

  /** `dagger check` takes checks that return nothing and fail by error; the step's output streams in the progress view. */
  private async checkStep(step: StepName): Promise<void> {
    await this.stepRun(step).sync();
  }

  /**
   * kgraph-ci with kubectl, the kubeconfig mounted as a file and the given secrets as variables; a run
   * stamp makes every call really run despite layer caching.
   */
  private deliveryContainer(kubeconfig?: Secret, secrets: Record<string, Secret | undefined> = {}): Container {
    let ctr = this.toolContainer()
      .withFile('/usr/local/bin/kubectl', dag.container().from(IMAGES.kubectl).file('/bin/kubectl'))
      .withEnvVariable('KGRAPH_RUN_AT', runStamp());
    if (kubeconfig)
      ctr = ctr.withMountedSecret(KUBECONFIG_PATH, kubeconfig).withEnvVariable('KUBECONFIG', KUBECONFIG_PATH);
    for (const [name, secret] of Object.entries(secrets)) if (secret) ctr = ctr.withSecretVariable(name, secret);
    return ctr;
  }

  /** The step table's image spec, as the host build step builds it. */
  private image(environment: string, source: Directory = this.source): Container {
    const plan = imageBuild(checkEnvironment(environment));
    const context = plan.context === '.' ? source : source.directory(plan.context);
    return context.dockerBuild({ dockerfile: plan.dockerfile, buildArgs: plan.buildArgs });
  }

  /** A random API key made inside the engine (cached with its layer): it never crosses the wire. */
  private generatedApiKey(): File {
    const version = checkNodeVersion(this.nodeVersion);
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

  /** Migrate, seed and serve in one process so the data lives as long as the bound services. */
  private appService(environment: string, apiKey?: Secret): Service {
    return this.appServiceFrom(this.image(checkEnvironment(environment)), environment, apiKey);
  }

  /**
   * `image` migrated, seeded and serving. `instance` names a second copy (the gate's baseline): its
   * Postgres and Redis get that name too, so the engine runs them apart instead of sharing one identical
   * service between both copies.
   */
  private appServiceFrom(image: Container, environment: string, apiKey?: Secret, instance?: string): Service {
    const env = environmentSettings(checkEnvironment(environment));
    // The gate needs tools to query even where the environment itself seeds nothing.
    const seedCount = Math.max(env.seedCount, 200);
    let ctr = instance ? image.withEnvVariable('KGRAPH_SERVICE_INSTANCE', instance) : image;
    for (const name of ['postgres', 'redis'] as const) {
      const spec = SERVICES[name];
      ctr = ctr.withServiceBinding(spec.alias, serviceContainer(name, instance)).withEnvVariable(spec.urlVar, spec.url);
    }
    // A given key arrives as a secret variable; otherwise the generated key file is read at start.
    ctr = apiKey
      ? ctr.withSecretVariable('API_KEYS', apiKey)
      : ctr.withMountedFile(API_KEY_PATH, this.generatedApiKey());
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

  /**
   * A trivy run: its report on success; findings (TRIVY_FINDINGS_EXIT) throw with the report; any
   * other exit is trivy failing to run (a database download, a bad input), thrown with its stderr.
   */
  private async trivyReport(what: string, ctr: Container): Promise<string> {
    const [code, out, err] = await Promise.all([ctr.exitCode(), ctr.stdout(), ctr.stderr()]);
    if (code === 0) return out;
    if (code === TRIVY_FINDINGS_EXIT)
      throw new Error(`${what}: findings at or above the threshold (exit ${code}):\n${out}`);
    throw new Error(`${what} could not run (exit ${code}), so nothing was scanned:\n${err.trim() || out.trim()}`);
  }
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

function waitForHttp(url: string, attempts = 60): string[] {
  const probe = `node -e "fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))" ${url}`;
  return [
    'sh',
    '-c',
    `i=0; until ${probe}; do i=$((i+1)); if [ "$i" -ge ${attempts} ]; then echo "${url} not ready after ${attempts} attempts" >&2; exit 1; fi; sleep 1; done`,
  ];
}

/** Changes on every call: the cache buster for functions that must act each time. */
function runStamp(): string {
  return new Date().toISOString();
}
