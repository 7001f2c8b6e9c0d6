/**
 * When a task must be done by: a `Cancel-After` header (a duration, as Replicate takes it: "90",
 * "30s", "5m", "1h30m", "1.5h") or a `deadline` field (an ISO 8601 time). Pure; the task service
 * turns a problem into a 400 naming the header or field.
 */

/** Shortest deadline a task may be given: less could not even be claimed in time. */
export const MIN_DEADLINE_MS = 5_000;
/** Longest: beyond a week a deadline is a retention setting, not a deadline. */
export const MAX_DEADLINE_MS = 7 * 24 * 3600_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1h30m" → 5_400_000; a bare number is seconds; null when it is not a duration. */
export function parseDuration(raw: string): number | null {
  const text = raw.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(text)) return null;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) total += Number(n) * UNIT_MS[unit!]!;
  return total;
}

export type DeadlineResult = { at: number } | { problem: string; field: string };

/** The deadline as epoch ms from either form (not both), or what is wrong with it. */
export function resolveDeadline(cancelAfter: string | undefined, deadline: string | undefined, now: number): DeadlineResult | null {
  if (cancelAfter !== undefined && deadline !== undefined) return { problem: 'give the Cancel-After header or the deadline field, not both', field: 'deadline' };
  let at: number;
  let field: string;
  if (cancelAfter !== undefined) {
    field = 'Cancel-After';
    const ms = parseDuration(cancelAfter);
    if (ms === null) return { problem: `Cancel-After "${cancelAfter.slice(0, 40)}" is not a duration; use e.g. 90, 30s, 5m or 1h30m`, field };
    at = now + ms;
  } else if (deadline !== undefined) {
    field = 'deadline';
    // ISO 8601 with a zone, so the same string means the same moment wherever it is read.
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(deadline) || Number.isNaN(Date.parse(deadline))) {
      return { problem: `deadline "${deadline.slice(0, 40)}" is not an ISO 8601 time with a zone, e.g. 2026-12-05T18:00:00Z`, field };
    }
    at = Date.parse(deadline);
  } else {
    return null;
  }
  if (at - now < MIN_DEADLINE_MS) return { problem: `${field} must leave at least ${MIN_DEADLINE_MS / 1000} s from now`, field };
  if (at - now > MAX_DEADLINE_MS) return { problem: `${field} must be within ${MAX_DEADLINE_MS / 86_400_000} days from now`, field };
  return { at };
}
