/**
 * The one HTTP call the notifiers make: JSON in and out, a timeout per attempt, retried with exponential
 * backoff (p-retry) on network errors, 429 and 5xx; any other 4xx is final. Errors carry the method, the
 * URL's path (never its query or credentials) and the status, nothing else.
 */
import pRetry, { AbortError } from 'p-retry';

type Fetch = typeof fetch;

export interface RetryPolicy {
  /** Retries after the first attempt. */
  readonly retries: number;
  readonly minTimeoutMs: number;
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { retries: 3, minTimeoutMs: 500, timeoutMs: 10_000 };

export class HttpCallError extends Error {
  override readonly name = 'HttpCallError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export interface JsonCall {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'PUT';
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

const where = (c: JsonCall) => `${c.method} ${new URL(c.url).pathname}`;

/** The call, retried per the policy; `onRetry` hears each failed attempt that will be retried. */
export async function callJson(
  call: JsonCall,
  opts: { fetch?: Fetch; retry?: RetryPolicy; onRetry?: ((message: string) => void) | undefined } = {},
): Promise<unknown> {
  const f = opts.fetch ?? fetch;
  const policy = opts.retry ?? DEFAULT_RETRY;
  return pRetry(
    async () => {
      let res: Response;
      try {
        res = await f(call.url, {
          method: call.method,
          headers: { accept: 'application/json', 'content-type': 'application/json', ...call.headers },
          ...(call.body !== undefined ? { body: JSON.stringify(call.body) } : {}),
          signal: AbortSignal.timeout(policy.timeoutMs),
          redirect: 'error',
        });
      } catch (err) {
        const e = err as { name?: string; cause?: { code?: string } };
        throw new HttpCallError(
          `${where(call)}: ${e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? 'network error')}`,
        );
      }
      const text = await res.text();
      if (!res.ok) {
        const error = new HttpCallError(`${where(call)} answered HTTP ${res.status}`, res.status);
        throw res.status === 429 || res.status >= 500 ? error : new AbortError(error);
      }
      try {
        return text ? (JSON.parse(text) as unknown) : {};
      } catch {
        throw new AbortError(
          new HttpCallError(`${where(call)} answered HTTP ${res.status} with a body that is not JSON`),
        );
      }
    },
    {
      retries: policy.retries,
      minTimeout: policy.minTimeoutMs,
      factor: 2,
      randomize: true,
      onFailedAttempt: ({ error, retriesLeft }) => {
        if (retriesLeft > 0 && !(error instanceof AbortError)) opts.onRetry?.(`${error.message}; retrying`);
      },
    },
  );
}
