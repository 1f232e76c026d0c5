/**
 * Release eligibility: may this image run in this environment? One pure function over the
 * environment's release policy (data in ci/src/environments.ts) and plain facts: the image reference,
 * the release tag and the source tree it stands for, and what the delivery ledger says passed where.
 * A rule that lacks a fact it needs refuses (fail closed); the result names every rule and why.
 *
 * This file imports nothing on purpose: `kgraph-ci generate` copies it verbatim into
 * the Dagger module (dagger/src/eligibility.generated.ts), so the CLI, the host runner and the module
 * run the very same function. Keep it free of I/O and of imports.
 */

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
export const RELEASE_TAG = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
const GIT_OBJECT = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

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
  readonly gate?: { readonly passed: boolean; readonly baselineCompared?: boolean };
  readonly auditSkipped?: boolean;
  /** Rollbacks: the digest they undid, when known (an automatic rollback after a failed deploy). */
  readonly undone?: string;
  /** Deploys: the newest migration of the deployed tree (the schema the database is at after it). */
  readonly schemaHead?: string;
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
 * on the schema `candidate` migrated to (newest migration `schemaHead`), side by side with `candidate`.
 */
export interface CompatEntry {
  /** The environment whose running release was `previous`. */
  readonly environment: string;
  readonly previous: ReleaseId;
  readonly candidate: ReleaseId;
  readonly schemaHead: string;
  /** The migrations new since `previous` that the check covered. */
  readonly migrations: readonly string[];
  readonly passed: boolean;
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
  readonly release?: { readonly tag: string; readonly onMain?: boolean };
  /** Commit and git tree the deploy stands for (the tag's, or the build's). */
  readonly source?: { readonly commit?: string; readonly tree?: string };
  readonly ledger: LedgerFacts;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** A rollback to a version that already ran here instead of a promotion (default deploy). */
  readonly operation?: 'deploy' | 'rollback';
}

export interface RuleVerdict {
  readonly rule:
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
  readonly ok: boolean;
  readonly detail: string;
}

export interface Eligibility {
  readonly environment: string;
  readonly eligible: boolean;
  readonly rules: readonly RuleVerdict[];
  /** The first rule that refused, for one-line messages. */
  readonly refusedBy?: RuleVerdict;
  /** The ledger entry the promotion rests on. */
  readonly promotedFrom?: LedgerEntry;
}

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

/** The previous release (what runs in `environment`) passed the N-1 check against `candidate`. */
function compatibilityRule(environment: string, ledger: LedgerFacts, candidate: ReleaseId): [boolean, string] {
  if (!ledger.reachable) return [false, `cannot read what runs in ${environment} (ledger unreachable)`];
  const running = runningRelease(ledger.entries, environment);
  if (running.kind === 'none')
    return [true, `nothing ran in ${environment} yet: no previous release to be compatible with`];
  if (running.kind === 'unknown')
    return [false, `cannot tell which release runs in ${environment} (its last record names none; fails closed)`];
  if (sameRelease(running.release, candidate))
    return [true, `${describeRelease(candidate)} already runs in ${environment}`];
  const check = compatCheckOf(ledger.compat ?? [], running.release, candidate);
  const prev = describeRelease(running.release);
  if (!check)
    return [
      false,
      `${prev}, running in ${environment}, was never checked against this release's migrations: run kgraph-ci migrations compat --env ${environment} --previous <${prev}'s tag>`,
    ];
  if (!check.passed)
    return [false, `${prev} failed the compatibility check against schema ${check.schemaHead} at ${check.at}`];
  return [true, `${prev} passed the compatibility check against schema ${check.schemaHead} at ${check.at}`];
}

/**
 * The rules that need only the reference and the release tag (repository, digest, pinned tag, release
 * tag): the Dagger module checks these before it starts a container; decideEligibility includes them.
 */
export function referenceRules(
  environment: string,
  policy: ReleasePolicy,
  facts: Pick<EligibilityFacts, 'image' | 'release'>,
): { readonly ref?: ImageRef; readonly rules: readonly RuleVerdict[] } {
  const rules: RuleVerdict[] = [];
  const add = (rule: RuleVerdict['rule'], ok: boolean, detail: string) => void rules.push({ rule, ok, detail });
  const parsed = parseImageRef(facts.image);
  if (!parsed.ok) {
    add('reference', false, parsed.problem);
    return { rules };
  }
  const ref = parsed.ref;
  add(
    'repository',
    ref.repository === policy.imageRepository,
    ref.repository === policy.imageRepository
      ? `${ref.repository}`
      : `${ref.repository} is not ${policy.imageRepository}, the only repository ${environment} runs`,
  );
  for (const kind of policy.reference) {
    if (kind === 'digest')
      add(
        'digest',
        ref.digest !== undefined,
        ref.digest
          ? `by digest ${ref.digest}`
          : `${environment} deploys only by @sha256 digest; ${facts.image} has none`,
      );
    if (kind === 'pinned-tag') {
      const pinned = ref.digest !== undefined || (ref.tag !== undefined && ref.tag !== 'latest');
      add(
        'pinned-tag',
        pinned,
        pinned
          ? ref.digest
            ? 'pinned by digest'
            : `pinned tag ${ref.tag}`
          : `${facts.image} has ${ref.tag ? 'the floating tag latest' : 'no tag'}; deploy a pinned tag or digest`,
      );
    }
    if (kind === 'release-tag') {
      const tag = facts.release?.tag ?? ref.tag;
      if (!tag || !RELEASE_TAG.test(tag))
        add(
          'release-tag',
          false,
          `${environment} runs only release versions vX.Y.Z; ${tag ? `"${tag}" is not one` : 'no release tag was given'}`,
        );
      // A prerelease (v1.2.3-rc.1) is a version but not a release: it may be tagged, never released here.
      else if (tag.includes('-'))
        add('release-tag', false, `${environment} runs only final releases vX.Y.Z; "${tag}" is a prerelease`);
      else if (ref.tag !== undefined && ref.tag !== tag)
        add('release-tag', false, `the image is tagged ${ref.tag} but is deployed as ${tag}`);
      else add('release-tag', true, `release ${tag}`);
    }
  }
  return { ref, rules };
}

/** Decides whether `facts.image` may be deployed to `environment` under `policy`. Pure. */
export function decideEligibility(environment: string, policy: ReleasePolicy, facts: EligibilityFacts): Eligibility {
  const checked = referenceRules(environment, policy, facts);
  const rules: RuleVerdict[] = [...checked.rules];
  const add = (rule: RuleVerdict['rule'], ok: boolean, detail: string) => void rules.push({ rule, ok, detail });
  let promotedFrom: LedgerEntry | undefined;
  const ref = checked.ref;
  if (!ref) return finish();
  const tag = facts.release?.tag ?? ref.tag;
  if (policy.reference.includes('release-tag') && tag && RELEASE_TAG.test(tag)) {
    const onMain = facts.release?.onMain;
    add(
      'on-main',
      onMain === true,
      onMain === undefined
        ? `cannot tell whether ${tag} is on main (fails closed)`
        : onMain
          ? `${tag} is on main`
          : `${tag} is not on main: releases are tagged on main only`,
    );
  }
  const ledger = facts.ledger;
  if (policy.ledgerRequired || policy.promotion) {
    add(
      'ledger',
      ledger.reachable,
      ledger.reachable
        ? `${ledger.entries.length} ${ledger.entries.length === 1 ? 'entry' : 'entries'} read`
        : `the delivery ledger is unreachable (${ledger.reason}); ${environment} needs it (fails closed)`,
    );
  }
  if (facts.operation === 'rollback') {
    // Going back to what this environment already ran: it must have succeeded here before, by digest.
    if (!ledger.reachable) add('promotion', false, `cannot read what ran in ${environment} (ledger unreachable)`);
    else if (!ref.digest) add('promotion', false, `a rollback target is named by digest`);
    else {
      const ran = ledger.entries.filter(
        (e) =>
          e.environment === environment &&
          e.digest === ref.digest &&
          e.operation !== 'rollback' &&
          e.state === 'success',
      );
      add(
        'promotion',
        ran.length > 0,
        ran.length
          ? `ran in ${environment} until ${ran[ran.length - 1]!.at}`
          : `digest ${short(ref.digest)} never ran successfully in ${environment}`,
      );
    }
  } else if (policy.promotion) {
    const { from, soakMinutes } = policy.promotion;
    if (!ledger.reachable) add('promotion', false, `cannot read what passed ${from} (ledger unreachable)`);
    else if (!ref.digest) add('promotion', false, `only a digest can be promoted from ${from}`);
    else {
      const { pass, failedAfter } = lastPass(ledger.entries, from, ref.digest);
      const tree = facts.source?.tree;
      if (!pass)
        add(
          'promotion',
          false,
          `digest ${short(ref.digest)} never passed ${from}: build, pass ${from}'s gates, then promote`,
        );
      else if (failedAfter)
        add(
          'promotion',
          false,
          `digest ${short(ref.digest)} passed ${from} at ${pass.at} but ${failedAfter.operation === 'rollback' ? 'was rolled back' : 'failed'} there at ${failedAfter.at}`,
        );
      else if (!tree || !GIT_OBJECT.test(tree))
        add(
          'promotion',
          false,
          `the source tree of ${facts.release?.tag ?? 'this deploy'} is unknown: cannot match it with what passed ${from} (fails closed)`,
        );
      else if (pass.tree !== tree)
        add(
          'promotion',
          false,
          `digest ${short(ref.digest)} was built from tree ${short(pass.tree)}, but ${facts.release?.tag ?? 'this deploy'} is tree ${short(tree)}: build it, pass ${from}, then promote`,
        );
      else {
        promotedFrom = pass;
        add('promotion', true, `passed ${from} at ${pass.at} from tree ${short(tree)}`);
        const soakedMs = facts.now - Date.parse(pass.at);
        const needMs = soakMinutes * 60_000;
        const soaked = Number.isFinite(soakedMs) && soakedMs >= needMs;
        add(
          'soak',
          soaked,
          soaked
            ? `${Math.floor(soakedMs / 60_000)} min in ${from} (needs ${soakMinutes})`
            : `${Number.isFinite(soakedMs) ? Math.max(0, Math.floor(soakedMs / 60_000)) : '?'} min in ${from}, needs ${soakMinutes}`,
        );
        // Promotion rests on the previous environment's gates: a pass deployed with --skip-gate does not count.
        const gated = pass.gate?.passed === true;
        add(
          'gate',
          gated,
          gated
            ? `${from}'s latency gate passed for this digest`
            : `${from}'s latency gate ${pass.gate ? 'failed' : 'did not run (skipped or not recorded)'} for this digest`,
        );
        if (policy.baselineComparisonRequired) {
          const compared = pass.gate?.passed === true && pass.gate.baselineCompared === true;
          add(
            'baseline',
            compared,
            compared
              ? `${from}'s gate passed with the baseline comparison`
              : `${from}'s gate ${pass.gate ? (pass.gate.passed ? 'did not compare against the baseline' : 'failed') : 'left no summary'}; ${environment} requires a baseline comparison`,
          );
        }
        if (!policy.skippedAuditAcceptable) {
          add(
            'audit',
            pass.auditSkipped === false,
            pass.auditSkipped === false
              ? 'dependency audit ran'
              : `the dependency audit ${pass.auditSkipped ? 'was skipped' : 'is not recorded'} for this digest; ${environment} does not accept that`,
          );
        }
      }
    }
  }
  if (policy.previousReleaseChecked && facts.operation !== 'rollback') {
    const candidate: ReleaseId = {
      ...(ref.digest ? { digest: ref.digest } : {}),
      ...(facts.source?.commit ? { commit: facts.source.commit } : {}),
      ...(facts.source?.tree ? { tree: facts.source.tree } : {}),
    };
    const [ok, detail] = compatibilityRule(environment, ledger, candidate);
    add('compatibility', ok, detail);
  }
  return finish();

  function finish(): Eligibility {
    const refusedBy = rules.find((r) => !r.ok);
    return {
      environment,
      eligible: rules.length > 0 && !refusedBy,
      rules,
      ...(refusedBy ? { refusedBy } : {}),
      ...(promotedFrom ? { promotedFrom } : {}),
    };
  }
}
