import { describe, expect, it } from 'vitest';
import {
  compatCheckOf,
  runningRelease as policyRunning,
  type LedgerEntry,
} from '../../../src/definitions/release-policy.js';
import { choosePrevious } from '../../../src/deliver/rollout/compat-previous.js';

const D1 = `sha256:${'1'.repeat(64)}`;
const D2 = `sha256:${'2'.repeat(64)}`;
const C1 = 'a'.repeat(40);
const C2 = 'b'.repeat(40);

const deploy = (at: string, digest: string, commit: string, version: string, state: LedgerEntry['state'] = 'success') =>
  ({ environment: 'prod', operation: 'deploy', digest, commit, version, state, at }) as LedgerEntry;

describe('choosePrevious: which release the N-1 check serves', () => {
  it('takes --previous as given, with its digest, without reading the ledger', () => {
    expect(
      choosePrevious('prod', { previous: 'v1.0.0', previousDigest: D1 }, { kind: 'unreadable', why: 'down' }),
    ).toEqual({
      kind: 'check',
      ref: 'v1.0.0',
      digest: D1,
      why: '--previous v1.0.0',
    });
  });

  it('without a ledger: the newest v* tag (no ref), saying why', () => {
    const c = choosePrevious('prod', {}, { kind: 'none', why: 'no GitHub ledger: GITHUB_TOKEN is not set' });
    expect(c).toEqual({ kind: 'check', why: 'the newest v* tag (no GitHub ledger: GITHUB_TOKEN is not set)' });
  });

  it('with a ledger: the release running there by commit, with its digest and version (not the newest tag)', () => {
    const entries = [
      deploy('2026-01-01T00:00:00Z', D1, C1, 'v1.0.0'),
      deploy('2026-01-02T00:00:00Z', D2, C2, 'v1.1.0', 'failure'),
    ];
    const c = choosePrevious('prod', {}, { kind: 'read', entries });
    expect(c).toMatchObject({ kind: 'check', ref: C1, digest: D1, version: 'v1.0.0' });
    expect(c.why).toContain('v1.0.0');
  });

  it('the record it leads to is the one the deploy rule looks up for that running release', () => {
    const entries = [deploy('2026-01-01T00:00:00Z', D1, C1, 'v1.0.0')];
    const c = choosePrevious('prod', {}, { kind: 'read', entries });
    if (c.kind !== 'check') throw new Error(c.why);
    // What checkCompatibility records as `previous` from this choice: the digest, the checked-out commit, the version.
    const recorded = { previous: { digest: c.digest!, commit: C1, version: c.version! }, candidate: { digest: D2 } };
    const running = policyRunning(entries, 'prod');
    if (running.kind !== 'known') throw new Error('expected a running release');
    const entry = {
      ...recorded,
      environment: 'prod',
      schemaHead: 'x',
      migrations: [],
      outcome: 'passed' as const,
      reasons: [],
      at: '2026-01-03T00:00:00Z',
    };
    expect(compatCheckOf([entry], running.release, { digest: D2 })).toBe(entry);
  });

  it('after a rollback to a digest: the release that shipped that digest', () => {
    const entries: LedgerEntry[] = [
      deploy('2026-01-01T00:00:00Z', D1, C1, 'v1.0.0'),
      deploy('2026-01-02T00:00:00Z', D2, C2, 'v1.1.0'),
      { environment: 'prod', operation: 'rollback', digest: D1, state: 'success', at: '2026-01-03T00:00:00Z' },
    ];
    expect(choosePrevious('prod', {}, { kind: 'read', entries })).toMatchObject({ kind: 'check', ref: C1, digest: D1 });
  });

  it('nothing ever ran there: nothing to check (the deploy rule passes without N-1)', () => {
    const entries = [deploy('2026-01-01T00:00:00Z', D1, C1, 'v1.0.0', 'failure')];
    expect(choosePrevious('prod', {}, { kind: 'read', entries }).kind).toBe('nothing');
    expect(choosePrevious('prod', {}, { kind: 'read', entries: [] }).kind).toBe('nothing');
  });

  it('refuses when the ledger cannot be read, or names no git ref for what runs, or contradicts --previous-digest', () => {
    expect(choosePrevious('prod', {}, { kind: 'unreadable', why: 'HTTP 502' })).toEqual({
      kind: 'refuse',
      why: 'cannot tell which release runs in prod: the ledger cannot be read (HTTP 502); give --previous REF',
    });
    const digestOnly: LedgerEntry[] = [
      { environment: 'prod', operation: 'deploy', digest: D1, state: 'success', at: '2026-01-01T00:00:00Z' },
    ];
    expect(choosePrevious('prod', {}, { kind: 'read', entries: digestOnly })).toMatchObject({
      kind: 'refuse',
      why: expect.stringContaining('without a commit or version tag'),
    });
    const entries = [deploy('2026-01-01T00:00:00Z', D1, C1, 'v1.0.0')];
    expect(choosePrevious('prod', { previousDigest: D2 }, { kind: 'read', entries })).toMatchObject({
      kind: 'refuse',
      why: expect.stringContaining(`is not the digest running in prod (${D1})`),
    });
  });
});
