/** The outbox: deliveries, their claims and attempts: the postgres statements of DeliveryOps (ops/deliveries.ts). */
import type { AttemptRow, DeliveryRow } from '../../domain/types.js';
import type { AttemptOutcome, DeliveryOps, DueClaim, ListDeliveriesQuery } from '../ops/deliveries.js';
import { json, PostgresQueries, Where } from './sql.js';
import { probeCandidates } from '../../domain/circuit-breaker.js';
import { dueDeliveries, type ClaimRow } from '../due-deliveries.js';
import { idAt } from '../../ids.js';

/** A parked delivery looks again no sooner than this, and no later than PARK_MAX_MS. */
const PARK_MIN_MS = 100;
const PARK_MAX_MS = 500;

// Due rows, oldest due first, each with when the earliest still-pending delivery of the same task
// to the same receiver is due (NULL: none, it may go). Rows another claimer holds are skipped.
// The blocker is looked up by task (deliveries_by_task: a task has a few deliveries). Its status
// test sits inside min() rather than in WHERE: a WHERE status = 'pending' lets the planner walk
// deliveries_due instead, which it believes holds one row (status and next_attempt_at are
// estimated as if unrelated) and which holds every pending delivery, so each due row cost a walk
// over the whole backlog (132 ms instead of 5 ms a claim of 256 with 3,000 pending).
const DUE_DELIVERIES = (ordered: boolean) => `
  SELECT d.id, ${ordered ? `(SELECT min(CASE WHEN e.status = 'pending' THEN e.next_attempt_at END) FROM deliveries e
                   WHERE e.task_id = d.task_id AND e.id < d.id AND e.url = d.url
                     AND e.endpoint_id IS NOT DISTINCT FROM d.endpoint_id)` : 'NULL::bigint'} AS blocker_due
    FROM deliveries d
   WHERE d.status = 'pending' AND d.next_attempt_at <= $1
   ORDER BY d.next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`;

// Held back for an earlier event of the same task to the same receiver: parked until that one is
// due again, so no claim walks over it meanwhile; recordAttempts wakes it when that one ends. An
// earlier one due no later than this claim's own lease may be in flight: this claim read it as
// pending in its snapshot, and if it ended just after, its wake-up found nothing parked yet, so
// such a park lasts at most PARK_MAX_MS. One waiting for a later retry parks the row until then.
const PARK_DELIVERIES = `
  UPDATE deliveries AS d
     SET next_attempt_at = CASE WHEN p.blocker_due > $4 THEN p.blocker_due + 1
                                ELSE GREATEST($1::bigint + ${PARK_MIN_MS}, LEAST(p.blocker_due + 1, $1::bigint + ${PARK_MAX_MS})) END
    FROM unnest($2::text[], $3::bigint[]) AS p(id, blocker_due)
   WHERE d.id = p.id`;

// As in SQLite: rows of an open circuit move to its open-until instead of being leased, so they
// leave the front of deliveries_due. `= ANY(ARRAY(…))` finds the claimed rows by primary key; a join
// with the CTE was planned as a hash join over a sequential scan of every delivery ever made. The
// CTEs and the final join read one snapshot, so ep.circuit_open_until there is what the UPDATE saw.
const CLAIM_DELIVERIES = `
  WITH claimed AS (
    UPDATE deliveries AS d
       SET next_attempt_at = COALESCE((SELECT circuit_open_until FROM endpoints WHERE id = d.endpoint_id AND circuit_open_until > $1), $3),
           leased_until = CASE WHEN EXISTS (SELECT 1 FROM endpoints WHERE id = d.endpoint_id AND circuit_open_until > $1) THEN NULL ELSE $3 END
     WHERE d.id = ANY($2)
    RETURNING d.id, d.event_id, d.tenant_id, d.endpoint_id, d.url, d.attempt_count, d.final_attempt
  )
  SELECT c.*, e.payload, e.created_at AS event_created_at, t.webhook_secret,
         ep.secret AS endpoint_secret, ep.previous_secret, ep.previous_secret_until, ep.enabled AS endpoint_enabled, ep.circuit_open_until
    FROM claimed c
    JOIN events e ON e.id = c.event_id
    JOIN tenants t ON t.id = c.tenant_id
    LEFT JOIN endpoints ep ON ep.id = c.endpoint_id
   ORDER BY c.id`;

// When deliveries end (delivered or failed for good), the later ones of their task to the same
// receiver, parked behind them, are due now. From the ended ones by task, as the blocker above: a
// plain n.status = 'pending' made the planner start from deliveries_due, every pending delivery.
const WAKE_PARKED = `
  UPDATE deliveries AS n SET next_attempt_at = $2
    FROM deliveries AS d
   WHERE d.id = ANY($1) AND n.task_id = d.task_id AND n.url = d.url AND n.endpoint_id IS NOT DISTINCT FROM d.endpoint_id
     AND n.id > d.id AND (CASE WHEN n.status = 'pending' THEN n.next_attempt_at END) > $2`;

// A batch of attempts and their deliveries' new state in one statement: a typed array per column,
// zipped back into rows by unnest (the planner sees how many, so it finds deliveries by primary key).
const RECORD_ATTEMPTS = `
  WITH attempt AS (
    INSERT INTO attempts (id, delivery_id, attempt_number, started_at, status_code, latency_ms, response_excerpt, error,
                          request_headers, response_headers)
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::int[], $6::float8[], $7::text[], $8::text[],
                         $9::json[], $10::json[])
    ON CONFLICT DO NOTHING
  )
  UPDATE deliveries AS d
     SET status = u.status, attempt_count = u.attempt_count, next_attempt_at = u.next_attempt_at, last_error = u.last_error,
         last_status_code = u.last_status_code, updated_at = u.updated_at, delivered_at = u.delivered_at, leased_until = NULL
    FROM unnest($11::text[], $12::text[], $13::int[], $14::bigint[], $15::text[], $16::int[], $17::bigint[], $18::bigint[])
         AS u(id, status, attempt_count, next_attempt_at, last_error, last_status_code, updated_at, delivered_at)
   WHERE d.id = u.id`;

// Row retention, one batch in one statement. Ids sort by creation time and a delivery ends after it
// is made, so only ids made before the cutoff ($2) can be due: a primary-key range. The rows to go
// are locked with SKIP LOCKED and their status read again under the lock, so a redelivery that
// made one pending first keeps it, and pruners in several processes share the work without
// waiting on (or deadlocking with) each other.
const PRUNE_DELIVERIES = `
  WITH scan AS (
    SELECT id FROM deliveries WHERE id > $1 AND id < $2 ORDER BY id LIMIT $3
  ), doomed AS (
    SELECT id FROM deliveries
     WHERE id = ANY(ARRAY(SELECT id FROM scan)) AND status <> 'pending' AND updated_at < $4
       FOR UPDATE SKIP LOCKED
  ), attempts_gone AS (
    DELETE FROM attempts WHERE delivery_id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1
  ), gone AS (
    DELETE FROM deliveries WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1
  )
  SELECT (SELECT count(*) FROM gone)::int AS deliveries, (SELECT count(*) FROM attempts_gone)::int AS attempts,
         (SELECT count(*) FROM scan)::int AS scanned, (SELECT max(id) FROM scan) AS last`;

export class PostgresDeliveryQueries extends PostgresQueries implements DeliveryOps {
  async insertDeliveries(ds: DeliveryRow[]): Promise<void> {
    await this.insert('deliveries', ds);
  }

  async claimDueDeliveries(now: number, limit: number, leaseUntil: number, ordered: boolean): Promise<DueClaim> {
    const { rows, taken } = await this.atomic(async (q) => {
      const due = await q.all<{ id: string; blocker_due: number | null }>(DUE_DELIVERIES(ordered), [now, limit]);
      const parked = due.filter((d) => d.blocker_due !== null);
      if (parked.length > 0) await q.exec(PARK_DELIVERIES, [now, parked.map((d) => d.id), parked.map((d) => d.blocker_due), leaseUntil]);
      const free = due.filter((d) => d.blocker_due === null).map((d) => d.id);
      return { rows: free.length === 0 ? [] : await q.all<ClaimRow>(CLAIM_DELIVERIES, [now, free, leaseUntil]), taken: due.length };
    });
    const cooled = probeCandidates(rows, now);
    // Not atomic with the claim, and need not be: until a probe is taken, the cooled rows stay
    // leased, and a claimer that dies in between leaves them due again when the lease ends. The
    // row lock makes one claimer win; the others' rows wait out their own lease.
    const probes =
      cooled.length === 0
        ? []
        : await this.all<{ id: string }>('UPDATE endpoints SET circuit_open_until = $1 WHERE id = ANY($2) AND circuit_open_until <= $3 RETURNING id', [
            leaseUntil,
            cooled,
            now,
          ]);
    return { deliveries: dueDeliveries(rows, now, new Set(probes.map((p) => p.id))), taken };
  }

  async releaseDeliveries(ids: string[], dueAt: number): Promise<void> {
    await this.exec("UPDATE deliveries SET next_attempt_at = $1, leased_until = NULL WHERE id = ANY($2) AND status = 'pending'", [dueAt, ids]);
  }

  async recordAttempts(outcomes: AttemptOutcome[]): Promise<number> {
    if (outcomes.length === 0) return 0;
    // SQLite applies the updates in order, so the last outcome of a delivery wins; one UPDATE … FROM
    // would pick any, so only the last is sent.
    const last = [...new Map(outcomes.map((o) => [o.delivery.id, o.delivery])).values()];
    const attempts = outcomes.flatMap((o) => (o.attempt ? [o.attempt] : []));
    await this.exec(RECORD_ATTEMPTS, [
      attempts.map((a) => a.id),
      attempts.map((a) => a.delivery_id),
      attempts.map((a) => a.attempt_number),
      attempts.map((a) => a.started_at),
      attempts.map((a) => a.status_code),
      attempts.map((a) => a.latency_ms),
      attempts.map((a) => a.response_excerpt),
      attempts.map((a) => a.error),
      attempts.map((a) => json(a.request_headers)),
      attempts.map((a) => json(a.response_headers)),
      last.map((d) => d.id),
      last.map((d) => d.status),
      last.map((d) => d.attempt_count),
      last.map((d) => d.next_attempt_at),
      last.map((d) => d.last_error),
      last.map((d) => d.last_status_code),
      last.map((d) => d.updated_at),
      last.map((d) => d.delivered_at),
    ]);
    const ended = last.filter((d) => d.status !== 'pending');
    return ended.length === 0 ? 0 : await this.count(WAKE_PARKED, [ended.map((d) => d.id), Math.max(...ended.map((d) => d.updated_at))]);
  }

  async nextDeliveryDueAt(): Promise<number | null> {
    const r = await this.one<{ due: number | null }>("SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'", []);
    return r?.due ?? null;
  }

  listDeliveriesForTask(tenantId: string, taskId: string): Promise<DeliveryRow[]> {
    return this.all('SELECT * FROM deliveries WHERE task_id = $1 AND tenant_id = $2 ORDER BY created_at, id', [taskId, tenantId]);
  }

  getDelivery(tenantId: string, id: string): Promise<DeliveryRow | null> {
    return this.one('SELECT * FROM deliveries WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  async listAttempts(deliveryIds: string[]): Promise<AttemptRow[]> {
    if (deliveryIds.length === 0) return [];
    return this.all('SELECT * FROM attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, attempt_number', [deliveryIds]);
  }

  listDeliveries(q: ListDeliveriesQuery): Promise<DeliveryRow[]> {
    const w = new Where();
    w.add((p) => `tenant_id = ${p}`, q.tenantId);
    if (q.status) w.add((p) => `status = ${p}`, q.status);
    if (q.endpointId) w.add((p) => `endpoint_id = ${p}`, q.endpointId);
    if (q.taskId) w.add((p) => `task_id = ${p}`, q.taskId);
    if (q.before) w.add((p) => `id < ${p}`, q.before);
    return this.all(`SELECT * FROM deliveries WHERE ${w.sql} ORDER BY id DESC LIMIT ${w.param(q.limit)}`, w.values);
  }

  async requeueDelivery(tenantId: string, id: string, now: number): Promise<boolean> {
    // Never a pending one: it may be in flight right now, and would be sent twice.
    const changed = await this.count(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, final_attempt = attempt_count + 1, updated_at = $1
        WHERE id = $2 AND tenant_id = $3 AND status <> 'pending'`,
      [now, id, tenantId],
    );
    return changed > 0;
  }

  async retryDeliveryNow(tenantId: string, id: string, now: number): Promise<'due' | 'leased' | 'not-pending' | null> {
    // One statement: the row lock orders it against a concurrent claim (FOR UPDATE SKIP LOCKED
    // skips it while this runs; a claim that committed first left its lease for this to see).
    const r = await this.one<{ status: string; leased: boolean; endpoint_id: string | null }>(
      `WITH d AS (SELECT id, status, endpoint_id, leased_until FROM deliveries WHERE id = $1 AND tenant_id = $2 FOR UPDATE),
            due AS (UPDATE deliveries SET next_attempt_at = $3, leased_until = NULL, updated_at = $3
                     WHERE id = (SELECT id FROM d WHERE status = 'pending' AND (leased_until IS NULL OR leased_until <= $3)) RETURNING endpoint_id),
            probe AS (UPDATE endpoints SET circuit_open_until = $3 WHERE id = (SELECT endpoint_id FROM due) AND circuit_open_until > $3)
       SELECT status, leased_until IS NOT NULL AND leased_until > $3 AS leased, endpoint_id FROM d`,
      [id, tenantId, now],
    );
    if (!r) return null;
    if (r.status !== 'pending') return 'not-pending';
    return r.leased ? 'leased' : 'due';
  }

  async hasEndpointDeliveries(tenantId: string, endpointId: string): Promise<boolean> {
    return (await this.one('SELECT 1 FROM deliveries WHERE endpoint_id = $1 AND tenant_id = $2 LIMIT 1', [endpointId, tenantId])) !== null;
  }

  requeueFailedDeliveries(tenantId: string, endpointId: string, since: number, now: number): Promise<number> {
    return this.count(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, final_attempt = attempt_count + 1, updated_at = $1
        WHERE tenant_id = $2 AND endpoint_id = $3 AND status = 'failed' AND created_at >= $4`,
      [now, tenantId, endpointId, since],
    );
  }

  async deferEndpointDeliveries(endpointId: string, until: number): Promise<void> {
    await this.exec("UPDATE deliveries SET next_attempt_at = $1 WHERE endpoint_id = $2 AND status = 'pending' AND next_attempt_at < $1", [until, endpointId]);
  }

  failEndpointDeliveries(endpointId: string, reason: string, now: number): Promise<number> {
    return this.count(
      "UPDATE deliveries SET status = 'failed', next_attempt_at = NULL, last_error = $1, updated_at = $2 WHERE endpoint_id = $3 AND status = 'pending'",
      [reason, now, endpointId],
    );
  }

  async pruneDeliveries(endedBefore: number, after: string | null, limit: number): Promise<{ deliveries: number; attempts: number; next: string | null }> {
    const r = (await this.one<{ deliveries: number; attempts: number; scanned: number; last: string | null }>(PRUNE_DELIVERIES, [
      after ?? 'dlv_',
      idAt('dlv', endedBefore),
      limit,
      endedBefore,
    ]))!;
    return { deliveries: r.deliveries, attempts: r.attempts, next: r.scanned < limit ? null : r.last };
  }
}
