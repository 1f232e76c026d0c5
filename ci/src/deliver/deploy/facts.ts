/**
 * The facts a decision weighs, read through the injected edges: what the deploy stands for (the release
 * tag's commit and tree, or the build's) and what the delivery ledger says. Which facts to read is decided
 * by pure functions; reading them is the only I/O here. A fact that cannot be read stays unknown, and the
 * release policy refuses on it.
 */
import { backupNeed, type BackupNeed } from '../backup/need.js';
import { baselineEnvironmentFor } from '../../definitions/environments.js';
import { GIT_OBJECT_ID, runningRelease, type LedgerFacts } from '../../definitions/release-policy.js';
import {
  backupEntries,
  compatEntries,
  ledgerEntries,
  type BackupEntry,
  type LedgerRecord,
} from '../../platform/ledger/entry.js';
import type { DeliveryDeps } from './deps.js';
import { type DeployRequest, type RollbackRequest } from './request.js';
import type { SourceFacts } from './sources.js';

/** Where the source facts of a deploy come from. */
export type SourceQuery =
  | { readonly kind: 'tag'; readonly tag: string }
  | { readonly kind: 'commit'; readonly commit: string }
  | { readonly kind: 'head' }
  /** --tree was given: nothing to look up, the request is the fact. */
  | { readonly kind: 'given' };

export interface FactQueries {
  readonly source: SourceQuery;
  /** The environment whose ledger entries the decision reads; undefined = not needed. */
  readonly ledger?: string;
  /** Also this environment's records: what runs there and its compatibility checks (N-1). */
  readonly running?: string;
}

/** Pure: which facts a deploy request needs. */
export function deployQueries(req: DeployRequest): FactQueries {
  return {
    ...deploySourceAndLedger(req),
    ...(req.environment.release.previousReleaseChecked ? { running: req.environment.name } : {}),
  };
}

function deploySourceAndLedger(req: DeployRequest): FactQueries {
  const policy = req.environment.release;
  const byTag = req.tag !== undefined && (policy.reference.includes('release-tag') || policy.promotion !== undefined);
  const source: SourceQuery =
    byTag && req.tag
      ? { kind: 'tag', tag: req.tag }
      : req.tree
        ? { kind: 'given' }
        : req.commit && GIT_OBJECT_ID.test(req.commit)
          ? { kind: 'commit', commit: req.commit }
          : { kind: 'head' };
  const needsLedger = policy.ledgerRequired || policy.promotion !== undefined;
  return { source, ...(needsLedger ? { ledger: policy.promotion?.from ?? req.environment.name } : {}) };
}

export interface DeployFacts {
  readonly source: SourceFacts;
  readonly ledger: LedgerFacts;
  /** The newest migration of the deployed tree; undefined = unknown. */
  readonly schemaHead?: string;
  /** Where the environment takes backups: whether this deploy needs one (backup/need.ts). */
  readonly backup?: BackupNeed;
  /** Where the gate needs a baseline: the image the baseline environment runs, or why it is unknown. */
  readonly baseline?:
    { readonly image: string; readonly version: string; readonly served: string } | { readonly unavailable: string };
}

/** The newest migration of the deployed tree; a failed read is a warning and unknown. */
async function schemaHeadOf(deps: DeliveryDeps): Promise<string | undefined> {
  if (!deps.migrations) return undefined;
  try {
    return (await deps.migrations()).at(-1);
  } catch (err) {
    deps.err(`warning: cannot list the migrations being deployed: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * The baseline's image: what the baseline environment runs by its ledger (read from GitHub, never by
 * calling that environment). Undefined where the environment's gate compares against none.
 */
export async function baselineFacts(req: DeployRequest, deps: DeliveryDeps): Promise<DeployFacts['baseline']> {
  const from = baselineEnvironmentFor(req.environment.name);
  if (!from || req.skipGate) return undefined;
  const ledger = await readLedger(deps, from.name);
  if (!ledger.reachable) return { unavailable: `cannot tell what ${from.name} runs: ${ledger.reason}` };
  const running = runningRelease(ledger.entries, from.name);
  const digest = running.kind === 'known' ? running.release.digest : undefined;
  if (!digest)
    return {
      unavailable: `the ${from.name} ledger names no digest running there (${running.kind === 'none' ? 'nothing ran yet' : 'newest record without a digest'})`,
    };
  const version = (running.kind === 'known' ? running.release.version : undefined) ?? digest;
  return { image: `${from.release.imageRepository}@${digest}`, version, served: `${from.name}'s release ${version}` };
}

async function readRecords(
  deps: DeliveryDeps,
  environment: string | undefined,
): Promise<{ readonly records: readonly LedgerRecord[] } | { readonly reason: string }> {
  if (!deps.ledger)
    return { reason: deps.ledgerMissing ?? 'no GitHub ledger configured (GITHUB_TOKEN and --repo/GITHUB_REPOSITORY)' };
  try {
    return { records: await deps.ledger.read(environment ? { environment } : {}) };
  } catch (err) {
    return { reason: `${deps.ledger.where}: ${(err as Error).message}` };
  }
}

const factsOf = (read: Awaited<ReturnType<typeof readRecords>>): LedgerFacts =>
  'reason' in read
    ? { reachable: false, reason: read.reason }
    : { reachable: true, entries: ledgerEntries(read.records), compat: compatEntries(read.records) };

export async function readLedger(deps: DeliveryDeps, environment: string | undefined): Promise<LedgerFacts> {
  return factsOf(await readRecords(deps, environment));
}

/** A source lookup; one that fails is a warning and unknown facts, never an exception. */
export async function describe(deps: DeliveryDeps, what: () => Promise<SourceFacts> | undefined): Promise<SourceFacts> {
  try {
    return (await what()) ?? {};
  } catch (err) {
    deps.err(`warning: ${deps.sources?.where ?? 'sources'}: ${(err as Error).message}`);
    return {};
  }
}

function lookUp(query: SourceQuery, deps: DeliveryDeps): Promise<SourceFacts> {
  switch (query.kind) {
    case 'tag':
      return describe(deps, () => deps.sources?.describeTag(query.tag));
    case 'commit':
      return describe(deps, () => deps.sources?.describeCommit(query.commit));
    case 'head':
      return describe(deps, () => deps.sources?.describeHead?.());
    case 'given':
      return Promise.resolve({});
  }
}

export async function gatherDeployFacts(req: DeployRequest, deps: DeliveryDeps): Promise<DeployFacts> {
  const queries = deployQueries(req);
  const described = await lookUp(queries.source, deps);
  // By tag, the tag's facts stand; otherwise what was given (--commit/GITHUB_SHA, --tree) overrides the lookup.
  const source: SourceFacts =
    queries.source.kind === 'tag'
      ? described
      : { ...described, ...(req.commit ? { commit: req.commit } : {}), ...(req.tree ? { tree: req.tree } : {}) };
  const ledger: LedgerFacts =
    queries.ledger !== undefined
      ? await readLedger(deps, queries.ledger)
      : { reachable: false, reason: 'not read: this environment does not need it' };
  const schemaHead = await schemaHeadOf(deps);
  const baseline = await baselineFacts(req, deps);
  const env = req.environment;
  // Its own read: the need rests on restore records too, which LedgerFacts leave out.
  const backup = env.database.backup ? backupNeed(env.name, schemaHead, await readRecords(deps, env.name)) : undefined;
  const extra = {
    ...(schemaHead ? { schemaHead } : {}),
    ...(baseline ? { baseline } : {}),
    ...(backup ? { backup } : {}),
  };
  if (queries.running === undefined || queries.running === queries.ledger || !ledger.reachable)
    return { source, ledger, ...extra };
  return { source, ledger: merge(ledger, await readLedger(deps, queries.running)), ...extra };
}

/** Two environments' records as one set of facts; either unreachable = unreachable. */
function merge(a: LedgerFacts, b: LedgerFacts): LedgerFacts {
  if (!a.reachable) return a;
  if (!b.reachable) return b;
  return { reachable: true, entries: [...a.entries, ...b.entries], compat: [...(a.compat ?? []), ...(b.compat ?? [])] };
}

export interface RollbackFacts {
  readonly ledger: LedgerFacts;
  /** The environment's backup records (for the way out when the schema does not fit the target). */
  readonly backups: readonly BackupEntry[];
  /** The target version's source facts (its on-main flag), where the policy wants release tags. */
  readonly source: SourceFacts;
}

export async function gatherRollbackFacts(req: RollbackRequest, deps: DeliveryDeps): Promise<RollbackFacts> {
  const env = req.environment;
  // Read for every rollback: whether the schema fits the release it returns to is in the ledger.
  const read = await readRecords(deps, env.name);
  const ledger = factsOf(read);
  const backups = 'records' in read ? backupEntries(read.records) : [];
  if (!req.to) return { ledger, backups, source: {} };
  const source = env.release.reference.includes('release-tag')
    ? await describe(deps, () => deps.sources?.describeTag(req.to!))
    : {};
  return { ledger, backups, source };
}
