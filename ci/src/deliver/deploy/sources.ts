/**
 * Where the facts about a release come from: the commit, git tree and commit date a tag or commit
 * names, and whether a tag is on main. GitHub when a token and repository are given (CI checkouts lack
 * history), else the local git repository. An unknown fact stays undefined: the policy refuses on it.
 */
import type { Octokit } from '@octokit/rest';
import { gh } from '../../platform/github/client.js';
import type { RepoRef } from '../../platform/github/repository.js';
import { isOnBranch, MAIN_BRANCH } from '../release/release.js';
import { gitOutput, isTagReachableFromMain } from '../../verify/policy/git.js';

export interface SourceFacts {
  readonly commit?: string;
  readonly tree?: string;
  /** Committer date of the commit: when it landed on its branch (a merge commit on main: the merge). */
  readonly mergedAt?: string;
  /** Tags only: the tag's commit is on main. */
  readonly onMain?: boolean;
}

export interface ReleaseSources {
  readonly where: string;
  describeTag(tag: string): Promise<SourceFacts>;
  describeCommit(commit: string): Promise<SourceFacts>;
  /** The checkout's own HEAD (local git only: on GitHub there is no "the commit being deployed" without one). */
  describeHead?(): Promise<SourceFacts>;
}

export function githubSources(octokit: Octokit, repo: RepoRef): ReleaseSources {
  const describe = async (ref: string): Promise<SourceFacts> => {
    const res = await gh(`looking up ${ref}`, () => octokit.rest.repos.getCommit({ ...repo, ref }));
    const c = res.data;
    const date = c.commit.committer?.date ? new Date(c.commit.committer.date) : undefined;
    return {
      commit: c.sha,
      tree: c.commit.tree.sha,
      ...(date && Number.isFinite(date.getTime()) ? { mergedAt: date.toISOString() } : {}),
    };
  };
  return {
    where: `GitHub ${repo.owner}/${repo.repo}`,
    async describeTag(tag) {
      const facts = await describe(`tags/${tag}`);
      return { ...facts, onMain: await isOnBranch(octokit, repo, facts.commit!, MAIN_BRANCH) };
    },
    describeCommit: (commit) => describe(commit),
  };
}

const git = gitOutput;

export function gitSources(dir: string): ReleaseSources {
  const describe = async (rev: string): Promise<SourceFacts> => {
    const commit = await git(dir, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
    if (!commit) return {};
    const tree = await git(dir, ['rev-parse', '--verify', '--quiet', `${commit}^{tree}`]);
    const mergedAt = await git(dir, ['log', '-1', '--format=%cI', commit]);
    return { commit, ...(tree ? { tree } : {}), ...(mergedAt ? { mergedAt: new Date(mergedAt).toISOString() } : {}) };
  };
  return {
    where: `git ${dir}`,
    async describeTag(tag) {
      const facts = await describe(`refs/tags/${tag}`);
      const onMain = await isTagReachableFromMain(dir, tag);
      return { ...facts, ...(onMain !== undefined ? { onMain } : {}) };
    },
    describeCommit: (commit) => describe(commit),
    describeHead: () => describe('HEAD'),
  };
}
