/**
 * The repository's own rules and settings with kgraph-ci: branch and tag policy, cutting a release
 * branch, branch protection. Reached as `dagger call repo <function>`.
 */
import { func, object, argument, Directory, Secret } from '@dagger.io/dagger';
import { checkRepository, ciArgv } from './plan.js';
import { runStamp, toolContainer } from './containers.js';

/** Git flow policy and GitHub settings of the repository. */
@object()
export class Repo {
  source: Directory;
  nodeVersion: string;

  constructor(source: Directory, nodeVersion: string) {
    this.source = source;
    this.nodeVersion = nodeVersion;
  }

  /**
   * Branch policy for a pull request: may `source` merge into `target`?
   * Example: `dagger call repo policy-pr --source=feature/search --target=develop`
   */
  @func()
  async policyPr(source: string, target: string): Promise<string> {
    return toolContainer(this)
      .withExec(ciArgv('policy', 'pr', '--source', source, '--target', target))
      .stdout();
  }

  /**
   * Tag policy: is `tag` a valid release tag reachable from main in `repo` (git history kept)?
   * Example: `dagger call repo policy-tag --tag=v1.2.3`
   */
  @func()
  async policyTag(
    tag: string,
    @argument({ defaultPath: '/', ignore: ['**/node_modules', '**/dist', '**/coverage', 'dagger/sdk'] })
    repo: Directory,
  ): Promise<string> {
    return toolContainer(this)
      .withMountedDirectory('/repo', repo)
      .withExec(ciArgv('policy', 'tag', tag, '--repo', '/repo'))
      .stdout();
  }

  /**
   * Cuts a release branch from `from` (default develop) in `repository` (owner/name) with kgraph-ci.
   * Example: `dagger call repo cut-release --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  @func({ cache: 'never' })
  async cutRelease(githubToken: Secret, from = 'develop', repository?: string): Promise<string> {
    const argv = ciArgv('release', 'cut', '--from', from);
    if (repository) argv.push('--repo', checkRepository(repository));
    return toolContainer(this)
      .withEnvVariable('KGRAPH_RUN_AT', runStamp())
      .withSecretVariable('GITHUB_TOKEN', githubToken)
      .withExec(argv)
      .stdout();
  }

  /**
   * Applies branch protection to `repository` (owner/name) with kgraph-ci.
   * Example: `dagger call repo protect --github-token=env://GITHUB_TOKEN --repository=kgraph-mcp/kgraph-mcp`
   */
  @func({ cache: 'never' })
  async protect(githubToken: Secret, repository: string): Promise<string> {
    return toolContainer(this)
      .withEnvVariable('KGRAPH_RUN_AT', runStamp())
      .withSecretVariable('GITHUB_TOKEN', githubToken)
      .withExec(ciArgv('github', 'protect', '--repo', checkRepository(repository)))
      .stdout();
  }
}
