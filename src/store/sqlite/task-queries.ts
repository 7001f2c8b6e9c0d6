/** Tasks, targets, outputs, worker leases and batches: the sqlite statements of TaskOps (ops/tasks.ts). */
import type { BatchRow, ClaimedTarget, OutputRow, TargetRow, TaskAggregate, TaskRow } from '../../domain/types.js';
import type { ListTasksQuery, QueueStanding, TargetPatch, TaskOps, TaskPatch } from '../ops/tasks.js';
import type { Sync } from '../ops/ops.js';
import { json, outputFromRow, patchSql, type Row, SqliteQueries, targetFromRow, taskFromRow } from './sql.js';
import { fairShare, roomUnderCap, turnsFirst, type TenantQueue } from '../../domain/fair-share.js';
import { idAt } from '../../ids.js';

export class SqliteTaskQueries extends SqliteQueries implements Sync<TaskOps> {
  insertTask(task: TaskRow, targets: TargetRow[]): void {
    // Positional parameters: every create runs these, and binding by name costs ~1 µs a row more.
    this.atomic(() => {
      this.s(
        `INSERT INTO tasks (id, tenant_id, kind, status, title, input, params, metadata, webhook_url, webhook_events,
                            idempotency_key, request_hash, batch_id, cost, error, created_at, updated_at, completed_at, deadline_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        task.id, task.tenant_id, task.kind, task.status, task.title, json(task.input), json(task.params), json(task.metadata), task.webhook_url,
        json(task.webhook_events), task.idempotency_key, task.request_hash, task.batch_id, task.cost, json(task.error), task.created_at, task.updated_at,
        task.completed_at, task.deadline_at,
      );
      const ins = this.s(
        `INSERT INTO targets (id, task_id, tenant_id, position, name, spec, status, progress, attempts, lease_owner, lease_expires_at,
                              cost, duration, info, error, created_at, started_at, finished_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      for (const t of targets) {
        ins.run(
          t.id, t.task_id, task.tenant_id, t.position, t.name, json(t.spec), t.status, t.progress, t.attempts, t.lease_owner, t.lease_expires_at,
          t.cost, t.duration, json(t.info), json(t.error), t.created_at, t.started_at, t.finished_at,
        );
      }
    });
  }

  getTask(tenantId: string, id: string): TaskRow | null {
    const r = this.s('SELECT * FROM tasks WHERE id = ? AND tenant_id = ?').get(id, tenantId) as Row | undefined;
    return r ? taskFromRow(r) : null;
  }

  getTaskById(id: string): TaskRow | null {
    const r = this.s('SELECT * FROM tasks WHERE id = ?').get(id) as Row | undefined;
    return r ? taskFromRow(r) : null;
  }

  lockTask(id: string): TaskRow | null {
    return this.getTaskById(id);
  }

  findTaskByIdempotencyKey(tenantId: string, key: string): TaskRow | null {
    const r = this.s('SELECT * FROM tasks WHERE tenant_id = ? AND idempotency_key = ?').get(tenantId, key) as Row | undefined;
    return r ? taskFromRow(r) : null;
  }

  listTasks(q: ListTasksQuery): TaskRow[] {
    const where = ['tenant_id = @tenantId'];
    if (q.status) where.push('status = @status');
    if (q.kind) where.push('kind = @kind');
    if (q.before) where.push('id < @before');
    const sql = `SELECT * FROM tasks WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT @limit`;
    return (this.s(sql).all({ tenantId: q.tenantId, status: q.status, kind: q.kind, before: q.before, limit: q.limit }) as Row[]).map(taskFromRow);
  }

  loadAggregates(tasks: TaskRow[]): TaskAggregate[] {
    if (tasks.length === 0) return [];
    const ids = JSON.stringify(tasks.map((t) => t.id));
    const targets = (
      this.s('SELECT * FROM targets WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY task_id, position').all(ids) as Row[]
    ).map(targetFromRow);
    const outputs = (this.s('SELECT * FROM outputs WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id').all(ids) as Row[]).map(outputFromRow);
    return tasks.map((task) => ({
      task,
      targets: targets.filter((t) => t.task_id === task.id),
      outputs: outputs.filter((o) => o.task_id === task.id),
    }));
  }

  updateTask(id: string, patch: TaskPatch): void {
    const { set, values } = patchSql(patch, ['error']);
    this.s(`UPDATE tasks SET ${set} WHERE id = @id`).run({ ...values, id });
  }

  getTargets(taskId: string): TargetRow[] {
    return (this.s('SELECT * FROM targets WHERE task_id = ? ORDER BY position').all(taskId) as Row[]).map(targetFromRow);
  }

  insertOutputs(outputs: OutputRow[]): void {
    const ins = this.s(
      `INSERT INTO outputs (id, target_id, task_id, tenant_id, name, format, path, size, duration, bitrate, sample_rate, channels, loudness, file_name, peaks, created_at, expires_at, removed_at)
       VALUES (@id, @target_id, @task_id, @tenant_id, @name, @format, @path, @size, @duration, @bitrate, @sample_rate, @channels, @loudness, @file_name, @peaks, @created_at, @expires_at, @removed_at)`,
    );
    for (const o of outputs) ins.run({ ...o, loudness: o.loudness ? JSON.stringify(o.loudness) : null, file_name: o.file_name ?? null, peaks: o.peaks ? JSON.stringify(o.peaks) : null });
  }

  getOutput(id: string): OutputRow | null {
    const r = this.s('SELECT * FROM outputs WHERE id = ?').get(id) as Row | undefined;
    return r ? outputFromRow(r) : null;
  }

  claimTargets(owner: string, limit: number, now: number, leaseUntil: number, tenantCap: number): ClaimedTarget[] {
    return this.atomic(() => {
      // Targets whose worker's lease ran out (it died or hung) come first: they waited longest,
      // and they already count as their tenant's running work.
      const ids = (this.s(`SELECT id FROM targets WHERE status = 'processing' AND lease_expires_at < ? ORDER BY lease_expires_at LIMIT ?`).all(now, limit) as Array<{ id: string }>).map(
        (r) => r.id,
      );
      if (ids.length < limit) ids.push(...this.claimQueuedFairly(limit - ids.length, tenantCap));
      if (ids.length === 0) return [];
      const rows = this.s(
        `UPDATE targets
            SET status = 'processing', lease_owner = ?, lease_expires_at = ?,
                attempts = attempts + 1, started_at = COALESCE(started_at, ?)
          WHERE id IN (SELECT value FROM json_each(?))
          RETURNING *`,
      ).all(owner, leaseUntil, now, JSON.stringify(ids)) as Row[];
      const order = new Map(ids.map((id, i) => [id, i]));
      const targets = rows.map(targetFromRow).sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      const out: ClaimedTarget[] = [];
      for (const target of targets) {
        this.s("UPDATE tasks SET status = 'processing', updated_at = ? WHERE id = ? AND status = 'queued'").run(now, target.task_id);
        const task = this.getTaskById(target.task_id);
        if (task) out.push({ target, task });
      }
      return out;
    });
  }

  /** Queued target ids, one tenant at a time in turn order (fair-share.ts); moves the served tenants' turns to the back. */
  private claimQueuedFairly(limit: number, tenantCap: number): string[] {
    // Tenants with queued work, longest unserved first; at most `limit` of them can get a target.
    const tenants = this.s(
      `SELECT tn.id,
              (SELECT count(*) FROM targets r WHERE r.tenant_id = tn.id AND r.status = 'processing') AS running
         FROM tenants tn
        WHERE EXISTS (SELECT 1 FROM targets q WHERE q.tenant_id = tn.id AND q.status = 'queued')
        ORDER BY tn.claim_turn, tn.id`,
    ).all() as Array<{ id: string; running: number }>;
    const queued = this.s(`SELECT id FROM targets WHERE tenant_id = ? AND status = 'queued' ORDER BY created_at LIMIT ?`);
    const queues: TenantQueue[] = [];
    for (const t of tenants) {
      if (queues.length >= limit) break;
      const room = roomUnderCap(t.running, tenantCap, limit);
      if (room > 0) queues.push({ tenantId: t.id, targetIds: (queued.all(t.id, room) as Array<{ id: string }>).map((r) => r.id) });
    }
    const pick = fairShare(queues, limit);
    const turn = this.s('UPDATE tenants SET claim_turn = (SELECT max(claim_turn) FROM tenants) + 1 WHERE id = ?');
    for (const tenantId of pick.served) turn.run(tenantId);
    return pick.targetIds;
  }

  countQueuedTasks(tenantId: string, upTo: number): number {
    // Counts no further than the cap: a full queue costs the same to check as a nearly full one.
    return (this.s(`SELECT count(*) AS n FROM (SELECT 1 FROM tasks WHERE tenant_id = ? AND status = 'queued' LIMIT ?)`).get(tenantId, upTo) as { n: number }).n;
  }

  queueStanding(taskId: string): QueueStanding | null {
    const me = this.s(`SELECT tenant_id, created_at FROM targets WHERE task_id = ? AND status = 'queued' ORDER BY position LIMIT 1`).get(taskId) as
      | { tenant_id: string; created_at: number }
      | undefined;
    if (!me) return null;
    const ownAhead = (this.s(`SELECT count(*) AS n FROM targets WHERE tenant_id = ? AND status = 'queued' AND created_at < ?`).get(me.tenant_id, me.created_at) as { n: number }).n;
    const myTurn = (this.s('SELECT claim_turn FROM tenants WHERE id = ?').get(me.tenant_id) as { claim_turn: number }).claim_turn;
    const others = this.s(
      `SELECT q.tenant_id, count(*) AS queued, tn.claim_turn AS turn
         FROM targets q JOIN tenants tn ON tn.id = q.tenant_id
        WHERE q.status = 'queued' AND q.tenant_id <> ?
        GROUP BY q.tenant_id, tn.claim_turn`,
    ).all(me.tenant_id) as Array<{ tenant_id: string; queued: number; turn: number }>;
    return { ownAhead, others: others.map((o) => ({ queued: o.queued, servedFirst: turnsFirst(o, { tenant_id: me.tenant_id, turn: myTurn }) })) };
  }

  deleteTask(id: string, now: number): void {
    this.atomic(() => {
      // The upload it was made from goes too (the upload sweep removes expired uploads), read
      // from the input before it is redacted.
      this.s(
        `UPDATE uploads SET expires_at = ? - 1
          WHERE id = (SELECT json_extract(input, '$.upload_id') FROM tasks WHERE id = ?) AND tenant_id = (SELECT tenant_id FROM tasks WHERE id = ?) AND expires_at >= ?`,
      ).run(now, id, id, now);
      this.s(`UPDATE tasks SET input = '{}', metadata = NULL, webhook_url = NULL, deleted_at = COALESCE(deleted_at, ?) WHERE id = ?`).run(now, id);
      // Its events carry the task as it was: redacted alike, so neither a feed, a redelivery nor a
      // retry still sends what the client deleted (the one change ever made to a frozen payload).
      this.s(
        `UPDATE events SET payload = json_set(payload, '$.data.input', json('{}'), '$.data.metadata', json('null'), '$.data.webhook_url', json('null'))
          WHERE task_id = ? AND json_extract(payload, '$.data.id') = ?`,
      ).run(id, id);
      this.s(`UPDATE outputs SET expires_at = ? WHERE task_id = ? AND removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`).run(now, id, now);
    });
  }

  listOutputsToRemove(now: number, limit: number): Array<{ id: string; path: string }> {
    return this.s(`SELECT id, path FROM outputs WHERE expires_at <= ? AND removed_at IS NULL ORDER BY expires_at LIMIT ?`).all(now, limit) as Array<{ id: string; path: string }>;
  }

  markOutputsRemoved(ids: string[], now: number): void {
    this.s('UPDATE outputs SET removed_at = ? WHERE id IN (SELECT value FROM json_each(?))').run(now, JSON.stringify(ids));
  }

  pruneTasks(endedBefore: number, now: number, after: string | null, limit: number): { tasks: number; next: string | null } {
    return this.atomic(() => {
      // tasks_to_prune holds the ended tasks not reduced yet, by id; a task ends after it is made,
      // so only ids made before the cutoff can be due.
      const scanned = this.s(
        `SELECT t.id, t.completed_at < ? AND NOT EXISTS (SELECT 1 FROM outputs o WHERE o.task_id = t.id AND o.removed_at IS NULL) AS due
           FROM tasks t WHERE t.pruned_at IS NULL AND t.completed_at IS NOT NULL AND t.id > ? AND t.id < ? ORDER BY t.id LIMIT ?`,
      ).all(endedBefore, after ?? 'task_', idAt('task', endedBefore), limit) as Array<{ id: string; due: number }>;
      const due = JSON.stringify(scanned.filter((r) => r.due === 1).map((r) => r.id));
      this.s('DELETE FROM outputs WHERE task_id IN (SELECT value FROM json_each(?))').run(due);
      this.s('DELETE FROM targets WHERE task_id IN (SELECT value FROM json_each(?))').run(due);
      const tasks = this.s(
        `UPDATE tasks SET title = NULL, input = '{}', params = '{}', metadata = NULL, webhook_url = NULL, pruned_at = ?
          WHERE id IN (SELECT value FROM json_each(?))`,
      ).run(now, due).changes;
      return { tasks, next: scanned.length < limit ? null : scanned[scanned.length - 1]!.id };
    });
  }

  listTasksPastDeadline(now: number, limit: number): string[] {
    const rows = this.s(`SELECT id FROM tasks WHERE deadline_at <= ? AND status IN ('queued', 'processing') ORDER BY deadline_at LIMIT ?`).all(now, limit) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  renewLeases(owner: string, targetIds: string[], leaseUntil: number): string[] {
    if (targetIds.length === 0) return [];
    const rows = this.s(
      `UPDATE targets SET lease_expires_at = ?
        WHERE id IN (SELECT value FROM json_each(?)) AND lease_owner = ? AND status = 'processing'
        RETURNING id`,
    ).all(leaseUntil, JSON.stringify(targetIds), owner) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  updateLeasedTarget(targetId: string, owner: string, patch: TargetPatch): boolean {
    const { set, values } = patchSql(patch, ['spec', 'info', 'error']);
    const r = this.s(`UPDATE targets SET ${set} WHERE id = @targetId AND lease_owner = @owner AND status = 'processing'`).run({
      ...values,
      targetId,
      owner,
    });
    return r.changes > 0;
  }

  updateTarget(targetId: string, patch: TargetPatch): void {
    const { set, values } = patchSql(patch, ['spec', 'info', 'error']);
    this.s(`UPDATE targets SET ${set} WHERE id = @targetId`).run({ ...values, targetId });
  }

  cancelOpenTargets(taskId: string, now: number): number {
    return this.s(
      `UPDATE targets SET status = 'canceled', finished_at = ?, lease_owner = NULL, lease_expires_at = NULL
        WHERE task_id = ? AND status IN ('queued', 'processing')`,
    ).run(now, taskId).changes;
  }

  insertBatch(b: BatchRow): void {
    this.s(
      'INSERT INTO batches (id, tenant_id, webhook_url, item_count, idempotency_key, created_at) VALUES (@id, @tenant_id, @webhook_url, @item_count, @idempotency_key, @created_at)',
    ).run(b);
  }

  findBatchByIdempotencyKey(tenantId: string, key: string): BatchRow | null {
    return (this.s('SELECT * FROM batches WHERE tenant_id = ? AND idempotency_key = ?').get(tenantId, key) as BatchRow | undefined) ?? null;
  }

  getBatch(tenantId: string, id: string): BatchRow | null {
    return (this.s('SELECT * FROM batches WHERE id = ? AND tenant_id = ?').get(id, tenantId) as BatchRow | undefined) ?? null;
  }

  listTasksOfBatch(tenantId: string, batchId: string): TaskRow[] {
    // `+tenant_id`: by batch (tasks_by_batch), not by walking the tenant's every task in id order.
    return (this.s('SELECT * FROM tasks WHERE batch_id = ? AND +tenant_id = ? ORDER BY id').all(batchId, tenantId) as Row[]).map(taskFromRow);
  }
}
