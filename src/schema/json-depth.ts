/**
 * How deep a JSON value nests. JSON.parse takes any depth, but everything after it that walks the
 * value recursively (JSON.stringify for storage and webhooks, validators, loggers) overflows the
 * stack somewhere in the thousands: 5,000 levels of `metadata` in 10 KB gave a 500. Measured
 * without recursion, so the check itself cannot overflow.
 */

/** Deepest nesting allowed anywhere in a request body (the body object itself is depth 1). */
export const MAX_JSON_DEPTH = 32;

/** The path of the first value nested deeper than `max` (e.g. "metadata.a.b[0]"), or null. */
export function tooDeep(value: unknown, max = MAX_JSON_DEPTH): string | null {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { value: v, depth, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (depth + 1 > max) return path || '(body)';
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ value: v[i], depth: depth + 1, path: `${path}[${i}]` });
    } else {
      for (const key of Object.keys(v)) stack.push({ value: (v as Record<string, unknown>)[key], depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
  return null;
}
