/** owner/name of a GitHub repository. Kept apart from client.ts so parsing it does not load Octokit. */
import { UsageError } from '../../definitions/errors.js';

export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}

/** owner/name from --repo or GITHUB_REPOSITORY; a UsageError says which is missing or malformed. */
export function parseRepository(value: string | undefined, source = 'GITHUB_REPOSITORY or --repo'): RepoRef {
  if (!value) throw new UsageError(`no repository: set ${source} to owner/name`);
  const m = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+)$/.exec(value.trim());
  if (!m) throw new UsageError(`repository "${value}" is not owner/name`);
  return { owner: m[1]!, repo: m[2]! };
}
