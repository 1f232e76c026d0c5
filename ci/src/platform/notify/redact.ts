/**
 * Secrets out of every line the notifiers print: the configured values themselves (a webhook URL is its own
 * secret), any URL's user:password@, and the token-bearing paths of Slack webhooks. Pure.
 */

/** Values shorter than this are not masked (masking "1" would shred every line). */
const MIN_SECRET_LENGTH = 6;

export function redactor(secrets: readonly (string | undefined)[]): (text: string) => string {
  const values = [
    ...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH)),
  ]
    // Longest first: a secret that contains another is masked whole.
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const v of values) out = out.split(v).join('***');
    return out
      .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1***@')
      .replace(/(hooks\.slack\.com\/)[^\s"']+/gi, '$1***');
  };
}
