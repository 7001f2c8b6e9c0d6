/** Counts for the /metrics gauges: the postgres statements of MetricOps (ops/metrics.ts). */
import type { MetricOps, QueueDepth, TaskCount } from '../ops/metrics.js';
import { PostgresQueries } from './sql.js';

export class PostgresMetricQueries extends PostgresQueries implements MetricOps {
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
