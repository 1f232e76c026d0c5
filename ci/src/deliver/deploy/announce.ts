/**
 * The announcements a deploy or rollback makes (pure): when it starts, how it ended (with the gate's
 * verdict), and the automatic rollback a failed deploy ran. The notifier (notify/) sends them; nothing
 * here can fail or hold up the operation.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { LedgerPayload } from '../../platform/ledger/entry.js';
import type { Announcement } from '../../platform/notify/announcement.js';
import type { ExecutionResult, GateOutcome } from './execute.js';
import { isPass } from '../../definitions/verdict.js';
import type { Plan } from './plan.js';

/** The pipeline run's page, when running on GitHub Actions. */
export function runLink(env: NodeJS.ProcessEnv): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repo, GITHUB_RUN_ID: run } = env;
  return server && repo && run ? `${server}/${repo}/actions/runs/${run}` : undefined;
}

export interface AnnouncementContext {
  readonly plan: Plan;
  readonly env: EnvironmentDefinition;
  readonly payload: LedgerPayload;
  readonly processEnv: NodeJS.ProcessEnv;
  /** Why an automatic rollback runs (the watcher's trigger); absent = a person asked for it. */
  readonly trigger?: string;
}

function gateVerdict(plan: Plan, gate: GateOutcome | undefined): Announcement['gate'] {
  if (plan.operation !== 'deploy') return undefined;
  if (!plan.steps.some((s) => s.kind === 'gate')) return { outcome: 'skipped' };
  if (!gate) return { outcome: 'not run' };
  return { outcome: isPass(gate) ? 'passed' : 'failed', reasons: gate.reasons.slice(0, 3) };
}

export function startAnnouncement(c: AnnouncementContext): Announcement {
  const run = runLink(c.processEnv);
  return {
    operation: c.plan.operation,
    stage: 'started',
    environment: c.env.name,
    version: c.plan.version,
    ...(c.plan.image ? { image: c.plan.image } : {}),
    ...(c.payload.digest ? { digest: c.payload.digest } : {}),
    ...(c.payload.commit ? { commit: c.payload.commit } : {}),
    ...(c.trigger ? { automatic: true, reason: c.trigger } : {}),
    links: { environment: c.env.url, ...(run ? { run } : {}) },
  };
}

/** How it ended, and, when a failed deploy rolled itself back, that automatic rollback. */
export function endAnnouncements(
  c: AnnouncementContext,
  result: ExecutionResult,
  gate: GateOutcome | undefined,
  durationMs: number,
): Announcement[] {
  const start = startAnnouncement(c);
  const g = gateVerdict(c.plan, gate);
  const end: Announcement = {
    ...start,
    stage: isPass(result) ? 'succeeded' : 'failed',
    durationMs,
    ...(g ? { gate: g } : {}),
    ...(isPass(result) ? {} : { reason: `${result.failedStep}: ${result.reasons.join('; ') || 'failed'}` }),
  };
  if (!result.rollback) return [end];
  const back: Announcement = {
    operation: 'rollback',
    stage: isPass(result.rollback) ? 'succeeded' : 'failed',
    automatic: true,
    environment: c.env.name,
    version: 'previous',
    reason: `${c.plan.operation} of ${c.plan.version} failed at ${result.failedStep}`,
    links: start.links,
  };
  return [end, back];
}
