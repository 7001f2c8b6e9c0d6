/**
 * The Store: every read and write of durable state, behind an async interface so the embedded
 * SQLite store and the PostgreSQL store are interchangeable. Nothing outside store/ writes SQL.
 *
 * Transactions are explicit: `store.tx(async (tx) => { ... })` hands the callback a `Tx` with the
 * same operations bound to one transaction; the callback must only await `tx` calls (no network or
 * file I/O inside), so transactions stay short.
 */
import type {
  ApiKey,
  AttemptRow,
  BatchRow,
  EndpointRow,
  UploadRow,
  ClaimedDelivery,
  ClaimedTarget,
  DeliveryRow,
  EventRow,
  OutputRow,
  TargetRow,
  TaskAggregate,
  TaskRow,
  TaskStatus,
  Tenant,
} from '../domain/types.js';
import type { FailingStreak } from '../domain/circuit-breaker.js';

/**
 * targets: new work for workers; deliveries: new outbox rows; cancel: a task was canceled (payload:
 * task id); events: a task event was stored (payload: task id) — SSE streams listen to it.
 */
/** `progress` (payload: task id) is a target's progress written outside any event: task streams show it at once. */
export type WakeChannel = 'targets' | 'deliveries' | 'cancel' | 'events' | 'progress';

export interface ListDeliveriesQuery {
  tenantId: string;
  status?: DeliveryRow['status'];
  endpointId?: string;
  taskId?: string;
  before?: string;
  limit: number;
}

export interface EndpointPatch {
  url?: string;
  description?: string | null;
  events?: EndpointRow['events'];
  secret?: string;
  previous_secret?: string | null;
  previous_secret_until?: number | null;
  enabled?: boolean;
  disabled_reason?: string | null;
  consecutive_failures?: number;
  failing_since?: number | null;
  circuit_open_until?: number | null;
  updated_at: number;
}

export interface ListTasksQuery {
  tenantId: string;
  status?: TaskStatus;
  kind?: string;
  /** Return tasks older than this id (ids sort by creation time). */
  before?: string;
  limit: number;
}

export interface TaskPatch {
  status?: TaskStatus;
  cost?: number | null;
  error?: TaskRow['error'];
  updated_at: number;
  completed_at?: number | null;
}

export interface TargetPatch {
  status?: TargetRow['status'];
  progress?: number;
  cost?: number | null;
  duration?: number | null;
  info?: TargetRow['info'];
  error?: TargetRow['error'];
  finished_at?: number | null;
  lease_owner?: null;
  lease_expires_at?: null;
}

export interface AttemptOutcome {
  /** null: the delivery ended without a request (its endpoint was deleted or disabled). */
  attempt: AttemptRow | null;
  /** The delivery after this attempt. */
  delivery: {
    id: string;
    status: DeliveryRow['status'];
    attempt_count: number;
    next_attempt_at: number | null;
    last_error: string | null;
    last_status_code: number | null;
    updated_at: number;
    delivered_at: number | null;
  };
}

/** A claimed delivery with what only the dispatcher needs to know about it. */
export interface DueDelivery extends ClaimedDelivery {
  /** Set by a redelivery or recovery: a failure of this attempt is final (one manual try). null: the retry schedule decides. */
  final_attempt: number | null;
  /** The one delivery let through when its endpoint's cooldown ended; the others wait for its outcome. */
  probe: boolean;
  /** Why it must fail without a request: its endpoint is gone. null: send it. */
  unavailable: 'endpoint deleted' | 'endpoint disabled' | null;
}

export interface DueClaim {
  deliveries: DueDelivery[];
  /** Due rows this claim took, including those held back for an open circuit: a full claim means more may be due. */
  taken: number;
}

/** An endpoint's failing streak after one more failure was counted. */
export type EndpointFailure = FailingStreak;

export interface Ops {
  // tenants and keys
  insertTenant(t: Tenant): Promise<void>;
  getTenant(id: string): Promise<Tenant | null>;
  getTenantByName(name: string): Promise<Tenant | null>;
  listTenants(): Promise<Tenant[]>;
  insertApiKey(k: ApiKey): Promise<void>;
  /** The key (not revoked) with this hash, with its tenant. */
  findApiKey(hash: string): Promise<{ key: ApiKey; tenant: Tenant } | null>;
  listApiKeys(tenantId?: string): Promise<Array<ApiKey & { tenant_name: string }>>;
  revokeApiKey(idOrPrefix: string, now: number): Promise<boolean>;

  // tasks, targets, outputs
  insertTask(task: TaskRow, targets: TargetRow[]): Promise<void>;
  getTask(tenantId: string, id: string): Promise<TaskRow | null>;
  /** Lock-free read of a task by id alone, for internal use (workers); never for API lookups. */
  getTaskById(id: string): Promise<TaskRow | null>;
  /**
   * Reads a task by id inside a transaction and holds its row lock until the transaction ends
   * (PostgreSQL: FOR UPDATE; SQLite transactions are serial anyway). What serialises the
   * transactions that settle or cancel one task; lock the task's target rows first.
   */
  lockTask(id: string): Promise<TaskRow | null>;
  findTaskByIdempotencyKey(tenantId: string, key: string): Promise<TaskRow | null>;
  listTasks(q: ListTasksQuery): Promise<TaskRow[]>;
  /** Tasks with their targets and outputs, in the order of `tasks`. */
  loadAggregates(tasks: TaskRow[]): Promise<TaskAggregate[]>;
  updateTask(id: string, patch: TaskPatch): Promise<void>;
  getTargets(taskId: string): Promise<TargetRow[]>;
  insertOutputs(outputs: OutputRow[]): Promise<void>;
  getOutput(id: string): Promise<OutputRow | null>;

  // worker leases
  /**
   * Leases up to `limit` due targets (queued, or processing with an expired lease) to `owner` until
   * `leaseUntil`, counting the run in `attempts`; returns them with their tasks.
   */
  /**
   * Leases up to `limit` due targets to `owner`: expired leases first, then queued targets fairly
   * across tenants (one per tenant in turn, longest unserved first; domain/fair-share.ts), never
   * taking a tenant past `tenantCap` running targets (0: no cap).
   */
  claimTargets(owner: string, limit: number, now: number, leaseUntil: number, tenantCap: number): Promise<ClaimedTarget[]>;
  /** A tenant's queued tasks, counted up to `upTo` (its queue cap) and no further. */
  countQueuedTasks(tenantId: string, upTo: number): Promise<number>;
  /** Extends the lease of targets `owner` still holds; returns the ids it still holds (not canceled). */
  renewLeases(owner: string, targetIds: string[], leaseUntil: number): Promise<string[]>;
  /** Updates a target only while `owner` holds its lease; false when the lease was lost or the target canceled. */
  updateLeasedTarget(targetId: string, owner: string, patch: TargetPatch): Promise<boolean>;
  /** Updates a target unconditionally (cancel, exhausted attempts). */
  updateTarget(targetId: string, patch: TargetPatch): Promise<void>;
  /** Cancels every target of the task that has not ended; returns how many. */
  cancelOpenTargets(taskId: string, now: number): Promise<number>;

  // outbox
  insertEvent(e: EventRow): Promise<void>;
  insertDeliveries(d: DeliveryRow[]): Promise<void>;
  /**
   * Claims up to `limit` due deliveries by pushing their next_attempt_at to `leaseUntil`. Those of an
   * endpoint whose circuit is open are held until it closes instead, and not returned; when an
   * endpoint's cooldown has ended, one of its deliveries is returned as the probe and the circuit
   * stays shut for the others until `leaseUntil` (or the probe's success).
   */
  claimDueDeliveries(now: number, limit: number, leaseUntil: number): Promise<DueClaim>;
  /** Makes claimed but unsent deliveries due at `dueAt` (a dispatcher shutting down, or deferring). */
  releaseDeliveries(ids: string[], dueAt: number): Promise<void>;
  /** Records attempts and their deliveries' new state, all in one transaction. */
  recordAttempts(outcomes: AttemptOutcome[]): Promise<void>;
  /** The time the earliest pending delivery is due, or null. */
  nextDeliveryDueAt(): Promise<number | null>;
  listDeliveriesForTask(tenantId: string, taskId: string): Promise<DeliveryRow[]>;
  /** Newest first, with filters; `before` is the id of the last row of the previous page. */
  listDeliveries(q: ListDeliveriesQuery): Promise<DeliveryRow[]>;
  getDelivery(tenantId: string, id: string): Promise<DeliveryRow | null>;
  /** The attempts of these deliveries, by delivery and then attempt number. */
  listAttempts(deliveryIds: string[]): Promise<AttemptRow[]>;
  /**
   * Makes a delivery that has ended pending and due at `now` for one more attempt (it keeps its
   * event, so its webhook-id); false if absent or still pending.
   */
  requeueDelivery(tenantId: string, id: string, now: number): Promise<boolean>;
  /** Whether the delivery log has any delivery of this endpoint id (it outlives a deleted endpoint). */
  hasEndpointDeliveries(tenantId: string, endpointId: string): Promise<boolean>;
  /** Requeues every failed delivery of an endpoint created at or after `since`, one more attempt each; returns how many. */
  requeueFailedDeliveries(tenantId: string, endpointId: string, since: number, now: number): Promise<number>;
  /** Pushes the endpoint's pending deliveries that are due before `until` to `until` (circuit open). */
  deferEndpointDeliveries(endpointId: string, until: number): Promise<void>;
  /** Fails the endpoint's pending deliveries (endpoint disabled or deleted). */
  failEndpointDeliveries(endpointId: string, reason: string, now: number): Promise<number>;
  /** The task's events in order, after the event `afterId` when given. */
  listEventsForTask(tenantId: string, taskId: string, afterId?: string): Promise<EventRow[]>;
  /** The tenant's events in order, after `afterId` when given. */
  listEvents(tenantId: string, afterId: string | undefined, limit: number): Promise<EventRow[]>;
  getEvent(tenantId: string, id: string): Promise<EventRow | null>;
  /** The type of each of these events of the tenant (the payload stays unread). */
  listEventTypes(tenantId: string, ids: string[]): Promise<Array<Pick<EventRow, 'id' | 'type'>>>;

  // endpoints
  insertEndpoint(e: EndpointRow): Promise<void>;
  getEndpoint(tenantId: string, id: string): Promise<EndpointRow | null>;
  /** Lock-free read by id alone, for the dispatcher. */
  getEndpointById(id: string): Promise<EndpointRow | null>;
  listEndpoints(tenantId: string): Promise<EndpointRow[]>;
  updateEndpoint(id: string, patch: EndpointPatch): Promise<void>;
  /** Counts one more failure of an enabled endpoint, atomically; null when it is disabled or gone. */
  recordEndpointFailure(id: string, now: number): Promise<EndpointFailure | null>;
  /**
   * Ends the failing streak and closes the circuit of those endpoints that were failing (the others
   * are not written), and makes the deliveries their open circuit held due at `now`; returns how many.
   */
  resetEndpointHealth(ids: string[], now: number): Promise<number>;
  deleteEndpoint(tenantId: string, id: string): Promise<boolean>;

  // batches and uploads
  insertBatch(b: BatchRow): Promise<void>;
  getBatch(tenantId: string, id: string): Promise<BatchRow | null>;
  findBatchByIdempotencyKey(tenantId: string, key: string): Promise<BatchRow | null>;
  listTasksOfBatch(tenantId: string, batchId: string): Promise<TaskRow[]>;
  insertUpload(u: UploadRow): Promise<void>;
  getUpload(tenantId: string, id: string): Promise<UploadRow | null>;
  /** By id alone, for signed-URL downloads (the signature is the authorisation). */
  getUploadById(id: string): Promise<UploadRow | null>;
  listExpiredUploads(now: number, limit: number): Promise<UploadRow[]>;
  deleteUpload(id: string): Promise<void>;

  // installation settings
  getSetting(key: string): Promise<string | null>;
  /** Sets the value unless one exists; returns the value that is stored. */
  setSettingIfAbsent(key: string, value: string): Promise<string>;

  // operations metrics (/metrics gauges)
  /** Tasks per status and kind (all tenants). */
  countTasksByStatus(): Promise<TaskCount[]>;
  /** Work waiting at `now`: targets queued or running, pending deliveries already due and the earliest due time among them. */
  queueDepth(now: number): Promise<QueueDepth>;
}

export interface TaskCount {
  status: TaskStatus;
  kind: string;
  count: number;
}

export interface QueueDepth {
  queued_targets: number;
  processing_targets: number;
  due_deliveries: number;
  /** next_attempt_at of the longest-waiting due delivery, or null when none is due. */
  oldest_due_at: number | null;
}

export interface Tx extends Ops {
  /** Wake listeners on `channel` once this transaction has committed. */
  notifyAfterCommit(channel: WakeChannel, payload?: string): void;
}

export interface Store extends Ops {
  readonly dialect: 'sqlite' | 'postgres';
  /**
   * How long after its id was made a row may still become visible to readers: 0 where
   * transactions commit one at a time (SQLite); on PostgreSQL transactions of several processes
   * commit in any order, so a row can appear after one with a later id (readers of "everything
   * after id X" re-read this much of the recent past).
   */
  readonly lateCommitMs: number;
  migrate(): Promise<void>;
  /** Migrations this code knows that the database has not applied (readiness). */
  pendingMigrations(): Promise<number>;
  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Calls `fn` when another part of the system (this process or, for PostgreSQL, any process) signals `channel`. */
  subscribe(channel: WakeChannel, fn: (payload: string | undefined) => void): () => void;
  notify(channel: WakeChannel, payload?: string): void;
  /** Cheap liveness check of the database. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
