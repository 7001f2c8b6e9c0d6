/**
 * The circuit breaker's rules, in one place and pure: what a registered endpoint's failing streak
 * means for its deliveries. The store keeps the state (endpoints.consecutive_failures,
 * failing_since, circuit_open_until, counted by atomic statements so every dispatcher process
 * counts into the same row); webhooks/endpoint-health.ts applies these rules to it; the claim
 * queries (store/<dialect>/deliveries-queries.ts), store/due-deliveries.ts, services/outbox.ts and
 * the dispatcher hold deliveries back by them.
 *
 * - Every failed attempt of an enabled endpoint counts; any success ends the streak and closes
 *   the circuit, releasing what it held.
 * - `threshold` failures in a row open the circuit for a cooldown: as long as the endpoint has
 *   been failing, at least `cooldownMs`, at most an hour, so the pause about doubles each time.
 * - While open, its deliveries wait in the outbox until the open-until time: new ones are stored
 *   due then, a claim moves due ones there instead of leasing them, pending ones are deferred
 *   there when it opens, and a dispatcher hands back what it had queued.
 * - Once the cooldown has ended, exactly one delivery goes out as the probe: the claimer that
 *   shuts the circuit again until its lease takes it, and the others of that endpoint wait with
 *   it. A failed probe opens the circuit again; requests already in flight when it opened do not.
 * - 410 Gone, or failing without a single success for `disableAfterMs` (5 days), disables the
 *   endpoint.
 */
import type { EndpointRow } from './types.js';

export interface BreakerPolicy {
  /** Consecutive failures that open the circuit. */
  threshold: number;
  /** The shortest time an open circuit pauses an endpoint. */
  cooldownMs: number;
  /** An endpoint failing without a success this long is disabled. */
  disableAfterMs: number;
}

/** The longest pause: an endpoint that has failed for hours is still probed every hour. */
export const MAX_COOLDOWN_MS = 3600_000;

/** An endpoint's failing streak after one more failure was counted. */
export interface FailingStreak {
  consecutive_failures: number;
  failing_since: number;
  circuit_open_until: number | null;
}

/** The health columns of an endpoint that is not failing (a new one, or one enabled again). */
export const HEALTHY = { consecutive_failures: 0, failing_since: null, circuit_open_until: null } as const satisfies Partial<EndpointRow>;

/**
 * closed: deliveries flow; open: they wait until `circuit_open_until`; cooled: the cooldown has
 * ended and the next claim may let one probe through.
 */
export type CircuitState = 'closed' | 'open' | 'cooled';

export function circuitState(openUntil: number | null, now: number): CircuitState {
  if (openUntil === null) return 'closed';
  return openUntil > now ? 'open' : 'cooled';
}

/** When a delivery stored now to this endpoint is due: at once, or when its open circuit is. */
export function dueAtFor(openUntil: number | null, now: number): number {
  return circuitState(openUntil, now) === 'open' ? openUntil! : now;
}

/** What one more failure does to the endpoint. */
export type FailureVerdict =
  | { action: 'none' }
  | { action: 'disable'; reason: string }
  /** Already open: a request in flight when it opened does not extend it. */
  | { action: 'stay-open'; until: number }
  | { action: 'open'; until: number };

export function afterFailure(streak: FailingStreak, failure: { gone: boolean; probe: boolean }, now: number, policy: BreakerPolicy): FailureVerdict {
  if (failure.gone) return { action: 'disable', reason: 'the endpoint answered 410 Gone' };
  if (now - streak.failing_since >= policy.disableAfterMs) {
    return { action: 'disable', reason: `failing without a success since ${new Date(streak.failing_since).toISOString()}` };
  }
  if (streak.consecutive_failures < policy.threshold) return { action: 'none' };
  const open = streak.circuit_open_until;
  // Only a failed probe, or a failure once the cooldown is over, opens it again.
  if (open !== null && open > now && !failure.probe) return { action: 'stay-open', until: open };
  return { action: 'open', until: now + cooldownFor(streak, now, policy) };
}

/** As long as the endpoint has been failing, within [cooldownMs, MAX_COOLDOWN_MS]. */
export function cooldownFor(streak: FailingStreak, now: number, policy: BreakerPolicy): number {
  return Math.min(MAX_COOLDOWN_MS, Math.max(policy.cooldownMs, now - streak.failing_since));
}

/** A claimed delivery with its endpoint's circuit as the claim saw it (null endpoint: a task's own URL). */
export interface ClaimedRow {
  endpoint_id: string | null;
  circuit_open_until: number | null;
}

/** Endpoints among claimed rows whose cooldown has ended: the claimer tries to take their probe. */
export function probeCandidates(rows: readonly ClaimedRow[], now: number): string[] {
  const ids = new Set<string>();
  for (const r of rows) if (r.endpoint_id !== null && circuitState(r.circuit_open_until, now) === 'cooled') ids.add(r.endpoint_id);
  return [...ids];
}

/**
 * Which claimed rows go out, in order, and which of them is a probe. A row with no circuit goes
 * out. One of an open circuit was held back by the claim (moved to its open-until, not leased).
 * Of a cooled endpoint only the first row goes out, as the probe, and only when this claimer
 * took the probe (`probesTaken`); the others stay leased until the probe's lease, which is the
 * circuit's open-until now, so the probe's success releases them with the rest.
 */
export function admitClaimed<R extends ClaimedRow>(rows: readonly R[], now: number, probesTaken: ReadonlySet<string>): Array<{ row: R; probe: boolean }> {
  const out: Array<{ row: R; probe: boolean }> = [];
  const probed = new Set<string>();
  for (const row of rows) {
    const id = row.endpoint_id;
    if (id === null || row.circuit_open_until === null) {
      out.push({ row, probe: false });
      continue;
    }
    if (circuitState(row.circuit_open_until, now) === 'open' || !probesTaken.has(id) || probed.has(id)) continue;
    probed.add(id);
    out.push({ row, probe: true });
  }
  return out;
}
