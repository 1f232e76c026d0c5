/**
 * API-key check in constant time: keys are compared as SHA-256 digests with timingSafeEqual, against
 * every configured key (no early exit), so neither the key's content nor its position leaks by timing.
 */
import { hash, timingSafeEqual } from 'node:crypto';

// One-shot crypto.hash: cheaper than createHash() on every request.
const digest = (s: string) => hash('sha256', s, 'buffer');

export type KeyCheck = (presented: string | undefined) => string | undefined;

/** Returns a function that maps a presented key to a stable, non-secret id ("key-0", …) or undefined. */
export function apiKeyChecker(keys: readonly string[]): KeyCheck {
  const digests = keys.map(digest);
  return (presented) => {
    if (!presented) return undefined;
    const d = digest(presented);
    let match = -1;
    for (let i = 0; i < digests.length; i++) if (timingSafeEqual(d, digests[i]!) && match < 0) match = i;
    return match >= 0 ? `key-${match}` : undefined;
  };
}

/** The key from `x-api-key`, or from `Authorization: Bearer KEY`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.length > 0) return x;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  return undefined;
}
