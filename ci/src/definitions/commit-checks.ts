/**
 * The GitHub check runs that prove something about the commit they ran on, and what each proves. A check run of a
 * workflow job is named by the job's display name (`name:` with matrix values filled in, else the job id). The
 * pre-deploy checklist reads these from GitHub when the deploying machine has no local results (CI); the workflow
 * tests check this table against .github/workflows both ways (every testing or scanning job is here, exactly).
 */
import type { StepName } from './steps.js';

/** The steps whose success "tests passed" means (the checklist's TEST_STEPS). */
export type ProvenTestStep = Extract<StepName, 'test' | 'integrationTest'>;

export interface CommitCheck {
  /** The check run's name on the commit. */
  readonly name: string;
  /** Where it comes from: the workflow file and the job id. */
  readonly workflow: string;
  readonly job: string;
  /** The test steps the job runs (`dagger call test` / `integration-test`). */
  readonly tests: readonly ProvenTestStep[];
  /**
   * Present when the job runs `dagger call image scan`. `auditMayBeSkipped`: it passes --allow-offline, so a
   * success may hide a skipped dependency audit, which an environment without skippedAuditAcceptable refuses.
   */
  readonly scan?: { readonly auditMayBeSkipped: boolean };
}

/** Only GitHub Actions' own check runs count: another app could name a check run the same. */
export const CHECKS_APP = 'github-actions';

const BOTH: readonly ProvenTestStep[] = ['test', 'integrationTest'];

export const COMMIT_CHECKS: readonly CommitCheck[] = [
  // Pull requests into develop and main (on the PR head) and pushes to develop.
  { name: 'checks (node 22)', workflow: 'ci.yml', job: 'checks', tests: BOTH },
  { name: 'checks (node 24)', workflow: 'ci.yml', job: 'checks', tests: BOTH },
  // Before each deploy, on the commit it deploys: ci.yml may still be running on it (or not run at all).
  { name: 'verify (dev)', workflow: 'deploy-dev.yml', job: 'verify', tests: BOTH, scan: { auditMayBeSkipped: false } },
  {
    name: 'verify (staging)',
    workflow: 'deploy-staging.yml',
    job: 'verify',
    tests: BOTH,
    scan: { auditMayBeSkipped: false },
  },
  { name: 'checks (hotfix)', workflow: 'hotfix.yml', job: 'checks', tests: BOTH, scan: { auditMayBeSkipped: false } },
  // The tag's commit: its tests ran on the release PR's head (same tree), its scan runs here.
  { name: 'scan (prod)', workflow: 'deploy-prod.yml', job: 'scan', tests: [], scan: { auditMayBeSkipped: false } },
];
