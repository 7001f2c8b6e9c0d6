/** Tasks, their targets and outputs, the worker's leases on targets, and batches of tasks. */
import type { BatchRow, ClaimedTarget, OutputRow, TargetRow, TaskAggregate, TaskRow, TaskStatus } from '../../domain/types.js';
import type { OtherQueue } from '../../domain/fair-share.js';
import type { OpNames } from './op-names.js';

export interface QueueStanding {
  ownAhead: number;
  others: OtherQueue[];
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

export interface TaskOps {
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
   * Leases up to `limit` due targets to `owner` until `leaseUntil`, counting the run in `attempts`:
   * expired leases first, then queued targets fairly across tenants (one per tenant in turn, longest
   * unserved first; domain/fair-share.ts), never taking a tenant past `tenantCap` running targets
   * (0: no cap). Returns them with their tasks.
   */
  claimTargets(owner: string, limit: number, now: number, leaseUntil: number, tenantCap: number): Promise<ClaimedTarget[]>;
  /** A tenant's queued tasks, counted up to `upTo` (its queue cap) and no further. */
  countQueuedTasks(tenantId: string, upTo: number): Promise<number>;
  /**
   * What decides a queued task's place in line (domain/fair-share.ts queuePosition): its tenant's
   * queued targets created before its own, and every other tenant's queued targets with whether
   * that tenant's turn comes first. null when the task has no queued target.
   */
  queueStanding(taskId: string): Promise<QueueStanding | null>;
  /**
   * Redacts a task (input, metadata and webhook_url; it keeps id, status, costs and times), marks
   * it deleted, and makes its outputs due for removal now. Idempotent.
   */
  deleteTask(id: string, now: number): Promise<void>;
  /** Outputs whose files are due for removal (expired, not yet removed), oldest first. */
  listOutputsToRemove(now: number, limit: number): Promise<Array<{ id: string; path: string }>>;
  /** Records that these outputs' files are gone. */
  markOutputsRemoved(ids: string[], now: number): Promise<void>;
  /**
   * Row retention: reduces ended tasks to tombstones, up to `limit` examined per call in id order
   * after `after` (null: from the first). A task goes when it ended before `endedBefore` and none of
   * its outputs still has a file (every one removed): its outputs and targets are deleted, title,
   * input, params, metadata and webhook fields emptied, and pruned_at set to `now`; it keeps id,
   * tenant, kind, status, cost, error, times and idempotency key. `next`: where the next call of
   * this pass goes on, null when nothing is left to examine. Idempotent.
   */
  pruneTasks(endedBefore: number, now: number, after: string | null, limit: number): Promise<{ tasks: number; next: string | null }>;
  /** Open tasks whose deadline has passed, oldest deadline first. */
  listTasksPastDeadline(now: number, limit: number): Promise<string[]>;
  /** Extends the lease of targets `owner` still holds; returns the ids it still holds (not canceled). */
  renewLeases(owner: string, targetIds: string[], leaseUntil: number): Promise<string[]>;
  /** Updates a target only while `owner` holds its lease; false when the lease was lost or the target canceled. */
  updateLeasedTarget(targetId: string, owner: string, patch: TargetPatch): Promise<boolean>;
  /** Updates a target unconditionally (cancel, exhausted attempts). */
  updateTarget(targetId: string, patch: TargetPatch): Promise<void>;
  /** Cancels every target of the task that has not ended; returns how many. */
  cancelOpenTargets(taskId: string, now: number): Promise<number>;

  // batches
  insertBatch(b: BatchRow): Promise<void>;
  getBatch(tenantId: string, id: string): Promise<BatchRow | null>;
  findBatchByIdempotencyKey(tenantId: string, key: string): Promise<BatchRow | null>;
  listTasksOfBatch(tenantId: string, batchId: string): Promise<TaskRow[]>;
}

export const TASK_OPS: OpNames<TaskOps> = {
  insertTask: true,
  getTask: true,
  getTaskById: true,
  lockTask: true,
  findTaskByIdempotencyKey: true,
  listTasks: true,
  loadAggregates: true,
  updateTask: true,
  getTargets: true,
  insertOutputs: true,
  getOutput: true,
  claimTargets: true,
  countQueuedTasks: true,
  queueStanding: true,
  listTasksPastDeadline: true,
  deleteTask: true,
  listOutputsToRemove: true,
  markOutputsRemoved: true,
  pruneTasks: true,
  renewLeases: true,
  updateLeasedTarget: true,
  updateTarget: true,
  cancelOpenTargets: true,
  insertBatch: true,
  getBatch: true,
  findBatchByIdempotencyKey: true,
  listTasksOfBatch: true,
};
