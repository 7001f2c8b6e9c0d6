-- Deadlines (Cancel-After / deadline): a task not ended by deadline_at is canceled with
-- DEADLINE_EXCEEDED. The sweep reads open tasks by deadline, so only those are indexed.
ALTER TABLE tasks ADD COLUMN deadline_at INTEGER;
CREATE INDEX tasks_by_deadline ON tasks (deadline_at) WHERE deadline_at IS NOT NULL AND status IN ('queued', 'processing');
