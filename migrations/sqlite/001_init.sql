-- The spine: tenants and keys, tasks with their targets and outputs, and the outbox
-- (events with one delivery per receiver, and every attempt of each delivery).
-- Times are integer milliseconds since the epoch (UTC).

CREATE TABLE tenants (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  webhook_secret  TEXT NOT NULL,
  created_at      INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id),
  hash        TEXT NOT NULL UNIQUE,      -- sha256 of the key; the key itself is never stored
  prefix      TEXT NOT NULL,             -- first characters, to tell keys apart in listings
  created_at  INTEGER NOT NULL,
  revoked_at  INTEGER
);

CREATE TABLE tasks (
  id                TEXT PRIMARY KEY,      -- time-ordered, so ORDER BY id is creation order
  tenant_id         TEXT NOT NULL REFERENCES tenants(id),
  kind              TEXT NOT NULL,
  status            TEXT NOT NULL,
  title             TEXT,
  input             TEXT NOT NULL,         -- JSON
  params            TEXT NOT NULL,         -- JSON
  metadata          TEXT,                  -- JSON
  webhook_url       TEXT,
  webhook_events    TEXT,                  -- JSON list, null = default
  idempotency_key   TEXT,
  request_hash      TEXT,
  batch_id          TEXT,
  cost              REAL,
  error             TEXT,                  -- JSON {code, message, details}
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  completed_at      INTEGER
);
CREATE INDEX tasks_by_tenant ON tasks (tenant_id, id);
CREATE INDEX tasks_by_tenant_status ON tasks (tenant_id, status, id);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE targets (
  id                TEXT PRIMARY KEY,
  task_id           TEXT NOT NULL REFERENCES tasks(id),
  position          INTEGER NOT NULL,
  name              TEXT NOT NULL,
  spec              TEXT NOT NULL,         -- JSON, as the client asked
  status            TEXT NOT NULL,         -- queued | processing | completed | failed | canceled
  progress          REAL NOT NULL DEFAULT 0,
  attempts          INTEGER NOT NULL DEFAULT 0,
  lease_owner       TEXT,
  lease_expires_at  INTEGER,
  cost              REAL,
  duration          REAL,
  info              TEXT,                  -- JSON facts from the engine (e.g. seed)
  error             TEXT,                  -- JSON {code, message, details}
  created_at        INTEGER NOT NULL,
  started_at        INTEGER,
  finished_at       INTEGER,
  UNIQUE (task_id, position)
);
-- The two ways a target becomes due: never started, or its worker's lease ran out.
CREATE INDEX targets_queued ON targets (created_at) WHERE status = 'queued';
CREATE INDEX targets_leased ON targets (lease_expires_at) WHERE status = 'processing';

CREATE TABLE outputs (
  id           TEXT PRIMARY KEY,
  target_id    TEXT NOT NULL REFERENCES targets(id),
  task_id      TEXT NOT NULL REFERENCES tasks(id),
  tenant_id    TEXT NOT NULL,
  name         TEXT NOT NULL,
  format       TEXT NOT NULL,
  path         TEXT NOT NULL,          -- relative to the blob store root
  size         INTEGER NOT NULL,
  duration     REAL,
  bitrate      INTEGER,
  sample_rate  INTEGER,
  channels     INTEGER,
  created_at   INTEGER NOT NULL
);
CREATE INDEX outputs_by_target ON outputs (target_id);

-- The outbox. An event row is written in the same transaction as the state change it announces;
-- its payload is frozen then and never changes, so every retry sends the same bytes.
CREATE TABLE events (
  id          TEXT PRIMARY KEY,         -- the webhook-id receivers deduplicate on
  tenant_id   TEXT NOT NULL,
  task_id     TEXT,
  type        TEXT NOT NULL,
  payload     TEXT NOT NULL,            -- the exact JSON body that is signed and sent
  created_at  INTEGER NOT NULL
);
CREATE INDEX events_by_task ON events (task_id, id);

CREATE TABLE deliveries (
  id               TEXT PRIMARY KEY,
  event_id         TEXT NOT NULL REFERENCES events(id),
  tenant_id        TEXT NOT NULL,
  task_id          TEXT,
  url              TEXT NOT NULL,
  status           TEXT NOT NULL,       -- pending | delivered | failed
  attempt_count    INTEGER NOT NULL DEFAULT 0,
  -- Set by a redelivery or recovery: a failure of this attempt is final (one manual try, no schedule).
  final_attempt    INTEGER,
  -- When the next try is due. A dispatcher that claims the delivery pushes this past its request
  -- timeout, so a dispatcher that dies mid-request leaves the delivery due again, not lost.
  next_attempt_at  INTEGER,
  last_error       TEXT,
  last_status_code INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  delivered_at     INTEGER
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_task ON deliveries (task_id);

-- No foreign key to deliveries: only the dispatcher writes attempts, for deliveries it has claimed,
-- and deliveries are never deleted; the check cost a lookup per attempt.
CREATE TABLE attempts (
  id                TEXT NOT NULL,
  delivery_id       TEXT NOT NULL,
  attempt_number    INTEGER NOT NULL,
  started_at        INTEGER NOT NULL,
  status_code       INTEGER,
  latency_ms        REAL NOT NULL,
  response_excerpt  TEXT,
  error             TEXT,
  -- Read only by delivery; one B-tree keyed as it is read keeps the hot insert cheap.
  PRIMARY KEY (delivery_id, attempt_number)
) WITHOUT ROWID;

-- Secrets this installation generates for itself (e.g. the download-URL signing key).
CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);
