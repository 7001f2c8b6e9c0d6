/** Counts for the /metrics gauges, across all tenants. */
import type { TaskStatus } from '../../domain/types.js';
import type { OpNames } from './op-names.js';

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

export interface MetricOps {
  /** Queued and processing tasks per status and kind (all tenants), from the tasks_open index. */
  countOpenTasks(): Promise<TaskCount[]>;
  /**
   * Ended tasks per status and kind (all tenants) whose completed_at is after `after` (null: any) and at
   * most `upTo` (null: no limit). An ended task never changes status, so a caller can add up windows.
   */
  countEndedTasks(after: number | null, upTo: number | null): Promise<TaskCount[]>;
  /** The earliest completed_at of any task, or null when none has ended. */
  firstEndedAt(): Promise<number | null>;
  /** Work waiting at `now`: targets queued or running, pending deliveries already due and the earliest due time among them. */
  queueDepth(now: number): Promise<QueueDepth>;
}

export const METRIC_OPS: OpNames<MetricOps> = {
  countOpenTasks: true,
  countEndedTasks: true,
  firstEndedAt: true,
  queueDepth: true,
};
