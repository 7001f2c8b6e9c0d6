/**
 * The Store: every read and write of durable state, behind an async interface so the embedded
 * SQLite store and the PostgreSQL store are interchangeable. Nothing outside store/ writes SQL.
 *
 * Transactions are explicit: `store.tx(async (tx) => { ... })` hands the callback a `Tx` with the
 * same operations bound to one transaction; the callback must only await `tx` calls (no network or
 * file I/O inside), so transactions stay short.
 */
import type { Ops } from './ops/ops.js';

// The operations, one interface per area (ops/), re-exported so callers import the Store from one place.
export type { Ops } from './ops/ops.js';
export type { KeyOps } from './ops/keys.js';
export type { ListTasksQuery, TargetPatch, TaskOps, TaskPatch } from './ops/tasks.js';
export type { AttemptOutcome, DeliveryOps, DueClaim, DueDelivery, ListDeliveriesQuery } from './ops/deliveries.js';
export type { EventOps } from './ops/events.js';
export type { EndpointFailure, EndpointOps, EndpointPatch } from './ops/endpoints.js';
export type { UploadOps } from './ops/uploads.js';
export type { MetricOps, QueueDepth, TaskCount } from './ops/metrics.js';

/**
 * targets: new work for workers; deliveries: new outbox rows; cancel: a task was canceled (payload:
 * task id); events: a task event was stored (payload: task id) — SSE streams listen to it.
 */
/** `progress` (payload: task id) is a target's progress written outside any event: task streams show it at once. */
export type WakeChannel = 'targets' | 'deliveries' | 'cancel' | 'events' | 'progress';

export interface Tx extends Ops {
  /** Wake listeners on `channel` once this transaction has committed. */
  notifyAfterCommit(channel: WakeChannel, payload?: string): void;
}

/** One step of giving free space back to the filesystem. */
export interface ReclaimStep {
  /** Pages given back by this step. */
  released: number;
  /** Free pages still beyond the reserve after it. */
  left: number;
  pageBytes: number;
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
  /**
   * Gives free space of the database file back to the filesystem, at most `maxPages` pages in this
   * step, keeping `keepFraction` of the file free for the next inserts. SQLite: one short write
   * transaction of incremental vacuum. PostgreSQL: nothing (autovacuum makes deleted rows' space
   * reusable inside the table files).
   */
  reclaimSpace(maxPages: number, keepFraction: number): Promise<ReclaimStep>;
  close(): Promise<void>;
}
