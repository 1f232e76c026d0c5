/**
 * The I/O edge for check-runs.ts: the check runs of a commit from GitHub (all pages, the latest per name) and,
 * when the commit has no test check runs of its own, the merged pull request whose head has the same tree. Any
 * GitHub failure becomes `known: false` with the reason (the items say inconclusive), never a throw.
 */
import { githubError } from '../../platform/github/client.js';
import { parseRepository, type RepoRef } from '../../platform/github/repository.js';
import {
  hasTestRuns,
  latestByName,
  type CheckRunData,
  type CheckRunState,
  type CommitChecks,
  type PullHead,
} from './check-runs.js';

/** The part of Octokit read here, so tests can pass a stub or a real client on a local server. */
export interface ChecksApi {
  readonly rest: {
    readonly checks: {
      listForRef(p: {
        owner: string;
        repo: string;
        ref: string;
        per_page?: number;
        page?: number;
      }): Promise<{ data: { total_count: number; check_runs: CheckRunData[] } }>;
    };
    readonly git: {
      getCommit(p: { owner: string; repo: string; commit_sha: string }): Promise<{ data: { tree: { sha: string } } }>;
    };
    readonly repos: {
      listPullRequestsAssociatedWithCommit(p: { owner: string; repo: string; commit_sha: string }): Promise<{
        data: { number: number; merged_at?: string | null; merge_commit_sha?: string | null; head: { sha: string } }[];
      }>;
    };
  };
}

const PER_PAGE = 100;
/** A commit with more check runs than this is not one of ours: stop rather than page forever. */
const MAX_PAGES = 20;

async function listCheckRuns(api: ChecksApi, repo: RepoRef, ref: string): Promise<CheckRunState[]> {
  const all: CheckRunData[] = [];
  for (let page = 1; page <= MAX_PAGES; page++) {
    const { data } = await api.rest.checks.listForRef({ ...repo, ref, per_page: PER_PAGE, page });
    all.push(...data.check_runs);
    if (data.check_runs.length < PER_PAGE || all.length >= data.total_count) return latestByName(all);
  }
  throw new Error(`more than ${MAX_PAGES * PER_PAGE} check runs on ${ref.slice(0, 12)}`);
}

/**
 * The merged pull request of `commit` (the one it is the merge of, else the first merged) and whether its head has
 * the commit's tree: main's protection is strict, so merging an up-to-date PR gives the merge its head's tree.
 */
async function pullHead(api: ChecksApi, repo: RepoRef, commit: string): Promise<PullHead> {
  const prs = (await api.rest.repos.listPullRequestsAssociatedWithCommit({ ...repo, commit_sha: commit })).data.filter(
    (p) => p.merged_at,
  );
  const pr = prs.find((p) => p.merge_commit_sha === commit) ?? prs[0];
  if (!pr) return { kind: 'none' };
  const treeOf = async (sha: string) => (await api.rest.git.getCommit({ ...repo, commit_sha: sha })).data.tree.sha;
  const [commitTree, headTree] = await Promise.all([treeOf(commit), treeOf(pr.head.sha)]);
  if (commitTree !== headTree)
    return { kind: 'tree-differs', pull: pr.number, head: pr.head.sha, headTree, commitTree };
  return { kind: 'same-tree', pull: pr.number, head: pr.head.sha, runs: await listCheckRuns(api, repo, pr.head.sha) };
}

export async function readCommitChecks(
  api: ChecksApi,
  repo: RepoRef,
  commit: string,
  opts: { readonly pullHead: boolean },
): Promise<CommitChecks> {
  try {
    const runs = await listCheckRuns(api, repo, commit);
    if (!opts.pullHead || hasTestRuns(runs)) return { known: true, commit, runs };
    return { known: true, commit, runs, pullHead: await pullHead(api, repo, commit) };
  } catch (err) {
    return { known: false, reason: githubError(err, `reading the check runs of ${commit.slice(0, 12)}`).message };
  }
}

/**
 * The facts when GitHub is configured (a client, a repository, a commit); undefined when it is not, so the
 * checklist falls back to local reports.
 */
export async function commitChecksIfConfigured(p: {
  readonly api: ChecksApi | null;
  readonly repository: string | undefined;
  readonly commit: string | undefined;
  readonly pullHead: boolean;
}): Promise<CommitChecks | undefined> {
  if (!p.api || !p.repository || !p.commit) return undefined;
  let repo: RepoRef;
  try {
    repo = parseRepository(p.repository);
  } catch (err) {
    return { known: false, reason: (err as Error).message };
  }
  return readCommitChecks(p.api, repo, p.commit, { pullHead: p.pullHead });
}
