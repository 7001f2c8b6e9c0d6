/**
 * Claimed delivery rows (either dialect's claim query gives the same columns) to what the
 * dispatcher sends: which secrets sign each one, which endpoints' circuits cooled down, and which
 * row of such an endpoint goes out as its probe.
 */
import type { DueDelivery } from './store.js';

type Row = Record<string, unknown>;

/**
 * The tenant's secret for a task's own URL; an endpoint's secret, plus its previous one while
 * rotation overlaps. None for a deleted endpoint: its old URL must never get a payload signed with
 * the tenant's secret, which would let it forge the tenant's own webhooks.
 */
export function signingSecrets(r: Row, now: number): string[] {
  if (r.endpoint_id === null) return [r.webhook_secret as string];
  if (r.endpoint_secret === null || r.endpoint_secret === undefined) return [];
  const secrets = [r.endpoint_secret as string];
  if (r.previous_secret && (r.previous_secret_until as number) > now) secrets.push(r.previous_secret as string);
  return secrets;
}

/**
 * Claimed rows (with their endpoint's circuit_open_until as it was when they were claimed) to the
 * deliveries to send. A row of an open circuit was held back by the claim, not leased. A row of an
 * endpoint whose cooldown has ended goes out only as the first row of an endpoint in `probes` (the
 * claimer that reopened the circuit for the probe); the others were leased until the probe's lease,
 * which is the circuit's open-until now, so the probe's success releases them (resetEndpointHealth).
 */
export function dueDeliveries(rows: Row[], now: number, probes: ReadonlySet<string>): DueDelivery[] {
  const out: DueDelivery[] = [];
  const probed = new Set<string>();
  for (const r of rows) {
    const endpointId = r.endpoint_id as string | null;
    const heldUntil = r.circuit_open_until as number | null;
    let probe = false;
    if (endpointId !== null && heldUntil !== null) {
      if (heldUntil > now || !probes.has(endpointId) || probed.has(endpointId)) continue;
      probed.add(endpointId);
      probe = true;
    }
    out.push({
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
    });
  }
  return out;
}

/** Endpoints among claimed rows whose cooldown has ended: each may let one probe through. */
export function cooledDown(rows: Row[], now: number): string[] {
  const ids = new Set<string>();
  for (const r of rows) if (r.endpoint_id !== null && r.circuit_open_until !== null && (r.circuit_open_until as number) <= now) ids.add(r.endpoint_id as string);
  return [...ids];
}
