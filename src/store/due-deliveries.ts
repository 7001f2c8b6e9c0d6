/**
 * Claimed delivery rows (either dialect's claim query gives the same columns) to what the
 * dispatcher sends: which secrets sign each one, and which go out by the circuit breaker's rules
 * (domain/circuit-breaker.ts: none of an open circuit, one probe of a cooled one).
 */
import { admitClaimed, type ClaimedRow } from '../domain/circuit-breaker.js';
import type { DueDelivery } from './ops/deliveries.js';

/** A row of either dialect's claim query. */
export type ClaimRow = Record<string, unknown> & ClaimedRow;

/**
 * The tenant's secret for a task's own URL; an endpoint's secret, plus its previous one while
 * rotation overlaps. None for a deleted endpoint: its old URL must never get a payload signed with
 * the tenant's secret, which would let it forge the tenant's own webhooks.
 */
export function signingSecrets(r: ClaimRow, now: number): string[] {
  if (r.endpoint_id === null) return [r.webhook_secret as string];
  if (r.endpoint_secret === null || r.endpoint_secret === undefined) return [];
  const secrets = [r.endpoint_secret as string];
  if (r.previous_secret && (r.previous_secret_until as number) > now) secrets.push(r.previous_secret as string);
  return secrets;
}

/**
 * Claimed rows (with their endpoint's circuit_open_until as it was when they were claimed) to the
 * deliveries to send; `probes` are the endpoints whose probe this claimer took.
 */
export function dueDeliveries(rows: ClaimRow[], now: number, probes: ReadonlySet<string>): DueDelivery[] {
  return admitClaimed(rows, now, probes).map(({ row: r, probe }) => {
    const endpointId = r.endpoint_id;
    return {
      id: r.id as string,
      event_id: r.event_id as string,
      tenant_id: r.tenant_id as string,
      endpoint_id: endpointId,
      url: r.url as string,
      attempt_count: r.attempt_count as number,
      final_attempt: r.final_attempt as number | null,
      payload: r.payload as string,
      event_created_at: r.event_created_at as number,
      secrets: signingSecrets(r, now),
      probe,
      unavailable: endpointId === null ? null : r.endpoint_secret == null ? 'endpoint deleted' : r.endpoint_enabled ? null : 'endpoint disabled',
    };
  });
}
