/** Counts for the /metrics gauges: the sqlite statements of MetricOps (ops/metrics.ts). */
import type { MetricOps, QueueDepth, TaskCount } from '../ops/metrics.js';
import type { Sync } from '../ops/ops.js';
import { SqliteQueries } from './sql.js';

export class SqliteMetricQueries extends SqliteQueries implements Sync<MetricOps> {
  countOpenTasks(): TaskCount[] {
    return this.s("SELECT status, kind, COUNT(*) AS count FROM tasks WHERE status IN ('queued', 'processing') GROUP BY status, kind").all() as TaskCount[];
  }

  countEndedTasks(after: number | null, upTo: number | null): TaskCount[] {
    return this.s(
      `SELECT status, kind, COUNT(*) AS count FROM tasks
        WHERE completed_at IS NOT NULL AND completed_at > ? AND completed_at <= ?
        GROUP BY status, kind`,
    ).all(after ?? Number.MIN_SAFE_INTEGER, upTo ?? Number.MAX_SAFE_INTEGER) as TaskCount[];
  }

  firstEndedAt(): number | null {
    return (this.s('SELECT MIN(completed_at) AS at FROM tasks WHERE completed_at IS NOT NULL').get() as { at: number | null }).at;
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
