/**
 * API-key check in constant time. Every configured key sits zero-padded in a buffer of one common size (the
 * longest key's UTF-8 length); the presented key is written into a scratch buffer of that size and compared
 * with timingSafeEqual against every key (no early exit), its byte length beside. The time taken depends on
 * the presented key's length (the caller's own input) and on the configuration (how many keys, the longest
 * one's length: the same for every request), never on which key matches or how much of any key does.
 *
 * It replaced SHA-256 digests of both sides, which were constant-time too but cost a native hash and a new
 * Buffer per request (about 5% of a cached read's CPU under the profiler: docs/performance.md); this one
 * allocates nothing.
 */
import { timingSafeEqual } from 'node:crypto';

export type KeyCheck = (presented: string | undefined) => string | undefined;

/** Returns a function that maps a presented key to a stable, non-secret id ("key-0", …) or undefined. */
export function apiKeyChecker(keys: readonly string[]): KeyCheck {
  const lengths = keys.map((k) => Buffer.byteLength(k, 'utf8'));
  const size = Math.max(1, ...lengths);
  const padded = keys.map((k) => {
    const b = Buffer.alloc(size);
    b.write(k, 'utf8');
    return b;
  });
  // One per checker, reused by every call: the check is synchronous, so no two calls share it at once.
  const scratch = Buffer.alloc(size);
  return (presented) => {
    if (!presented) return undefined;
    const length = Buffer.byteLength(presented, 'utf8');
    scratch.fill(0);
    // A longer key is cut at `size` (whole characters only); its length then tells it apart.
    scratch.write(presented, 'utf8');
    let match = -1;
    for (let i = 0; i < padded.length; i++) {
      // Both parts always computed (`&`, not `&&`): no branch on how much of a key matched.
      const same = Number(timingSafeEqual(scratch, padded[i]!)) & Number(length === lengths[i]);
      if (same === 1 && match < 0) match = i;
    }
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
