/**
 * The facts a decision weighs, read through the injected edges: what the deploy stands for (the release
 * tag's commit and tree, or the build's) and what the delivery ledger says. Which facts to read is decided
 * by pure functions; reading them is the only I/O here. A fact that cannot be read stays unknown, and the
 * release policy refuses on it.
 */
import { GIT_OBJECT_ID, type LedgerFacts } from '../release-policy.js';
import { compatEntries, ledgerEntries } from '../ledger/entry.js';
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
}

export async function readLedger(deps: DeliveryDeps, environment: string | undefined): Promise<LedgerFacts> {
  if (!deps.ledger)
    return {
      reachable: false,
      reason: deps.ledgerMissing ?? 'no GitHub ledger configured (GITHUB_TOKEN and --repo/GITHUB_REPOSITORY)',
    };
  try {
    const records = await deps.ledger.read(environment ? { environment } : {});
    return { reachable: true, entries: ledgerEntries(records), compat: compatEntries(records) };
  } catch (err) {
    return { reachable: false, reason: `${deps.ledger.where}: ${(err as Error).message}` };
  }
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
  if (queries.running === undefined || queries.running === queries.ledger || !ledger.reachable)
    return { source, ledger };
  return { source, ledger: merge(ledger, await readLedger(deps, queries.running)) };
}

/** Two environments' records as one set of facts; either unreachable = unreachable. */
function merge(a: LedgerFacts, b: LedgerFacts): LedgerFacts {
  if (!a.reachable) return a;
  if (!b.reachable) return b;
  return { reachable: true, entries: [...a.entries, ...b.entries], compat: [...(a.compat ?? []), ...(b.compat ?? [])] };
}

export interface RollbackFacts {
  readonly ledger: LedgerFacts;
  /** The target version's source facts (its on-main flag), where the policy wants release tags. */
  readonly source: SourceFacts;
}

export async function gatherRollbackFacts(req: RollbackRequest, deps: DeliveryDeps): Promise<RollbackFacts> {
  const env = req.environment;
  if (!req.to)
    return { ledger: { reachable: false, reason: 'not read: going back to the previous revision' }, source: {} };
  const ledger = await readLedger(deps, env.name);
  const source = env.release.reference.includes('release-tag')
    ? await describe(deps, () => deps.sources?.describeTag(req.to!))
    : {};
  return { ledger, source };
}
