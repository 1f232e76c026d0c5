/**
 * What people are told about a deploy, a gate and a rollback, pure: the one Announcement each delivery
 * step produces, the Slack message it becomes, and what the status page does with it (a maintenance on
 * the environment's component while a deploy runs, an incident when a rollback was automatic). Only
 * environments with a `statusPage` component ever touch the status page.
 */
import type { EnvironmentDefinition } from '../../definitions/environments.js';
import type { Verdict } from '../../definitions/verdict.js';

/**
 * The latency gate as an announcement tells it: its verdict, or that there is none: the plan had no gate
 * (`skipped`) or the deploy stopped before it (`not run`). Neither is a verdict, so neither has reasons.
 */
export type AnnouncedGate = Verdict | { readonly outcome: 'skipped' | 'not run' };

export interface Announcement {
  readonly operation: 'deploy' | 'rollback';
  readonly stage: 'started' | 'succeeded' | 'failed';
  readonly environment: string;
  readonly version: string;
  readonly image?: string;
  readonly digest?: string;
  readonly commit?: string;
  readonly gate?: AnnouncedGate;
  /** A rollback kgraph-ci started by itself (a failed deploy, a watcher trigger), not by a person. */
  readonly automatic?: boolean;
  /** Why it failed or why it rolled back. */
  readonly reason?: string;
  readonly durationMs?: number;
  readonly links: { readonly environment: string; readonly run?: string };
}

const ICON = { started: ':rocket:', succeeded: ':white_check_mark:', failed: ':x:' } as const;

export function headline(a: Announcement): string {
  const what = a.operation === 'rollback' ? `${a.automatic ? 'automatic ' : ''}rollback` : 'deploy';
  const took = a.durationMs !== undefined ? ` in ${(a.durationMs / 60_000).toFixed(1)} min` : '';
  const verb = a.stage === 'started' ? 'started' : a.stage === 'succeeded' ? `succeeded${took}` : `FAILED${took}`;
  return `${what} of ${a.version} to ${a.environment} ${verb}`;
}

/** The facts every message carries, as label/value pairs (what Slack shows as fields, Statuspage as lines). */
export function facts(a: Announcement): [string, string][] {
  const rows: [string, string][] = [
    ['Version', a.version],
    ['Environment', a.environment],
  ];
  if (a.digest) rows.push(['Digest', a.digest]);
  if (a.commit) rows.push(['Commit', a.commit.slice(0, 12)]);
  if (a.gate) {
    const why = 'reasons' in a.gate && a.gate.reasons.length > 0 ? `: ${a.gate.reasons[0]}` : '';
    rows.push(['Latency gate', `${a.gate.outcome}${why}`]);
  }
  if (a.reason) rows.push(['Reason', a.reason]);
  return rows;
}

export interface SlackMessage {
  readonly text: string;
  readonly blocks: readonly object[];
}

export function slackMessage(a: Announcement): SlackMessage {
  const text = `${ICON[a.stage]} ${headline(a)}`;
  const links = [
    `<${a.links.environment}|${a.environment}>`,
    ...(a.links.run ? [`<${a.links.run}|pipeline run>`] : []),
  ];
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: `*${text}*` } },
      {
        type: 'section',
        fields: facts(a).map(([k, v]) => ({ type: 'mrkdwn', text: `*${k}*\n${v.slice(0, 500)}` })),
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: links.join(' · ') }] },
    ],
  };
}

export type StatusPageAction =
  | { readonly kind: 'open-maintenance'; readonly componentIdVariable: string }
  | { readonly kind: 'close-maintenance'; readonly componentIdVariable: string }
  | { readonly kind: 'open-incident'; readonly componentIdVariable: string };

/**
 * The status page's part in an announcement: a deploy opens a maintenance on the environment's component
 * and its end closes it whatever the outcome; an automatic rollback opens an incident. Environments without
 * a component (dev, staging) get nothing.
 */
export function statusPageAction(
  env: Pick<EnvironmentDefinition, 'statusPage'>,
  a: Announcement,
): StatusPageAction | undefined {
  const component = env.statusPage?.componentIdVariable;
  if (!component) return undefined;
  if (a.operation === 'deploy')
    return { kind: a.stage === 'started' ? 'open-maintenance' : 'close-maintenance', componentIdVariable: component };
  if (a.automatic && a.stage !== 'started') return { kind: 'open-incident', componentIdVariable: component };
  return undefined;
}

/** Statuspage's text for a maintenance or incident: no digest or commit (public page), the version and links. */
export function statusPageText(a: Announcement): { name: string; body: string } {
  if (a.operation === 'deploy')
    return {
      name: `Deploying ${a.version}`,
      body: `A new release (${a.version}) is being rolled out without downtime. No action is needed.`,
    };
  return {
    name: `Release ${a.version} rolled back`,
    body: `The release was rolled back automatically after a failed check. We are investigating.`,
  };
}
