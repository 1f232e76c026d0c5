/**
 * The latency gate inside the engine: the candidate served on its own Postgres and Redis, optionally
 * against a baseline release served beside it. Reached as `dagger call gate latency-gate`.
 */
import { dag, func, object, Container, Directory, Secret } from '@dagger.io/dagger';
import { Environment } from './ci.generated.js';
import {
  API_KEY_PATH,
  APP_ALIAS,
  APP_PORT,
  BASELINE_ALIAS,
  checkBaselineImage,
  checkEnvironment,
  ciArgv,
  GATE_APP_ENV,
} from './plan.js';
import { appService, generatedApiKey, runStamp, serviceImage, stepContainer, waitForHttp } from './containers.js';

/** An app image as the gate serves it: GATE_APP_ENV on top (the rate limiter out of the way). */
function measured(image: Container): Container {
  let ctr = image;
  for (const [name, value] of Object.entries(GATE_APP_ENV)) ctr = ctr.withEnvVariable(name, value);
  return ctr;
}

/** Latency gates measured inside the engine. */
@object()
export class Gate {
  source: Directory;
  nodeVersion: string;

  constructor(source: Directory, nodeVersion: string) {
    this.source = source;
    this.nodeVersion = nodeVersion;
  }

  /**
   * The latency gate from ci/ against the served image inside the engine; fails when the gate fails or is
   * inconclusive. With a baseline (the release it replaces: a published image, or a checkout of its git
   * ref built here) both are served in the engine, each on its own Postgres and Redis with the same
   * seed, and the gate compares them in alternating rounds. Never cached: a verdict is measured anew on
   * every call, never replayed. `baselineImage`: a published image of the baseline release (pulled with
   * `registryUsername`/`registryPassword` when given); `baselineSource`: a checkout of its git ref
   * (e.g. `https://github.com/owner/repo#v1.2.3`), built with app/Dockerfile.
   * Example: `dagger call gate latency-gate --environment=staging --baseline-image=ghcr.io/kgraph-mcp/kgraph-mcp:v1.2.3`
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
    const baseline = this.baseline(env, baselineImage, baselineSource, registryUsername, registryPassword);
    const url = `http://${APP_ALIAS}:${APP_PORT}`;
    const baseUrl = `http://${BASELINE_ALIAS}:${APP_PORT}`;
    const gate = ciArgv(
      'gate',
      'latency',
      '--url',
      url,
      '--env',
      env,
      ...(baseline ? ['--baseline-url', baseUrl] : []),
    );
    let ctr = stepContainer(this, 'latencyGate', [])
      .withMountedFile(API_KEY_PATH, generatedApiKey(this))
      .withServiceBinding(APP_ALIAS, appService(this, measured(serviceImage(this, env)), env));
    if (baseline)
      ctr = ctr.withServiceBinding(
        BASELINE_ALIAS,
        appService(this, measured(baseline), env, undefined, BASELINE_ALIAS),
      );
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

  /** The baseline image to serve beside the candidate: pulled, built from a checkout, or none. */
  private baseline(
    env: string,
    image?: string,
    source?: Directory,
    username?: string,
    password?: Secret,
  ): Container | undefined {
    if (image !== undefined && source !== undefined)
      throw new Error('give at most one of baselineImage and baselineSource');
    if ((username === undefined) !== (password === undefined))
      throw new Error('registryUsername and registryPassword go together');
    if (source !== undefined) return serviceImage(this, env, source);
    if (image === undefined) return undefined;
    const { address, host } = checkBaselineImage(image);
    const pull =
      username !== undefined && password !== undefined
        ? dag.container().withRegistryAuth(host, username, password)
        : dag.container();
    return pull.from(address);
  }
}
