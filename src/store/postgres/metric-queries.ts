/** Counts for the /metrics gauges: the postgres statements of MetricOps (ops/metrics.ts). */
import type { MetricOps, QueueDepth, TaskCount } from '../ops/metrics.js';
import { PostgresQueries } from './sql.js';

export class PostgresMetricQueries extends PostgresQueries implements MetricOps {
  countOpenTasks(): Promise<TaskCount[]> {
    return this.all("SELECT status, kind, count(*) AS count FROM tasks WHERE status IN ('queued', 'processing') GROUP BY status, kind");
  }

  countEndedTasks(after: number | null, upTo: number | null): Promise<TaskCount[]> {
    return this.all(
      `SELECT status, kind, count(*) AS count FROM tasks
        WHERE completed_at IS NOT NULL AND completed_at > $1 AND completed_at <= $2
        GROUP BY status, kind`,
      [after ?? Number.MIN_SAFE_INTEGER, upTo ?? Number.MAX_SAFE_INTEGER],
    );
  }

  async firstEndedAt(): Promise<number | null> {
    const row = await this.one<{ at: string | null }>('SELECT min(completed_at) AS at FROM tasks WHERE completed_at IS NOT NULL', []);
    return row?.at == null ? null : Number(row.at);
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
