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
  /** Tasks per status and kind (all tenants). */
  countTasksByStatus(): Promise<TaskCount[]>;
  /** Work waiting at `now`: targets queued or running, pending deliveries already due and the earliest due time among them. */
  queueDepth(now: number): Promise<QueueDepth>;
}

export const METRIC_OPS: OpNames<MetricOps> = {
  countTasksByStatus: true,
  queueDepth: true,
};
