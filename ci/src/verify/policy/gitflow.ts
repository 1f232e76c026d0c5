/**
 * Git-flow policy as pure functions: which branch may open a pull request into which, and which tags
 * may be released. Nothing here runs git; the reachability of a tag is a fact passed in (see git.ts).
 *
 *   feat/<task-id>_<description>  → develop only
 *   release/<semver>              → main (cut from develop)
 *   hotfix/<semver>               → main and develop
 *   main                          → develop (back-merge after a release or hotfix)
 *   anything else                 → nowhere; nothing else reaches main
 *   v<semver> tags                → only on commits reachable from main
 */
import semver from 'semver';
import { UsageError } from '../../definitions/errors.js';
import { isReleaseTag } from '../../definitions/release-policy.js';
import { failed, inconclusive, passed, type Verdict } from '../../definitions/verdict.js';

export const BRANCH_KINDS = ['main', 'develop', 'feature', 'release', 'hotfix', 'other'] as const;
export type BranchKind = (typeof BRANCH_KINDS)[number];

export interface Branch {
  readonly name: string;
  readonly kind: BranchKind;
  /** release/hotfix: the version; feature: the task id. */
  readonly version?: string;
  readonly taskId?: string;
}

const MAX_REF_LENGTH = 100;
/** Task ids look like `KG-123` or `123`; descriptions are lower-case words joined by - or _. */
const FEATURE_RE = /^feat\/([A-Za-z][A-Za-z0-9]*-\d+|\d+)_([a-z0-9]+(?:[-_][a-z0-9]+)*)$/;
const VERSIONED_RE = /^(release|hotfix)\/(.+)$/;
// Only these characters can reach a shell, a URL or a git ref without quoting.
const SAFE_CHARS_RE = /^[A-Za-z0-9._/-]+$/;

/**
 * Why a ref name is unsafe to pass on (to git, a shell, a URL), or undefined when it is safe.
 * Stricter than git-check-ref-format: only [A-Za-z0-9._/-], no path tricks, bounded length.
 */
export function unsafeRefReason(name: string): string | undefined {
  if (name.length === 0) return 'name is empty';
  if (name.length > MAX_REF_LENGTH) return `name is ${name.length} characters long (at most ${MAX_REF_LENGTH})`;
  if (!SAFE_CHARS_RE.test(name)) {
    const bad = [...new Set([...name].filter((c) => !/[A-Za-z0-9._/-]/.test(c)))]
      .map((c) => JSON.stringify(c))
      .join(' ');
    return `name contains characters outside [A-Za-z0-9._/-]: ${bad}`;
  }
  if (name.startsWith('-')) return 'name starts with "-" (would be read as an option)';
  if (name.startsWith('/') || name.endsWith('/')) return 'name starts or ends with "/"';
  if (name.includes('//')) return 'name contains "//"';
  if (name.includes('..')) return 'name contains ".." (path traversal / git range)';
  if (name.split('/').some((part) => part.startsWith('.') || part.endsWith('.lock'))) {
    return 'a path component starts with "." or ends with ".lock"';
  }
  if (name.endsWith('.')) return 'name ends with "."';
  if (name === 'HEAD' || name.startsWith('refs/')) return 'name is a git-reserved ref';
  return undefined;
}

/** A strict X.Y.Z semantic version (optional pre-release), no leading "v": a release tag without its v. */
const isStrictSemver = (version: string): boolean => isReleaseTag(`v${version}`);

/** Classifies a branch name. Throws a UsageError (a name someone typed) with the reason when the name is unsafe. */
export function classifyBranch(name: string): Branch {
  const unsafe = unsafeRefReason(name);
  if (unsafe) throw new UsageError(`unsafe branch name ${JSON.stringify(name)}: ${unsafe}`);
  if (name === 'main') return { name, kind: 'main' };
  if (name === 'develop') return { name, kind: 'develop' };
  const feat = FEATURE_RE.exec(name);
  if (feat) return { name, kind: 'feature', taskId: feat[1]! };
  const versioned = VERSIONED_RE.exec(name);
  if (versioned && isStrictSemver(versioned[2]!)) {
    return { name, kind: versioned[1] as 'release' | 'hotfix', version: versioned[2]! };
  }
  return { name, kind: 'other' };
}

const EXPECTED_NAMES = 'feat/<task-id>_<description>, release/<semver>, hotfix/<semver>, develop or main';

/** Which kinds of branch may open a pull request into which. The whole policy in one table. */
export const ALLOWED_TARGETS: Readonly<Record<BranchKind, readonly BranchKind[]>> = {
  feature: ['develop'],
  release: ['main'],
  hotfix: ['main', 'develop'],
  main: ['develop'],
  develop: [],
  other: [],
};

function why(source: Branch, target: Branch): string {
  switch (source.kind) {
    case 'feature':
      return 'feature branches go to develop only';
    case 'release':
      return 'release branches go to main only (main is merged back into develop afterwards)';
    case 'hotfix':
      return 'hotfix branches go to main and develop only';
    case 'main':
      return 'main is only merged back into develop';
    case 'develop':
      return target.kind === 'main'
        ? 'develop never goes to main directly: cut release/<semver> from develop'
        : 'develop is the integration branch; it is not merged into other branches';
    case 'other':
      return `"${source.name}" is not a git-flow branch: expected ${EXPECTED_NAMES}`;
  }
}

/** May a pull request from `sourceName` be merged into `targetName`? Unsafe names fail with the reason. */
export function checkPullRequest(sourceName: string, targetName: string): Verdict {
  let source: Branch;
  let target: Branch;
  try {
    source = classifyBranch(sourceName);
    target = classifyBranch(targetName);
  } catch (err) {
    return failed((err as Error).message);
  }
  if (source.name === target.name) return failed('source and target are the same branch');
  if (ALLOWED_TARGETS[source.kind].includes(target.kind)) {
    return passed(`${source.kind} → ${target.kind} is allowed`);
  }
  return failed(`${source.kind} → ${target.kind} is not allowed: ${why(source, target)}`);
}

export interface ParsedTag {
  readonly tag: string;
  readonly version: string;
  readonly prerelease: boolean;
}

/** Parses a release tag `v<semver>`; throws a UsageError with the reason when it is not one. */
export function parseReleaseTag(tag: string): ParsedTag {
  const unsafe = unsafeRefReason(tag);
  if (unsafe) throw new UsageError(`unsafe tag name ${JSON.stringify(tag)}: ${unsafe}`);
  if (!isReleaseTag(tag)) {
    throw new UsageError(`tag "${tag}" is not v<semver> (for example v1.2.3 or v1.3.0-rc.1)`);
  }
  const version = tag.slice(1);
  return { tag, version, prerelease: semver.prerelease(version) !== null };
}

/** A tag may be released when it is v<semver> and its commit is reachable from main. */
export function checkTag(tag: string, facts: { readonly reachableFromMain: boolean | undefined }): Verdict {
  try {
    parseReleaseTag(tag);
  } catch (err) {
    return failed((err as Error).message);
  }
  // Not knowing is never a pass (fail closed), but it is not a judged rejection either.
  if (facts.reachableFromMain === undefined)
    return inconclusive(`cannot tell whether ${tag} is reachable from main (tag or main not found)`);
  if (!facts.reachableFromMain) return failed(`${tag} points at a commit that is not reachable from main`);
  return passed(`${tag} is a valid release tag reachable from main`);
}
