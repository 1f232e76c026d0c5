/**
 * Everything a deploy or rollback touches outside itself, injected: kubectl, the checklist, the gate, the
 * smoke test, the ledger, where release facts come from, output, the clock. The CLI builds the real ones
 * (cli/delivery.ts); tests pass fakes.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { CommandRunner } from '../../platform/kube/runner.js';
import type { KubeObject } from '../../platform/kube/validate.js';
import type { Ledger } from '../../platform/ledger/github.js';
import type { Announcement } from '../../platform/notify/announcement.js';
import type { Verdict } from '../../definitions/verdict.js';
import type { ChecklistOutcome, GateOutcome, SmokeOutcome } from './execute.js';
import type { GateBaseline } from './plan.js';
import type { ReleaseSources } from './sources.js';

export interface ChecklistDeployment {
  readonly manifests: readonly KubeObject[];
  /** The commit the image was built from, when known: its tests and scan are what the checklist checks. */
  readonly commit?: string;
}

export interface DeliveryDeps {
  readonly runner: CommandRunner;
  /** `deployment`: a deploy's own facts (the manifests it applies); absent for the checklist on its own. */
  readonly checklist: (env: EnvironmentDefinition, deployment?: ChecklistDeployment) => Promise<ChecklistOutcome>;
  readonly gate: (env: EnvironmentDefinition, baseUrl: string, baseline?: GateBaseline) => Promise<GateOutcome>;
  /** `kgraph-ci migrations check --env` (a deploy phase); absent = the deploy refuses at that step. */
  readonly migrationsCheck?: (env: EnvironmentDefinition) => Promise<Verdict>;
  /** The migration names of the tree being deployed, oldest first; absent or failing = unknown. */
  readonly migrations?: () => Promise<readonly string[]>;
  readonly smoke: (baseUrl: string) => Promise<SmokeOutcome>;
  /** The delivery ledger on GitHub; absent when no token and repository are given. */
  readonly ledger?: Ledger;
  /** Why there is no GitHub ledger, for the policy's "ledger" rule. */
  readonly ledgerMissing?: string;
  /** Commit, tree and on-main facts (GitHub or local git); absent = unknown. */
  readonly sources?: ReleaseSources;
  /** Whether the scan report's dependency audit was skipped (undefined = no report). */
  readonly auditSkipped?: (commit?: string) => Promise<boolean | undefined>;
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly summary?: (markdown: string) => Promise<unknown>;
  /** Tells Slack, the status page and Sentry (notify/); must never throw or hold the operation up for long. */
  readonly announce?: (env: EnvironmentDefinition, a: Announcement) => Promise<unknown>;
  readonly now?: () => number;
  /** Where local ledger records go; relative paths are against cwd. */
  readonly recordsDir?: string;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}
