/**
 * The service image: build it, scan it, publish it, publish the candidate every environment promotes by digest.
 * Reached as `dagger call image <function>`.
 */
import { dag, func, object, CacheSharingMode, Container, Directory, ReturnType, Secret } from '@dagger.io/dagger';
import { Environment } from './ci.generated.js';
import {
  IMAGES,
  REVISION_LABEL,
  Severity,
  SCAN_ALLOW_OFFLINE_ENV,
  TREE_LABEL,
  TRIVY_FINDINGS_EXIT,
  WORKDIR,
  candidateJson,
  checkAllowOffline,
  checkEnvironment,
  checkGitObject,
  promotableImageBuild,
  publishAddress,
  runStepArgv,
  servicesOf,
  severitiesFrom,
} from './plan.js';
import { runStamp, serviceImage, stepContainer } from './containers.js';

/** The service image: build, scan and publish. */
@object()
export class Images {
  source: Directory;
  nodeVersion: string;

  constructor(source: Directory, nodeVersion: string) {
    this.source = source;
    this.nodeVersion = nodeVersion;
  }

  /**
   * The service image from app/Dockerfile, built for an environment.
   * Example: `dagger call image build --environment=staging`
   */
  @func()
  async build(environment: Environment = Environment.dev): Promise<Container> {
    return serviceImage(this, environment);
  }

  /**
   * The kgraph-ci scan step (secrets in the tree, the Dockerfile policy, npm audit), then trivy over the
   * built image and over the source (dependencies and secrets); fails at the severity threshold or above
   * and returns the reports. The step runs first: it needs no database download, so a secret or a
   * Dockerfile violation fails in seconds. Never cached: the vulnerability database moves on, so a verdict
   * must not be replayed from the function cache. `allowOffline`: when npm's advisory service gives no
   * answer (a registry mirror without the audit endpoint), the audit is reported skipped instead of failing
   * the scan; refused for an environment whose release policy does not accept a skipped audit (prod).
   * Example: `dagger call image scan --environment=prod --severity=critical`
   */
  @func({ cache: 'never' })
  async scan(
    environment: Environment = Environment.dev,
    severity: Severity = Severity.HIGH,
    allowOffline = false,
  ): Promise<string> {
    let step = stepContainer(this, 'scan', servicesOf('scan'));
    if (checkAllowOffline(checkEnvironment(environment), allowOffline))
      step = step.withEnvVariable(SCAN_ALLOW_OFFLINE_ENV.name, SCAN_ALLOW_OFFLINE_ENV.value);
    const stepReport = await step.withExec(runStepArgv('scan')).stdout();
    const levels = severitiesFrom(severity);
    const findings = String(TRIVY_FINDINGS_EXIT);
    const trivy = dag
      .container()
      .from(IMAGES.trivy)
      .withMountedCache('/root/.cache/trivy', dag.cacheVolume('kgraph-mcp-trivy'), { sharing: CacheSharingMode.Shared })
      .withMountedFile('/tmp/image.tar', serviceImage(this, environment).asTarball())
      .withMountedDirectory(WORKDIR, this.source)
      .withEnvVariable('KGRAPH_RUN_AT', runStamp());
    const common = ['--severity', levels, '--exit-code', findings, '--no-progress'];
    const imageReport = await trivyReport(
      'trivy image scan',
      trivy.withExec(['trivy', 'image', '--input', '/tmp/image.tar', ...common], { expect: ReturnType.Any }),
    );
    const sourceReport = await trivyReport(
      'trivy source scan',
      trivy.withExec(['trivy', 'fs', '--scanners', 'vuln,secret', ...common, WORKDIR], { expect: ReturnType.Any }),
    );
    return [stepReport, imageReport, sourceReport].join('\n');
  }

  /**
   * Builds the image and pushes it; returns the pushed reference with its digest.
   * Example: `dagger call image publish --registry=ghcr.io/kgraph-mcp --tag=v1.2.3 --username=bot --password=env://REGISTRY_PASSWORD`
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
    return serviceImage(this, environment).withRegistryAuth(host, username, password).publish(address);
  }

  /**
   * Build once, promote by digest: the image of `commit` (git `tree`), labelled with both
   * (org.opencontainers.image.revision, io.kgraph.tree), built with the container's default ENVIRONMENT
   * (each Deployment sets its own), pushed as `<registry>/kgraph-mcp:sha-<commit>`. Returns JSON
   * `{"image":"…@sha256:…","name","digest","commit","tree"}`: workflows pass `image` to deploys and
   * `name` + `digest` to the provenance attestation.
   * Example: `dagger call image publish-candidate --registry=ghcr.io/kgraph-mcp --username=bot --password=env://REGISTRY_PASSWORD --commit=$COMMIT --tree=$TREE`
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
}

/**
 * A trivy run: its report on success; findings (TRIVY_FINDINGS_EXIT) throw with the report; any
 * other exit is trivy failing to run (a database download, a bad input), thrown with its stderr.
 */
async function trivyReport(what: string, ctr: Container): Promise<string> {
  const [code, out, err] = await Promise.all([ctr.exitCode(), ctr.stdout(), ctr.stderr()]);
  if (code === 0) return out;
  if (code === TRIVY_FINDINGS_EXIT)
    throw new Error(`${what}: findings at or above the threshold (exit ${code}):\n${out}`);
  throw new Error(`${what} could not run (exit ${code}), so nothing was scanned:\n${err.trim() || out.trim()}`);
}
