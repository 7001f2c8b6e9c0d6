-- Registered endpoints (account-level webhooks), batches of tasks, uploaded inputs, and fuller
-- attempt records (request and response headers). Same as migrations/sqlite/002.

CREATE TABLE endpoints (
  id                     TEXT COLLATE "C" PRIMARY KEY,
  tenant_id              TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  url                    TEXT NOT NULL,
  description            TEXT,
  events                 JSON,              -- list of event types; NULL = every event
  secret                 TEXT NOT NULL,
  previous_secret        TEXT,              -- still signed with until previous_secret_until (rotation)
  previous_secret_until  BIGINT,
  enabled                BOOLEAN NOT NULL DEFAULT TRUE,
  disabled_reason        TEXT,
  consecutive_failures   INTEGER NOT NULL DEFAULT 0,
  failing_since          BIGINT,            -- first failure of the current failing streak
  circuit_open_until     BIGINT,            -- deliveries wait until then after repeated failures
  created_at             BIGINT NOT NULL,
  updated_at             BIGINT NOT NULL
);
CREATE INDEX endpoints_by_tenant ON endpoints (tenant_id, id);

-- No foreign key: deliveries outlive a deleted endpoint in the log.
ALTER TABLE deliveries ADD COLUMN endpoint_id TEXT COLLATE "C";
-- Partial: a task's own URL (most deliveries) pays no entry here on each of its writes.
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, status, created_at) WHERE endpoint_id IS NOT NULL;
CREATE INDEX deliveries_by_tenant ON deliveries (tenant_id, id);

ALTER TABLE attempts ADD COLUMN request_headers JSON;
ALTER TABLE attempts ADD COLUMN response_headers JSON;

CREATE INDEX events_by_tenant ON events (tenant_id, id);

CREATE TABLE batches (
  id           TEXT COLLATE "C" PRIMARY KEY,
  tenant_id    TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  webhook_url  TEXT,
  item_count   INTEGER NOT NULL,
  idempotency_key TEXT,                   -- a retried create answers with this batch
  created_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX batches_idempotency ON batches (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_by_batch ON tasks (batch_id) WHERE batch_id IS NOT NULL;

CREATE TABLE uploads (
  id            TEXT COLLATE "C" PRIMARY KEY,
  tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  file_name     TEXT,
  path          TEXT NOT NULL,            -- relative to the blob store root
  size          BIGINT NOT NULL,
  format        TEXT,                     -- what ffprobe found
  duration      DOUBLE PRECISION,
  created_at    BIGINT NOT NULL,
  expires_at    BIGINT NOT NULL
);
CREATE INDEX uploads_expiry ON uploads (expires_at);
