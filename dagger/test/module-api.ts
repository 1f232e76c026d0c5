/**
 * The module's public surface as the tests call it.
 *
 * dagger/src/index.ts uses legacy decorators (experimentalDecorators, as `dagger init` sets), which the
 * root tsconfig does not enable, so the tests load the class at run time instead of importing it
 * statically (a static import would pull it into the root type-check). introspection.test.ts checks
 * the real signatures with the SDK's own introspector, so this interface cannot drift unnoticed.
 */
import type { Container, Directory, Secret, Service } from '@dagger.io/dagger';

export interface KgraphMcp {
  lint(): Promise<void>;
  typecheck(): Promise<void>;
  test(): Promise<void>;
  integrationTest(): Promise<void>;
  migrationsCheck(repo: Directory): Promise<void>;
  rolloutRehearsal(repo: Directory): Promise<Directory>;
  coverage(): Promise<Directory>;
  serve(environment?: string, apiKey?: Secret): Promise<Service>;
  debug(step: string): Promise<Container>;
  image(): Images;
  gate(): Gate;
  delivery(repo?: Directory): Delivery;
  repo(): Repo;
}

interface Images {
  build(environment?: string): Promise<Container>;
  scan(environment?: string, severity?: string, allowOffline?: boolean): Promise<string>;
  publish(registry: string, tag: string, username: string, password: Secret, environment?: string): Promise<string>;
  publishCandidate(registry: string, username: string, password: Secret, commit: string, tree: string): Promise<string>;
}

interface Gate {
  latencyGate(
    environment?: string,
    baselineImage?: string,
    baselineSource?: Directory,
    registryUsername?: string,
    registryPassword?: Secret,
  ): Promise<string>;
}

interface Delivery {
  deploy(
    environment: string,
    image: string,
    kubeconfig: Secret,
    githubToken?: Secret,
    apiKey?: Secret,
    repository?: string,
    version?: string,
    commit?: string,
    tree?: string,
  ): Promise<string>;
  migrationsCompat(
    environment?: string,
    previous?: string,
    image?: string,
    previousDigest?: string,
    githubToken?: Secret,
    repository?: string,
  ): Promise<string>;
  rollback(
    environment: string,
    kubeconfig: Secret,
    to?: string,
    apiKey?: Secret,
    githubToken?: Secret,
    repository?: string,
  ): Promise<string>;
  watch(
    environment: string,
    url: string,
    kubeconfig: Secret,
    duration?: string,
    githubToken?: Secret,
    repository?: string,
  ): Promise<string>;
  release(tag: string, githubToken: Secret, repository?: string, image?: string, username?: string): Promise<string>;
  promotionCandidate(tag: string, githubToken: Secret, repository: string): Promise<string>;
  deliveryReport(githubToken: Secret, repository: string, since?: string): Promise<{ id(): Promise<string> }>;
}

interface Repo {
  policyPr(source: string, target: string): Promise<string>;
  policyTag(tag: string, repo: Directory): Promise<string>;
  cutRelease(githubToken: Secret, from?: string, repository?: string): Promise<string>;
  protect(githubToken: Secret, repository: string): Promise<string>;
}

export type KgraphMcpClass = new (source: Directory, nodeVersion?: string) => KgraphMcp;

const MODULE_PATH = new URL('../src/index.ts', import.meta.url).href;

export async function loadModule(): Promise<KgraphMcpClass> {
  const mod = (await import(/* @vite-ignore */ MODULE_PATH)) as { KgraphMcp: KgraphMcpClass };
  return mod.KgraphMcp;
}
