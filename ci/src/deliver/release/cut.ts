/**
 * `release cut`: the next minor version after the latest v* tag, as branch release/<X.Y.Z> cut from
 * develop (git-flow: release branches carry the bare semver, the tag carries the v).
 */
import type { Octokit } from '@octokit/rest';
import { gh, githubError, isNotFound } from '../../platform/github/client.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { formatVersion, nextMinor } from './semver.js';

export interface CutResult {
  readonly version: string;
  readonly branch: string;
  readonly sha: string;
  readonly created: boolean;
}

/** Pure: the branch name for the next release given the existing tags. */
export function nextReleaseBranch(tags: readonly string[]): { version: string; branch: string } {
  const version = formatVersion(nextMinor(tags));
  return { version, branch: `release/${version.slice(1)}` };
}

/** Commits `head` has that `base` lacks (GitHub's compare). */
async function aheadBy(octokit: Octokit, repo: RepoRef, base: string, head: string): Promise<number> {
  const res = await gh(`comparing ${base}...${head}`, () =>
    octokit.rest.repos.compareCommits({ ...repo, base, head, per_page: 1 }),
  );
  return res.data.ahead_by;
}

/**
 * GitHub disables a scheduled workflow after 60 days without repository activity; enabling it through the
 * API resets that count, so a train that ran on schedule keeps its schedule alive even when it shipped nothing.
 * A failure is logged, never fatal: the cut itself is done.
 */
export async function keepScheduleAlive(
  octokit: Octokit,
  repo: RepoRef,
  workflowFile: string,
  log: (line: string) => void,
): Promise<void> {
  try {
    await octokit.rest.actions.enableWorkflow({ ...repo, workflow_id: workflowFile });
    log(`kept ${workflowFile}'s schedule alive (enabled again: the 60-day inactivity count starts over)`);
  } catch (err) {
    log(
      `warning: could not re-enable ${workflowFile} (${(err as Error).message}); its schedule may lapse after 60 idle days`,
    );
  }
}

/** An empty train: `from` has nothing main lacks, so no release branch is cut. */
export async function cutRelease(
  octokit: Octokit,
  repo: RepoRef,
  from: string,
  log: (line: string) => void,
): Promise<CutResult | { empty: true; reason: string }> {
  const ahead = await aheadBy(octokit, repo, 'main', from);
  if (ahead === 0) {
    const reason = `empty train: ${from} has no commit that main lacks; no release branch is cut`;
    log(reason);
    return { empty: true, reason };
  }
  const tags = await gh('listing tags', () =>
    octokit.paginate(octokit.rest.repos.listTags, { ...repo, per_page: 100 }),
  );
  const { version, branch } = nextReleaseBranch(tags.map((t) => t.name));
  const base = await gh(`reading branch ${from}`, () => octokit.rest.git.getRef({ ...repo, ref: `heads/${from}` }));
  const sha = base.data.object.sha;
  let existing: string | undefined;
  try {
    existing = (await octokit.rest.git.getRef({ ...repo, ref: `heads/${branch}` })).data.object.sha;
  } catch (err) {
    if (!isNotFound(err)) throw githubError(err, `reading branch ${branch}`);
  }
  if (existing !== undefined) {
    // Re-running the weekly cut is not an error as long as nothing moved underneath it.
    log(`${branch} already exists at ${existing.slice(0, 12)}; nothing to do`);
    return { version, branch, sha: existing, created: false };
  }
  await gh(`creating ${branch} from ${from}`, () =>
    octokit.rest.git.createRef({ ...repo, ref: `refs/heads/${branch}`, sha }),
  );
  log(`cut ${branch} from ${from} at ${sha.slice(0, 12)} (next release ${version})`);
  return { version, branch, sha, created: true };
}
