/**
 * Release eligibility: may this image run in this environment? One pure function over the
 * environment's release policy (data in ci/src/definitions/environments.ts) and plain facts: the image reference,
 * the release tag and the source tree it stands for, and what the delivery ledger says passed where.
 * A rule that lacks a fact it needs refuses (fail closed); the result names every rule and why.
 *
 * This file imports only the verdict shape (./verdict.ts, itself a leaf) on purpose: `kgraph-ci generate` copies
 * both verbatim into the Dagger module (dagger/src/eligibility.generated.ts, dagger/src/verdict.generated.ts), so
 * the CLI, the host runner and the module run the very same function. Keep it free of I/O and of other imports.
 */
import { isPass, worstOutcome, type Verdict, type VerdictOutcome } from './verdict.js';

/** What a reference must be: any pinned tag (not latest) or digest; a @sha256 digest; a final release vX.Y.Z tag (no prerelease) on main. */
export type ReferenceKind = 'pinned-tag' | 'digest' | 'release-tag';

export interface ReleasePolicy {
  /** The only image repository the environment runs (registry host and path, no tag). */
  readonly imageRepository: string;
  /** Every kind listed must hold for the reference and the version it is deployed as. */
  readonly reference: readonly ReferenceKind[];
  /** Approving reviews the change needs (the checklist reads the pull request). */
  readonly approvals: number;
  /** The promoted digest's gate must have compared against the baseline (not only absolute thresholds). */
  readonly baselineComparisonRequired: boolean;
  /** A scan whose dependency audit was skipped (advisory service unreachable) is acceptable. */
  readonly skippedAuditAcceptable: boolean;
  /** The digest must first pass `from`, built from the same source tree, and stay there `soakMinutes`. */
  readonly promotion?: { readonly from: string; readonly soakMinutes: number };
  /** Every deploy must be recorded in the ledger before it starts; unreachable ledger = no deploy. */
  readonly ledgerRequired: boolean;
  /**
   * The release running here (N-1) must have passed the compatibility check against the candidate's
   * migrations (a compat record in this environment's ledger) before the candidate may deploy.
   */
  readonly previousReleaseChecked?: boolean;
  /** Exceptions to `ledgerRequired`: actions that go ahead (with a warning) when the ledger cannot record them. */
  readonly unrecordedAllowed?: readonly DeliveryAction[];
  /** GitHub's production_environment flag for this environment's deployments. */
  readonly production: boolean;
}

/** What the delivery does, as the policy's ledger exceptions name it. */
export type DeliveryAction = 'deploy' | 'rollback-to-version' | 'rollback-to-previous';

/** Whether `action` must be recorded in the ledger before it starts (absent exceptions = none). */
export function ledgerRequiredFor(policy: ReleasePolicy, action: DeliveryAction): boolean {
  return policy.ledgerRequired && !(policy.unrecordedAllowed ?? []).includes(action);
}

export interface ImageRef {
  /** Registry host (lowercased) and path, e.g. ghcr.io/kgraph-mcp/kgraph-mcp. */
  readonly repository: string;
  readonly tag?: string;
  /** sha256:<64 hex>. */
  readonly digest?: string;
}

export type ParsedImage =
  { readonly ok: true; readonly ref: ImageRef } | { readonly ok: false; readonly problem: string };

const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::\d{1,5})?$/;
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
// semver.org's grammar after one v: no leading zeros (prerelease numbers included), no build metadata.
const PRERELEASE_ID = '(?:0|[1-9]\\d*|\\d*[A-Za-z-][0-9A-Za-z-]*)';
/** semver's own limit on a version's length (the tag's v included here: git refs are short anyway). */
const MAX_TAG_LENGTH = 256;
const RELEASE_TAG = new RegExp(
  `^v(?:0|[1-9]\\d*)\\.(?:0|[1-9]\\d*)\\.(?:0|[1-9]\\d*)(?:-${PRERELEASE_ID}(?:\\.${PRERELEASE_ID})*)?$`,
);

/** Strict parse of `host/path[:tag][@sha256:hex]`; a malformed reference or digest says what is wrong. */
export function parseImageRef(input: string): ParsedImage {
  const bad = (problem: string): ParsedImage => ({ ok: false, problem: `image reference "${input}" ${problem}` });
  if (typeof input !== 'string' || input.length === 0) return { ok: false, problem: 'image reference is empty' };
  // A URL, or user:secret@ in front: it may carry credentials, so it is refused without being echoed.
  if (input.includes('://') || /^[^/@]*:[^/@]*@/.test(input))
    return {
      ok: false,
      problem:
        'image reference looks like a URL or carries credentials (not shown); give registry/path[:tag][@sha256:<64 hex>]',
    };
  // Whitespace, control characters, quotes, shell or URL syntax: none belongs in a reference.
  if (input.length > 512 || !/^[A-Za-z0-9._:/@-]+$/.test(input))
    return bad('contains whitespace or characters no image reference has (or is too long)');
  const at = input.indexOf('@');
  const name = at >= 0 ? input.slice(0, at) : input;
  const digest = at >= 0 ? input.slice(at + 1) : undefined;
  if (digest !== undefined && !DIGEST.test(digest))
    return bad(`has a malformed digest "${digest}": expected sha256: and 64 lowercase hex digits`);
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  const tag = colon > slash ? name.slice(colon + 1) : undefined;
  const path = colon > slash ? name.slice(0, colon) : name;
  if (tag !== undefined && !TAG.test(tag)) return bad(`has a malformed tag "${tag}"`);
  const parts = path.split('/');
  const first = parts[0] ?? '';
  // Docker's rule: the first component is a registry host when it has a dot, a port, or is localhost.
  const hasHost = parts.length > 1 && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (hasHost && !HOST.test(first)) return bad(`has a malformed registry host "${first}"`);
  const components = hasHost ? parts.slice(1) : parts;
  if (components.length === 0 || components.some((c) => !PATH_COMPONENT.test(c)))
    return bad('has a malformed repository path (lowercase letters, digits and . _ - between them)');
  const repository = [...(hasHost ? [first.toLowerCase()] : []), ...components].join('/');
  return {
    ok: true,
    ref: { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) },
  };
}

/** One ledger entry (a GitHub deployment and its latest status, or a local record). */
export interface LedgerEntry {
  readonly environment: string;
  readonly operation: 'deploy' | 'rollback' | 'promotion';
  readonly digest?: string;
  readonly commit?: string;
  readonly tree?: string;
  readonly version?: string;
  readonly state: 'success' | 'failure' | 'error' | 'in_progress' | 'inactive' | 'pending' | 'queued';
  /** ISO time the entry reached its state. */
  readonly at: string;
  readonly gate?: RecordedGate | undefined;
  readonly auditSkipped?: boolean | undefined;
  /** Rollbacks: the digest they undid, when known (an automatic rollback after a failed deploy). */
  readonly undone?: string;
  /** Deploys: the newest migration of the deployed tree (the schema the database is at after it). */
  readonly schemaHead?: string;
}

/** The latency gate's verdict as a deploy's record keeps it, and whether it compared against a baseline. */
export interface RecordedGate extends Verdict {
  readonly baselineCompared?: boolean;
}

/** Which build a release is: any of these that both sides know is compared (digest first, then commit, tree, version). */
export interface ReleaseId {
  readonly digest?: string;
  readonly commit?: string;
  readonly tree?: string;
  readonly version?: string;
}

/**
 * A compatibility check (N-1) as the ledger recorded it: `previous` served with its own API contract suite
 * on the schema `candidate` migrated to (newest migration `schemaHead`), side by side with `candidate`; its
 * verdict passes only where the check passed and its record succeeded.
 */
export interface CompatEntry extends Verdict {
  /** The environment whose running release was `previous`. */
  readonly environment: string;
  readonly previous: ReleaseId;
  readonly candidate: ReleaseId;
  readonly schemaHead: string;
  /** The migrations new since `previous` that the check covered. */
  readonly migrations: readonly string[];
  readonly at: string;
}

export type LedgerFacts =
  | {
      readonly reachable: true;
      readonly entries: readonly LedgerEntry[];
      /** Compatibility checks read with the entries (absent = none read). */
      readonly compat?: readonly CompatEntry[];
    }
  | { readonly reachable: false; readonly reason: string };

/** Whether two identities name the same build: the first field both know decides; nothing in common = no. */
export function sameRelease(a: ReleaseId, b: ReleaseId): boolean {
  for (const key of ['digest', 'commit', 'tree', 'version'] as const) {
    const x = a[key];
    const y = b[key];
    if (x !== undefined && y !== undefined) return x === y;
  }
  return false;
}

/**
 * What `environment` runs now, by the ledger: the newest successful deploy, promotion or rollback there
 * (a rollback's digest is where it went back to). `none` = nothing ever succeeded there; `unknown` = the
 * newest success does not say what it ran.
 */
export function runningRelease(
  entries: readonly LedgerEntry[],
  environment: string,
):
  | { readonly kind: 'none' }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'known'; readonly release: ReleaseId; readonly at: string } {
  const last = entries
    .filter((e) => e.environment === environment && e.state === 'success')
    .slice()
    .sort((a, b) => a.at.localeCompare(b.at))
    .at(-1);
  if (!last) return { kind: 'none' };
  const release: ReleaseId = {
    ...(last.digest ? { digest: last.digest } : {}),
    ...(last.operation !== 'rollback' && last.commit ? { commit: last.commit } : {}),
    ...(last.operation !== 'rollback' && last.tree ? { tree: last.tree } : {}),
    ...(last.version && last.version !== 'previous' ? { version: last.version } : {}),
  };
  return Object.keys(release).length ? { kind: 'known', release, at: last.at } : { kind: 'unknown' };
}

/** The newest compatibility check of `previous` against `candidate`, if any (passed or not). */
export function compatCheckOf(
  compat: readonly CompatEntry[],
  previous: ReleaseId,
  candidate: ReleaseId,
): CompatEntry | undefined {
  return compat
    .filter((c) => sameRelease(c.previous, previous) && sameRelease(c.candidate, candidate))
    .slice()
    .sort((a, b) => a.at.localeCompare(b.at))
    .at(-1);
}

export interface EligibilityFacts {
  /** The reference as given (--image, or what --version resolved to). */
  readonly image: string;
  /** The release tag the deploy stands for, whether its commit is on main (undefined = unknown), and its source. */
  readonly release?: { readonly tag: string; readonly onMain?: boolean } | undefined;
  /** Commit and git tree the deploy stands for (the tag's, or the build's). */
  readonly source?: { readonly commit?: string; readonly tree?: string };
  readonly ledger: LedgerFacts;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** A rollback to a version that already ran here instead of a promotion (default deploy). */
  readonly operation?: 'deploy' | 'rollback';
  /**
   * Where `image` was looked up when a version was named instead of an image: `ledger` = its digest came from (or
   * was not found in) the delivery ledger, so what the digest rule says rests on the ledger rule.
   */
  readonly imageFoundIn?: 'ledger';
}

export type RuleName =
  | 'reference'
  | 'repository'
  | 'digest'
  | 'pinned-tag'
  | 'release-tag'
  | 'on-main'
  | 'ledger'
  | 'promotion'
  | 'soak'
  | 'gate'
  | 'baseline'
  | 'audit'
  | 'compatibility';

/** One rule's verdict (`inconclusive` = the rule lacks a fact it needs; never a pass), with one reason. */
export interface RuleVerdict extends Verdict {
  readonly rule: RuleName;
  /**
   * The rule whose fact this verdict rests on (the digest of a version looked up in the ledger rests on the
   * ledger). When that rule did not pass, this verdict cannot tell and the other rule leads the refusal.
   */
  readonly dependsOn?: RuleName;
}

/**
 * The decision: the worst outcome of all rules (failed beats inconclusive beats passed; no rule at all =
 * inconclusive), its reasons those of the rules that did not pass (the cause first), or of every rule on a pass.
 */
export interface Eligibility extends Verdict {
  readonly environment: string;
  readonly rules: readonly RuleVerdict[];
  /** The first rule that did not pass (rules run in order of importance), for one-line messages. */
  readonly refusedBy?: RuleVerdict;
  /** The ledger entry the promotion rests on. */
  readonly promotedFrom?: LedgerEntry;
}

/** Git object ids (commits, trees): SHA-1, 40 lowercase hex digits (docs/decisions/0007-git-object-ids.md). */
export const GIT_OBJECT_ID = /^[0-9a-f]{40}$/;

/** Whether `tag` is a release version vX.Y.Z with an optional prerelease; the one tag validator. */
export function isReleaseTag(tag: string | undefined): tag is string {
  if (typeof tag !== 'string' || tag.length > MAX_TAG_LENGTH || !RELEASE_TAG.test(tag)) return false;
  // Versions are compared as numbers (semver): a part past 2^53 - 1 has no exact value, so it is no version.
  return tag
    .slice(1)
    .split('-', 1)[0]!
    .split('.')
    .every((part) => Number.isSafeInteger(Number(part)));
}

/** A final release vX.Y.Z: a release tag without prerelease. */
export function isFinalReleaseTag(tag: string | undefined): tag is string {
  return isReleaseTag(tag) && !tag.includes('-');
}

const verdict = (rule: RuleName, outcome: VerdictOutcome, reason: string): RuleVerdict => ({
  rule,
  outcome,
  reasons: [reason],
});
const passed = (rule: RuleName, detail: string) => verdict(rule, 'passed', detail);
const failed = (rule: RuleName, detail: string) => verdict(rule, 'failed', detail);
const cannotTell = (rule: RuleName, detail: string) => verdict(rule, 'inconclusive', detail);
const either = (rule: RuleName, ok: boolean, yes: string, no: string) => (ok ? passed(rule, yes) : failed(rule, no));

const short = (s: string | undefined): string => (s ? s.replace(/^sha256:/, '').slice(0, 12) : 'unknown');

/** The newest successful deploy of `digest` in `environment` and whether anything failed it afterwards. */
function lastPass(
  entries: readonly LedgerEntry[],
  environment: string,
  digest: string,
): { pass?: LedgerEntry; failedAfter?: LedgerEntry } {
  const here = entries
    .filter((e) => e.environment === environment)
    .slice()
    .sort((a, b) => a.at.localeCompare(b.at));
  let pass: LedgerEntry | undefined;
  let failedAfter: LedgerEntry | undefined;
  // Whether the digest is what the environment runs: a rollback only counts against the digest it undid.
  let current = false;
  for (const e of here) {
    const ours = e.digest === digest;
    if (e.operation !== 'rollback' && e.state === 'success') {
      if (ours) {
        pass = e;
        failedAfter = undefined;
      }
      current = ours;
    } else if (
      pass &&
      !failedAfter &&
      ((e.operation === 'rollback' && (e.undone !== undefined ? e.undone === digest : current)) ||
        (ours && (e.state === 'failure' || e.state === 'error')))
    ) {
      // Rolled back or failed after it passed: that pass no longer vouches for the digest.
      failedAfter = e;
      if (e.operation === 'rollback') current = false;
    }
  }
  return { ...(pass ? { pass } : {}), ...(failedAfter ? { failedAfter } : {}) };
}

const describeRelease = (r: ReleaseId): string =>
  r.version ?? (r.digest ? short(r.digest) : r.commit ? r.commit.slice(0, 12) : short(r.tree));

/** What every rule reads: the question (environment, policy, facts) and the reference, parsed once. */
interface RuleInput {
  readonly environment: string;
  readonly policy: ReleasePolicy;
  readonly facts: EligibilityFacts;
  readonly ref: ImageRef;
}

/** One rule: zero verdicts when the policy does not ask for it, else one or more. */
type Rule = (input: RuleInput) => readonly RuleVerdict[];

/** One rule per reference kind the policy may require (ReleasePolicy.reference). */
interface ReferenceInput {
  readonly environment: string;
  readonly facts: Pick<EligibilityFacts, 'image' | 'release' | 'imageFoundIn'>;
  readonly ref: ImageRef;
}

const REFERENCE_KIND_RULES: Record<ReferenceKind, (input: ReferenceInput) => RuleVerdict> = {
  digest: ({ environment, facts, ref }) => {
    const v = either(
      'digest',
      ref.digest !== undefined,
      `by digest ${ref.digest}`,
      `${environment} deploys only by @sha256 digest; ${facts.image} has none`,
    );
    return facts.imageFoundIn === 'ledger' ? { ...v, dependsOn: 'ledger' } : v;
  },
  'pinned-tag': ({ facts, ref }) =>
    either(
      'pinned-tag',
      ref.digest !== undefined || (ref.tag !== undefined && ref.tag !== 'latest'),
      ref.digest ? 'pinned by digest' : `pinned tag ${ref.tag}`,
      `${facts.image} has ${ref.tag ? 'the floating tag latest' : 'no tag'}; deploy a pinned tag or digest`,
    ),
  'release-tag': ({ environment, facts, ref }) => {
    const tag = facts.release?.tag ?? ref.tag;
    if (!isReleaseTag(tag))
      return failed(
        'release-tag',
        `${environment} runs only release versions vX.Y.Z; ${tag ? `"${tag}" is not one` : 'no release tag was given'}`,
      );
    // A prerelease (v1.2.3-rc.1) is a version but not a release: it may be tagged, never released here.
    if (!isFinalReleaseTag(tag))
      return failed('release-tag', `${environment} runs only final releases vX.Y.Z; "${tag}" is a prerelease`);
    if (ref.tag !== undefined && ref.tag !== tag)
      return failed('release-tag', `the image is tagged ${ref.tag} but is deployed as ${tag}`);
    return passed('release-tag', `release ${tag}`);
  },
};

/**
 * The rules that need only the reference and the release tag (repository, digest, pinned tag, release
 * tag): the Dagger module checks these before it starts a container; decideEligibility includes them.
 */
export function referenceRules(
  environment: string,
  policy: ReleasePolicy,
  facts: Pick<EligibilityFacts, 'image' | 'release' | 'imageFoundIn'>,
): { readonly ref?: ImageRef; readonly rules: readonly RuleVerdict[] } {
  const parsed = parseImageRef(facts.image);
  if (!parsed.ok) return { rules: [failed('reference', parsed.problem)] };
  const ref = parsed.ref;
  const repository = either(
    'repository',
    ref.repository === policy.imageRepository,
    ref.repository,
    `${ref.repository} is not ${policy.imageRepository}, the only repository ${environment} runs`,
  );
  const kinds = policy.reference.map((kind) => REFERENCE_KIND_RULES[kind]({ environment, facts, ref }));
  return { ref, rules: [repository, ...kinds] };
}

/** A release tag's commit must be on main (asked only where the policy requires a release tag). */
const onMainRule: Rule = ({ policy, facts, ref }) => {
  const tag = facts.release?.tag ?? ref.tag;
  if (!policy.reference.includes('release-tag') || !isReleaseTag(tag)) return [];
  const onMain = facts.release?.onMain;
  if (onMain === undefined) return [cannotTell('on-main', `cannot tell whether ${tag} is on main (fails closed)`)];
  return [either('on-main', onMain, `${tag} is on main`, `${tag} is not on main: releases are tagged on main only`)];
};

/** The ledger must be readable where the policy records deploys or promotes from another environment. */
const ledgerRule: Rule = ({ environment, policy, facts: { ledger } }) => {
  if (!policy.ledgerRequired && !policy.promotion) return [];
  if (!ledger.reachable)
    return [
      cannotTell(
        'ledger',
        `the delivery ledger is unreachable (${ledger.reason}); ${environment} needs it (fails closed)`,
      ),
    ];
  const n = ledger.entries.length;
  return [passed('ledger', `${n} ${n === 1 ? 'entry' : 'entries'} read`)];
};

/** A rollback goes back to what this environment already ran: it must have succeeded here before, by digest. */
const rollbackTargetRule: Rule = ({ environment, facts: { ledger }, ref }) => {
  if (!ledger.reachable)
    return [cannotTell('promotion', `cannot read what ran in ${environment} (ledger unreachable)`)];
  if (!ref.digest) return [failed('promotion', `a rollback target is named by digest`)];
  const ran = ledger.entries.filter(
    (e) =>
      e.environment === environment && e.digest === ref.digest && e.operation !== 'rollback' && e.state === 'success',
  );
  return [
    either(
      'promotion',
      ran.length > 0,
      `ran in ${environment} until ${ran.at(-1)?.at}`,
      `digest ${short(ref.digest)} never ran successfully in ${environment}`,
    ),
  ];
};

/** The pass in the promotion's source environment this deploy rests on, or the verdict that says why there is none. */
function promotionSource(
  { facts, ref }: RuleInput,
  from: string,
): { readonly pass: LedgerEntry } | { readonly refused: RuleVerdict } {
  const ledger = facts.ledger;
  if (!ledger.reachable)
    return { refused: cannotTell('promotion', `cannot read what passed ${from} (ledger unreachable)`) };
  if (!ref.digest) return { refused: failed('promotion', `only a digest can be promoted from ${from}`) };
  const digest = short(ref.digest);
  const what = facts.release?.tag ?? 'this deploy';
  const { pass, failedAfter } = lastPass(ledger.entries, from, ref.digest);
  const tree = facts.source?.tree;
  if (!pass)
    return {
      refused: failed('promotion', `digest ${digest} never passed ${from}: build, pass ${from}'s gates, then promote`),
    };
  if (failedAfter)
    return {
      refused: failed(
        'promotion',
        `digest ${digest} passed ${from} at ${pass.at} but ${failedAfter.operation === 'rollback' ? 'was rolled back' : 'failed'} there at ${failedAfter.at}`,
      ),
    };
  if (!tree || !GIT_OBJECT_ID.test(tree))
    return {
      refused: cannotTell(
        'promotion',
        `the source tree of ${what} is unknown: cannot match it with what passed ${from} (fails closed)`,
      ),
    };
  if (pass.tree !== tree)
    return {
      refused: failed(
        'promotion',
        `digest ${digest} was built from tree ${short(pass.tree)}, but ${what} is tree ${short(tree)}: build it, pass ${from}, then promote`,
      ),
    };
  return { pass };
}

/** What the source environment's pass must show, in order; each reads the pass entry and the policy. */
type PassEvidence = (pass: LedgerEntry, input: RuleInput, from: string) => RuleVerdict | undefined;

const soakEvidence: PassEvidence = (pass, { policy, facts }, from) => {
  const soakMinutes = policy.promotion?.soakMinutes ?? 0;
  const soakedMs = facts.now - Date.parse(pass.at);
  if (!Number.isFinite(soakedMs))
    return cannotTell('soak', `? min in ${from} (its time is unreadable), needs ${soakMinutes}`);
  const minutes = Math.max(0, Math.floor(soakedMs / 60_000));
  return either(
    'soak',
    soakedMs >= soakMinutes * 60_000,
    `${minutes} min in ${from} (needs ${soakMinutes})`,
    `${minutes} min in ${from}, needs ${soakMinutes}`,
  );
};

// Promotion rests on the previous environment's gates: a pass deployed with --skip-gate does not count.
const gateEvidence: PassEvidence = (pass, _input, from) =>
  either(
    'gate',
    pass.gate !== undefined && isPass(pass.gate),
    `${from}'s latency gate passed for this digest`,
    `${from}'s latency gate ${pass.gate ? 'failed' : 'did not run (skipped or not recorded)'} for this digest`,
  );

const baselineEvidence: PassEvidence = (pass, { environment, policy }, from) => {
  if (!policy.baselineComparisonRequired) return undefined;
  const gate = pass.gate;
  return either(
    'baseline',
    gate !== undefined && isPass(gate) && gate.baselineCompared === true,
    `${from}'s gate passed with the baseline comparison`,
    `${from}'s gate ${gate ? (isPass(gate) ? 'did not compare against the baseline' : 'failed') : 'left no summary'}; ${environment} requires a baseline comparison`,
  );
};

const auditEvidence: PassEvidence = (pass, { environment, policy }) => {
  if (policy.skippedAuditAcceptable) return undefined;
  return either(
    'audit',
    pass.auditSkipped === false,
    'dependency audit ran',
    `the dependency audit ${pass.auditSkipped ? 'was skipped' : 'is not recorded'} for this digest; ${environment} does not accept that`,
  );
};

const PASS_EVIDENCE: readonly PassEvidence[] = [soakEvidence, gateEvidence, baselineEvidence, auditEvidence];

/** The digest passed the environment it is promoted from, from the same tree, and that pass shows enough. */
const promotionRule: Rule = (input) => {
  const promotion = input.policy.promotion;
  if (!promotion) return [];
  const source = promotionSource(input, promotion.from);
  if ('refused' in source) return [source.refused];
  const { pass } = source;
  return [
    passed('promotion', `passed ${promotion.from} at ${pass.at} from tree ${short(input.facts.source?.tree)}`),
    ...PASS_EVIDENCE.flatMap((evidence) => evidence(pass, input, promotion.from) ?? []),
  ];
};

/** The previous release (what runs in the environment) passed the N-1 check against the candidate. */
const compatibilityRule: Rule = ({ environment, policy, facts, ref }) => {
  if (!policy.previousReleaseChecked) return [];
  const candidate: ReleaseId = {
    ...(ref.digest ? { digest: ref.digest } : {}),
    ...(facts.source?.commit ? { commit: facts.source.commit } : {}),
    ...(facts.source?.tree ? { tree: facts.source.tree } : {}),
  };
  const ledger = facts.ledger;
  if (!ledger.reachable)
    return [cannotTell('compatibility', `cannot read what runs in ${environment} (ledger unreachable)`)];
  const running = runningRelease(ledger.entries, environment);
  if (running.kind === 'none')
    return [passed('compatibility', `nothing ran in ${environment} yet: no previous release to be compatible with`)];
  if (running.kind === 'unknown')
    return [
      cannotTell(
        'compatibility',
        `cannot tell which release runs in ${environment} (its last record names none; fails closed)`,
      ),
    ];
  if (sameRelease(running.release, candidate))
    return [passed('compatibility', `${describeRelease(candidate)} already runs in ${environment}`)];
  const check = compatCheckOf(ledger.compat ?? [], running.release, candidate);
  const prev = describeRelease(running.release);
  if (!check)
    return [
      failed(
        'compatibility',
        `${prev}, running in ${environment}, was never checked against this release's migrations: run kgraph-ci migrations compat --env ${environment} --previous <${prev}'s tag>`,
      ),
    ];
  const how = `the compatibility check against schema ${check.schemaHead} at ${check.at}`;
  return [either('compatibility', isPass(check), `${prev} passed ${how}`, `${prev} failed ${how}`)];
};

/**
 * The rules after the reference rules, in order of importance, per operation. The exception lives here as
 * data, not as branches: a rollback returns to what already ran in the environment, so it is judged by its
 * target instead of by promotion and by the N-1 compatibility check.
 */
const RULES: Record<NonNullable<EligibilityFacts['operation']>, readonly Rule[]> = {
  deploy: [onMainRule, ledgerRule, promotionRule, compatibilityRule],
  rollback: [onMainRule, ledgerRule, rollbackTargetRule],
};

/**
 * A verdict that rests on a rule which did not pass cannot tell (its own failure may be only the consequence),
 * and names that rule; the first verdict that rests on nothing unsettled is the cause and leads the refusal.
 */
function settleDependencies(rules: readonly RuleVerdict[]): {
  readonly rules: readonly RuleVerdict[];
  readonly cause?: RuleVerdict;
} {
  const unsettled = new Set(rules.filter((r) => !isPass(r)).map((r) => r.rule));
  const follows = (r: RuleVerdict) => !isPass(r) && r.dependsOn !== undefined && unsettled.has(r.dependsOn);
  const settled = rules.map((r) =>
    follows(r)
      ? {
          ...r,
          outcome: 'inconclusive' as const,
          reasons: [`${r.reasons.join('; ')} (cannot tell: rests on rule "${r.dependsOn}", which did not pass)`],
        }
      : r,
  );
  const cause = settled.find((r, i) => !isPass(r) && !follows(rules[i]!)) ?? settled.find((r) => !isPass(r));
  return { rules: settled, ...(cause ? { cause } : {}) };
}

/** The decision's reasons: each rule's, named, the cause first; on a pass, what every rule rests on. */
function decisionReasons(rules: readonly RuleVerdict[], cause: RuleVerdict | undefined): string[] {
  const named = (r: RuleVerdict) => r.reasons.map((reason) => `${r.rule}: ${reason}`);
  if (!cause) return rules.length ? rules.flatMap(named) : ['no rule was judged'];
  return [cause, ...rules.filter((r) => r !== cause && !isPass(r))].flatMap(named);
}

/** Decides whether `facts.image` may be deployed to `environment` under `policy`. Pure. */
export function decideEligibility(environment: string, policy: ReleasePolicy, facts: EligibilityFacts): Eligibility {
  const checked = referenceRules(environment, policy, facts);
  const ref = checked.ref;
  const input = ref ? { environment, policy, facts, ref } : undefined;
  const { rules, cause: refusedBy } = settleDependencies([
    ...checked.rules,
    ...(input ? RULES[facts.operation ?? 'deploy'].flatMap((rule) => rule(input)) : []),
  ]);
  const outcome = worstOutcome(rules.map((r) => r.outcome));
  const from = facts.operation === 'rollback' ? undefined : policy.promotion?.from;
  const source = input && from ? promotionSource(input, from) : undefined;
  return {
    environment,
    outcome,
    reasons: decisionReasons(rules, refusedBy),
    rules,
    ...(refusedBy ? { refusedBy } : {}),
    ...(source && 'pass' in source ? { promotedFrom: source.pass } : {}),
  };
}
