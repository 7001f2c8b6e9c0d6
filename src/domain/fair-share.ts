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

/** Whether tenant `a`'s turn comes before `b`'s: the lower turn, ties by id (the claim's ORDER BY). */
export function turnsFirst(a: { tenant_id: string; turn: number }, b: { tenant_id: string; turn: number }): boolean {
  return a.turn < b.turn || (a.turn === b.turn && a.tenant_id < b.tenant_id);
}

/** Another tenant's queued targets as a queued target's position sees them. */
export interface OtherQueue {
  /** Its queued targets. */
  queued: number;
  /** Its turn comes before this tenant's (it was served longer ago). */
  servedFirst: boolean;
}

/**
 * How many queued targets start before one that has `ownAhead` of its own tenant's targets ahead
 * of it, under the round-robin above: it is served in round `ownAhead`, so every other tenant gets
 * `ownAhead` targets first, one more if its turn comes first, and never more than it has queued.
 * An estimate, not a promise: new tenants, running caps and expired leases move it.
 */
export function queuePosition(ownAhead: number, others: readonly OtherQueue[]): number {
  return others.reduce((sum, o) => sum + Math.min(o.queued, ownAhead + (o.servedFirst ? 1 : 0)), ownAhead);
}
