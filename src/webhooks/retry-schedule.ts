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
