/**
 * The pre-deploy checklist's items as pure functions over plain facts. Each item is a verdict; a fact that
 * could not be established makes it inconclusive, and a required item lets the deploy go only when it passed,
 * so not knowing fails closed.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import { failed, inconclusive, isPass, passed, worstOutcome, type Verdict } from '../../definitions/verdict.js';
import { isSuccess } from '../../platform/outcome.js';
import { describeEntry, passedForCommit, type HistoryEntry } from '../runner/history.js';
import { holdsBack } from '../scan/check.js';

/** One item of the checklist: its verdict, and whether a deploy needs it to pass. */
export interface ChecklistItem extends Verdict {
  readonly name: string;
  readonly required: boolean;
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
    return { ...base, ...failed(`no run report at ${opts.path}: run \`kgraph-ci run all\` first`) };
  const r = report as RunReportLike;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.steps))
    return { ...base, ...failed(`${opts.path} is not a kgraph-ci run report`) };
  const status = (name: string) => r.steps!.find((s) => s.name === name)?.status;
  // A cached step passed on exactly these inputs (see ci/src/verify/runner/cache), so it counts as passed.
  const notPassed = TEST_STEPS.filter((t) => !isSuccess(status(t))).map(
    (t) => `${t} ${typeof status(t) === 'string' ? String(status(t)) : 'not run'}`,
  );
  if (notPassed.length > 0) return { ...base, ...failed(notPassed.join(', ')) };
  const others = r.steps.filter((s) => !isSuccess(s.status)).map((s) => `${String(s.name)} ${String(s.status)}`);
  if (others.length > 0) return { ...base, ...failed(`tests passed but: ${others.join(', ')}`) };
  if (opts.headCommit && typeof r.commit === 'string' && r.commit !== opts.headCommit) {
    return {
      ...base,
      ...failed(
        `the report is for ${r.commit.slice(0, 12)}, HEAD is ${opts.headCommit.slice(0, 12)}: run the tests again`,
      ),
    };
  }
  return {
    ...base,
    ...passed(`${TEST_STEPS.join(', ')} passed${typeof r.commit === 'string' ? ` at ${r.commit.slice(0, 12)}` : ''}`),
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
  return { ...base, ...(ok ? passed : failed)(parts.join('; ')) };
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
      ...inconclusive(
        `${facts.reason}${required ? ` (${env.name} needs ${env.release.approvals}: fails closed)` : ''}`,
      ),
    };
  const n = facts.approvals.length;
  const who = n > 0 ? ` (${facts.approvals.join(', ')})` : '';
  if (n >= env.release.approvals)
    return {
      ...base,
      ...passed(`PR #${facts.pullNumber}: ${n} approval(s)${who}, ${env.release.approvals} required`),
    };
  return {
    ...base,
    ...failed(`PR #${facts.pullNumber}: ${n} approval(s)${who}, ${env.release.approvals} required`),
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
  if (!facts.known) return { ...base, ...inconclusive(facts.reason) };
  if ('head' in facts) return migrationsFromHead(names, facts.head, facts.source);
  const known = new Set(names);
  const unknown = facts.applied.filter((a) => !known.has(a));
  if (unknown.length > 0) {
    return {
      ...base,
      ...failed(`the database has migrations this version does not know (a newer version ran?): ${unknown.join(', ')}`),
    };
  }
  const applied = new Set(facts.applied);
  const pending = names.filter((n) => !applied.has(n));
  const last = facts.applied.at(-1);
  const outOfOrder = last === undefined ? [] : pending.filter((p) => p < last);
  if (outOfOrder.length > 0)
    return {
      ...base,
      ...failed(`pending migrations sort before the last applied one (${last}): ${outOfOrder.join(', ')}`),
    };
  return {
    ...base,
    ...passed(
      pending.length === 0
        ? `up to date (${facts.applied.length} applied)`
        : `${pending.length} pending, will run on deploy: ${pending.join(', ')}`,
    ),
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
      ...failed(`the database is at ${head} (${source}), which this version does not know (a newer version ran?)`),
    };
  const pending = names.filter((n) => head === undefined || n > head);
  const at = head === undefined ? `no migration recorded (${source})` : `at ${head} (${source})`;
  return {
    ...base,
    ...passed(
      pending.length === 0
        ? `up to date: ${at}`
        : `${at}; ${pending.length} pending, will run on deploy: ${pending.join(', ')}`,
    ),
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
    ? { name, required: true, ...passed(`${wanted.length} present: ${wanted.join(', ')}`) }
    : { name, required: true, ...failed(`missing: ${missing.join(', ')}`) };
}

/** `strict` (prod): a check the scan skipped (an offline audit) counts as not done, so it fails. */
export function scanItem(report: unknown, path: string, opts: { strict?: boolean } = {}): ChecklistItem {
  const base = { name: 'scan passed', required: true };
  if (report === undefined) return { ...base, ...failed(`no scan report at ${path}: run \`kgraph-ci scan\` first`) };
  const r = report as { outcome?: unknown; checks?: { name?: unknown; outcome?: unknown }[] };
  if (typeof r.outcome !== 'string' || !Array.isArray(r.checks))
    return { ...base, ...failed(`${path} is not a kgraph-ci scan report`) };
  const failing = r.checks.filter(holdsBack).map((c) => String(c.name));
  const skipped = r.checks.filter((c) => c.outcome === 'skipped').map((c) => String(c.name));
  if (r.outcome !== 'passed' || failing.length > 0)
    return { ...base, ...failed(`failed: ${failing.join(', ') || 'see report'}`) };
  if (opts.strict && skipped.length > 0)
    return {
      ...base,
      ...failed(`skipped, which this environment does not accept: ${skipped.join(', ')}`),
    };
  return {
    ...base,
    ...passed(`${r.checks.length} checks passed${skipped.length ? ` (skipped: ${skipped.join(', ')})` : ''}`),
  };
}

/**
 * The checklist's verdict: the worst of its required items (an optional one never holds a deploy back; none
 * required, nothing holds it). Its reasons name each required item that did not pass, with its outcome.
 */
export function checklistVerdict(items: readonly ChecklistItem[]): Verdict {
  const required = items.filter((i) => i.required);
  const held = required.filter((i) => !isPass(i));
  if (held.length === 0) return passed(`${required.length} required item(s) passed`);
  return { outcome: worstOutcome(held.map((i) => i.outcome)), reasons: held.map((i) => `${i.name} (${i.outcome})`) };
}
