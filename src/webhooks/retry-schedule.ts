/**
 * When a failed delivery is tried again. `schedule[i]` is the delay after the (i+1)-th failed
 * attempt; after the last one the delivery is failed for good. Jitter spreads retries of many
 * deliveries that failed together (an endpoint outage) so they do not return as one burst.
 */
export interface RetryPolicy {
  scheduleMs: number[];
  jitter: number;
}

/** Delay before the next attempt after `attemptsMade` attempts, or null when no attempt is left. */
export function nextRetryDelay(policy: RetryPolicy, attemptsMade: number, random: () => number = Math.random): number | null {
  const base = policy.scheduleMs[attemptsMade - 1];
  if (base === undefined) return null;
  const factor = 1 + policy.jitter * (2 * random() - 1);
  return Math.round(base * factor);
}

/** Retry-After as delay-seconds or an HTTP date; null when unparseable. */
export function parseRetryAfter(value: string, now: number): number | null {
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/**
 * The wait before the next try after `attemptsMade` attempts: the schedule, or what a 429/503 asked
 * for in Retry-After (at least a second, at most `retryAfterMaxMs`); null when none is left.
 */
export function retryDelay(
  policy: RetryPolicy & { retryAfterMaxMs: number },
  attemptsMade: number,
  statusCode: number | null,
  headers: Record<string, string> | null,
  now: number,
): number | null {
  const scheduled = nextRetryDelay(policy, attemptsMade);
  if (scheduled === null) return null;
  if ((statusCode === 429 || statusCode === 503) && headers?.['retry-after']) {
    const asked = parseRetryAfter(headers['retry-after'], now);
    if (asked !== null) return Math.min(Math.max(asked, 1000), policy.retryAfterMaxMs);
  }
  return scheduled;
}
