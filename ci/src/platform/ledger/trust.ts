/**
 * Pure: which GitHub ledger records are believed. Anyone who can write deployments (an ordinary user with
 * repo access, a token leaked from a fork's workflow) could otherwise plant a staging "pass" that makes a
 * digest eligible for prod. So a record counts only when (1) its deployment was created by a trusted
 * writer (the GitHub Actions app, or an identity listed in environments.ts), (2) only that writer's
 * statuses decide its state, (3) its image and digest agree, and (4) for the environments whose passes
 * are evidence for a promotion, the workflow run its status links to, read back from the Actions API, is
 * that environment's workflow on an allowed ref, for the same commit, and succeeded.
 */
import { LEDGER_TRUST, type LedgerRunRule } from '../../definitions/environments.js';
import { parseImageRef } from '../../definitions/release-policy.js';
import type { LedgerPayload } from './entry.js';

/** A workflow run as the Actions API describes it (the fields judged). */
export interface WorkflowRun {
  readonly id: number;
  /** `.github/workflows/deploy-staging.yml` */
  readonly path: string;
  /** The branch, or the tag for a tag push. */
  readonly headBranch: string | null;
  readonly headSha: string;
  readonly status: string;
  readonly conclusion: string | null;
}

export const isTrustedWriter = (login: string | undefined, writers: readonly string[] = LEDGER_TRUST.writers) =>
  login !== undefined && writers.includes(login);

/** Why the payload's image and digest contradict each other, or undefined when they agree. */
export function imageDigestConflict(p: LedgerPayload): string | undefined {
  if (p.image === undefined) return undefined;
  const parsed = parseImageRef(p.image);
  if (!parsed.ok) return `its image ${p.image} is not an image reference`;
  const pinned = parsed.ref.digest;
  if (pinned !== undefined && p.digest !== undefined && pinned !== p.digest)
    return `its image is ${pinned}, its digest says ${p.digest}`;
  if (pinned !== undefined && p.digest === undefined)
    return `its image is pinned to ${pinned} but it records no digest`;
  return undefined;
}

/** The run id in a status's log_url, only when the URL points at a run of this repository. */
export function runIdOf(logUrl: string | undefined, repo: { owner: string; repo: string }): number | undefined {
  if (!logUrl) return undefined;
  let path: string;
  try {
    path = new URL(logUrl).pathname;
  } catch {
    return undefined;
  }
  const m = /^\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)(?:\/|$)/.exec(path);
  if (!m || m[1]!.toLowerCase() !== repo.owner.toLowerCase() || m[2]!.toLowerCase() !== repo.repo.toLowerCase())
    return undefined;
  return Number(m[3]);
}

const refMatches = (ref: string, pattern: string) =>
  pattern.endsWith('*') ? ref.startsWith(pattern.slice(0, -1)) && ref.length > pattern.length - 1 : ref === pattern;

/** The rules a record of this environment must meet about its run; undefined = no run needed. */
export const runRulesFor = (environment: string): readonly LedgerRunRule[] | undefined =>
  (LEDGER_TRUST.runs as Readonly<Record<string, readonly LedgerRunRule[]>>)[environment];

/**
 * Why the run does not vouch for the record, or undefined when it does. `ownRunId` is the reader's own
 * run (GITHUB_RUN_ID): a rule marked `ownRunOnly` accepts it while it is still in progress.
 */
export function runRefusal(
  rules: readonly LedgerRunRule[],
  p: LedgerPayload,
  run: WorkflowRun,
  ownRunId?: number,
): string | undefined {
  const ref = run.headBranch ?? '';
  const rule = rules.find((r) => r.workflow === run.path && r.refs.some((pat) => refMatches(ref, pat)));
  const allowed = rules.map((r) => `${r.workflow} on ${r.refs.join('|')}`).join(', ');
  if (!rule) return `its workflow run ${run.id} is ${run.path} on ${ref || 'no ref'}, not ${allowed}`;
  if (!p.commit) return 'it records no commit to compare with its workflow run';
  if (run.headSha !== p.commit) return `its workflow run ${run.id} built ${run.headSha}, not ${p.commit}`;
  if (rule.ownRunOnly && run.id !== ownRunId)
    return `its workflow run ${run.id} (${run.path}) is trusted only from inside that run`;
  if (run.conclusion === 'success') return undefined;
  if (run.id === ownRunId && run.status !== 'completed') return undefined;
  return `its workflow run ${run.id} ${run.status === 'completed' ? `ended ${run.conclusion ?? 'without a conclusion'}` : `is ${run.status}`}`;
}
