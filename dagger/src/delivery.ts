/**
 * Delivery with kgraph-ci inside the engine: deploy, roll back, watch, release, and the ledger's answers
 * (the promotion candidate, the delivery report). Reached as `dagger call delivery <function>`.
 */
import { dag, func, object, Directory, Secret } from '@dagger.io/dagger';
import { Environment } from './ci.generated.js';
import {
  IMAGE_ROOT,
  SBOM_PATH,
  checkDeployImage,
  checkDuration,
  checkEnvironment,
  checkGitObject,
  checkRepository,
  checkVersionTag,
  ciArgv,
  compatArgv,
  productionEnvironment,
  stepCommand,
} from './plan.js';
import { deliveryContainer, servingContainer } from './containers.js';

/** Deploys, rollbacks, watches and releases, each a kgraph-ci command in the delivery container. */
@object()
export class Delivery {
  source: Directory;
  nodeVersion: string;

  constructor(source: Directory, nodeVersion: string) {
    this.source = source;
    this.nodeVersion = nodeVersion;
  }

  /**
   * Deploys an image to an environment with kgraph-ci (release policy, checklist, migrations, rollout,
   * smoke test, latency gate). The environment's release policy (ci/src/definitions/environments.ts) is checked on
   * the reference here, before any container starts, and in full inside kgraph-ci before any kubectl
   * call. `version` is the release vX.Y.Z it stands for, `commit` and `tree` what it was built from;
   * `apiKey` is what the smoke test and the gate call the API with; `githubToken` with `repository`
   * (owner/name) is the delivery ledger (GitHub deployments), which prod requires. The gate's baseline runs
   * in the environment's own namespace and takes its own API key: no other environment's key is needed.
   * Example: `dagger call delivery deploy --environment=prod --image=ghcr.io/kgraph-mcp/kgraph-mcp@sha256:<digest> --version=v1.2.3 --kubeconfig=file://$HOME/.kube/config --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp --api-key=env://API_KEY`
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
  ): Promise<string> {
    const env = checkEnvironment(environment);
    if (version) checkVersionTag(version, 'version');
    checkDeployImage(env, image, version);
    const argv = stepCommand('deploy', { env, image });
    if (repository) argv.push('--repo', checkRepository(repository));
    if (version) argv.push('--version', version);
    if (commit) argv.push('--commit', checkGitObject(commit, 'commit'));
    if (tree) argv.push('--tree', checkGitObject(tree, 'tree'));
    const secrets = { GITHUB_TOKEN: githubToken, API_KEY: apiKey };
    return deliveryContainer(this, kubeconfig, secrets).withExec(argv).stdout();
  }

  /**
   * The N-1 compatibility check (`kgraph-ci migrations compat`): the previous release, from a git worktree
   * of `previous` (default: the release running in `environment` by the ledger, else the newest v* tag),
   * runs its own API suite on this tree's schema, then serves one database beside this tree (equal answers,
   * writes both ways, caches coherent within 1 s), on Postgres and Redis service containers. `image` is
   * the candidate's digest reference and `previousDigest` the previous release's, both recorded; with
   * `githubToken` and `repository` the record goes to the delivery ledger, where prod's compatibility rule
   * reads it. Needs the history: `delivery`'s `repo` keeps .git.
   * Example: `dagger call delivery migrations-compat --environment=prod --image=ghcr.io/kgraph-mcp/kgraph-mcp@sha256:<digest> --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  // Never replayed: it writes a ledger record and its default previous release moves without the tree changing.
  @func({ cache: 'never' })
  async migrationsCompat(
    environment: Environment = Environment.prod,
    previous?: string,
    image?: string,
    previousDigest?: string,
    githubToken?: Secret,
    repository?: string,
  ): Promise<string> {
    const argv = compatArgv(checkEnvironment(environment), {
      ...(previous !== undefined ? { previous } : {}),
      ...(image !== undefined ? { image } : {}),
      ...(previousDigest !== undefined ? { previousDigest } : {}),
      ...(repository !== undefined ? { repository } : {}),
    });
    return servingContainer(this, { GITHUB_TOKEN: githubToken }).withExec(argv).stdout();
  }

  /**
   * Rolls an environment back to its previous revision, or to a released version `to`; `apiKey`
   * is what the smoke test calls the API with.
   * Example: `dagger call delivery rollback --environment=prod --kubeconfig=file://$HOME/.kube/config --to=v1.2.2`
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
    return deliveryContainer(this, kubeconfig, { API_KEY: apiKey, GITHUB_TOKEN: githubToken }).withExec(argv).stdout();
  }

  /**
   * Watches a deployed environment and rolls it back when its triggers fire.
   * Example: `dagger call delivery watch --environment=prod --url=https://kgraph-mcp.example.com --kubeconfig=file://$HOME/.kube/config --duration=30m`
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
    let ctr = deliveryContainer(this, kubeconfig, { GITHUB_TOKEN: githubToken });
    // The rollback a trigger starts is a kgraph-ci rollback with this environment: it records itself in the ledger.
    if (repository) ctr = ctr.withEnvVariable('GITHUB_REPOSITORY', checkRepository(repository));
    return ctr.withExec(ciArgv('watch', '--env', env, '--url', url, '--duration', duration)).stdout();
  }

  /**
   * Validates a v* tag on main and creates or updates its GitHub release in `repository`
   * (owner/name; CI passes its own). With `image` (the promoted digest reference), the CycloneDX SBOM
   * of what that image ships (its filesystem's npm tree, `kgraph-ci sbom`) is attached to the release;
   * `username` with `githubToken` pulls it from the registry.
   * Example: `dagger call delivery release --tag=v1.2.3 --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp --image=ghcr.io/kgraph-mcp/kgraph-mcp@sha256:<digest>`
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
    let ctr = deliveryContainer(this, undefined, { GITHUB_TOKEN: githubToken });
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
   * The digest reference a release `tag` would promote to prod (what passed staging for the tag's
   * source tree), or `none`: then the workflow builds the tag, runs staging's gates on it, and promotes.
   * Example: `dagger call delivery promotion-candidate --tag=v1.2.3 --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  @func({ cache: 'never' })
  async promotionCandidate(tag: string, githubToken: Secret, repository: string): Promise<string> {
    checkVersionTag(tag);
    const repo = checkRepository(repository);
    const argv = ciArgv('promotion', 'candidate', '--env', productionEnvironment(), '--version', tag, '--repo', repo);
    return (await deliveryContainer(this, undefined, { GITHUB_TOKEN: githubToken }).withExec(argv).stdout()).trim();
  }

  /**
   * The delivery report from the ledger (GitHub deployments of `repository`) over `since` (30d):
   * a directory holding report.md (tables and chart) and report.json.
   * Example: `dagger call delivery delivery-report --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp export --path=.reports/delivery`
   */
  @func({ cache: 'never' })
  async deliveryReport(githubToken: Secret, repository: string, since = '30d'): Promise<Directory> {
    if (!/^\d{1,4}[dhm]$/.test(since)) throw new Error(`since "${since}" must look like 30d, 12h or 90m`);
    const repo = checkRepository(repository);
    const out = ['--out', '/out/report.md', '--json-out', '/out/report.json'];
    return deliveryContainer(this, undefined, { GITHUB_TOKEN: githubToken })
      .withExec(ciArgv('report', '--repo', repo, '--since', since, ...out))
      .directory('/out');
  }
}
