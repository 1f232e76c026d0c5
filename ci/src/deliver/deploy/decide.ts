/**
 * The decisions of a deploy or rollback, pure: which image a request stands for, what version it is
 * recorded as, and whether the release policy lets it through. Facts in, plain data out; nothing here
 * reads a file, the network or the clock.
 */
import {
  decideEligibility,
  parseImageRef,
  type Eligibility,
  type LedgerFacts,
} from '../../definitions/release-policy.js';
import { imageForVersion } from './image.js';
import { inconclusive, isPass } from '../../definitions/verdict.js';
import type { DeployFacts, RollbackFacts } from './facts.js';
import type { DeployRequest, RollbackRequest } from './request.js';
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { SourceFacts } from './sources.js';
import { judgeRollbackSchema, type RollbackSchemaVerdict } from '../../platform/ledger/rollback-schema.js';

/** The eligibility decision as lines people read (dry-run output, logs). */
export function formatEligibility(d: Eligibility, image: string): string {
  const head = `release policy for ${d.environment}: ${isPass(d) ? 'ELIGIBLE' : `REFUSED by rule "${d.refusedBy?.rule}"`}: ${image}`;
  const width = Math.max(...d.rules.map((r) => r.rule.length));
  return [
    head,
    ...d.rules.map((r) => `  ${isPass(r) ? 'ok  ' : 'FAIL'} ${r.rule.padEnd(width)}  ${r.reasons.join('; ')}`),
  ].join('\n');
}

/**
 * The digest a release would promote: the newest pass in the policy's previous environment, built from
 * the tag's source tree, that the promotion rule accepts (not failed or rolled back since). Soak and the
 * other rules are left to the deploy itself, which decides with all of them.
 */
export function pickCandidate(
  env: EnvironmentDefinition,
  tag: string,
  source: SourceFacts,
  ledger: LedgerFacts,
  now: number,
): { image?: string; reason: string } {
  const promo = env.release.promotion;
  if (!promo) return { reason: `${env.name} does not promote from another environment` };
  if (!ledger.reachable) return { reason: ledger.reason };
  if (!source.tree) return { reason: `the source tree of ${tag} is unknown` };
  const passes = ledger.entries
    .filter(
      (e) =>
        e.environment === promo.from &&
        e.state === 'success' &&
        e.operation !== 'rollback' &&
        e.digest &&
        e.tree === source.tree,
    )
    .reverse();
  for (const pass of passes) {
    const image = `${env.release.imageRepository}@${pass.digest}`;
    const d = decideEligibility(env.name, env.release, {
      image,
      release: { tag, onMain: true },
      source: { tree: source.tree },
      ledger,
      now,
    });
    const promotion = d.rules.find((r) => r.rule === 'promotion');
    if (promotion && isPass(promotion)) return { image, reason: `passed ${promo.from} at ${pass.at}` };
  }
  return {
    reason: `nothing passed ${promo.from} for tree ${source.tree}${passes.length ? ' that still stands (failed or rolled back since)' : ''}`,
  };
}

export interface DeployDecision {
  readonly image: string;
  /** What the deploy is recorded and annotated as: the release tag, else the image's tag or digest. */
  readonly version: string;
  readonly eligibility: Eligibility;
  /** Why --version alone did not resolve to a digest, when it did not. */
  readonly note?: string;
}

/**
 * The image: --image as given; --version alone, where the policy wants a digest, the one that passed the
 * previous environment for the tag's source tree, otherwise the release tag in the registry.
 */
function chooseImage(
  req: DeployRequest,
  facts: DeployFacts,
  now: number,
): { image: string; note?: string; foundIn?: 'ledger' } {
  if (req.image) return { image: req.image.given };
  const version = req.version!;
  const policy = req.environment.release;
  if (policy.reference.includes('digest')) {
    const found = pickCandidate(req.environment, req.tag!, facts.source, facts.ledger, now);
    if (found.image) return { image: found.image, foundIn: 'ledger' };
    return {
      image: imageForVersion(version, policy.imageRepository),
      note: `no digest to promote for ${version}: ${found.reason}`,
      foundIn: 'ledger',
    };
  }
  return { image: imageForVersion(version, policy.imageRepository) };
}

export function decideDeploy(req: DeployRequest, facts: DeployFacts, now: number): DeployDecision {
  const env = req.environment;
  const { image, note, foundIn } = chooseImage(req, facts, now);
  const { source } = facts;
  const eligibility = decideEligibility(env.name, env.release, {
    image,
    ...(req.tag
      ? { release: { tag: req.tag, ...(source.onMain !== undefined ? { onMain: source.onMain } : {}) } }
      : {}),
    source: { ...(source.commit ? { commit: source.commit } : {}), ...(source.tree ? { tree: source.tree } : {}) },
    ledger: facts.ledger,
    now,
    ...(foundIn ? { imageFoundIn: foundIn } : {}),
  });
  const version = req.tag ?? req.image?.ref.tag ?? image.slice(image.indexOf('@') + 1);
  return { image, version, eligibility, ...(note ? { note } : {}) };
}

export interface RollbackDecision {
  /** A released version to run; undefined = the previous revision (`rollout undo`). */
  readonly target?: { readonly image: string; readonly version: string };
  /** Only for a target version: the previous revision is the emergency exit and is not asked. */
  readonly eligibility?: Eligibility;
}

/** A version goes back by what it ran as here: the ledger's digest where the policy wants digests. */
function rollbackImage(env: EnvironmentDefinition, to: string, ledger: LedgerFacts): string {
  const policy = env.release;
  if (!policy.reference.includes('digest') || !ledger.reachable) return imageForVersion(to, policy.imageRepository);
  const ran = ledger.entries
    .filter(
      (e) =>
        e.environment === env.name &&
        e.version === to &&
        e.state === 'success' &&
        e.operation !== 'rollback' &&
        e.digest,
    )
    .at(-1);
  return ran ? `${policy.imageRepository}@${ran.digest}` : imageForVersion(to, policy.imageRepository);
}

export function decideRollback(req: RollbackRequest, facts: RollbackFacts, now: number): RollbackDecision {
  if (!req.to) return {};
  const env = req.environment;
  const image = rollbackImage(env, req.to, facts.ledger);
  const release = { tag: req.to, ...(facts.source.onMain !== undefined ? { onMain: facts.source.onMain } : {}) };
  const eligibility = decideEligibility(env.name, env.release, {
    image,
    release,
    ledger: facts.ledger,
    now,
    operation: 'rollback',
    // The version's digest is looked up in the ledger where the policy wants digests (rollbackImage).
    ...(env.release.reference.includes('digest') ? { imageFoundIn: 'ledger' as const } : {}),
  });
  return { target: { image, version: req.to }, eligibility };
}

/**
 * Whether the schema the database is at fits the release the rollback returns to (ledger facts only). An
 * unreadable ledger cannot tell (inconclusive): no automatic rollback on a guess.
 */
export function decideRollbackSchema(
  req: RollbackRequest,
  facts: RollbackFacts,
  decision: RollbackDecision,
): RollbackSchemaVerdict {
  const env = req.environment;
  if (!facts.ledger.reachable) return inconclusive(`cannot read the ${env.name} ledger: ${facts.ledger.reason}`);
  const digest = digestOf(decision.target?.image);
  const target = decision.target ? { ...(digest ? { digest } : {}), version: decision.target.version } : undefined;
  return judgeRollbackSchema({
    environment: env.name,
    entries: facts.ledger.entries,
    compat: facts.ledger.compat ?? [],
    backups: facts.backups,
    ...(target ? { target } : {}),
  });
}

/** The digest of an image reference, if it has one. */
export function digestOf(image: string | undefined): string | undefined {
  if (!image) return undefined;
  const parsed = parseImageRef(image);
  return parsed.ok ? parsed.ref.digest : undefined;
}
