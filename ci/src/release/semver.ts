/** Release tags are vMAJOR.MINOR.PATCH (optionally -prerelease); nothing else deploys to prod. */
import { UsageError } from '../errors.js';

export interface Version {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease?: string;
}

const NUM = '(0|[1-9]\\d*)';
const TAG = new RegExp(`^v${NUM}\\.${NUM}\\.${NUM}(?:-([0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*))?$`);

/** Parses vX.Y.Z[-pre]; a UsageError names the tag and the expected shape. */
export function parseVersionTag(tag: string): Version {
  const m = TAG.exec(tag);
  if (!m) throw new UsageError(`"${tag}" is not a release tag: expected vMAJOR.MINOR.PATCH, e.g. v1.2.3`);
  const v: Version = { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]) };
  return m[4] ? { ...v, prerelease: m[4] } : v;
}

export const isVersionTag = (tag: string): boolean => TAG.test(tag);

export const formatVersion = (v: Version): string => `v${v.major}.${v.minor}.${v.patch}${v.prerelease ? `-${v.prerelease}` : ''}`;

/** Release ordering; a prerelease sorts before its release, prereleases compare as strings. */
export function compareVersions(a: Version, b: Version): number {
  if (a.major !== b.major) return a.major - b.major;
  if (a.minor !== b.minor) return a.minor - b.minor;
  if (a.patch !== b.patch) return a.patch - b.patch;
  if (a.prerelease === b.prerelease) return 0;
  if (!a.prerelease) return 1;
  if (!b.prerelease) return -1;
  return a.prerelease < b.prerelease ? -1 : 1;
}

/** The highest non-prerelease tag among `tags` (others ignored), or undefined. */
export function latestRelease(tags: readonly string[]): Version | undefined {
  let best: Version | undefined;
  for (const t of tags) {
    if (!isVersionTag(t)) continue;
    const v = parseVersionTag(t);
    if (v.prerelease) continue;
    if (!best || compareVersions(v, best) > 0) best = v;
  }
  return best;
}

/** The next minor release after the latest tag; v0.1.0 when there is none. */
export function nextMinor(tags: readonly string[]): Version {
  const latest = latestRelease(tags);
  return latest ? { major: latest.major, minor: latest.minor + 1, patch: 0 } : { major: 0, minor: 1, patch: 0 };
}
