import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../src/definitions/errors.js';
import {
  formatVersion,
  isVersionTag,
  latestRelease,
  nextMinor,
  parseVersionTag,
} from '../../../src/deliver/release/semver.js';

describe('release tags', () => {
  it.each(['v1.2.3', 'v0.0.0', 'v10.20.30', 'v1.2.3-rc.1', 'v1.2.3-alpha-beta.7'])(
    '%s is a release tag and round-trips',
    (tag) => {
      expect(isVersionTag(tag)).toBe(true);
      expect(formatVersion(parseVersionTag(tag))).toBe(tag);
    },
  );

  it.each([
    '1.2.3',
    'v1.2',
    'v01.2.3',
    'v1.2.3+build.5',
    ' v1.2.3',
    'v1.2.3 ',
    'V1.2.3',
    'v1.2.3-',
    'v1.2.3-01',
    'vv1.2.3',
    'v1.2.3\n',
    'latest',
  ])('%j is refused', (tag) => {
    expect(isVersionTag(tag)).toBe(false);
    expect(() => parseVersionTag(tag)).toThrow(UsageError);
  });

  it('orders by semver precedence: numbers as numbers, prereleases ignored for the latest release', () => {
    expect(latestRelease(['v1.9.0', 'v1.10.0', 'v1.2.0', 'v2.0.0-rc.1', 'junk', 'v1.10.0-rc.10'])).toEqual({
      major: 1,
      minor: 10,
      patch: 0,
    });
    expect(latestRelease(['nope'])).toBeUndefined();
    expect(formatVersion(nextMinor(['v1.9.3', 'v1.10.0']))).toBe('v1.11.0');
    expect(formatVersion(nextMinor([]))).toBe('v0.1.0');
  });
});
