/**
 * Text Postgres cannot store: a NUL byte (\u0000) in any string of a request's params, query or body.
 * Postgres refuses it in text columns and in query parameters ("invalid byte sequence"), so without this
 * check it surfaced as a 500. One walk over whatever the request carries covers every field, present and
 * future, instead of a pattern per schema property. Iterative, so a deeply nested body cannot overflow
 * the stack.
 */
export function nulField(root: unknown, rootPath: string): string | undefined {
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

export const NUL_REASON = 'must not contain NUL (\\u0000) characters';
