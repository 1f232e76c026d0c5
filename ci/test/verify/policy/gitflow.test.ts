import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UsageError } from '../../../src/definitions/errors.js';
import { isPass } from '../../../src/definitions/verdict.js';
import {
  ALLOWED_TARGETS,
  BRANCH_KINDS,
  checkPullRequest,
  checkTag,
  classifyBranch,
  parseReleaseTag,
  unsafeRefReason,
  type BranchKind,
} from '../../../src/verify/policy/gitflow.js';

const sample: Record<BranchKind, string> = {
  main: 'main',
  develop: 'develop',
  feature: 'feat/KG-42_graph-search',
  release: 'release/1.4.0',
  hotfix: 'hotfix/1.3.2',
  other: 'bugfix/typo',
};

// The expected policy, written out pair by pair (source → targets allowed).
const expected: Record<BranchKind, BranchKind[]> = {
  main: ['develop'],
  develop: [],
  feature: ['develop'],
  release: ['main'],
  hotfix: ['main', 'develop'],
  other: [],
};

describe('classifyBranch', () => {
  it.each([
    ['main', 'main'],
    ['develop', 'develop'],
    ['feat/KG-42_graph-search', 'feature'],
    ['feat/123_fix_login', 'feature'],
    ['release/1.4.0', 'release'],
    ['release/2.0.0-rc.1', 'release'],
    ['hotfix/1.3.2', 'hotfix'],
    ['feat/graph-search', 'other'],
    ['feat/KG-42_', 'other'],
    ['feat/KG-42_Graph', 'other'],
    ['release/1.4', 'other'],
    ['release/v1.4.0', 'other'],
    ['release/01.4.0', 'other'],
    ['feature/KG-1_x', 'other'],
    ['mainline', 'other'],
  ])('%s is %s', (name, kind) => {
    expect(classifyBranch(name).kind).toBe(kind);
  });
  it('extracts versions and task ids', () => {
    expect(classifyBranch('release/1.4.0')).toMatchObject({ version: '1.4.0' });
    expect(classifyBranch('feat/KG-42_graph-search')).toMatchObject({ taskId: 'KG-42' });
  });
});

describe('checkPullRequest over every pair of branch kinds', () => {
  const pairs = BRANCH_KINDS.flatMap((s) => BRANCH_KINDS.map((t) => [s, t] as const));
  it('covers all 36 pairs', () => expect(pairs).toHaveLength(36));
  it.each(pairs)('%s → %s', (source, target) => {
    const verdict = checkPullRequest(sample[source], sample[target]);
    expect(verdict.outcome).toBe(expected[source].includes(target) ? 'passed' : 'failed');
    expect(verdict.reasons).toHaveLength(1);
    expect(verdict.reasons[0]!.length).toBeGreaterThan(10);
    if (!isPass(verdict) && source !== target)
      expect(verdict.reasons[0]).toContain(`${source} → ${target} is not allowed`);
  });
  it('the exported table says the same', () => {
    expect(ALLOWED_TARGETS).toEqual(expected);
  });
  it('nothing but release and hotfix reaches main', () => {
    for (const kind of BRANCH_KINDS) {
      expect(isPass(checkPullRequest(sample[kind], 'main'))).toBe(kind === 'release' || kind === 'hotfix');
    }
  });
  it('explains the common mistakes', () => {
    expect(checkPullRequest('develop', 'main').reasons[0]).toMatch(/cut release\/<semver> from develop/);
    expect(checkPullRequest('feat/KG-1_x', 'main').reasons[0]).toMatch(/feature branches go to develop only/);
    expect(checkPullRequest('wip', 'develop').reasons[0]).toMatch(/expected feat\/<task-id>_<description>/);
  });
});

describe('unsafe names', () => {
  it.each([
    ['feat/KG-1_x;rm -rf /', /characters outside/],
    ['feat/$(whoami)', /characters outside/],
    ['feat/`id`', /characters outside/],
    ['feat/a b', /characters outside/],
    ['release/1.0.0\nmain', /characters outside/],
    ['../../etc/passwd', /\.\./],
    ['feat/KG-1_x/../../main', /\.\./],
    ['-n', /starts with "-"/],
    ['/main', /starts or ends with/],
    ['feat//x', /"\/\/"/],
    ['feat/.hidden', /starts with "\."/],
    ['x.lock', /\.lock/],
    ['refs/heads/main', /reserved/],
    ['HEAD', /reserved/],
    ['', /empty/],
    [`feat/KG-1_${'a'.repeat(200)}`, /characters long/],
  ])('rejects %j with a reason', (name, reason) => {
    expect(unsafeRefReason(name)).toMatch(reason);
    const verdict = checkPullRequest(name, 'develop');
    expect(verdict.outcome).toBe('failed');
    expect(verdict.reasons[0]).toMatch(/unsafe branch name/);
  });
  it('accepts only names built from the safe alphabet (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (name) => {
        if (unsafeRefReason(name) === undefined) {
          expect(name).toMatch(/^[A-Za-z0-9._/-]{1,100}$/);
          expect(name).not.toContain('..');
        }
      }),
    );
  });
});

describe('tags', () => {
  it.each(['v1.2.3', 'v0.1.0', 'v2.0.0-rc.1'])('%s is a release tag', (tag) => {
    expect(parseReleaseTag(tag).version).toBe(tag.slice(1));
    expect(checkTag(tag, { reachableFromMain: true })).toEqual({
      outcome: 'passed',
      reasons: [`${tag} is a valid release tag reachable from main`],
    });
  });
  it.each(['1.2.3', 'v1.2', 'v1.2.3.4', 'v01.2.3', 'v1.2.3+meta', 'version1', 'v1.2.3;ls', 'v../1.2.3', 'v1.2.3-01'])(
    '%s is rejected',
    (tag) => {
      expect(() => parseReleaseTag(tag)).toThrow(UsageError);
      expect(checkTag(tag, { reachableFromMain: true }).outcome).toBe('failed');
    },
  );
  it('fails closed when reachability is unknown or false', () => {
    expect(checkTag('v1.2.3', { reachableFromMain: false })).toEqual({
      outcome: 'failed',
      reasons: ['v1.2.3 points at a commit that is not reachable from main'],
    });
    // Not knowing is no pass, and no judged rejection either.
    const unknown = checkTag('v1.2.3', { reachableFromMain: undefined });
    expect(unknown.outcome).toBe('inconclusive');
    expect(isPass(unknown)).toBe(false);
    expect(unknown.reasons[0]).toMatch(/cannot tell/);
  });
  it('marks pre-releases', () => {
    expect(parseReleaseTag('v2.0.0-rc.1').prerelease).toBe(true);
    expect(parseReleaseTag('v2.0.0').prerelease).toBe(false);
  });
});
