/** The outbox: deliveries, their claims and attempts: the sqlite statements of DeliveryOps (ops/deliveries.ts). */
import type { AttemptRow, DeliveryRow } from '../../domain/types.js';
import type { AttemptOutcome, DeliveryOps, DueClaim, ListDeliveriesQuery } from '../ops/deliveries.js';
import type { Sync } from '../ops/ops.js';
import { attemptFromRow, json, type Row, SqliteQueries } from './sql.js';
import { probeCandidates } from '../../domain/circuit-breaker.js';
import { dueDeliveries, type ClaimRow } from '../due-deliveries.js';
import { idAt } from '../../ids.js';

/**
 * When the earliest still-pending delivery of the same task to the same receiver (same URL and
 * endpoint) is due, for a due delivery `d`; NULL when there is none, so `d` may go.
 */
const EARLIER_PENDING_DUE = `(SELECT min(e.next_attempt_at) FROM deliveries e
   WHERE e.task_id = d.task_id AND e.status = 'pending' AND e.id < d.id AND e.url = d.url AND e.endpoint_id IS d.endpoint_id)`;

/**
 * Until when a held-back delivery is parked (the PostgreSQL store parks by the same rule): until
 * its blocker is due when that is a retry beyond this claim's lease; else briefly, since the
 * blocker may be in flight and its wake-up comes when it ends (on PostgreSQL a wake-up can miss a
 * park that commits just after it, which the short park bounds).
 */
function parkUntil(blockerDue: number, now: number, leaseUntil: number): number {
  return blockerDue > leaseUntil ? blockerDue + 1 : Math.max(now + PARK_MIN_MS, Math.min(blockerDue + 1, now + PARK_MAX_MS));
}

const PARK_MIN_MS = 100;
const PARK_MAX_MS = 500;

/** When deliveries end (delivered or failed for good), the later ones of their task to the same receiver, parked behind them, are due now. */
const WAKE_PARKED = `UPDATE deliveries SET next_attempt_at = ?
  WHERE status = 'pending' AND next_attempt_at > ?
    AND id IN (SELECT n.id FROM deliveries n JOIN deliveries d ON d.id = ?
                WHERE n.task_id = d.task_id AND n.url = d.url AND n.endpoint_id IS d.endpoint_id AND n.id > d.id)`;

export class SqliteDeliveryQueries extends SqliteQueries implements Sync<DeliveryOps> {
  insertDeliveries(ds: DeliveryRow[]): void {
    const ins = this.s(
      `INSERT INTO deliveries (id, event_id, tenant_id, task_id, endpoint_id, url, status, attempt_count, next_attempt_at, last_error,
                               last_status_code, created_at, updated_at, delivered_at)
       VALUES (@id, @event_id, @tenant_id, @task_id, @endpoint_id, @url, @status, @attempt_count, @next_attempt_at, @last_error,
               @last_status_code, @created_at, @updated_at, @delivered_at)`,
    );
    for (const d of ds) ins.run(d);
  }

  claimDueDeliveries(now: number, limit: number, leaseUntil: number, ordered: boolean): DueClaim {
    return this.atomic(() => {
      const due = this.s(
        `SELECT d.id, ${ordered ? EARLIER_PENDING_DUE : 'NULL'} AS blocker_due
           FROM deliveries d WHERE d.status = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at LIMIT ?`,
      ).all(now, limit) as Array<{ id: string; blocker_due: number | null }>;
      if (due.length === 0) return { deliveries: [], taken: 0 };
      // Held back for an earlier event of the same task to the same receiver: parked until that one
      // is due again, so no claim walks over it meanwhile (recordAttempts wakes it when it ends).
      const park = this.s('UPDATE deliveries SET next_attempt_at = ? WHERE id = ?');
      for (const d of due) if (d.blocker_due !== null) park.run(parkUntil(d.blocker_due, now, leaseUntil), d.id);
      // Rows of an open circuit move to its open-until rather than being skipped, so they leave the
      // front of deliveries_due and no later claim walks over them.
      const claimed = this.s(
        `UPDATE deliveries
            SET next_attempt_at = COALESCE((SELECT circuit_open_until FROM endpoints WHERE id = deliveries.endpoint_id AND circuit_open_until > @now), @leaseUntil),
                leased_until = CASE WHEN EXISTS (SELECT 1 FROM endpoints WHERE id = deliveries.endpoint_id AND circuit_open_until > @now) THEN NULL ELSE @leaseUntil END
          WHERE id IN (SELECT value FROM json_each(@ids))
          RETURNING id`,
      ).all({ now, leaseUntil, ids: JSON.stringify(due.filter((d) => d.blocker_due === null).map((d) => d.id)) }) as Array<{ id: string }>;
      if (claimed.length === 0) return { deliveries: [], taken: due.length };
      const rows = this.s(
        `SELECT d.id, d.event_id, d.tenant_id, d.endpoint_id, d.url, d.attempt_count, d.final_attempt, e.payload, e.created_at AS event_created_at,
                t.webhook_secret, ep.secret AS endpoint_secret, ep.previous_secret, ep.previous_secret_until, ep.enabled AS endpoint_enabled,
                ep.circuit_open_until
           FROM deliveries d
           JOIN events e ON e.id = d.event_id
           JOIN tenants t ON t.id = d.tenant_id
           LEFT JOIN endpoints ep ON ep.id = d.endpoint_id
          WHERE d.id IN (SELECT value FROM json_each(?))
          ORDER BY d.id`,
      ).all(JSON.stringify(claimed.map((c) => c.id))) as ClaimRow[];
      const cooled = probeCandidates(rows, now);
      const probes = cooled.length === 0 ? [] : this.takeProbes(cooled, now, leaseUntil);
      return { deliveries: dueDeliveries(rows, now, new Set(probes)), taken: due.length };
    });
  }

  /** Shuts the circuits whose cooldown has ended until `leaseUntil` again; returns those this call shut (one probe each). */
  private takeProbes(endpointIds: string[], now: number, leaseUntil: number): string[] {
    const rows = this.s(
      'UPDATE endpoints SET circuit_open_until = ? WHERE id IN (SELECT value FROM json_each(?)) AND circuit_open_until <= ? RETURNING id',
    ).all(leaseUntil, JSON.stringify(endpointIds), now) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  releaseDeliveries(ids: string[], dueAt: number): void {
    this.s("UPDATE deliveries SET next_attempt_at = ?, leased_until = NULL WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'").run(dueAt, JSON.stringify(ids));
  }

  recordAttempts(outcomes: AttemptOutcome[]): number {
    // Positional parameters: this runs for every delivery attempt.
    const insAttempt = this.s(
      `INSERT OR IGNORE INTO attempts (id, delivery_id, attempt_number, started_at, status_code, latency_ms, response_excerpt, error,
                                       request_headers, response_headers)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const updDelivery = this.s(
      `UPDATE deliveries SET status = ?, attempt_count = ?, next_attempt_at = ?, last_error = ?, last_status_code = ?, updated_at = ?, delivered_at = ?,
                             leased_until = NULL
        WHERE id = ?`,
    );
    const wake = this.s(WAKE_PARKED);
    let woken = 0;
    this.atomic(() => {
      for (const { attempt: a, delivery: d } of outcomes) {
        if (a) insAttempt.run(a.id, a.delivery_id, a.attempt_number, a.started_at, a.status_code, a.latency_ms, a.response_excerpt, a.error, json(a.request_headers), json(a.response_headers));
        updDelivery.run(d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.last_status_code, d.updated_at, d.delivered_at, d.id);
        if (d.status !== 'pending') woken += wake.run(d.updated_at, d.updated_at, d.id).changes;
      }
    });
    return woken;
  }

  nextDeliveryDueAt(): number | null {
    const r = this.s("SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'").get() as { due: number | null };
    return r.due;
  }

  listDeliveriesForTask(tenantId: string, taskId: string): DeliveryRow[] {
    // `+tenant_id`: by task (deliveries_by_task), not by the tenant's whole log.
    return this.s('SELECT * FROM deliveries WHERE task_id = ? AND +tenant_id = ? ORDER BY created_at, id').all(taskId, tenantId) as DeliveryRow[];
  }

  getDelivery(tenantId: string, id: string): DeliveryRow | null {
    return (this.s('SELECT * FROM deliveries WHERE id = ? AND tenant_id = ?').get(id, tenantId) as DeliveryRow | undefined) ?? null;
  }

  listAttempts(deliveryIds: string[]): AttemptRow[] {
    if (deliveryIds.length === 0) return [];
    return (
      this.s('SELECT * FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?)) ORDER BY delivery_id, attempt_number').all(JSON.stringify(deliveryIds)) as Row[]
    ).map(attemptFromRow);
  }

  listDeliveries(q: ListDeliveriesQuery): DeliveryRow[] {
    // A task's deliveries by task (deliveries_by_task), an endpoint's by endpoint (deliveries_by_endpoint
    // with a status, deliveries_by_endpoint_log without): in the tenant's log they may be a few rows among
    // all, and walking it newest first would read it all to find a page. A status alone goes by
    // deliveries_by_tenant_status.
    const where = [q.taskId || q.endpointId ? '+tenant_id = @tenantId' : 'tenant_id = @tenantId'];
    if (q.status) where.push('status = @status');
    if (q.endpointId) where.push('endpoint_id = @endpointId');
    if (q.taskId) where.push('task_id = @taskId');
    if (q.before) where.push('id < @before');
    return this.s(`SELECT * FROM deliveries WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`).all({
      tenantId: q.tenantId,
      status: q.status,
      endpointId: q.endpointId,
      taskId: q.taskId,
      before: q.before,
      limit: q.limit,
    }) as DeliveryRow[];
  }

  requeueDelivery(tenantId: string, id: string, now: number): boolean {
    // Never a pending one: it may be in flight right now, and would be sent twice.
    return (
      this.s(
        `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, final_attempt = attempt_count + 1, updated_at = ?
          WHERE id = ? AND tenant_id = ? AND status <> 'pending'`,
      ).run(now, now, id, tenantId).changes > 0
    );
  }

  retryDeliveryNow(tenantId: string, id: string, now: number): 'due' | 'leased' | 'not-pending' | null {
    return this.atomic(() => {
      const d = this.s('SELECT status, endpoint_id, leased_until FROM deliveries WHERE id = ? AND tenant_id = ?').get(id, tenantId) as
        | { status: string; endpoint_id: string | null; leased_until: number | null }
        | undefined;
      if (!d) return null;
      if (d.status !== 'pending') return 'not-pending';
      if (d.leased_until !== null && d.leased_until > now) return 'leased';
      this.s('UPDATE deliveries SET next_attempt_at = ?, leased_until = NULL, updated_at = ? WHERE id = ?').run(now, now, id);
      if (d.endpoint_id !== null) this.s('UPDATE endpoints SET circuit_open_until = ? WHERE id = ? AND circuit_open_until > ?').run(now, d.endpoint_id, now);
      return 'due';
    });
  }

  hasEndpointDeliveries(tenantId: string, endpointId: string): boolean {
    // `+tenant_id`: by endpoint, not by scanning the tenant's whole log when there is none.
    return this.s('SELECT 1 FROM deliveries WHERE endpoint_id = ? AND +tenant_id = ? LIMIT 1').get(endpointId, tenantId) !== undefined;
  }

  requeueFailedDeliveries(tenantId: string, endpointId: string, since: number, now: number): number {
    return this.s(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, final_attempt = attempt_count + 1, updated_at = ?
        WHERE +tenant_id = ? AND endpoint_id = ? AND status = 'failed' AND created_at >= ?`,
    ).run(now, now, tenantId, endpointId, since).changes;
  }

  deferEndpointDeliveries(endpointId: string, until: number): void {
    this.s("UPDATE deliveries SET next_attempt_at = ? WHERE endpoint_id = ? AND status = 'pending' AND next_attempt_at < ?").run(until, endpointId, until);
  }

  failEndpointDeliveries(endpointId: string, reason: string, now: number): number {
    return this.s(
      "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = ?, updated_at = ? WHERE endpoint_id = ? AND status = 'pending'",
    ).run(reason, now, endpointId).changes;
  }

  pruneDeliveries(endedBefore: number, after: string | null, limit: number): { deliveries: number; attempts: number; next: string | null } {
    return this.atomic(() => {
      // Ids sort by creation time and a delivery ends after it is made, so only ids made before
      // the cutoff can be due: a primary-key range, not a scan of the table or another index.
      const scanned = this.s(
        `SELECT id, status <> 'pending' AND updated_at < ? AS due FROM deliveries WHERE id > ? AND id < ? ORDER BY id LIMIT ?`,
      ).all(endedBefore, after ?? 'dlv_', idAt('dlv', endedBefore), limit) as Array<{ id: string; due: number }>;
      const due = JSON.stringify(scanned.filter((r) => r.due === 1).map((r) => r.id));
      const attempts = this.s('DELETE FROM attempts WHERE delivery_id IN (SELECT value FROM json_each(?))').run(due).changes;
      const deliveries = this.s('DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))').run(due).changes;
      return { deliveries, attempts, next: scanned.length < limit ? null : scanned[scanned.length - 1]!.id };
    });
  }
}
