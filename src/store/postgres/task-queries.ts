/** Tasks, targets, outputs, worker leases and batches: the postgres statements of TaskOps (ops/tasks.ts). */
import type { BatchRow, ClaimedTarget, OutputRow, TargetRow, TaskAggregate, TaskRow } from '../../domain/types.js';
import type { ListTasksQuery, QueueStanding, TargetPatch, TaskOps, TaskPatch } from '../ops/tasks.js';
import { groupBy, insertSql, patchSql, PostgresQueries, type Sql, Where } from './sql.js';
import { fairShare, roomUnderCap, turnsFirst, type TenantQueue } from '../../domain/fair-share.js';
import { idAt } from '../../ids.js';

// Claiming (claimTargets): expired leases first, then queued targets fairly across tenants. Rows
// another claimer holds are skipped rather than waited for; a lease a heartbeat renewed after the
// statement's snapshot is re-checked once locked and left out.
const EXPIRED_TARGETS = `
  SELECT id FROM targets WHERE status = 'processing' AND lease_expires_at < $1
   ORDER BY lease_expires_at LIMIT $2 FOR UPDATE SKIP LOCKED`;

// Tenants with queued work, longest unserved first, with their running targets.
const WAITING_TENANTS = `
  SELECT tn.id, (SELECT count(*) FROM targets r WHERE r.tenant_id = tn.id AND r.status = 'processing')::int AS running
    FROM tenants tn
   WHERE EXISTS (SELECT 1 FROM targets q WHERE q.tenant_id = tn.id AND q.status = 'queued')
   ORDER BY tn.claim_turn, tn.id`;

// Claimers serving the same tenant take turns, so its running cap holds exactly. In id order, so
// two claimers never wait on each other crosswise; NO KEY UPDATE, so creating a task (whose
// foreign key takes KEY SHARE on its tenant) never waits for a claim.
const LOCK_TENANTS = `SELECT id FROM tenants WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`;


const RUNNING_OF_TENANTS = `
  SELECT tenant_id, count(*)::int AS running FROM targets
   WHERE tenant_id = ANY($1) AND status = 'processing' GROUP BY tenant_id`;

// Each tenant's oldest queued targets, as many as its room, in one round trip.
const QUEUED_OF_TENANTS = `
  SELECT q.id, q.tenant_id
    FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS w(tenant_id, room, n)
   CROSS JOIN LATERAL (
     SELECT id, tenant_id, created_at FROM targets
      WHERE tenant_id = w.tenant_id AND status = 'queued'
      ORDER BY created_at LIMIT w.room FOR UPDATE SKIP LOCKED) AS q
   ORDER BY w.n, q.created_at`;


const TAKE_TURNS = `
  UPDATE tenants SET claim_turn = (SELECT max(claim_turn) FROM tenants) + array_position($1::text[], id)
   WHERE id = ANY($1)`;


const LEASE_TARGETS = `
  UPDATE targets
     SET status = 'processing', lease_owner = $1, lease_expires_at = $2,
         attempts = attempts + 1, started_at = COALESCE(started_at, $3)
   WHERE id = ANY($4)
  RETURNING *`;

// One statement, so targets and outputs come from one snapshot (as SQLite's single connection gives).
const LOAD_AGGREGATES = `
  SELECT (SELECT COALESCE(json_agg(t ORDER BY t.task_id, t.position), '[]') FROM targets t WHERE t.task_id = ANY($1)) AS targets,
         (SELECT COALESCE(json_agg(o ORDER BY o.created_at, o.id), '[]') FROM outputs o WHERE o.task_id = ANY($1)) AS outputs`;

// Row retention, one batch in one statement: tasks_to_prune holds the ended tasks not reduced yet,
// by id, and a task ends after it is made, so only ids made before the cutoff ($2) can be due. The
// tasks to reduce are locked with SKIP LOCKED (pruners in several processes share the work); their
// outputs and targets go and the row keeps what a tombstone shows.
const PRUNE_TASKS = `
  WITH scan AS (
    SELECT id FROM tasks WHERE pruned_at IS NULL AND completed_at IS NOT NULL AND id > $1 AND id < $2 ORDER BY id LIMIT $3
  ), doomed AS (
    SELECT t.id FROM tasks t
     WHERE t.id = ANY(ARRAY(SELECT id FROM scan)) AND t.pruned_at IS NULL AND t.completed_at < $4
       AND NOT EXISTS (SELECT 1 FROM outputs o WHERE o.task_id = t.id AND o.removed_at IS NULL)
       FOR UPDATE SKIP LOCKED
  ), outputs_gone AS (
    DELETE FROM outputs WHERE task_id = ANY(ARRAY(SELECT id FROM doomed))
  ), targets_gone AS (
    DELETE FROM targets WHERE task_id = ANY(ARRAY(SELECT id FROM doomed))
  ), reduced AS (
    UPDATE tasks SET title = NULL, input = '{}', params = '{}', metadata = NULL, webhook_url = NULL, pruned_at = $5
     WHERE id = ANY(ARRAY(SELECT id FROM doomed)) RETURNING 1
  )
  SELECT (SELECT count(*) FROM reduced)::int AS tasks, (SELECT count(*) FROM scan)::int AS scanned, (SELECT max(id) FROM scan) AS last`;

export class PostgresTaskQueries extends PostgresQueries implements TaskOps {
  async insertTask(task: TaskRow, targets: TargetRow[]): Promise<void> {
    // One statement: the task and its targets are stored together or not at all. The foreign key
    // of targets is checked at the end of the statement, when the task row exists.
    await this.exec(`WITH task AS (${insertSql('tasks', '$1')}) ${insertSql('targets', '$2')}`, [
      JSON.stringify([task]),
      JSON.stringify(targets.map((t) => ({ ...t, tenant_id: task.tenant_id }))),
    ]);
  }

  getTask(tenantId: string, id: string): Promise<TaskRow | null> {
    return this.one('SELECT * FROM tasks WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  getTaskById(id: string): Promise<TaskRow | null> {
    return this.one('SELECT * FROM tasks WHERE id = $1', [id]);
  }

  lockTask(id: string): Promise<TaskRow | null> {
    return this.one('SELECT * FROM tasks WHERE id = $1 FOR UPDATE', [id]);
  }

  findTaskByIdempotencyKey(tenantId: string, key: string): Promise<TaskRow | null> {
    return this.one('SELECT * FROM tasks WHERE tenant_id = $1 AND idempotency_key = $2', [tenantId, key]);
  }

  listTasks(q: ListTasksQuery): Promise<TaskRow[]> {
    const w = new Where();
    w.add((p) => `tenant_id = ${p}`, q.tenantId);
    if (q.status) w.add((p) => `status = ${p}`, q.status);
    if (q.kind) w.add((p) => `kind = ${p}`, q.kind);
    if (q.before) w.add((p) => `id < ${p}`, q.before);
    return this.all(`SELECT * FROM tasks WHERE ${w.sql} ORDER BY id DESC LIMIT ${w.param(q.limit)}`, w.values);
  }

  async loadAggregates(tasks: TaskRow[]): Promise<TaskAggregate[]> {
    if (tasks.length === 0) return [];
    const r = (await this.one<{ targets: TargetRow[]; outputs: OutputRow[] }>(LOAD_AGGREGATES, [tasks.map((t) => t.id)]))!;
    const targets = groupBy(r.targets, (t) => t.task_id);
    const outputs = groupBy(r.outputs, (o) => o.task_id);
    return tasks.map((task) => ({ task, targets: targets.get(task.id) ?? [], outputs: outputs.get(task.id) ?? [] }));
  }

  async updateTask(id: string, patch: TaskPatch): Promise<void> {
    const { set, values } = patchSql(patch, ['error'], 2);
    await this.exec(`UPDATE tasks SET ${set} WHERE id = $1`, [id, ...values]);
  }

  getTargets(taskId: string): Promise<TargetRow[]> {
    return this.all('SELECT * FROM targets WHERE task_id = $1 ORDER BY position', [taskId]);
  }

  async insertOutputs(outputs: OutputRow[]): Promise<void> {
    await this.insert('outputs', outputs);
  }

  getOutput(id: string): Promise<OutputRow | null> {
    return this.one('SELECT * FROM outputs WHERE id = $1', [id]);
  }

  claimTargets(owner: string, limit: number, now: number, leaseUntil: number, tenantCap: number): Promise<ClaimedTarget[]> {
    return this.atomic(async (q) => {
      const ids = (await q.all<{ id: string }>(EXPIRED_TARGETS, [now, limit])).map((r) => r.id);
      if (ids.length < limit) ids.push(...(await this.claimQueuedFairly(q, limit - ids.length, tenantCap)));
      if (ids.length === 0) return [];
      const order = new Map(ids.map((id, i) => [id, i]));
      const targets = (await q.all<TargetRow>(LEASE_TARGETS, [owner, leaseUntil, now, ids])).sort((a, b) => order.get(a.id)! - order.get(b.id)!);
      const taskIds = [...new Set(targets.map((t) => t.task_id))];
      await q.exec("UPDATE tasks SET status = 'processing', updated_at = $1 WHERE id = ANY($2) AND status = 'queued'", [now, taskIds]);
      const tasks = new Map((await q.all<TaskRow>('SELECT * FROM tasks WHERE id = ANY($1)', [taskIds])).map((t) => [t.id, t]));
      const out: ClaimedTarget[] = [];
      for (const target of targets) {
        const task = tasks.get(target.task_id);
        if (task) out.push({ target, task });
      }
      return out;
    });
  }

  /** Queued target ids, one tenant at a time in turn order (fair-share.ts); moves the served tenants' turns to the back. */
  private async claimQueuedFairly(q: Sql, limit: number, tenantCap: number): Promise<string[]> {
    const waiting = (await q.all<{ id: string; running: number }>(WAITING_TENANTS, [])).filter((t) => roomUnderCap(t.running, tenantCap, limit) > 0).slice(0, limit);
    if (waiting.length === 0) return [];
    const tenantIds = waiting.map((t) => t.id);
    let rooms = waiting.map((t) => roomUnderCap(t.running, tenantCap, limit));
    if (tenantCap > 0) {
      // Counted again under the tenants' locks: another claimer may have started some meanwhile.
      await q.exec(LOCK_TENANTS, [tenantIds]);
      const running = new Map((await q.all<{ tenant_id: string; running: number }>(RUNNING_OF_TENANTS, [tenantIds])).map((r) => [r.tenant_id, r.running]));
      rooms = tenantIds.map((id) => roomUnderCap(running.get(id) ?? 0, tenantCap, limit));
    }
    const rows = await q.all<{ id: string; tenant_id: string }>(QUEUED_OF_TENANTS, [tenantIds, rooms]);
    const queues: TenantQueue[] = tenantIds.map((tenantId) => ({ tenantId, targetIds: rows.filter((r) => r.tenant_id === tenantId).map((r) => r.id) }));
    const pick = fairShare(queues, limit);
    if (pick.served.length > 0) await q.exec(TAKE_TURNS, [pick.served]);
    return pick.targetIds;
  }

  async countQueuedTasks(tenantId: string, upTo: number): Promise<number> {
    // Counts no further than the cap: a full queue costs the same to check as a nearly full one.
    const row = await this.one<{ n: number }>(`SELECT count(*)::int AS n FROM (SELECT 1 FROM tasks WHERE tenant_id = $1 AND status = 'queued' LIMIT $2) AS q`, [tenantId, upTo]);
    return row?.n ?? 0;
  }

  async queueStanding(taskId: string): Promise<QueueStanding | null> {
    const me = await this.one<{ tenant_id: string; created_at: number; turn: number }>(
      `SELECT t.tenant_id, t.created_at, tn.claim_turn AS turn
         FROM targets t JOIN tenants tn ON tn.id = t.tenant_id
        WHERE t.task_id = $1 AND t.status = 'queued' ORDER BY t.position LIMIT 1`,
      [taskId],
    );
    if (!me) return null;
    const [ahead, others] = await Promise.all([
      this.one<{ n: number }>(`SELECT count(*)::int AS n FROM targets WHERE tenant_id = $1 AND status = 'queued' AND created_at < $2`, [me.tenant_id, me.created_at]),
      this.all<{ tenant_id: string; queued: number; turn: number }>(
        `SELECT q.tenant_id, count(*)::int AS queued, tn.claim_turn AS turn
           FROM targets q JOIN tenants tn ON tn.id = q.tenant_id
          WHERE q.status = 'queued' AND q.tenant_id <> $1
          GROUP BY q.tenant_id, tn.claim_turn`,
        [me.tenant_id],
      ),
    ]);
    return { ownAhead: ahead?.n ?? 0, others: others.map((o) => ({ queued: o.queued, servedFirst: turnsFirst(o, me) })) };
  }

  async deleteTask(id: string, now: number): Promise<void> {
    await this.atomic(async (q) => {
      // The upload it was made from goes too (the upload sweep removes expired uploads), read
      // from the input before it is redacted.
      await q.exec(
        `UPDATE uploads SET expires_at = $2 - 1
          WHERE id = (SELECT input->>'upload_id' FROM tasks WHERE id = $1) AND tenant_id = (SELECT tenant_id FROM tasks WHERE id = $1) AND expires_at >= $2`,
        [id, now],
      );
      await q.exec(`UPDATE tasks SET input = '{}', metadata = NULL, webhook_url = NULL, deleted_at = COALESCE(deleted_at, $2) WHERE id = $1`, [id, now]);
      // Its events carry the task as it was: redacted alike, so neither a feed, a redelivery nor a
      // retry still sends what the client deleted (the one change ever made to a frozen payload).
      await q.exec(
        `UPDATE events SET payload = jsonb_set(jsonb_set(jsonb_set(payload::jsonb, '{data,input}', '{}'), '{data,metadata}', 'null'), '{data,webhook_url}', 'null')::text
          WHERE task_id = $1 AND payload::jsonb #>> '{data,id}' = $1`,
        [id],
      );
      await q.exec(`UPDATE outputs SET expires_at = $2 WHERE task_id = $1 AND removed_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`, [id, now]);
    });
  }

  listOutputsToRemove(now: number, limit: number): Promise<Array<{ id: string; path: string }>> {
    return this.all(`SELECT id, path FROM outputs WHERE expires_at <= $1 AND removed_at IS NULL ORDER BY expires_at LIMIT $2`, [now, limit]);
  }

  async markOutputsRemoved(ids: string[], now: number): Promise<void> {
    await this.exec('UPDATE outputs SET removed_at = $2 WHERE id = ANY($1)', [ids, now]);
  }

  async pruneTasks(endedBefore: number, now: number, after: string | null, limit: number): Promise<{ tasks: number; next: string | null }> {
    const r = (await this.one<{ tasks: number; scanned: number; last: string | null }>(PRUNE_TASKS, [after ?? 'task_', idAt('task', endedBefore), limit, endedBefore, now]))!;
    return { tasks: r.tasks, next: r.scanned < limit ? null : r.last };
  }

  async listTasksPastDeadline(now: number, limit: number): Promise<string[]> {
    const rows = await this.all<{ id: string }>(
      `SELECT id FROM tasks WHERE deadline_at <= $1 AND status IN ('queued', 'processing') ORDER BY deadline_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => r.id);
  }

  async renewLeases(owner: string, targetIds: string[], leaseUntil: number): Promise<string[]> {
    if (targetIds.length === 0) return [];
    const rows = await this.all<{ id: string }>(
      "UPDATE targets SET lease_expires_at = $1 WHERE id = ANY($2) AND lease_owner = $3 AND status = 'processing' RETURNING id",
      [leaseUntil, targetIds, owner],
    );
    return rows.map((r) => r.id);
  }

  async updateLeasedTarget(targetId: string, owner: string, patch: TargetPatch): Promise<boolean> {
    const { set, values } = patchSql(patch, ['spec', 'info', 'error'], 3);
    return (await this.count(`UPDATE targets SET ${set} WHERE id = $1 AND lease_owner = $2 AND status = 'processing'`, [targetId, owner, ...values])) > 0;
  }

  async updateTarget(targetId: string, patch: TargetPatch): Promise<void> {
    const { set, values } = patchSql(patch, ['spec', 'info', 'error'], 2);
    await this.exec(`UPDATE targets SET ${set} WHERE id = $1`, [targetId, ...values]);
  }

  cancelOpenTargets(taskId: string, now: number): Promise<number> {
    return this.count(
      `UPDATE targets SET status = 'canceled', finished_at = $1, lease_owner = NULL, lease_expires_at = NULL
        WHERE task_id = $2 AND status IN ('queued', 'processing')`,
      [now, taskId],
    );
  }

  async insertBatch(b: BatchRow): Promise<void> {
    await this.insert('batches', [b]);
  }

  findBatchByIdempotencyKey(tenantId: string, key: string): Promise<BatchRow | null> {
    return this.one('SELECT * FROM batches WHERE tenant_id = $1 AND idempotency_key = $2', [tenantId, key]);
  }

  getBatch(tenantId: string, id: string): Promise<BatchRow | null> {
    return this.one('SELECT * FROM batches WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  listTasksOfBatch(tenantId: string, batchId: string): Promise<TaskRow[]> {
    return this.all('SELECT * FROM tasks WHERE batch_id = $1 AND tenant_id = $2 ORDER BY id', [batchId, tenantId]);
  }
}
