/**
 * Which release the N-1 check serves as "previous" (pure). Prod's compatibility rule looks for a record of
 * the release the ledger says runs there, so without --previous that is the one to check: a tag-pushed
 * workflow cannot name it (its newest v* tag is the candidate itself). Without a ledger the newest v* tag
 * stays the default, as on a laptop; a ledger that cannot be read, or a running release it cannot name as a
 * git ref, refuses rather than check some other release and record a pass nobody will look up.
 */
import type { LedgerEntry } from '../../definitions/release-policy.js';
import { runningRelease } from '../../verify/migrations/base.js';

export type LedgerView =
  | { readonly kind: 'none'; readonly why: string }
  | { readonly kind: 'unreadable'; readonly why: string }
  | { readonly kind: 'read'; readonly entries: readonly LedgerEntry[] };

export type PreviousChoice =
  /** Check this ref; `digest`/`version` are recorded with its commit. `ref` absent: the newest v* tag. */
  | {
      readonly kind: 'check';
      readonly ref?: string;
      readonly digest?: string;
      readonly version?: string;
      readonly why: string;
    }
  /** Nothing has run in the environment: there is no N-1, so nothing to check or record. */
  | { readonly kind: 'nothing'; readonly why: string }
  /** Cannot tell which release to check: refuse (exit 1), naming why and the way out. */
  | { readonly kind: 'refuse'; readonly why: string };

export function choosePrevious(
  environment: string,
  given: { readonly previous?: string; readonly previousDigest?: string },
  ledger: LedgerView,
): PreviousChoice {
  const digest = given.previousDigest ? { digest: given.previousDigest } : {};
  if (given.previous) return { kind: 'check', ref: given.previous, ...digest, why: `--previous ${given.previous}` };
  if (ledger.kind === 'none') return { kind: 'check', ...digest, why: `the newest v* tag (${ledger.why})` };
  if (ledger.kind === 'unreadable')
    return {
      kind: 'refuse',
      why: `cannot tell which release runs in ${environment}: the ledger cannot be read (${ledger.why}); give --previous REF`,
    };
  const running = runningRelease(ledger.entries, environment);
  if (!running) {
    const anySuccess = ledger.entries.some((e) => e.environment === environment && e.state === 'success');
    return anySuccess
      ? {
          kind: 'refuse',
          why: `the release running in ${environment} is recorded without a commit or version tag, so it cannot be checked out; give --previous REF`,
        }
      : { kind: 'nothing', why: `nothing has run in ${environment} by the ledger: no previous release to check` };
  }
  const known = running.id.digest;
  if (given.previousDigest && known && given.previousDigest !== known)
    return {
      kind: 'refuse',
      why: `--previous-digest ${given.previousDigest} is not the digest running in ${environment} (${known}) by the ledger`,
    };
  return {
    kind: 'check',
    ref: running.ref,
    ...(known ? { digest: known } : digest),
    ...(running.id.version ? { version: running.id.version } : {}),
    why: `the release running in ${environment} by the ledger: ${running.label}`,
  };
}
