/**
 * "Tests passed" and "scan passed" from the GitHub check runs of the commit being deployed (what CI knows; the
 * deploying container has no local results). Pure: the facts come from github-checks.ts, what each check run
 * proves from definitions/commit-checks.ts. Unknown facts are inconclusive, which never passes.
 */
import { CHECKS_APP, COMMIT_CHECKS, type CommitCheck } from '../../definitions/commit-checks.js';
import { failed, inconclusive, isPass, passed, worstOutcome, type Verdict } from '../../definitions/verdict.js';
import { TEST_STEPS, type ChecklistItem } from './items.js';

/** A check run as GitHub lists it (the fields read here). */
export interface CheckRunData {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly conclusion?: string | null;
  readonly app?: { readonly slug?: string } | null;
}

/** Where a check run is: `completed` with its conclusion, or queued, in_progress, waiting... */
export interface CheckRunState {
  readonly name: string;
  readonly status: string;
  readonly conclusion: string | null;
}

/** For a commit with no test check runs of its own (a merge commit on main): the merged pull request's head. */
export type PullHead =
  | { readonly kind: 'none' }
  | {
      readonly kind: 'same-tree';
      readonly pull: number;
      readonly head: string;
      readonly runs: readonly CheckRunState[];
    }
  | {
      readonly kind: 'tree-differs';
      readonly pull: number;
      readonly head: string;
      readonly headTree: string;
      readonly commitTree: string;
    };

export type CommitChecks =
  | { readonly known: false; readonly reason: string }
  | {
      readonly known: true;
      readonly commit: string;
      readonly runs: readonly CheckRunState[];
      /** Looked up only when the commit has no test check runs and the tests item needs them. */
      readonly pullHead?: PullHead;
    };

/** GitHub Actions' runs only, the latest per name (a re-run is a new check run with a higher id). */
export function latestByName(runs: readonly CheckRunData[]): CheckRunState[] {
  const latest = new Map<string, CheckRunData>();
  for (const r of runs) {
    if (r.app?.slug !== CHECKS_APP) continue;
    const seen = latest.get(r.name);
    if (!seen || r.id > seen.id) latest.set(r.name, r);
  }
  return [...latest.values()].map((r) => ({ name: r.name, status: r.status, conclusion: r.conclusion ?? null }));
}

/** Whether any check run on the commit is one that runs tests (whatever its state). */
export function hasTestRuns(runs: readonly CheckRunState[], table: readonly CommitCheck[] = COMMIT_CHECKS): boolean {
  return runs.some((r) => table.some((c) => c.name === r.name && c.tests.length > 0));
}

// A verdict against the commit; cancelled, skipped, stale and the like say nothing either way.
const CONTRARY = ['failure', 'timed_out'];
const passedRun = (r: CheckRunState) => r.status === 'completed' && r.conclusion === 'success';
const stateOf = (r: CheckRunState) =>
  `${r.name} ${r.status === 'completed' ? (r.conclusion ?? 'without conclusion') : r.status}`;

/**
 * One proof (a test step, or the scan) from the checks that can give it: any of them failing fails it; else one
 * success proves it; else it fails naming each one's state (queued, in_progress, cancelled...) or that none ran.
 */
function judge(proof: string, rows: readonly CommitCheck[], runs: readonly CheckRunState[]): Verdict {
  const present = runs.filter((r) => rows.some((c) => c.name === r.name));
  const against = present.filter((r) => r.status === 'completed' && CONTRARY.includes(r.conclusion ?? ''));
  if (against.length > 0) return failed(`${proof}: ${against.map(stateOf).join(', ')}`);
  const by = present.filter(passedRun);
  if (by.length > 0) return passed(`${proof} passed (${by.map((r) => r.name).join(', ')})`);
  if (present.length > 0) return failed(`${proof}: ${present.map(stateOf).join(', ')}`);
  return failed(`${proof}: no check run (expected ${rows.map((c) => c.name).join(' or ')})`);
}

const TESTS = { name: 'tests passed', required: true } as const;
const SCAN = { name: 'scan passed', required: true } as const;

function testsVerdict(runs: readonly CheckRunState[], where: string, table: readonly CommitCheck[]): ChecklistItem {
  const verdicts = TEST_STEPS.map((s) =>
    judge(
      s,
      table.filter((c) => c.tests.includes(s)),
      runs,
    ),
  );
  // One line for the item, every proof's say in it (the passing ones too).
  const outcome = worstOutcome(verdicts.map((v) => v.outcome));
  return { ...TESTS, outcome, reasons: [`${where}: ${verdicts.flatMap((v) => v.reasons).join('; ')}`] };
}

export function testsFromCheckRuns(facts: CommitChecks, table: readonly CommitCheck[] = COMMIT_CHECKS): ChecklistItem {
  if (!facts.known) return { ...TESTS, ...inconclusive(`check runs unknown: ${facts.reason}`) };
  const at = facts.commit.slice(0, 12);
  const p = facts.pullHead;
  if (hasTestRuns(facts.runs, table) || !p) return testsVerdict(facts.runs, `check runs on ${at}`, table);
  switch (p.kind) {
    case 'none':
      return {
        ...TESTS,
        ...failed(`no test check run on ${at} and no merged pull request whose head could stand in`),
      };
    case 'tree-differs':
      return {
        ...TESTS,
        ...failed(
          `no test check run on ${at}; PR #${p.pull} head ${p.head.slice(0, 12)} has tree ${p.headTree.slice(0, 12)}, ` +
            `${at} has tree ${p.commitTree.slice(0, 12)}: the PR's checks tested other files`,
        ),
      };
    case 'same-tree':
      return testsVerdict(p.runs, `via PR #${p.pull} head ${p.head.slice(0, 12)}`, table);
  }
}

/** `strict` (an environment that does not accept a skipped audit): a scan that may have skipped it does not count. */
export function scanFromCheckRuns(
  facts: CommitChecks,
  opts: { readonly strict: boolean },
  table: readonly CommitCheck[] = COMMIT_CHECKS,
): ChecklistItem {
  if (!facts.known) return { ...SCAN, ...inconclusive(`check runs unknown: ${facts.reason}`) };
  const scans = table.filter((c) => c.scan);
  const counted = opts.strict ? scans.filter((c) => !c.scan!.auditMayBeSkipped) : scans;
  const v = judge('scan', counted, facts.runs);
  const ignored = scans.filter((c) => !counted.includes(c) && facts.runs.some((r) => r.name === c.name));
  const note = ignored.length
    ? `; not counted: ${ignored.map((c) => c.name).join(', ')} (--allow-offline: its audit may have been skipped)`
    : '';
  const line = `check runs on ${facts.commit.slice(0, 12)}: ${v.reasons.join('; ')}${note}`;
  return { ...SCAN, ...(isPass(v) ? passed : failed)(line) };
}

/**
 * Whether the commit's scan skipped its dependency audit, for the ledger's record (prod accepts a promotion only
 * from a pass whose audit ran): false when a scan check that cannot skip it succeeded, true when only one that
 * may have (--allow-offline) did, undefined when no scan check succeeded or the runs are unknown.
 */
export function auditSkippedFromCheckRuns(
  facts: CommitChecks,
  table: readonly CommitCheck[] = COMMIT_CHECKS,
): boolean | undefined {
  if (!facts.known) return undefined;
  const succeeded = (c: CommitCheck) =>
    facts.runs.some((r) => r.name === c.name && r.status === 'completed' && r.conclusion === 'success');
  const scans = table.filter((c) => c.scan && succeeded(c));
  if (scans.some((c) => !c.scan!.auditMayBeSkipped)) return false;
  return scans.length > 0 ? true : undefined;
}
