/**
 * Branch protection as data (pure) plus one PUT per branch. main: pull requests with an approval, the
 * git-flow policy check, no force pushes or deletion. develop: pull requests, no force pushes.
 */
import type { Octokit } from '@octokit/rest';
import { ENVIRONMENT_NAMES, ENVIRONMENTS } from '../../definitions/environments.js';
import { gh } from './client.js';
import type { RepoRef } from './repository.js';

/** The check the ci.yml `policy` job reports (its `name:`); a test keeps the two equal. */
export const POLICY_CHECK = 'git-flow policy';

export interface BranchProtection {
  readonly branch: string;
  readonly body: {
    readonly required_status_checks: { readonly strict: boolean; readonly contexts: readonly string[] } | null;
    readonly enforce_admins: boolean;
    readonly required_pull_request_reviews: {
      readonly required_approving_review_count: number;
      readonly dismiss_stale_reviews: boolean;
    };
    readonly restrictions: null;
    readonly allow_force_pushes: false;
    readonly allow_deletions: false;
    readonly required_conversation_resolution: boolean;
  };
}

export function protectionPolicy(): BranchProtection[] {
  return [
    {
      branch: 'main',
      body: {
        required_status_checks: { strict: true, contexts: [POLICY_CHECK] },
        enforce_admins: true,
        // What reaches main reaches prod: at least as many approvals as any environment's release policy needs.
        required_pull_request_reviews: {
          required_approving_review_count: Math.max(
            1,
            ...ENVIRONMENT_NAMES.map((e) => ENVIRONMENTS[e].release.approvals),
          ),
          dismiss_stale_reviews: true,
        },
        restrictions: null,
        allow_force_pushes: false,
        allow_deletions: false,
        required_conversation_resolution: true,
      },
    },
    {
      branch: 'develop',
      body: {
        required_status_checks: { strict: false, contexts: [POLICY_CHECK] },
        enforce_admins: false,
        required_pull_request_reviews: { required_approving_review_count: 0, dismiss_stale_reviews: false },
        restrictions: null,
        allow_force_pushes: false,
        allow_deletions: false,
        required_conversation_resolution: false,
      },
    },
  ];
}

export async function applyProtection(
  octokit: Octokit,
  repo: RepoRef,
  policy: readonly BranchProtection[],
  log: (line: string) => void,
): Promise<void> {
  for (const p of policy) {
    await gh(`protecting ${repo.owner}/${repo.repo} branch ${p.branch}`, () =>
      octokit.rest.repos.updateBranchProtection({ ...repo, branch: p.branch, ...structuredClone(p.body) } as Parameters<
        Octokit['rest']['repos']['updateBranchProtection']
      >[0]),
    );
    log(
      `protected ${p.branch}: ${p.body.required_pull_request_reviews.required_approving_review_count} approval(s), checks [${p.body.required_status_checks?.contexts.join(', ') ?? ''}], no force pushes`,
    );
  }
}
