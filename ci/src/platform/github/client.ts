/**
 * Octokit construction and GitHub error translation. Every GitHub call in delivery goes through an
 * Octokit made here, so tests point it at a local server (baseUrl) and errors read the same everywhere.
 * The token is handed to Octokit only; messages never contain it.
 */
import { RequestError } from '@octokit/request-error';
import { Octokit } from '@octokit/rest';
import { FailedError, UsageError } from '../../definitions/errors.js';

export interface ClientOptions {
  readonly token: string | undefined;
  /** GITHUB_API_URL (GitHub Enterprise) or a test server. */
  readonly baseUrl?: string;
}

export function createOctokit(opts: ClientOptions): Octokit {
  if (!opts.token) throw new UsageError('GITHUB_TOKEN is not set: GitHub calls need a token');
  return new Octokit({
    auth: opts.token,
    baseUrl: opts.baseUrl ?? 'https://api.github.com',
    userAgent: 'kgraph-ci',
    // Octokit logs request warnings itself; keep them off stdout, which carries our output.
    log: {
      debug: () => undefined,
      info: () => undefined,
      warn: (m: string) => process.stderr.write(`github: ${m}\n`),
      error: () => undefined,
    },
  });
}

/** The one Octokit of a process environment: GITHUB_TOKEN, and GITHUB_API_URL when set. */
export function githubClient(env: Readonly<Record<string, string | undefined>>): Octokit {
  return createOctokit({ token: env.GITHUB_TOKEN, ...(env.GITHUB_API_URL ? { baseUrl: env.GITHUB_API_URL } : {}) });
}

/** Anything shaped like a credential: GitHub tokens, and whatever follows an auth scheme. */
const CREDENTIAL = /\b(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]+|\b(?:bearer|token|basic)\s+\S+/gi;

/**
 * GitHub's message and nothing else of the body: no field errors, no echoed request (a proxy or GitHub
 * may echo headers, Authorization included), one line, bounded, credentials masked all the same.
 */
function details(data: unknown): string {
  const m = (data as { message?: unknown } | undefined)?.message;
  if (typeof m !== 'string') return '';
  return m.split('\n')[0]!.replace(CREDENTIAL, '***').slice(0, 200);
}

/** A clear error for a failed GitHub call: `doing` says what we were trying to do. */
export function githubError(err: unknown, doing: string): Error {
  // Octokit rejects every HTTP failure with a RequestError; anything else (DNS, a refused connection) has no status.
  if (!(err instanceof RequestError))
    return new FailedError(`${doing}: ${details({ message: err instanceof Error ? err.message : String(err) })}`);
  const e = err;
  const headers: Record<string, string | number | undefined> = e.response?.headers ?? {};
  const remaining = headers['x-ratelimit-remaining'];
  if (e.status === 429 || (e.status === 403 && String(remaining) === '0')) {
    const reset = Number(headers['x-ratelimit-reset']);
    const when = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString()}` : '';
    return new FailedError(`${doing}: GitHub rate limit exceeded${when}; retry later`);
  }
  switch (e.status) {
    case 401:
      return new UsageError(`${doing}: GitHub rejected the token (401 Bad credentials); check GITHUB_TOKEN`);
    case 403:
      return new UsageError(
        `${doing}: the token may not do this (403${details(e.response?.data) ? `: ${details(e.response?.data)}` : ''}); check its permissions`,
      );
    case 404:
      return new FailedError(
        `${doing}: not found (404): the repository, branch or tag does not exist or the token cannot see it`,
      );
    case 422:
      return new FailedError(
        `${doing}: GitHub rejected the request (422: ${details(e.response?.data) || 'validation failed'})`,
      );
    default:
      return new FailedError(
        `${doing}: GitHub answered ${e.status}${details(e.response?.data) ? ` (${details(e.response?.data)})` : ''}`,
      );
  }
}

/** Runs a GitHub call, translating its failure. */
export async function gh<T>(doing: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw githubError(err, doing);
  }
}

/** True when a call failed with 404 (used where "absent" is an answer, not an error). */
export const isNotFound = (err: unknown): boolean => err instanceof RequestError && err.status === 404;
