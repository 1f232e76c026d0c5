/**
 * Release tags are vMAJOR.MINOR.PATCH (optionally -prerelease); nothing else deploys to prod. Parsing and
 * ordering are the `semver` package's (the npm implementation of semver.org); this module only adds the
 * v prefix and refuses build metadata, which a tag must not carry.
 */
import semver from 'semver';
import { UsageError } from '../../definitions/errors.js';
import { isReleaseTag } from '../../definitions/release-policy.js';

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease?: string;
}

function parse(tag: string): Version | undefined {
  // The one release-tag validator decides what is a tag; semver only reads its parts.
  if (!isReleaseTag(tag)) return undefined;
  const v = semver.parse(tag.slice(1), { loose: false });
  if (!v) return undefined;
  const base = { major: v.major, minor: v.minor, patch: v.patch };
  return v.prerelease.length > 0 ? { ...base, prerelease: v.prerelease.join('.') } : base;
}

/** Parses vX.Y.Z[-pre]; a UsageError names the tag and the expected shape. */
export function parseVersionTag(tag: string): Version {
  const v = parse(tag);
  if (!v) throw new UsageError(`"${tag}" is not a release tag: expected vMAJOR.MINOR.PATCH, e.g. v1.2.3`);
  return v;
}

export const isVersionTag = (tag: string): boolean => parse(tag) !== undefined;

export const formatVersion = (v: Version): string =>
  `v${v.major}.${v.minor}.${v.patch}${v.prerelease ? `-${v.prerelease}` : ''}`;

/** semver precedence (a prerelease sorts before its release; numeric identifiers compare as numbers). */
const compareVersions = (a: Version, b: Version): number =>
  semver.compare(formatVersion(a).slice(1), formatVersion(b).slice(1));

/** The highest non-prerelease tag among `tags` (others ignored), or undefined. */
export function latestRelease(tags: readonly string[]): Version | undefined {
  const releases = tags.map(parse).filter((v): v is Version => v !== undefined && !v.prerelease);
  return releases.sort(compareVersions).at(-1);
}

/** The next minor release after the latest tag; v0.1.0 when there is none. */
export function nextMinor(tags: readonly string[]): Version {
  const latest = latestRelease(tags);
  return latest ? { major: latest.major, minor: latest.minor + 1, patch: 0 } : { major: 0, minor: 1, patch: 0 };
}
