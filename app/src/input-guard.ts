/**
 * Text Postgres cannot store: a NUL byte (\u0000) in any string of a request's params, query or body.
 * Postgres refuses it in text columns and in query parameters ("invalid byte sequence"), so without this
 * check it surfaced as a 500. One walk over whatever the request carries covers every field, present and
 * future, instead of a pattern per schema property. Iterative, so a deeply nested body cannot overflow
 * the stack.
 */
export function nulField(root: unknown, rootPath: string): string | undefined {
  // Almost every request is clean: say so without building a path for every field on the way.
  if (!hasNul(root)) return undefined;
  const stack: [unknown, string][] = [[root, rootPath]];
  while (stack.length > 0) {
    const [value, path] = stack.pop()!;
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return path;
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${path}[${i}]`]);
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i]!;
        if (k.includes('\u0000')) return path;
        stack.push([v, `${path}.${k}`]);
      }
    }
  }
  return undefined;
}

/** Whether any string or key under `root` holds a NUL; the same walk as nulField, without the paths. */
function hasNul(root: unknown): boolean {
  if (typeof root === 'string') return root.includes('\u0000');
  if (root === null || typeof root !== 'object') return false;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return true;
    } else if (Array.isArray(value)) {
      for (const v of value as unknown[]) stack.push(v);
    } else if (value !== null && typeof value === 'object') {
      // Own enumerable string keys, as Object.entries in nulField (query objects have no prototype).
      for (const k in value) {
        if (!Object.hasOwn(value, k)) continue;
        if (k.includes('\u0000')) return true;
        stack.push((value as Record<string, unknown>)[k]);
      }
    }
  }
  return false;
}

export const NUL_REASON = 'must not contain NUL (\\u0000) characters';
