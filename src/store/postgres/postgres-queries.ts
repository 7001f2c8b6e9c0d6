/**
 * Every SQL statement of the PostgreSQL store, with the semantics of sqlite-queries.ts (the
 * reference). One instance is bound to the pool (each statement in its own implicit transaction)
 * or to a client inside BEGIN … COMMIT (PostgresStore.tx).
 *
 * Rows come back in the shapes SQLite gives: the pool parses BIGINT as a number, `json` columns
 * arrive parsed and BOOLEAN as a boolean, so rows need no conversion. Rows go in as one JSON
 * parameter through json_populate_recordset, which maps keys to columns by name and keeps the text
 * of nested JSON exactly as sent.
 *
 * Where SQLite needs several statements inside one transaction, these use one statement with data-
 * modifying CTEs where that keeps the semantics, so storing a task, claiming deliveries and
 * recording attempts are one round trip each and atomic without a transaction of their own.
 * Claiming targets reads the tasks after updating them, as SQLite does, so it is three statements
 * in a short transaction (`atomic`).
 */
import type {
  ApiKey,
  AttemptRow,
  BatchRow,
  ClaimedTarget,
  DeliveryRow,
  EndpointRow,
  EventRow,
  OutputRow,
  TargetRow,
  TaskAggregate,
  TaskRow,
  Tenant,
  UploadRow,
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

type Row = Record<string, unknown>;

export type Exec = (text: string, values?: unknown[]) => Promise<{ rows: Row[]; rowCount: number | null }>;

/** Runs `fn` atomically: with the same queries inside an open transaction, else in a new one. */
export type Atomic = <T>(fn: (q: PostgresQueries) => Promise<T>) => Promise<T>;

const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

const COLUMNS = {
  tenants: ['id', 'name', 'webhook_secret', 'created_at'],
  api_keys: ['id', 'tenant_id', 'hash', 'prefix', 'created_at', 'revoked_at'],
  tasks: [
    'id', 'tenant_id', 'kind', 'status', 'title', 'input', 'params', 'metadata', 'webhook_url', 'webhook_events',
    'idempotency_key', 'request_hash', 'batch_id', 'cost', 'error', 'created_at', 'updated_at', 'completed_at',
  ],
  targets: [
    'id', 'task_id', 'tenant_id', 'position', 'name', 'spec', 'status', 'progress', 'attempts', 'lease_owner', 'lease_expires_at',
    'cost', 'duration', 'info', 'error', 'created_at', 'started_at', 'finished_at',
  ],
  outputs: ['id', 'target_id', 'task_id', 'tenant_id', 'name', 'format', 'path', 'size', 'duration', 'bitrate', 'sample_rate', 'channels', 'created_at'],
  events: ['id', 'tenant_id', 'task_id', 'type', 'payload', 'created_at'],
  deliveries: [
    'id', 'event_id', 'tenant_id', 'task_id', 'endpoint_id', 'url', 'status', 'attempt_count', 'next_attempt_at', 'last_error',
    'last_status_code', 'created_at', 'updated_at', 'delivered_at',
  ],
  attempts: [
    'id', 'delivery_id', 'attempt_number', 'started_at', 'status_code', 'latency_ms', 'response_excerpt', 'error',
    'request_headers', 'response_headers',
  ],
  endpoints: [
    'id', 'tenant_id', 'url', 'description', 'events', 'secret', 'previous_secret', 'previous_secret_until', 'enabled',
    'disabled_reason', 'consecutive_failures', 'failing_since', 'circuit_open_until', 'created_at', 'updated_at',
  ],
  batches: ['id', 'tenant_id', 'webhook_url', 'item_count', 'idempotency_key', 'created_at'],
  uploads: ['id', 'tenant_id', 'file_name', 'path', 'size', 'format', 'duration', 'created_at', 'expires_at'],
} as const;

type Table = keyof typeof COLUMNS;

/** `INSERT INTO table (cols) SELECT cols FROM json_populate_recordset(NULL::table, $1)`: any number of rows, one statement. */
function insertSql(table: Table, param = '$1', suffix = ''): string {
  const cols = COLUMNS[table].join(', ');
  return `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${table}, ${param}) ${suffix}`.trim();
}

/** `SET a = $1, b = $2` for the keys present in a patch; JSON columns are serialised. */
function patchSql(patch: object, jsonColumns: readonly string[], firstParam = 1): { set: string; values: unknown[] } {
  const values: unknown[] = [];
  const parts: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    values.push(jsonColumns.includes(k) ? json(v) : v);
    parts.push(`${k} = $${firstParam + values.length - 1}`);
  }
  return { set: parts.join(', '), values };
}

/** WHERE clauses with numbered parameters, for the list queries whose filters are optional. */
class Where {
  readonly parts: string[] = [];
  readonly values: unknown[] = [];
  add(sqlWithParam: (p: string) => string, value: unknown): void {
    this.values.push(value);
    this.parts.push(sqlWithParam(`$${this.values.length}`));
  }
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  get sql(): string {
    return this.parts.join(' AND ');
  }
}

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

// As in SQLite: rows of an open circuit move to its open-until instead of being leased, so they
// leave the front of deliveries_due. `= ANY(ARRAY(…))` finds the claimed rows by primary key; a join
// with the CTE was planned as a hash join over a sequential scan of every delivery ever made. The
// CTEs and the final join read one snapshot, so ep.circuit_open_until there is what the UPDATE saw.
// Oldest first (ids are time-ordered), so a receiver gets one task's events in order.
const CLAIM_DELIVERIES = `
  WITH claimed AS (
    UPDATE deliveries AS d
       SET next_attempt_at = COALESCE((SELECT circuit_open_until FROM endpoints WHERE id = d.endpoint_id AND circuit_open_until > $1), $3)
     WHERE d.id = ANY(ARRAY(SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1
                             ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED))
    RETURNING d.id, d.event_id, d.tenant_id, d.endpoint_id, d.url, d.attempt_count, d.final_attempt
  )
  SELECT c.*, e.payload, e.created_at AS event_created_at, t.webhook_secret,
         ep.secret AS endpoint_secret, ep.previous_secret, ep.previous_secret_until, ep.enabled AS endpoint_enabled, ep.circuit_open_until
    FROM claimed c
    JOIN events e ON e.id = c.event_id
    JOIN tenants t ON t.id = c.tenant_id
    LEFT JOIN endpoints ep ON ep.id = c.endpoint_id
   ORDER BY c.id`;

// One statement, so targets and outputs come from one snapshot (as SQLite's single connection gives).
const LOAD_AGGREGATES = `
  SELECT (SELECT COALESCE(json_agg(t ORDER BY t.task_id, t.position), '[]') FROM targets t WHERE t.task_id = ANY($1)) AS targets,
         (SELECT COALESCE(json_agg(o ORDER BY o.created_at, o.id), '[]') FROM outputs o WHERE o.task_id = ANY($1)) AS outputs`;

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
         last_status_code = u.last_status_code, updated_at = u.updated_at, delivered_at = u.delivered_at
    FROM unnest($11::text[], $12::text[], $13::int[], $14::bigint[], $15::text[], $16::int[], $17::bigint[], $18::bigint[])
         AS u(id, status, attempt_count, next_attempt_at, last_error, last_status_code, updated_at, delivered_at)
   WHERE d.id = u.id`;

export class PostgresQueries implements Ops {
  constructor(
    private readonly exec: Exec,
    private readonly atomic: Atomic,
  ) {}

  // Helpers are instance fields, not methods, so PostgresStore delegates only the Ops methods.
  private readonly one = async <T>(text: string, values: unknown[]): Promise<T | null> => {
    const { rows } = await this.exec(text, values);
    return (rows[0] as T | undefined) ?? null;
  };

  private readonly all = async <T>(text: string, values: unknown[] = []): Promise<T[]> => (await this.exec(text, values)).rows as T[];

  private readonly count = async (text: string, values: unknown[]): Promise<number> => (await this.exec(text, values)).rowCount ?? 0;

  private readonly insert = async (table: Table, rows: object[]): Promise<void> => {
    if (rows.length === 0) return;
    await this.exec(insertSql(table), [JSON.stringify(rows)]);
  };

  // ---- tenants and keys ----

  async insertTenant(t: Tenant): Promise<void> {
    await this.insert('tenants', [t]);
  }

  getTenant(id: string): Promise<Tenant | null> {
    return this.one('SELECT * FROM tenants WHERE id = $1', [id]);
  }

  getTenantByName(name: string): Promise<Tenant | null> {
    return this.one('SELECT * FROM tenants WHERE name = $1', [name]);
  }

  listTenants(): Promise<Tenant[]> {
    return this.all('SELECT * FROM tenants ORDER BY name');
  }

  async insertApiKey(k: ApiKey): Promise<void> {
    await this.insert('api_keys', [k]);
  }

  async findApiKey(hash: string): Promise<{ key: ApiKey; tenant: Tenant } | null> {
    const key = await this.one<ApiKey>('SELECT * FROM api_keys WHERE hash = $1 AND revoked_at IS NULL', [hash]);
    if (!key) return null;
    const tenant = await this.getTenant(key.tenant_id);
    return tenant ? { key, tenant } : null;
  }

  listApiKeys(tenantId?: string): Promise<Array<ApiKey & { tenant_name: string }>> {
    return this.all(
      `SELECT k.*, t.name AS tenant_name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
        ${tenantId ? 'WHERE k.tenant_id = $1' : ''} ORDER BY k.created_at, k.id`,
      tenantId ? [tenantId] : [],
    );
  }

  async revokeApiKey(idOrPrefix: string, now: number): Promise<boolean> {
    return (await this.count('UPDATE api_keys SET revoked_at = $1 WHERE (id = $2 OR prefix = $2) AND revoked_at IS NULL', [now, idOrPrefix])) > 0;
  }

  // ---- tasks, targets, outputs ----

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

  // ---- worker leases ----

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
  private async claimQueuedFairly(q: PostgresQueries, limit: number, tenantCap: number): Promise<string[]> {
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

  // ---- outbox ----

  async insertEvent(e: EventRow): Promise<void> {
    await this.insert('events', [e]);
  }

  async insertDeliveries(ds: DeliveryRow[]): Promise<void> {
    await this.insert('deliveries', ds);
  }

  async claimDueDeliveries(now: number, limit: number, leaseUntil: number): Promise<DueClaim> {
    const rows = await this.all<ClaimRow>(CLAIM_DELIVERIES, [now, limit, leaseUntil]);
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
    return { deliveries: dueDeliveries(rows, now, new Set(probes.map((p) => p.id))), taken: rows.length };
  }

  async releaseDeliveries(ids: string[], dueAt: number): Promise<void> {
    await this.exec("UPDATE deliveries SET next_attempt_at = $1 WHERE id = ANY($2) AND status = 'pending'", [dueAt, ids]);
  }

  async recordAttempts(outcomes: AttemptOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
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

  listEventsForTask(tenantId: string, taskId: string, afterId?: string): Promise<EventRow[]> {
    return this.all('SELECT * FROM events WHERE task_id = $1 AND tenant_id = $2 AND id > $3 ORDER BY id', [taskId, tenantId, afterId ?? '']);
  }

  listEvents(tenantId: string, afterId: string | undefined, limit: number): Promise<EventRow[]> {
    return this.all('SELECT * FROM events WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3', [tenantId, afterId ?? '', limit]);
  }

  getEvent(tenantId: string, id: string): Promise<EventRow | null> {
    return this.one('SELECT * FROM events WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  async listEventTypes(tenantId: string, ids: string[]): Promise<Array<Pick<EventRow, 'id' | 'type'>>> {
    if (ids.length === 0) return [];
    return this.all('SELECT id, type FROM events WHERE id = ANY($1) AND tenant_id = $2', [ids, tenantId]);
  }

  // ---- endpoints ----

  async insertEndpoint(e: EndpointRow): Promise<void> {
    await this.insert('endpoints', [e]);
  }

  getEndpoint(tenantId: string, id: string): Promise<EndpointRow | null> {
    return this.one('SELECT * FROM endpoints WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  getEndpointById(id: string): Promise<EndpointRow | null> {
    return this.one('SELECT * FROM endpoints WHERE id = $1', [id]);
  }

  listEndpoints(tenantId: string): Promise<EndpointRow[]> {
    return this.all('SELECT * FROM endpoints WHERE tenant_id = $1 ORDER BY id', [tenantId]);
  }

  async updateEndpoint(id: string, patch: EndpointPatch): Promise<void> {
    const { set, values } = patchSql(patch, ['events'], 2);
    await this.exec(`UPDATE endpoints SET ${set} WHERE id = $1`, [id, ...values]);
  }

  recordEndpointFailure(id: string, now: number): Promise<EndpointFailure | null> {
    // One statement, so failures counted by several dispatchers at once all count.
    return this.one(
      `UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, failing_since = COALESCE(failing_since, $2), updated_at = $2
        WHERE id = $1 AND enabled
        RETURNING consecutive_failures, failing_since, circuit_open_until`,
      [id, now],
    );
  }

  async resetEndpointHealth(ids: string[], now: number): Promise<number> {
    if (ids.length === 0) return 0;
    // Writes only endpoints that were failing. RETURNING shows the new row; the self-join gives the
    // circuit_open_until it replaced, the time the circuit held this endpoint's deliveries until.
    const healed = await this.all<{ id: string; held_until: number | null }>(
      `UPDATE endpoints AS ep SET consecutive_failures = 0, failing_since = NULL, circuit_open_until = NULL, updated_at = $2
         FROM endpoints AS was
        WHERE ep.id = ANY($1) AND ep.consecutive_failures > 0 AND was.id = ep.id
       RETURNING ep.id, was.circuit_open_until AS held_until`,
      [ids, now],
    );
    const held = healed.filter((h) => h.held_until !== null);
    if (held.length === 0) return 0;
    return this.count(
      `UPDATE deliveries AS d SET next_attempt_at = $1
         FROM unnest($2::text[], $3::bigint[]) AS h(id, held_until)
        WHERE d.endpoint_id = h.id AND d.status = 'pending' AND d.next_attempt_at = h.held_until`,
      [now, held.map((h) => h.id), held.map((h) => h.held_until)],
    );
  }

  async deleteEndpoint(tenantId: string, id: string): Promise<boolean> {
    return (await this.count('DELETE FROM endpoints WHERE id = $1 AND tenant_id = $2', [id, tenantId])) > 0;
  }

  // ---- batches and uploads ----

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

  async insertUpload(u: UploadRow): Promise<void> {
    await this.insert('uploads', [u]);
  }

  getUpload(tenantId: string, id: string): Promise<UploadRow | null> {
    return this.one('SELECT * FROM uploads WHERE id = $1 AND tenant_id = $2', [id, tenantId]);
  }

  getUploadById(id: string): Promise<UploadRow | null> {
    return this.one('SELECT * FROM uploads WHERE id = $1', [id]);
  }

  listExpiredUploads(now: number, limit: number): Promise<UploadRow[]> {
    return this.all('SELECT * FROM uploads WHERE expires_at < $1 ORDER BY expires_at, id LIMIT $2', [now, limit]);
  }

  async deleteUpload(id: string): Promise<void> {
    await this.exec('DELETE FROM uploads WHERE id = $1', [id]);
  }

  // ---- settings ----

  async getSetting(key: string): Promise<string | null> {
    return (await this.one<{ value: string }>('SELECT value FROM settings WHERE key = $1', [key]))?.value ?? null;
  }

  async setSettingIfAbsent(key: string, value: string): Promise<string> {
    await this.exec('INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
    return (await this.getSetting(key))!;
  }

  // ---- operations metrics ----

  countTasksByStatus(): Promise<TaskCount[]> {
    return this.all('SELECT status, kind, count(*) AS count FROM tasks GROUP BY status, kind');
  }

  async queueDepth(now: number): Promise<QueueDepth> {
    // Each count reads one partial index (targets_queued, targets_leased, deliveries_due).
    const r = (await this.one<{ queued: number; processing: number; due: number; oldest: number | null }>(
      `SELECT (SELECT count(*) FROM targets WHERE status = 'queued') AS queued,
              (SELECT count(*) FROM targets WHERE status = 'processing') AS processing,
              d.due, d.oldest
         FROM (SELECT count(*) AS due, min(next_attempt_at) AS oldest FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1) AS d`,
      [now],
    ))!;
    return { queued_targets: r.queued, processing_targets: r.processing, due_deliveries: r.due, oldest_due_at: r.oldest };
  }
}

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}
