-- Row retention (issue 14): ended deliveries (with their attempts), events nobody still needs and
-- ended tasks are pruned by services/row-pruner.ts. A pruned task stays as a tombstone: id,
-- tenant, kind, status, cost, error and times, with pruned_at; its targets and outputs go, and
-- title, input, params, metadata and webhook fields are emptied.
ALTER TABLE tasks ADD COLUMN pruned_at BIGINT;
-- The tasks the pruner may still reduce, in id (creation) order: a task enters when it ends and
-- leaves as a tombstone, so a pass never reads the tombstones of earlier passes.
CREATE INDEX tasks_to_prune ON tasks (id) WHERE pruned_at IS NULL AND completed_at IS NOT NULL;
-- Deleting an event makes PostgreSQL look for deliveries that refer to it (the foreign key), and
-- the pruner asks the same first: by index, not by reading every delivery.
CREATE INDEX deliveries_by_event ON deliveries (event_id);

-- Constant churn: every day the pruner deletes about a day's rows of these tables. At the default
-- scale factor (0.2) autovacuum waits until a fifth of a table is dead, so a table holding 30 days
-- would carry about six days of dead rows (and their index entries) before each vacuum; at 0.02
-- it is vacuumed about every half day of deletes, and the space of the deleted rows is reused by
-- the next day's inserts instead of growing the files (docs/retention.md: why batched deletes and
-- not time partitions, measured by bench/pg-retention.ts).
ALTER TABLE deliveries SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE attempts SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
ALTER TABLE events SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
-- Targets and outputs are deleted a week after their task ends; tasks are updated once more when
-- they become tombstones, and the tasks table grows for ever, so a fraction of it is ever more rows.
ALTER TABLE targets SET (autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE outputs SET (autovacuum_vacuum_scale_factor = 0.05);
ALTER TABLE tasks SET (autovacuum_vacuum_scale_factor = 0.02);
