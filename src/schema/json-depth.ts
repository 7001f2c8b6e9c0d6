/**
 * What a parsed JSON body may not hold, found in one walk without recursion (so the check itself
 * cannot overflow the stack):
 * - nesting deeper than MAX_JSON_DEPTH: JSON.parse takes any depth, but everything after it that
 *   walks the value recursively (JSON.stringify for storage and webhooks, validators, loggers)
 *   overflows somewhere in the thousands: 5,000 levels of `metadata` in 10 KB gave a 500;
 * - a NUL character (U+0000) in a string or key: PostgreSQL's text and jsonb cannot store it, so
 *   `"metadata": {"a": "\u0000"}` stored on SQLite and was a 500 on PostgreSQL. Refused on both,
 *   so the same request gets the same answer whichever store runs.
 */

/** Deepest nesting allowed anywhere in a request body (the body object itself is depth 1). */
export const MAX_JSON_DEPTH = 32;

export type BodyProblem = { kind: 'too_deep' | 'nul_character'; path: string };

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** The first part of a parsed JSON value that cannot be taken, with its path ("metadata.a[0]"), or null. */
export function bodyProblem(value: unknown, max = MAX_JSON_DEPTH): BodyProblem | null {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { value: v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { kind: 'nul_character', path: path || '(body)' };
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return { kind: 'too_deep', path: path || '(body)' };
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ value: v[i], depth: depth + 1, path: `${path}[${i}]` });
    } else {
      for (const key of Object.keys(v)) {
        if (key.includes('\u0000')) return { kind: 'nul_character', path: join(path, key.replaceAll('\u0000', '\\u0000')) };
        stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1, path: join(path, key) });
      }
    }
  }
  return null;
}
