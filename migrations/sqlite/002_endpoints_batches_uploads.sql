-- Registered endpoints (account-level webhooks), batches of tasks, uploaded inputs, and fuller
-- attempt records (request and response headers).

CREATE TABLE endpoints (
  id                     TEXT PRIMARY KEY,
  tenant_id              TEXT NOT NULL REFERENCES tenants(id),
  url                    TEXT NOT NULL,
  description            TEXT,
  events                 TEXT,              -- JSON list of event types; NULL = every event
  secret                 TEXT NOT NULL,
  previous_secret        TEXT,              -- still signed with until previous_secret_until (rotation)
  previous_secret_until  INTEGER,
  enabled                INTEGER NOT NULL DEFAULT 1,
  disabled_reason        TEXT,
  consecutive_failures   INTEGER NOT NULL DEFAULT 0,
  failing_since          INTEGER,           -- first failure of the current failing streak
  circuit_open_until     INTEGER,           -- deliveries wait until then after repeated failures
  created_at             INTEGER NOT NULL,
  updated_at             INTEGER NOT NULL
);
CREATE INDEX endpoints_by_tenant ON endpoints (tenant_id, id);

-- No foreign key: deliveries outlive a deleted endpoint in the log.
ALTER TABLE deliveries ADD COLUMN endpoint_id TEXT;
-- Partial: a task's own URL (most deliveries) pays no entry here on each of its writes.
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, status, created_at) WHERE endpoint_id IS NOT NULL;
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, id);

ALTER TABLE attempts ADD COLUMN request_headers TEXT;    -- JSON
ALTER TABLE attempts ADD COLUMN response_headers TEXT;   -- JSON

CREATE INDEX events_by_tenant ON events (tenant_id, id);

CREATE TABLE batches (
  id           TEXT PRIMARY KEY,
  tenant_id    TEXT NOT NULL REFERENCES tenants(id),
  webhook_url  TEXT,
  item_count   INTEGER NOT NULL,
  idempotency_key TEXT,                   -- a retried create answers with this batch
  created_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX batches_idempotency ON batches (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_by_batch ON tasks (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE uploads (
  id            TEXT PRIMARY KEY,
  tenant_id     TEXT NOT NULL REFERENCES tenants(id),
  file_name     TEXT,
  path          TEXT NOT NULL,            -- relative to the blob store root
  size          INTEGER NOT NULL,
  format        TEXT,                     -- what ffprobe found
  duration      REAL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (expires_at);
