/** Validation of the service and Prometheus URLs commands are given. */
import { UsageError } from '../definitions/errors.js';

/**
 * An http(s) URL without userinfo. Credentials in a URL would be printed with it (stdout, reports, job
 * summaries) and fetch refuses such URLs anyway, so they are refused here, without echoing them.
 */
export function parseHttpUrl(value: string, flag: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // An unparseable value with an @ may hold a password in a shape no mask recognises: do not echo it.
    throw new UsageError(
      value.includes('@')
        ? `${flag}: not a URL (value not shown: it contains "@")`
        : `${flag}: "${value}" is not a URL`,
    );
  }
  if (url.username !== '' || url.password !== '' || /^[^/]*\/\/[^/?#]*@/.test(value)) {
    throw new UsageError(
      `${flag}: credentials in the URL are refused (${url.protocol}//***@${url.host}); pass the service URL without user:password@`,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`${flag}: expected an http(s) URL, got ${url.protocol}`);
  return url.toString();
}
