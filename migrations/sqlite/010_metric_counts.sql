-- /metrics counts tasks per status and kind at every scrape. A GROUP BY over all tasks read the
-- whole table each time (1.7 s on SQLite with 2 million tasks, issue 14's growth benchmark); now open
-- tasks are counted through a partial index that holds only them, and ended tasks once per process,
-- then only those that ended since (by completion time), since an ended task never changes status.
CREATE INDEX tasks_open ON tasks (status, kind) WHERE status IN ('queued', 'processing');
CREATE INDEX tasks_by_end ON tasks (completed_at) WHERE completed_at IS NOT NULL;
