/**
 * Every SQL statement of the embedded store, as synchronous better-sqlite3 calls. SqliteStore wraps
 * these into the async Store interface. Statements are prepared once and reused.
 */
import type Database from 'better-sqlite3';
import type {
  ApiKey,
  AttemptRow,
  BatchRow,
  EndpointRow,
  UploadRow,
  ClaimedTarget,
  DeliveryRow,
  EventRow,
  OutputRow,
  TargetRow,
  TaskAggregate,
  TaskRow,
  Tenant,
} from '../../domain/types.js';
import type {
  AttemptOutcome,
  DueClaim,
  EndpointFailure,
  EndpointPatch,
  ListDeliveriesQuery,
  ListTasksQuery,
  Ops,
  QueueDepth,
  TargetPatch,
  TaskCount,
  TaskPatch,
} from '../store.js';
import { probeCandidates } from '../../domain/circuit-breaker.js';
import { fairShare, roomUnderCap, type TenantQueue } from '../../domain/fair-share.js';
import { dueDeliveries, type ClaimRow } from '../due-deliveries.js';

/** The Ops interface with plain (synchronous) return values. */
export type SyncOps = { [K in keyof Ops]: (...args: Parameters<Ops[K]>) => Awaited<ReturnType<Ops[K]>> };

type Row = Record<string, unknown>;

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T => (v === null || v === undefined ? (null as T) : (JSON.parse(v as string) as T));

function taskFromRow(r: Row): TaskRow {
  return {
    ...(r as unknown as TaskRow),
    input: parse(r.input),
    params: parse(r.params),
    metadata: parse(r.metadata),
    webhook_events: parse(r.webhook_events),
    error: parse(r.error),
  };
}

function endpointFromRow(r: Row): EndpointRow {
  return { ...(r as unknown as EndpointRow), events: parse(r.events), enabled: r.enabled === 1 };
}

function attemptFromRow(r: Row): AttemptRow {
  return { ...(r as unknown as AttemptRow), request_headers: parse(r.request_headers), response_headers: parse(r.response_headers) };
}

function targetFromRow(r: Row): TargetRow {
  return { ...(r as unknown as TargetRow), spec: parse(r.spec), info: parse(r.info), error: parse(r.error) };
}

/** `SET a = @a, b = @b` for the keys present in a patch; JSON columns are serialised. */
function patchSql(patch: object, jsonColumns: string[]): { set: string; values: Row } {
  const values: Row = {};
  const parts: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    parts.push(`${k} = @${k}`);
    values[k] = jsonColumns.includes(k) ? json(v) : v;
  }
  return { set: parts.join(', '), values };
}

export class SqliteQueries implements SyncOps {
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(private readonly db: Database.Database) {}

  private s(sql: string): Database.Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  // ---- tenants and keys ----

  insertTenant(t: Tenant): void {
    this.s('INSERT INTO tenants (id, name, webhook_secret, created_at) VALUES (@id, @name, @webhook_secret, @created_at)').run(t);
  }

  getTenant(id: string): Tenant | null {
    return (this.s('SELECT * FROM tenants WHERE id = ?').get(id) as Tenant | undefined) ?? null;
  }

  getTenantByName(name: string): Tenant | null {
    return (this.s('SELECT * FROM tenants WHERE name = ?').get(name) as Tenant | undefined) ?? null;
  }

  listTenants(): Tenant[] {
    return this.s('SELECT * FROM tenants ORDER BY name').all() as Tenant[];
  }

  insertApiKey(k: ApiKey): void {
    this.s(
      'INSERT INTO api_keys (id, tenant_id, hash, prefix, created_at, revoked_at) VALUES (@id, @tenant_id, @hash, @prefix, @created_at, @revoked_at)',
    ).run(k);
  }

  findApiKey(hash: string): { key: ApiKey; tenant: Tenant } | null {
    const key = this.s('SELECT * FROM api_keys WHERE hash = ? AND revoked_at IS NULL').get(hash) as ApiKey | undefined;
    if (!key) return null;
    const tenant = this.getTenant(key.tenant_id);
    return tenant ? { key, tenant } : null;
  }

  listApiKeys(tenantId?: string): Array<ApiKey & { tenant_name: string }> {
    const sql = `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
                 ${tenantId ? 'WHERE k.tenant_id = ?' : ''} ORDER BY k.created_at`;
    return this.s(sql).all(...(tenantId ? [tenantId] : [])) as Array<ApiKey & { tenant_name: string }>;
  }

  revokeApiKey(idOrPrefix: string, now: number): boolean {
    const r = this.s('UPDATE api_keys SET revoked_at = ? WHERE (id = ? OR prefix = ?) AND revoked_at IS NULL').run(now, idOrPrefix, idOrPrefix);
    return r.changes > 0;
  }

  // ---- tasks, targets, outputs ----

  /** Runs `fn` atomically: inside the caller's transaction if one is open, else in its own. */
  private atomic<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn)();
  }

  insertTask(task: TaskRow, targets: TargetRow[]): void {
    // Positional parameters: every create runs these, and binding by name costs ~1 µs a row more.
    this.atomic(() => {
      this.s(
        `INSERT INTO tasks (id, tenant_id, kind, status, title, input, params, metadata, webhook_url, webhook_events,
                            idempotency_key, request_hash, batch_id, cost, error, created_at, updated_at, completed_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        task.id, task.tenant_id, task.kind, task.status, task.title, json(task.input), json(task.params), json(task.metadata), task.webhook_url,
        json(task.webhook_events), task.idempotency_key, task.request_hash, task.batch_id, task.cost, json(task.error), task.created_at, task.updated_at,
        task.completed_at,
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
    const outputs = this.s('SELECT * FROM outputs WHERE task_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, id').all(ids) as OutputRow[];
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
      `INSERT INTO outputs (id, target_id, task_id, tenant_id, name, format, path, size, duration, bitrate, sample_rate, channels, created_at)
       VALUES (@id, @target_id, @task_id, @tenant_id, @name, @format, @path, @size, @duration, @bitrate, @sample_rate, @channels, @created_at)`,
    );
    for (const o of outputs) ins.run(o);
  }

  getOutput(id: string): OutputRow | null {
    return (this.s('SELECT * FROM outputs WHERE id = ?').get(id) as OutputRow | undefined) ?? null;
  }

  // ---- worker leases ----

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

  // ---- outbox ----

  insertEvent(e: EventRow): void {
    this.s('INSERT INTO events (id, tenant_id, task_id, type, payload, created_at) VALUES (@id, @tenant_id, @task_id, @type, @payload, @created_at)').run(e);
  }

  insertDeliveries(ds: DeliveryRow[]): void {
    const ins = this.s(
      `INSERT INTO deliveries (id, event_id, tenant_id, task_id, endpoint_id, url, status, attempt_count, next_attempt_at, last_error,
                               last_status_code, created_at, updated_at, delivered_at)
       VALUES (@id, @event_id, @tenant_id, @task_id, @endpoint_id, @url, @status, @attempt_count, @next_attempt_at, @last_error,
               @last_status_code, @created_at, @updated_at, @delivered_at)`,
    );
    for (const d of ds) ins.run(d);
  }

  claimDueDeliveries(now: number, limit: number, leaseUntil: number): DueClaim {
    return this.atomic(() => {
      // Rows of an open circuit move to its open-until rather than being skipped, so they leave the
      // front of deliveries_due and no later claim walks over them.
      const claimed = this.s(
        `UPDATE deliveries
            SET next_attempt_at = COALESCE((SELECT circuit_open_until FROM endpoints WHERE id = deliveries.endpoint_id AND circuit_open_until > @now), @leaseUntil)
          WHERE id IN (SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= @now
                       ORDER BY next_attempt_at LIMIT @limit)
          RETURNING id`,
      ).all({ now, limit, leaseUntil }) as Array<{ id: string }>;
      if (claimed.length === 0) return { deliveries: [], taken: 0 };
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
      return { deliveries: dueDeliveries(rows, now, new Set(probes)), taken: claimed.length };
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
    this.s("UPDATE deliveries SET next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending'").run(dueAt, JSON.stringify(ids));
  }

  recordAttempts(outcomes: AttemptOutcome[]): void {
    // Positional parameters: this runs for every delivery attempt.
    const insAttempt = this.s(
      `INSERT OR IGNORE INTO attempts (id, delivery_id, attempt_number, started_at, status_code, latency_ms, response_excerpt, error,
                                       request_headers, response_headers)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const updDelivery = this.s(
      `UPDATE deliveries SET status = ?, attempt_count = ?, next_attempt_at = ?, last_error = ?, last_status_code = ?, updated_at = ?, delivered_at = ?
        WHERE id = ?`,
    );
    this.atomic(() => {
      for (const { attempt: a, delivery: d } of outcomes) {
        if (a) insAttempt.run(a.id, a.delivery_id, a.attempt_number, a.started_at, a.status_code, a.latency_ms, a.response_excerpt, a.error, json(a.request_headers), json(a.response_headers));
        updDelivery.run(d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.last_status_code, d.updated_at, d.delivered_at, d.id);
      }
    });
  }

  nextDeliveryDueAt(): number | null {
    const r = this.s("SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE status = 'pending'").get() as { due: number | null };
    return r.due;
  }

  listDeliveriesForTask(tenantId: string, taskId: string): DeliveryRow[] {
    return this.s('SELECT * FROM deliveries WHERE task_id = ? AND tenant_id = ? ORDER BY created_at, id').all(taskId, tenantId) as DeliveryRow[];
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
    const where = ['tenant_id = @tenantId'];
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

  hasEndpointDeliveries(tenantId: string, endpointId: string): boolean {
    // `+tenant_id`: by endpoint, not by scanning the tenant's whole log when there is none.
    return this.s('SELECT 1 FROM deliveries WHERE endpoint_id = ? AND +tenant_id = ? LIMIT 1').get(endpointId, tenantId) !== undefined;
  }

  requeueFailedDeliveries(tenantId: string, endpointId: string, since: number, now: number): number {
    return this.s(
      `UPDATE deliveries SET status = 'pending', next_attempt_at = ?, final_attempt = attempt_count + 1, updated_at = ?
        WHERE tenant_id = ? AND endpoint_id = ? AND status = 'failed' AND created_at >= ?`,
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

  listEventsForTask(tenantId: string, taskId: string, afterId?: string): EventRow[] {
    return this.s('SELECT * FROM events WHERE task_id = ? AND tenant_id = ? AND id > ? ORDER BY id').all(taskId, tenantId, afterId ?? '') as EventRow[];
  }

  listEvents(tenantId: string, afterId: string | undefined, limit: number): EventRow[] {
    return this.s('SELECT * FROM events WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?').all(tenantId, afterId ?? '', limit) as EventRow[];
  }

  getEvent(tenantId: string, id: string): EventRow | null {
    return (this.s('SELECT * FROM events WHERE id = ? AND tenant_id = ?').get(id, tenantId) as EventRow | undefined) ?? null;
  }

  listEventTypes(tenantId: string, ids: string[]): Array<Pick<EventRow, 'id' | 'type'>> {
    if (ids.length === 0) return [];
    return this.s('SELECT id, type FROM events WHERE id IN (SELECT value FROM json_each(?)) AND tenant_id = ?').all(JSON.stringify(ids), tenantId) as Array<Pick<EventRow, 'id' | 'type'>>;
  }

  // ---- endpoints ----

  insertEndpoint(e: EndpointRow): void {
    this.s(
      `INSERT INTO endpoints (id, tenant_id, url, description, events, secret, previous_secret, previous_secret_until, enabled,
                              disabled_reason, consecutive_failures, failing_since, circuit_open_until, created_at, updated_at)
       VALUES (@id, @tenant_id, @url, @description, @events, @secret, @previous_secret, @previous_secret_until, @enabled,
               @disabled_reason, @consecutive_failures, @failing_since, @circuit_open_until, @created_at, @updated_at)`,
    ).run({ ...e, events: json(e.events), enabled: e.enabled ? 1 : 0 });
  }

  getEndpoint(tenantId: string, id: string): EndpointRow | null {
    const r = this.s('SELECT * FROM endpoints WHERE id = ? AND tenant_id = ?').get(id, tenantId) as Row | undefined;
    return r ? endpointFromRow(r) : null;
  }

  getEndpointById(id: string): EndpointRow | null {
    const r = this.s('SELECT * FROM endpoints WHERE id = ?').get(id) as Row | undefined;
    return r ? endpointFromRow(r) : null;
  }

  listEndpoints(tenantId: string): EndpointRow[] {
    return (this.s('SELECT * FROM endpoints WHERE tenant_id = ? ORDER BY id').all(tenantId) as Row[]).map(endpointFromRow);
  }

  updateEndpoint(id: string, patch: EndpointPatch): void {
    const { set, values } = patchSql({ ...patch, ...(patch.enabled === undefined ? {} : { enabled: patch.enabled ? 1 : 0 }) }, ['events']);
    this.s(`UPDATE endpoints SET ${set} WHERE id = @id`).run({ ...values, id });
  }

  recordEndpointFailure(id: string, now: number): EndpointFailure | null {
    return (
      (this.s(
        `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failing_since = COALESCE(failing_since, ?), updated_at = ?
          WHERE id = ? AND enabled = 1
          RETURNING consecutive_failures, failing_since, circuit_open_until`,
      ).get(now, now, id) as EndpointFailure | undefined) ?? null
    );
  }

  resetEndpointHealth(ids: string[], now: number): number {
    if (ids.length === 0) return 0;
    const list = JSON.stringify(ids);
    return this.atomic(() => {
      // Releases first, while circuit_open_until still says which rows the circuit held (they were
      // moved to exactly that time); writing first also takes the write lock up front.
      const released = this.s(
        `UPDATE deliveries SET next_attempt_at = ?
          WHERE status = 'pending' AND (endpoint_id, next_attempt_at) IN (
            SELECT id, circuit_open_until FROM endpoints
             WHERE id IN (SELECT value FROM json_each(?)) AND consecutive_failures > 0 AND circuit_open_until IS NOT NULL)`,
      ).run(now, list).changes;
      this.s(
        `UPDATE endpoints SET consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL, updated_at = ?
          WHERE id IN (SELECT value FROM json_each(?)) AND consecutive_failures > 0`,
      ).run(now, list);
      return released;
    });
  }

  deleteEndpoint(tenantId: string, id: string): boolean {
    return this.s('DELETE FROM endpoints WHERE id = ? AND tenant_id = ?').run(id, tenantId).changes > 0;
  }

  // ---- batches and uploads ----

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
    return (this.s('SELECT * FROM tasks WHERE batch_id = ? AND tenant_id = ? ORDER BY id').all(batchId, tenantId) as Row[]).map(taskFromRow);
  }

  insertUpload(u: UploadRow): void {
    this.s(
      `INSERT INTO uploads (id, tenant_id, file_name, path, size, format, duration, created_at, expires_at)
       VALUES (@id, @tenant_id, @file_name, @path, @size, @format, @duration, @created_at, @expires_at)`,
    ).run(u);
  }

  getUpload(tenantId: string, id: string): UploadRow | null {
    return (this.s('SELECT * FROM uploads WHERE id = ? AND tenant_id = ?').get(id, tenantId) as UploadRow | undefined) ?? null;
  }

  getUploadById(id: string): UploadRow | null {
    return (this.s('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined) ?? null;
  }

  listExpiredUploads(now: number, limit: number): UploadRow[] {
    return this.s('SELECT * FROM uploads WHERE expires_at < ? ORDER BY expires_at LIMIT ?').all(now, limit) as UploadRow[];
  }

  deleteUpload(id: string): void {
    this.s('DELETE FROM uploads WHERE id = ?').run(id);
  }

  // ---- settings ----

  getSetting(key: string): string | null {
    const r = this.s('SELECT value FROM settings WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  setSettingIfAbsent(key: string, value: string): string {
    this.s('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING').run(key, value);
    return this.getSetting(key)!;
  }

  // ---- operations metrics ----

  countTasksByStatus(): TaskCount[] {
    return this.s('SELECT status, kind, COUNT(*) AS count FROM tasks GROUP BY status, kind').all() as TaskCount[];
  }

  queueDepth(now: number): QueueDepth {
    // Each count reads one partial index (targets_queued, targets_leased, deliveries_due).
    const targets = this.s(
      "SELECT (SELECT COUNT(*) FROM targets WHERE status = 'queued') AS queued, (SELECT COUNT(*) FROM targets WHERE status = 'processing') AS processing",
    ).get() as { queued: number; processing: number };
    const due = this.s("SELECT COUNT(*) AS n, MIN(next_attempt_at) AS oldest FROM deliveries WHERE status = 'pending' AND next_attempt_at <= ?").get(now) as {
      n: number;
      oldest: number | null;
    };
    return { queued_targets: targets.queued, processing_targets: targets.processing, due_deliveries: due.n, oldest_due_at: due.oldest };
  }
}
