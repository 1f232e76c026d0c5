/**
 * Sentry releases through Sentry's REST API: the release (named like the service's own `release`, the
 * version), its commits since the previous release in the SAME environment (from the delivery ledger, not
 * the previous release overall: staging may have seen releases prod never ran), and one deploy record per
 * environment it went live in. `previousCommitIn` is the pure part; the rest is thin I/O.
 */
import type { LedgerEntry } from '../../definitions/release-policy.js';
import { callJson, type RetryPolicy } from './http.js';

export const SENTRY_API = 'https://sentry.io';

/**
 * The commit of the newest release that went live in `environment` before this one (a successful deploy,
 * promotion or rollback there with a different commit), or undefined when it has none.
 */
export function previousCommitIn(
  entries: readonly LedgerEntry[],
  environment: string,
  commit: string,
): string | undefined {
  return entries
    .filter((e) => e.environment === environment && e.state === 'success' && e.commit && e.commit !== commit)
    .sort((a, b) => a.at.localeCompare(b.at))
    .at(-1)?.commit;
}

export interface SentryConfig {
  readonly token: string;
  readonly org: string;
  readonly project: string;
  /** The repository as Sentry's integration names it (owner/name). */
  readonly repository?: string;
  readonly baseUrl?: string;
  readonly fetch?: typeof fetch;
  readonly retry?: RetryPolicy;
  readonly onRetry?: (message: string) => void;
}

export interface ReleaseDeploy {
  readonly version: string;
  readonly environment: string;
  readonly commit?: string;
  readonly previousCommit?: string;
  readonly url?: string;
  readonly startedAt: string;
  readonly finishedAt: string;
}

export interface SentryReleases {
  /** Creates the release (an existing one is kept) and sets its commits to this environment's range. */
  prepare(d: Pick<ReleaseDeploy, 'version' | 'commit' | 'previousCommit'>): Promise<void>;
  recordDeploy(d: ReleaseDeploy): Promise<void>;
}

export function sentryReleases(c: SentryConfig): SentryReleases {
  const org = `${(c.baseUrl ?? SENTRY_API).replace(/\/$/, '')}/api/0/organizations/${encodeURIComponent(c.org)}`;
  const headers = { authorization: `Bearer ${c.token}` };
  const opts = { ...(c.fetch ? { fetch: c.fetch } : {}), ...(c.retry ? { retry: c.retry } : {}), onRetry: c.onRetry };
  const release = (v: string) => `${org}/releases/${encodeURIComponent(v)}/`;
  return {
    async prepare(d) {
      await callJson(
        { method: 'POST', url: `${org}/releases/`, headers, body: { version: d.version, projects: [c.project] } },
        opts,
      );
      if (!d.commit || !c.repository) return;
      const ref = {
        repository: c.repository,
        commit: d.commit,
        ...(d.previousCommit ? { previousCommit: d.previousCommit } : {}),
      };
      await callJson({ method: 'PUT', url: release(d.version), headers, body: { refs: [ref] } }, opts);
    },
    async recordDeploy(d) {
      await callJson(
        {
          method: 'POST',
          url: `${release(d.version)}deploys/`,
          headers,
          body: {
            environment: d.environment,
            name: `${d.version} to ${d.environment}`,
            ...(d.url ? { url: d.url } : {}),
            dateStarted: d.startedAt,
            dateFinished: d.finishedAt,
          },
        },
        opts,
      );
    },
  };
}
