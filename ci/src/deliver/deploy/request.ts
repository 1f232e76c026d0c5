/**
 * A deploy or rollback request, parsed once from the command line's options into a typed value. Every
 * malformed flag is a UsageError (exit 2) here, before any fact is read or anything runs; the phases after
 * this one never look at the raw options again.
 */
import { existsSync } from 'node:fs';
import { getEnvironment, type EnvironmentDefinition } from '../../definitions/environments.js';
import { UsageError } from '../../definitions/errors.js';
import { parseHttpUrl } from '../../platform/http-url.js';
import { GIT_OBJECT_ID, isReleaseTag, parseImageRef, type ImageRef } from '../../definitions/release-policy.js';
import { parseVersionTag } from '../release/semver.js';

export interface DeployOptions {
  readonly env: string;
  readonly image?: string;
  /** The release vX.Y.Z the deploy stands for; alone, its image is looked up (by digest where the policy wants one). */
  readonly version?: string;
  /** The commit and git tree the image was built from (else GITHUB_SHA / git HEAD and its tree). */
  readonly commit?: string;
  readonly tree?: string;
  readonly dryRun?: boolean;
  readonly url?: string;
  readonly skipGate?: boolean;
}

export interface RollbackOptions {
  readonly env: string;
  readonly to?: string;
  /** Why an automatic rollback runs (the watcher's trigger); absent = a person asked for it. */
  readonly trigger?: string;
  readonly dryRun?: boolean;
  readonly url?: string;
  /** A person rolls back although the ledger cannot show the schema fits (after a restore, say). */
  readonly acceptSchemaRisk?: boolean;
}

export interface DeployRequest {
  readonly environment: EnvironmentDefinition;
  /** --image as given, and parsed. */
  readonly image?: { readonly given: string; readonly ref: ImageRef };
  /** --version as given. */
  readonly version?: string;
  /** The release tag the deploy stands for: --version, else the image's tag when it is one. */
  readonly tag?: string;
  /** --commit, else GITHUB_SHA (which may be anything: it is only believed when it is an object id). */
  readonly commit?: string;
  readonly tree?: string;
  readonly baseUrl?: string;
  readonly dryRun: boolean;
  readonly skipGate: boolean;
}

export interface RollbackRequest {
  readonly environment: EnvironmentDefinition;
  /** A released version to run instead of the previous revision. */
  readonly to?: string;
  readonly baseUrl?: string;
  readonly dryRun: boolean;
  /** The commit or tag the ledger record is created on. */
  readonly ref?: string;
  readonly trigger?: string;
  readonly acceptSchemaRisk: boolean;
}

export function resolveEnvironment(name: string | undefined): EnvironmentDefinition {
  if (!name) throw new UsageError('--env is required');
  try {
    return getEnvironment(name);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function checkGitObject(value: string | undefined, flag: string): string | undefined {
  if (value !== undefined && !GIT_OBJECT_ID.test(value))
    throw new UsageError(`${flag} "${value}" is not a git object id (40 lowercase hex digits, SHA-1)`);
  return value;
}

/** kubectl reads KUBECONFIG itself; we only check the path so a typo fails before anything runs. */
function checkKubeconfig(env: NodeJS.ProcessEnv): void {
  const path = env.KUBECONFIG;
  if (path && path.split(':').every((p) => p && !existsSync(p)))
    throw new UsageError('KUBECONFIG points at a file that does not exist');
}

function parseImage(given: string): { given: string; ref: ImageRef } {
  const parsed = parseImageRef(given);
  if (!parsed.ok) throw new UsageError(`--image: ${parsed.problem}`);
  return { given, ref: parsed.ref };
}

export function parseDeployRequest(opts: DeployOptions, processEnv: NodeJS.ProcessEnv): DeployRequest {
  const environment = resolveEnvironment(opts.env);
  const baseUrl = opts.url ? parseHttpUrl(opts.url, '--url') : undefined;
  if (opts.version) parseVersionTag(opts.version);
  const image = opts.image ? parseImage(opts.image) : undefined;
  if (!opts.image && !opts.version) throw new UsageError('deploy needs --image REF or --version vX.Y.Z');
  const commitOpt = checkGitObject(opts.commit, '--commit');
  const tree = checkGitObject(opts.tree, '--tree');
  if (!opts.dryRun) checkKubeconfig(processEnv);
  const imageTag = image?.ref.tag;
  const tag = opts.version ?? (isReleaseTag(imageTag) ? imageTag : undefined);
  const commit = commitOpt ?? processEnv.GITHUB_SHA;
  return {
    environment,
    ...(image ? { image } : {}),
    ...(opts.version ? { version: opts.version } : {}),
    ...(tag ? { tag } : {}),
    ...(commit ? { commit } : {}),
    ...(tree ? { tree } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    dryRun: opts.dryRun === true,
    skipGate: opts.skipGate === true,
  };
}

export function parseRollbackRequest(opts: RollbackOptions, processEnv: NodeJS.ProcessEnv): RollbackRequest {
  const environment = resolveEnvironment(opts.env);
  const baseUrl = opts.url ? parseHttpUrl(opts.url, '--url') : undefined;
  if (opts.to) parseVersionTag(opts.to);
  if (opts.acceptSchemaRisk && opts.trigger)
    throw new UsageError('--accept-schema-risk is for a person, never with --trigger (an automatic rollback)');
  if (!opts.dryRun) checkKubeconfig(processEnv);
  const ref = processEnv.GITHUB_SHA ?? opts.to;
  return {
    environment,
    ...(opts.to ? { to: opts.to } : {}),
    ...(baseUrl ? { baseUrl } : {}),
    dryRun: opts.dryRun === true,
    ...(ref ? { ref } : {}),
    ...(opts.trigger ? { trigger: opts.trigger } : {}),
    acceptSchemaRisk: opts.acceptSchemaRisk === true,
  };
}
