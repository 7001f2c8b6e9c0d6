-- Row retention (issue 14): ended deliveries (with their attempts), events nobody still needs and
-- ended tasks are pruned by services/row-pruner.ts. A pruned task stays as a tombstone: id,
-- tenant, kind, status, cost, error and times, with pruned_at; its targets and outputs go, and
-- title, input, params, metadata and webhook fields are emptied.
ALTER TABLE tasks ADD COLUMN pruned_at INTEGER;
-- The tasks the pruner may still reduce, in id (creation) order: a task enters when it ends and
-- leaves as a tombstone, so a pass never reads the tombstones of earlier passes.
CREATE INDEX tasks_to_prune ON tasks (id) WHERE pruned_at IS NULL AND completed_at IS NOT NULL;
-- Deleting an event makes SQLite look for deliveries that refer to it (the foreign key), and the
-- pruner asks the same first: by index, not by reading every delivery.
CREATE INDEX deliveries_by_event ON deliveries (event_id);
-- A task's outputs by task: GET /v1/tasks/:id, deleting and pruning a task read them so (the
-- PostgreSQL schema had this index from the start; without it each of those read every output).
CREATE INDEX outputs_by_task ON outputs (task_id);
