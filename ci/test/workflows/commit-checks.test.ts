/**
 * ci/src/definitions/commit-checks.ts against .github/workflows, both ways: every job whose dagger calls run
 * test, integration-test or image scan is in the table with exactly what it proves (one row per check run name,
 * matrix expanded), every row is such a job, and every deploy waits for the checks its checklist will read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMIT_CHECKS, type CommitCheck, type ProvenTestStep } from '../../src/definitions/commit-checks.js';
import { ENVIRONMENTS, type EnvironmentName } from '../../src/definitions/environments.js';
import { STEPS } from '../../src/definitions/steps.js';
import { REPO_ROOT } from '../../src/platform/repo-root.js';

interface Job {
  name?: string;
  needs?: string | string[];
  permissions?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown[]> };
  steps?: { uses?: string; with?: { call?: string } }[];
}
interface Workflow {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  on: Record<string, any>;
  jobs: Record<string, Job>;
}
const dir = join(REPO_ROOT, '.github/workflows');
const workflows = readdirSync(dir)
  .filter((f) => f.endsWith('.yml'))
  .map((f) => ({ file: f, wf: parse(readFileSync(join(dir, f), 'utf8')) as Workflow }));

/** The check run names a job produces: its name with each matrix value filled in, else its id. */
function checkRunNames(id: string, job: Job): string[] {
  if (!job.name) {
    if (job.strategy?.matrix)
      throw new Error(`${id}: a matrix job needs a name: that says how its check runs are named`);
    return [id];
  }
  let names = [job.name];
  for (const [key, values] of Object.entries(job.strategy?.matrix ?? {})) {
    const expr = `\\$\\{\\{\\s*matrix\\.${key}\\s*\\}\\}`;
    names = names.flatMap((n) =>
      new RegExp(expr).test(n) ? values.map((v) => n.replace(new RegExp(expr, 'g'), String(v))) : [n],
    );
  }
  expect(names.join(' '), `${id}: every \${{ }} in its name is a matrix value`).not.toContain('${{');
  return names;
}

/** `[--module-arg=x] fn [sub] --flag...` -> `fn [sub]`. */
function functionOf(call: string): string {
  const words = call
    .replace(/\$\{\{[^}]*\}\}/g, 'EXPR')
    .trim()
    .split(/\s+/);
  const fn: string[] = [];
  for (const w of words.slice(words.findIndex((x) => !x.startsWith('--')))) {
    if (w.startsWith('--')) break;
    fn.push(w);
  }
  return fn.join(' ');
}

const calls = (job: Job) =>
  (job.steps ?? []).flatMap((s) => (s.uses?.startsWith('dagger/') && s.with?.call ? [s.with.call] : []));
const TEST_FUNCTIONS: Record<string, ProvenTestStep> = {
  [STEPS.test.cliName]: 'test',
  [STEPS.integrationTest.cliName]: 'integrationTest',
};

/** What a job proves, one row per check run name, read from its calls; [] when it proves nothing. */
function provenBy(file: string, id: string, job: Job): CommitCheck[] {
  const fns = calls(job).map((c) => ({ call: c, fn: functionOf(c) }));
  const tests = fns.flatMap((f) => (TEST_FUNCTIONS[f.fn] ? [TEST_FUNCTIONS[f.fn]!] : []));
  const scans = fns.filter((f) => f.fn === 'image scan');
  if (tests.length === 0 && scans.length === 0) return [];
  const scan = scans.length
    ? { auditMayBeSkipped: scans.some((s) => /--allow-offline(=true)?(\s|$)/.test(s.call)) }
    : undefined;
  return checkRunNames(id, job).map((name) => ({ name, workflow: file, job: id, tests, ...(scan ? { scan } : {}) }));
}

const normal = (c: CommitCheck) => ({ ...c, tests: [...c.tests].sort() });
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);
const needsOf = (job: Job) => (job.needs === undefined ? [] : typeof job.needs === 'string' ? [job.needs] : job.needs);
function closure(wf: Workflow, id: string): string[] {
  const out = new Set<string>();
  const walk = (j: string) => needsOf(wf.jobs[j]!).forEach((n) => (out.has(n) ? undefined : (out.add(n), walk(n))));
  walk(id);
  return [...out];
}

describe('commit checks table', () => {
  it('reads calls the way dagger does', () => {
    expect(functionOf('--node-version=${{ matrix.node }} integration-test')).toBe('integration-test');
    expect(functionOf('image scan --environment=prod --severity=HIGH')).toBe('image scan');
    expect(functionOf('test')).toBe('test');
    expect(
      checkRunNames('checks', {
        name: 'checks (node ${{ matrix.node }})',
        strategy: { matrix: { node: ['22', '24'] } },
      }),
    ).toEqual(['checks (node 22)', 'checks (node 24)']);
  });

  it('is exactly the jobs that run test, integration-test or image scan, with what each proves', () => {
    const found = workflows.flatMap(({ file, wf }) =>
      Object.entries(wf.jobs).flatMap(([id, job]) => provenBy(file, id, job)),
    );
    expect(found.map(normal).sort(byName)).toEqual(COMMIT_CHECKS.map(normal).sort(byName));
  });

  it('names each check run once across all workflows: no other job can stand in for a row', () => {
    const all = workflows.flatMap(({ file, wf }) =>
      Object.entries(wf.jobs).flatMap(([id, job]) =>
        checkRunNames(id, job).map((name) => ({ name, where: `${file} ${id}` })),
      ),
    );
    for (const row of COMMIT_CHECKS)
      expect(
        all.filter((j) => j.name === row.name).map((j) => j.where),
        row.name,
      ).toEqual([`${row.workflow} ${row.job}`]);
  });

  it('every deploy needs the jobs whose check runs its checklist reads, and may read them', () => {
    let deploys = 0;
    for (const { file, wf } of workflows) {
      for (const [id, job] of Object.entries(wf.jobs)) {
        const deploy = calls(job).find((c) => c.startsWith('delivery deploy '));
        if (!deploy) continue;
        deploys++;
        const env = /--environment=(\S+)/.exec(deploy)![1] as EnvironmentName;
        const before = closure(wf, id).flatMap((n) => COMMIT_CHECKS.filter((c) => c.workflow === file && c.job === n));
        const strict = !ENVIRONMENTS[env].release.skippedAuditAcceptable;
        expect(
          before.some((c) => c.scan && !(strict && c.scan.auditMayBeSkipped)),
          `${file} ${id}: needs a job that scans the commit for ${env}`,
        ).toBe(true);
        // A tag's commit is a merge on main: its tests ran on the pull request's head (the same tree).
        if (!wf.on.push?.tags)
          expect(
            before.some((c) => c.tests.includes('test') && c.tests.includes('integrationTest')),
            `${file} ${id}: needs a job that tests the commit`,
          ).toBe(true);
        expect(job.permissions, `${file} ${id}`).toMatchObject({ checks: 'read', 'pull-requests': 'read' });
      }
    }
    expect(deploys).toBe(5); // deploy-dev, deploy-staging, hotfix, deploy-prod's stage and deploy
  });
});
