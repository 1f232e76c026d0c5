/**
 * The pre-deploy checklist's items as pure functions over plain facts. `unknown` means a fact could not
 * be established; a required item passes only with status `pass`, so unknown fails closed.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { isSuccess } from '../../platform/outcome.js';
import type { CheckOutcome } from '../../platform/outcome.js';
import { describeEntry, passedForCommit, type HistoryEntry } from '../runner/history.js';

export type ItemStatus = CheckOutcome;

export interface ChecklistItem {
  readonly name: string;
  readonly required: boolean;
  readonly status: ItemStatus;
  readonly detail: string;
}

/** Steps whose success "tests passed" means. */
export const TEST_STEPS = ['test', 'integrationTest'] as const;

interface RunReportLike {
  ok?: unknown;
  commit?: unknown;
  steps?: { name?: unknown; status?: unknown }[];
}

export function testsItem(report: unknown, opts: { path: string; headCommit?: string | undefined }): ChecklistItem {
  const base = { name: 'tests passed', required: true };
  if (report === undefined)
    return { ...base, status: 'failed', detail: `no run report at ${opts.path}: run \`kgraph-ci run all\` first` };
  const r = report as RunReportLike;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.steps))
    return { ...base, status: 'failed', detail: `${opts.path} is not a kgraph-ci run report` };
  const status = (name: string) => r.steps!.find((s) => s.name === name)?.status;
  // A cached step passed on exactly these inputs (see ci/src/verify/runner/cache), so it counts as passed.
  const notPassed = TEST_STEPS.filter((t) => !isSuccess(status(t))).map(
    (t) => `${t} ${typeof status(t) === 'string' ? String(status(t)) : 'not run'}`,
  );
  if (notPassed.length > 0) return { ...base, status: 'failed', detail: notPassed.join(', ') };
  const failed = r.steps.filter((s) => !isSuccess(s.status)).map((s) => `${String(s.name)} ${String(s.status)}`);
  if (failed.length > 0) return { ...base, status: 'failed', detail: `tests passed but: ${failed.join(', ')}` };
  if (opts.headCommit && typeof r.commit === 'string' && r.commit !== opts.headCommit) {
    return {
      ...base,
      status: 'failed',
      detail: `the report is for ${r.commit.slice(0, 12)}, HEAD is ${opts.headCommit.slice(0, 12)}: run the tests again`,
    };
  }
  return {
    ...base,
    status: 'passed',
    detail: `${TEST_STEPS.join(', ')} passed${typeof r.commit === 'string' ? ` at ${r.commit.slice(0, 12)}` : ''}`,
  };
}

/**
 * "Tests passed" from the run history of the commit being checked (results of `kgraph-ci run` and `npm test`
 * alike); undefined when the history holds no test result for that commit (the run report decides then).
 */
export function testsFromHistory(
  history: ReadonlyMap<string, HistoryEntry>,
  commit: string | undefined,
): ChecklistItem | undefined {
  if (!commit || !TEST_STEPS.some((t) => history.has(t))) return undefined;
  const base = { name: 'tests passed', required: true };
  const parts = TEST_STEPS.map((t) => {
    const e = history.get(t);
    return e
      ? `${t} ${describeEntry(e)}`
      : `${t}: no result at ${commit.slice(0, 12)} (npm test, or kgraph-ci run ${t})`;
  });
  const ok = TEST_STEPS.every((t) => passedForCommit(history.get(t)));
  return { ...base, status: ok ? 'passed' : 'failed', detail: parts.join('; ') };
}

export type ReviewFacts =
  | { readonly known: true; readonly approvals: readonly string[]; readonly pullNumber: number }
  | { readonly known: false; readonly reason: string };

export function reviewItem(env: EnvironmentDefinition, facts: ReviewFacts): ChecklistItem {
  const required = env.release.approvals > 0;
  const base = { name: 'review approved', required };
  if (!facts.known)
    return {
      ...base,
      status: 'inconclusive',
      detail: `${facts.reason}${required ? ` (${env.name} needs ${env.release.approvals}: fails closed)` : ''}`,
    };
  const n = facts.approvals.length;
  const who = n > 0 ? ` (${facts.approvals.join(', ')})` : '';
  if (n >= env.release.approvals)
    return {
      ...base,
      status: 'passed',
      detail: `PR #${facts.pullNumber}: ${n} approval(s)${who}, ${env.release.approvals} required`,
    };
  return {
    ...base,
    status: 'failed',
    detail: `PR #${facts.pullNumber}: ${n} approval(s)${who}, ${env.release.approvals} required`,
  };
}

/** Users whose latest decisive review approves (a later "changes requested" or dismissal cancels it). */
export function approvers(reviews: readonly { user?: { login?: string } | null; state: string }[]): string[] {
  const latest = new Map<string, string>();
  for (const r of reviews) {
    const login = r.user?.login;
    if (!login || r.state === 'COMMENTED' || r.state === 'PENDING') continue;
    latest.set(login, r.state);
  }
  return [...latest]
    .filter(([, s]) => s === 'APPROVED')
    .map(([u]) => u)
    .sort();
}

/**
 * What the database has applied: the pgmigrations table (read directly), or only the newest migration a
 * finished deploy carried there as the delivery ledger records it (a deploy that cannot reach the database).
 */
export type MigrationFacts =
  | { readonly known: true; readonly applied: readonly string[] }
  | { readonly known: true; readonly head: string | undefined; readonly source: string }
  | { readonly known: false; readonly reason: string };

/** Migration names as node-pg-migrate records them: the file name without its extension. */
export function migrationNames(files: readonly string[]): string[] {
  return files
    .filter((f) => !f.startsWith('.') && /\.(sql|js|cjs|mjs|ts)$/.test(f) && !f.endsWith('.d.ts'))
    .map((f) => f.replace(/\.[^.]+$/, ''))
    .sort();
}

export function migrationsItem(files: readonly string[], facts: MigrationFacts): ChecklistItem {
  const base = { name: 'migrations prepared', required: true };
  const names = migrationNames(files);
  if (!facts.known) return { ...base, status: 'inconclusive', detail: facts.reason };
  if ('head' in facts) return migrationsFromHead(names, facts.head, facts.source);
  const known = new Set(names);
  const unknown = facts.applied.filter((a) => !known.has(a));
  if (unknown.length > 0) {
    return {
      ...base,
      status: 'failed',
      detail: `the database has migrations this version does not know (a newer version ran?): ${unknown.join(', ')}`,
    };
  }
  const applied = new Set(facts.applied);
  const pending = names.filter((n) => !applied.has(n));
  const last = facts.applied.at(-1);
  const outOfOrder = last === undefined ? [] : pending.filter((p) => p < last);
  if (outOfOrder.length > 0)
    return {
      ...base,
      status: 'failed',
      detail: `pending migrations sort before the last applied one (${last}): ${outOfOrder.join(', ')}`,
    };
  return {
    ...base,
    status: 'passed',
    detail:
      pending.length === 0
        ? `up to date (${facts.applied.length} applied)`
        : `${pending.length} pending, will run on deploy: ${pending.join(', ')}`,
  };
}

/**
 * From the schema head alone: a head this version does not know means a newer release migrated; the rest are
 * pending. Whether a pending one sorts before an applied one is the migrations check's (its rule "history").
 */
function migrationsFromHead(names: readonly string[], head: string | undefined, source: string): ChecklistItem {
  const base = { name: 'migrations prepared', required: true };
  if (head !== undefined && !names.includes(head))
    return {
      ...base,
      status: 'failed',
      detail: `the database is at ${head} (${source}), which this version does not know (a newer version ran?)`,
    };
  const pending = names.filter((n) => head === undefined || n > head);
  const at = head === undefined ? `no migration recorded (${source})` : `at ${head} (${source})`;
  return {
    ...base,
    status: 'passed',
    detail:
      pending.length === 0
        ? `up to date: ${at}`
        : `${at}; ${pending.length} pending, will run on deploy: ${pending.join(', ')}`,
  };
}

/** Names only: values are never read into the item. */
export function presenceItem(
  name: string,
  wanted: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ChecklistItem {
  const missing = wanted.filter((n) => env[n] === undefined || env[n] === '');
  return missing.length === 0
    ? { name, required: true, status: 'passed', detail: `${wanted.length} present: ${wanted.join(', ')}` }
    : { name, required: true, status: 'failed', detail: `missing: ${missing.join(', ')}` };
}

/** `strict` (prod): a check the scan skipped (an offline audit) counts as not done, so it fails. */
export function scanItem(report: unknown, path: string, opts: { strict?: boolean } = {}): ChecklistItem {
  const base = { name: 'scan passed', required: true };
  if (report === undefined)
    return { ...base, status: 'failed', detail: `no scan report at ${path}: run \`kgraph-ci scan\` first` };
  const r = report as { ok?: unknown; checks?: { name?: unknown; status?: unknown }[] };
  if (typeof r.ok !== 'boolean' || !Array.isArray(r.checks))
    return { ...base, status: 'failed', detail: `${path} is not a kgraph-ci scan report` };
  const failed = r.checks.filter((c) => c.status === 'failed').map((c) => String(c.name));
  const skipped = r.checks.filter((c) => c.status === 'skipped').map((c) => String(c.name));
  if (!r.ok || failed.length > 0)
    return { ...base, status: 'failed', detail: `failed: ${failed.join(', ') || 'see report'}` };
  if (opts.strict && skipped.length > 0)
    return {
      ...base,
      status: 'failed',
      detail: `skipped, which this environment does not accept: ${skipped.join(', ')}`,
    };
  return {
    ...base,
    status: 'passed',
    detail: `${r.checks.length} checks passed${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}`,
  };
}

export function checklistOk(items: readonly ChecklistItem[]): boolean {
  return items.every((i) => !i.required || i.status === 'passed');
}
