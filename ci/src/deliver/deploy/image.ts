/** Where released images live and how a version becomes an image reference. */
import { UsageError } from '../../definitions/errors.js';
import { imageProblem } from '../../platform/kube/validate.js';
import { parseVersionTag } from '../release/semver.js';

import { IMAGE_REPOSITORY } from '../../definitions/environments.js';

export { IMAGE_REPOSITORY };

/** The image `publish` pushed for a release tag: the repository with the tag as-is (v1.2.3). */
export function imageForVersion(version: string, repository: string = IMAGE_REPOSITORY): string {
  parseVersionTag(version);
  return `${repository}:${version}`;
}

/** A usable image reference: pinned by tag (not latest) or digest, no whitespace. */
export function checkImageRef(ref: string): string {
  if (!ref || /\s/.test(ref)) throw new UsageError(`--image "${ref}" is not an image reference`);
  const problem = imageProblem(ref);
  if (problem) throw new UsageError(`--image: ${problem}; deploy a pinned tag or digest`);
  return ref;
}

/** The tag (or digest) part of an image reference, used as the version of a deploy built from --image. */
export function versionOfImage(ref: string): string {
  const at = ref.indexOf('@');
  if (at >= 0) return ref.slice(at + 1);
  const last = ref.slice(ref.lastIndexOf('/') + 1);
  return last.includes(':') ? last.slice(last.indexOf(':') + 1) : last;
}
