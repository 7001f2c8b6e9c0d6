-- Deletion and retention (issue 13.4). An output's file is deleted once expires_at has passed
-- (HOOKWAVE_OUTPUT_RETENTION after it was made, or at once when its task is deleted); removed_at
-- records that the file is gone. Outputs made before this migration keep their files (NULL).
ALTER TABLE outputs ADD COLUMN expires_at INTEGER;
ALTER TABLE outputs ADD COLUMN removed_at INTEGER;
CREATE INDEX outputs_due_for_removal ON outputs (expires_at) WHERE expires_at IS NOT NULL AND removed_at IS NULL;
-- A deleted task keeps its id, status, costs and times; input, metadata and webhook_url are redacted.
ALTER TABLE tasks ADD COLUMN deleted_at INTEGER;
