/**
 * Which queued targets a claim takes when several tenants are waiting: one from each tenant in
 * turn (the tenant served longest ago first), round after round, until the claim is full. A tenant
 * with a thousand queued targets gets one slot per round like a tenant with one, so nobody waits
 * behind another tenant's backlog. Pure: the stores read the queues and write the turns.
 */

export interface TenantQueue {
  tenantId: string;
  /** This tenant's claimable targets, oldest first, already cut to what its running cap allows. */
  targetIds: string[];
}

export interface FairPick {
  /** Target ids in claim order. */
  targetIds: string[];
  /** Tenants that got work, in the order they were first served: their new turns follow this order. */
  served: string[];
}

/** Round-robin over `queues` (given in turn order) until `limit` targets are taken. */
export function fairShare(queues: readonly TenantQueue[], limit: number): FairPick {
  const targetIds: string[] = [];
  const served: string[] = [];
  for (let round = 0; targetIds.length < limit; round++) {
    let took = false;
    for (const q of queues) {
      if (targetIds.length >= limit) break;
      const id = q.targetIds[round];
      if (id === undefined) continue;
      if (round === 0) served.push(q.tenantId);
      targetIds.push(id);
      took = true;
    }
    if (!took) break;
  }
  return { targetIds, served };
}

/** How many more targets a tenant may start: unbounded when `cap` is 0. */
export function roomUnderCap(running: number, cap: number, limit: number): number {
  return cap > 0 ? Math.max(0, Math.min(limit, cap - running)) : limit;
}
