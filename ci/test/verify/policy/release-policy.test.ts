import { describe, expect, it } from 'vitest';
import {
  baselineEnvironmentFor,
  ENVIRONMENT_NAMES,
  ENVIRONMENTS,
  IMAGE_REPOSITORY,
  type EnvironmentName,
} from '../../../src/definitions/environments.js';
import {
  decideEligibility,
  isFinalReleaseTag,
  isReleaseTag,
  parseImageRef,
  type EligibilityFacts,
  type LedgerEntry,
  type RuleVerdict,
} from '../../../src/definitions/release-policy.js';
import { isPass } from '../../../src/definitions/verdict.js';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const TREE = '1'.repeat(40);
const OTHER_TREE = '2'.repeat(40);
const NOW = Date.parse('2026-12-01T12:00:00Z');
const ago = (min: number) => new Date(NOW - min * 60_000).toISOString();

const stagingPass = (over: Partial<LedgerEntry> = {}): LedgerEntry => ({
  environment: 'staging',
  operation: 'deploy',
  digest: D1,
  commit: 'c'.repeat(40),
  tree: TREE,
  state: 'success',
  at: ago(60),
  gate: { outcome: 'passed' as const, reasons: [], baselineCompared: true },
  auditSkipped: false,
  ...over,
});

const ledger = (...entries: LedgerEntry[]): EligibilityFacts['ledger'] => ({ reachable: true, entries });
const prodFacts = (over: Partial<EligibilityFacts> = {}): EligibilityFacts => ({
  image: `${IMAGE_REPOSITORY}@${D1}`,
  release: { tag: 'v1.4.0', onMain: true },
  source: { commit: 'c'.repeat(40), tree: TREE },
  ledger: ledger(stagingPass()),
  now: NOW,
  ...over,
});

interface Case {
  readonly name: string;
  readonly env: EnvironmentName;
  readonly facts: EligibilityFacts;
  /** undefined = eligible; otherwise the rule that refuses first. */
  readonly refusedBy?: RuleVerdict['rule'];
  readonly detail?: RegExp;
}

const basic = (image: string, over: Partial<EligibilityFacts> = {}): EligibilityFacts => ({
  image,
  ledger: { reachable: false, reason: 'no token' },
  now: NOW,
  ...over,
});

const cases: Case[] = [
  // dev: any pinned tag or digest of our repository
  { name: 'dev takes a pinned tag', env: 'dev', facts: basic(`${IMAGE_REPOSITORY}:dev-abc123`) },
  { name: 'dev takes a digest', env: 'dev', facts: basic(`${IMAGE_REPOSITORY}@${D1}`) },
  { name: 'dev refuses latest', env: 'dev', facts: basic(`${IMAGE_REPOSITORY}:latest`), refusedBy: 'pinned-tag' },
  { name: 'dev refuses no tag', env: 'dev', facts: basic(IMAGE_REPOSITORY), refusedBy: 'pinned-tag' },
  {
    name: 'dev refuses another registry',
    env: 'dev',
    facts: basic('ghcr.io/evil/other:1.0.0'),
    refusedBy: 'repository',
    detail: /ghcr\.io\/evil\/other is not ghcr\.io\/kgraph-mcp\/kgraph-mcp/,
  },
  {
    name: 'dev refuses a look-alike repository',
    env: 'dev',
    facts: basic(`${IMAGE_REPOSITORY}-evil:1.0.0`),
    refusedBy: 'repository',
  },
  {
    name: 'dev refuses docker hub shorthand',
    env: 'dev',
    facts: basic('kgraph-mcp/kgraph-mcp:1.0.0'),
    refusedBy: 'repository',
  },
  { name: 'host case does not matter', env: 'dev', facts: basic(`GHCR.IO/kgraph-mcp/kgraph-mcp:1.0.0`) },
  // staging: by digest only
  { name: 'staging takes a digest', env: 'staging', facts: basic(`${IMAGE_REPOSITORY}:staging-abc@${D1}`) },
  {
    name: 'staging refuses a tag',
    env: 'staging',
    facts: basic(`${IMAGE_REPOSITORY}:staging-abc123`),
    refusedBy: 'digest',
  },
  {
    name: 'staging refuses a foreign digest',
    env: 'staging',
    facts: basic(`ghcr.io/evil/kgraph-mcp@${D1}`),
    refusedBy: 'repository',
  },
  {
    name: 'malformed reference refuses (CLI: exit 2)',
    env: 'staging',
    facts: basic(`${IMAGE_REPOSITORY}@sha256:abc`),
    refusedBy: 'reference',
    detail: /malformed digest/,
  },
  // prod: digest, release tag on main, promoted from staging for the same tree after the soak
  { name: 'prod takes the digest that passed staging for the same tree', env: 'prod', facts: prodFacts() },
  {
    name: 'prod refuses an image from any registry',
    env: 'prod',
    facts: prodFacts({ image: `ghcr.io/evil/other@${D1}` }),
    refusedBy: 'repository',
  },
  {
    name: 'prod refuses a staging tag',
    env: 'prod',
    facts: prodFacts({ image: `${IMAGE_REPOSITORY}:staging-abc123`, release: undefined }),
    refusedBy: 'digest',
  },
  {
    name: 'prod refuses a release tag without digest',
    env: 'prod',
    facts: prodFacts({ image: `${IMAGE_REPOSITORY}:v1.4.0` }),
    refusedBy: 'digest',
  },
  {
    name: 'prod refuses a digest with no release tag',
    env: 'prod',
    facts: prodFacts({ release: undefined }),
    refusedBy: 'release-tag',
  },
  {
    name: 'prod refuses a non-release version',
    env: 'prod',
    facts: prodFacts({ release: { tag: 'v1.4', onMain: true } }),
    refusedBy: 'release-tag',
  },
  {
    name: 'prod refuses a prerelease tag on main',
    env: 'prod',
    facts: prodFacts({ release: { tag: 'v1.4.0-rc.1', onMain: true } }),
    refusedBy: 'release-tag',
  },
  {
    name: 'prod refuses a prerelease with a build-like suffix',
    env: 'prod',
    facts: prodFacts({ release: { tag: 'v1.4.0-0', onMain: true } }),
    refusedBy: 'release-tag',
  },
  {
    name: 'prod refuses an image tagged otherwise than its version',
    env: 'prod',
    facts: prodFacts({ image: `${IMAGE_REPOSITORY}:v1.3.0@${D1}` }),
    refusedBy: 'release-tag',
  },
  {
    name: 'prod refuses a tag not on main',
    env: 'prod',
    facts: prodFacts({ release: { tag: 'v1.4.0', onMain: false } }),
    refusedBy: 'on-main',
  },
  {
    name: 'prod refuses when on-main is unknown',
    env: 'prod',
    facts: prodFacts({ release: { tag: 'v1.4.0' } }),
    refusedBy: 'on-main',
    detail: /fails closed/,
  },
  {
    name: 'prod refuses when the ledger is unreachable',
    env: 'prod',
    facts: prodFacts({ ledger: { reachable: false, reason: 'ECONNREFUSED' } }),
    refusedBy: 'ledger',
    detail: /ECONNREFUSED/,
  },
  {
    name: 'prod refuses a digest that never passed staging',
    env: 'prod',
    facts: prodFacts({ image: `${IMAGE_REPOSITORY}@${D2}` }),
    refusedBy: 'promotion',
    detail: /never passed staging/,
  },
  {
    name: 'prod refuses a digest that only passed dev',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ environment: 'dev' })) }),
    refusedBy: 'promotion',
  },
  {
    name: 'prod refuses a digest whose staging deploy failed',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ state: 'failure' })) }),
    refusedBy: 'promotion',
  },
  {
    name: 'prod refuses a digest still in progress in staging',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ state: 'in_progress' })) }),
    refusedBy: 'promotion',
  },
  {
    name: 'prod refuses a digest rolled back in staging after it passed',
    env: 'prod',
    facts: prodFacts({
      ledger: ledger(stagingPass(), { environment: 'staging', operation: 'rollback', state: 'success', at: ago(30) }),
    }),
    refusedBy: 'promotion',
    detail: /rolled back/,
  },
  {
    name: 'a rollback of a later digest does not count against ours',
    env: 'prod',
    facts: prodFacts({
      ledger: ledger(stagingPass(), stagingPass({ digest: D2, at: ago(40), tree: OTHER_TREE }), {
        environment: 'staging',
        operation: 'rollback',
        state: 'success',
        at: ago(30),
      }),
    }),
  },
  {
    name: 'prod refuses a hotfix tree that differs from what passed staging',
    env: 'prod',
    facts: prodFacts({ source: { tree: OTHER_TREE } }),
    refusedBy: 'promotion',
    detail: /built from tree 111111111111, but v1\.4\.0 is tree 222222222222/,
  },
  {
    name: 'prod refuses when the tag tree is unknown',
    env: 'prod',
    facts: prodFacts({ source: {} }),
    refusedBy: 'promotion',
    detail: /fails closed/,
  },
  {
    name: 'prod refuses a pass that has not soaked',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ at: ago(4) })) }),
    refusedBy: 'soak',
    detail: /4 min in staging, needs 10/,
  },
  {
    name: 'prod refuses a pass whose gate skipped the baseline',
    env: 'prod',
    facts: prodFacts({
      ledger: ledger(stagingPass({ gate: { outcome: 'passed', reasons: [], baselineCompared: false } })),
    }),
    refusedBy: 'baseline',
  },
  {
    name: 'prod refuses a pass deployed without its gate (--skip-gate)',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ gate: undefined })) }),
    refusedBy: 'gate',
    detail: /did not run/,
  },
  {
    name: 'prod refuses a pass whose gate verdict failed',
    env: 'prod',
    facts: prodFacts({
      ledger: ledger(stagingPass({ gate: { outcome: 'failed', reasons: [], baselineCompared: true } })),
    }),
    refusedBy: 'gate',
  },
  {
    name: 'an automatic rollback of a later failed digest does not count against ours (it went back to ours)',
    env: 'prod',
    facts: prodFacts({
      ledger: ledger(stagingPass(), stagingPass({ digest: D2, state: 'failure', at: ago(40) }), {
        environment: 'staging',
        operation: 'rollback',
        state: 'success',
        at: ago(39),
        undone: D2,
        digest: D1,
      }),
    }),
  },
  {
    name: 'an automatic rollback that undid our digest counts against it',
    env: 'prod',
    facts: prodFacts({
      ledger: ledger(stagingPass(), {
        environment: 'staging',
        operation: 'rollback',
        state: 'success',
        at: ago(30),
        undone: D1,
      }),
    }),
    refusedBy: 'promotion',
  },
  {
    name: 'prod refuses a pass whose audit was skipped',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ auditSkipped: true })) }),
    refusedBy: 'audit',
  },
  {
    name: 'prod refuses a pass whose audit is not recorded',
    env: 'prod',
    facts: prodFacts({ ledger: ledger(stagingPass({ auditSkipped: undefined })) }),
    refusedBy: 'audit',
  },
];

describe('decideEligibility (policy from ci/src/definitions/environments.ts)', () => {
  it.each(cases)('$name', ({ env, facts, refusedBy, detail }) => {
    const res = decideEligibility(env, ENVIRONMENTS[env].release, facts);
    expect(res.refusedBy?.rule).toBe(refusedBy);
    expect(isPass(res)).toBe(refusedBy === undefined);
    if (detail)
      expect((res.refusedBy ?? { reasons: res.rules.flatMap((r) => r.reasons) }).reasons.join(' ')).toMatch(detail);
    if (!refusedBy) expect(res.rules.every(isPass)).toBe(true);
  });

  it('the accepted prod decision names the staging pass it rests on and every rule', () => {
    const res = decideEligibility('prod', ENVIRONMENTS.prod.release, prodFacts());
    expect(res.rules.map((r) => r.rule)).toEqual([
      'repository',
      'digest',
      'release-tag',
      'on-main',
      'ledger',
      'promotion',
      'soak',
      'gate',
      'baseline',
      'audit',
      'compatibility',
    ]);
    expect(res.promotedFrom).toMatchObject({ environment: 'staging', digest: D1, tree: TREE });
  });

  it('every environment restricts the repository and pins the reference; only the data differs', () => {
    for (const e of ENVIRONMENT_NAMES) {
      const p = ENVIRONMENTS[e].release;
      expect(p.imageRepository).toBe(IMAGE_REPOSITORY);
      expect(p.reference.length).toBeGreaterThan(0);
      if (p.promotion) expect(ENVIRONMENT_NAMES).toContain(p.promotion.from);
    }
  });
});

describe('three outcomes, worst wins', () => {
  const decide = (facts: EligibilityFacts) => decideEligibility('prod', ENVIRONMENTS.prod.release, facts);
  const outcomeOf = (res: ReturnType<typeof decide>, rule: RuleVerdict['rule']) =>
    res.rules.find((r) => r.rule === rule)?.outcome;

  it('an eligible decision passes every rule', () => {
    const res = decide(prodFacts());
    expect(res.outcome).toBe('passed');
    expect(res.rules.every((r) => r.outcome === 'passed')).toBe(true);
    // On a pass the decision's reasons are what every rule rests on, each named.
    expect(res.reasons).toHaveLength(res.rules.length);
    expect(res.reasons.some((r) => /^soak: \d+ min in staging \(needs 10\)$/.test(r))).toBe(true);
  });

  it.each([
    ['on-main unknown', prodFacts({ release: { tag: 'v1.4.0' } }), 'on-main'],
    ['ledger unreachable', prodFacts({ ledger: { reachable: false, reason: 'down' } }), 'ledger'],
    ['source tree unknown', prodFacts({ source: {} }), 'promotion'],
    ['a SHA-256 tree id (SHA-1 only)', prodFacts({ source: { tree: 'f'.repeat(64) } }), 'promotion'],
    ['soak time unreadable', prodFacts({ ledger: ledger(stagingPass({ at: 'yesterday' })) }), 'soak'],
  ] as const)('a missing fact is "cannot tell", never a pass: %s', (_name, facts, rule) => {
    const res = decide(facts);
    expect(outcomeOf(res, rule)).toBe('inconclusive');
    expect(res.outcome).toBe('inconclusive');
    expect(isPass(res)).toBe(false);
  });

  it('a failure beats an earlier "cannot tell" (the first rule that did not pass is still named)', () => {
    const res = decide(prodFacts({ release: { tag: 'v1.4.0' }, ledger: ledger(stagingPass({ at: ago(1) })) }));
    expect(outcomeOf(res, 'on-main')).toBe('inconclusive');
    expect(outcomeOf(res, 'soak')).toBe('failed');
    expect(res.outcome).toBe('failed');
    expect(res.refusedBy?.rule).toBe('on-main');
    // The decision's reasons are those of every rule that did not pass, the cause first.
    expect(res.reasons[0]).toMatch(/^on-main: cannot tell whether v1\.4\.0 is on main/);
    expect(res.reasons.some((r) => r.startsWith('soak: '))).toBe(true);
    expect(res.reasons.some((r) => r.startsWith('ledger: '))).toBe(false);
  });

  it('a rollback is judged by its target, not by promotion or compatibility (the exception is the RULES table)', () => {
    const ranInProd = stagingPass({ environment: 'prod', at: ago(600) });
    const res = decide(prodFacts({ operation: 'rollback', ledger: ledger(ranInProd) }));
    expect(res.rules.map((r) => r.rule)).toEqual([
      'repository',
      'digest',
      'release-tag',
      'on-main',
      'ledger',
      'promotion',
    ]);
    expect(res.promotedFrom).toBeUndefined();
  });
});

describe('the release tag validator', () => {
  it.each([
    ['v1.2.3', true, true],
    ['v0.0.0', true, true],
    ['v1.2.3-rc.1', true, false],
    ['1.2.3', false, false],
    ['v01.2.3', false, false],
    ['v1.2', false, false],
    ['v1.2.3+build', false, false],
    ['v1.2.3\n', false, false],
    // Past 2^53 - 1 a part has no exact numeric value: semver cannot order it, so it is no version.
    ['v9007199254740991.0.0', true, true],
    ['v9007199254740992.0.0', false, false],
    ['v1.99999999999999999999.0', false, false],
    [`v1.2.3-${'a'.repeat(300)}`, false, false],
    [undefined, false, false],
  ])('%j: release %s, final %s', (tag, release, final) => {
    expect(isReleaseTag(tag)).toBe(release);
    expect(isFinalReleaseTag(tag)).toBe(final);
  });
});

describe('parseImageRef', () => {
  it.each([
    [`${IMAGE_REPOSITORY}:v1.2.3`, { repository: IMAGE_REPOSITORY, tag: 'v1.2.3' }],
    [`${IMAGE_REPOSITORY}@${D1}`, { repository: IMAGE_REPOSITORY, digest: D1 }],
    [`${IMAGE_REPOSITORY}:v1@${D1}`, { repository: IMAGE_REPOSITORY, tag: 'v1', digest: D1 }],
    ['localhost:5000/a/b:1', { repository: 'localhost:5000/a/b', tag: '1' }],
    ['busybox', { repository: 'busybox' }],
  ])('%s', (input, ref) => expect(parseImageRef(input)).toEqual({ ok: true, ref }));

  it.each([
    ['', /empty/],
    [`${IMAGE_REPOSITORY}@sha256:${'a'.repeat(63)}`, /malformed digest/],
    [`${IMAGE_REPOSITORY}@sha256:${'A'.repeat(64)}`, /malformed digest/],
    [`${IMAGE_REPOSITORY}@md5:${'a'.repeat(32)}`, /malformed digest/],
    [`${IMAGE_REPOSITORY}@`, /malformed digest/],
    [`${IMAGE_REPOSITORY}:bad tag`, /whitespace/],
    [`${IMAGE_REPOSITORY}:-x`, /malformed tag/],
    ['ghcr.io/Kgraph/App:1', /malformed repository path/],
    ['ghcr.io//x:1', /malformed repository path/],
    ['ghcr.io/x;rm -rf:1', /whitespace|malformed/],
    ['ghcr.io/x:1\n', /whitespace/],
    ['https://ghcr.io/kgraph-mcp/kgraph-mcp:v1', /looks like a URL/],
    ['bot:ghp_secret0123456789@ghcr.io/kgraph-mcp/kgraph-mcp:v1', /carries credentials \(not shown\)/],
  ])('refuses %j', (input, problem) => {
    const res = parseImageRef(input);
    expect(res.ok).toBe(false);
    if (!res.ok) expect(res.problem).toMatch(problem);
    if (!res.ok) expect(res.problem).not.toContain('ghp_secret');
  });
});

describe('rollback to a version', () => {
  const ranInProd = stagingPass({ environment: 'prod', at: ago(600) });
  it.each([
    ['takes a digest that ran in prod before', ledger(ranInProd), undefined],
    ['refuses a digest that never ran in prod (only staging)', ledger(stagingPass()), 'promotion'],
    ['refuses when the ledger is unreachable', { reachable: false as const, reason: 'down' }, 'ledger'],
  ])('%s', (_n, l, rule) => {
    const res = decideEligibility('prod', ENVIRONMENTS.prod.release, prodFacts({ operation: 'rollback', ledger: l }));
    expect(res.refusedBy?.rule).toBe(rule);
    expect(res.rules.map((r) => r.rule)).not.toContain('soak');
  });
});

describe('no rule outside environments.ts is an environment name', () => {
  it('ci/src and dagger/src never compare an environment name (rules come from the policy data)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { join, relative } = await import('node:path');
    const { REPO_ROOT } = await import('../../../src/platform/repo-root.js');
    const names = ENVIRONMENT_NAMES.join('|');
    const comparing = new RegExp(
      `[!=]==?\\s*['"\`](${names})['"\`]|['"\`](${names})['"\`]\\s*[!=]==?|case\\s+['"\`](${names})['"\`]|ENVIRONMENTS\\.(${names})\\b|Environment\\.(${names})\\b[^(]`,
    );
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
        d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
      );
    const found: string[] = [];
    for (const f of [...files(join(REPO_ROOT, 'ci/src')), ...files(join(REPO_ROOT, 'dagger/src'))]) {
      const rel = relative(REPO_ROOT, f);
      if (rel === 'ci/src/definitions/environments.ts' || rel.endsWith('.generated.ts')) continue;
      readFileSync(f, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          // Default values of Dagger arguments pick an environment to run in; they decide no rule.
          const argumentDefault =
            /^\s*(async )?\w+\(.*: Environment = Environment\.\w+/.test(line) ||
            /^\s*\w+\??: Environment = Environment\.\w+,?\s*$/.test(line);
          if (comparing.test(line) && !argumentDefault) found.push(`${rel}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });
});

describe('baselineEnvironmentFor', () => {
  it('staging gates compare against prod (prod promotes from staging and requires the baseline); nothing else does', () => {
    expect(baselineEnvironmentFor('staging')?.name).toBe('prod');
    expect(baselineEnvironmentFor('dev')).toBeUndefined();
    expect(baselineEnvironmentFor('prod')).toBeUndefined();
  });
});
