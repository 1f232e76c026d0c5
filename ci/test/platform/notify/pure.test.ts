import { describe, expect, it } from 'vitest';
import { ENVIRONMENTS } from '../../../src/definitions/environments.js';
import {
  facts,
  statusPageAction,
  type AnnouncedGate,
  type Announcement,
} from '../../../src/platform/notify/announcement.js';
import { redactor } from '../../../src/platform/notify/redact.js';
import { previousCommitIn } from '../../../src/platform/notify/sentry-releases.js';
import type { LedgerEntry } from '../../../src/definitions/release-policy.js';

const a = (over: Partial<Announcement>): Announcement => ({
  operation: 'deploy',
  stage: 'started',
  environment: 'prod',
  version: 'v1.0.0',
  links: { environment: 'https://x' },
  ...over,
});

describe('status page decisions', () => {
  it('only prod has a component: its deploy opens and closes a maintenance, its automatic rollback an incident', () => {
    expect(statusPageAction(ENVIRONMENTS.prod, a({}))?.kind).toBe('open-maintenance');
    expect(statusPageAction(ENVIRONMENTS.prod, a({ stage: 'failed' }))?.kind).toBe('close-maintenance');
    expect(statusPageAction(ENVIRONMENTS.prod, a({ stage: 'succeeded' }))?.kind).toBe('close-maintenance');
    expect(
      statusPageAction(ENVIRONMENTS.prod, a({ operation: 'rollback', automatic: true, stage: 'succeeded' }))?.kind,
    ).toBe('open-incident');
    // A rollback a person asked for is not an incident the page announces by itself.
    expect(statusPageAction(ENVIRONMENTS.prod, a({ operation: 'rollback', stage: 'succeeded' }))).toBeUndefined();
    for (const env of [ENVIRONMENTS.dev, ENVIRONMENTS.staging])
      for (const over of [
        {},
        { stage: 'failed' as const },
        { operation: 'rollback' as const, automatic: true, stage: 'failed' as const },
      ])
        expect(statusPageAction(env, a(over))).toBeUndefined();
  });
});

describe('the gate in the facts', () => {
  it("says the gate's outcome and its first reason, or that it gave no verdict", () => {
    const gate = (g?: AnnouncedGate) => facts(a(g ? { gate: g } : {})).find(([k]) => k === 'Latency gate')?.[1];
    expect(gate({ outcome: 'failed', reasons: ['search: p50 80ms >= 50ms', 'plan: p95'] })).toBe(
      'failed: search: p50 80ms >= 50ms',
    );
    expect(gate({ outcome: 'passed', reasons: [] })).toBe('passed');
    expect(gate({ outcome: 'skipped' })).toBe('skipped');
    expect(gate({ outcome: 'not run' })).toBe('not run');
    expect(gate()).toBeUndefined();
  });
});

describe('redactor', () => {
  it('masks configured values, URL credentials and Slack webhook paths; leaves short values alone', () => {
    const r = redactor(['s3cr3t-value', undefined, '1']);
    expect(r('token s3cr3t-value in https://u:pw@h.example/x and https://hooks.slack.com/services/T/B/C ok 1')).toBe(
      'token *** in https://***@h.example/x and https://hooks.slack.com/*** ok 1',
    );
  });
});

describe('previousCommitIn', () => {
  const e = (
    environment: string,
    commit: string,
    at: string,
    state: LedgerEntry['state'] = 'success',
  ): LedgerEntry => ({
    environment,
    operation: 'deploy',
    commit,
    state,
    at,
  });
  const entries = [
    e('prod', 'p1', '2026-01-01T00:00:00Z'),
    e('staging', 's1', '2026-01-02T00:00:00Z'),
    e('prod', 'p2', '2026-01-03T00:00:00Z', 'failure'),
    e('staging', 's2', '2026-01-04T00:00:00Z'),
  ];
  it('is the last release that went live in the same environment, not the last overall', () => {
    expect(previousCommitIn(entries, 'prod', 'new')).toBe('p1');
    expect(previousCommitIn(entries, 'staging', 'new')).toBe('s2');
    expect(previousCommitIn(entries, 'staging', 's2')).toBe('s1');
    expect(previousCommitIn(entries, 'dev', 'new')).toBeUndefined();
  });
});
