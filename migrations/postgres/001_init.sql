-- The spine: tenants and keys, tasks with their targets and outputs, and the outbox
-- (events with one delivery per receiver, and every attempt of each delivery).
-- Same tables as migrations/sqlite/001_init.sql. Times are BIGINT milliseconds since the epoch (UTC).
-- Ids and names use the "C" collation so ORDER BY id and `id < $cursor` compare bytes, as SQLite does
-- (ids are time-ordered; a linguistic collation would not keep that order for every character).
-- JSON columns are `json`, not `jsonb`: they keep the client's text (key order) exactly, as SQLite does.

CREATE TABLE tenants (
  id              TEXT COLLATE "C" PRIMARY KEY,
  name            TEXT COLLATE "C" NOT NULL UNIQUE,
  webhook_secret  TEXT NOT NULL,
  created_at      BIGINT NOT NULL
);

CREATE TABLE api_keys (
  id          TEXT COLLATE "C" PRIMARY KEY,
  tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  hash        TEXT NOT NULL UNIQUE,      -- sha256 of the key; the key itself is never stored
  prefix      TEXT NOT NULL,             -- first characters, to tell keys apart in listings
  created_at  BIGINT NOT NULL,
  revoked_at  BIGINT
);

CREATE TABLE tasks (
  id                TEXT COLLATE "C" PRIMARY KEY,  -- time-ordered, so ORDER BY id is creation order
  tenant_id         TEXT COLLATE "C" NOT NULL REFERENCES tenants(id),
  kind              TEXT NOT NULL,
  status            TEXT NOT NULL,
  title             TEXT,
  input             JSON NOT NULL,
  params            JSON NOT NULL,
  metadata          JSON,
  webhook_url       TEXT,
  webhook_events    JSON,                  -- list, null = default
  idempotency_key   TEXT,
  request_hash      TEXT,
  batch_id          TEXT COLLATE "C",
  cost              DOUBLE PRECISION,
  error             JSON,                  -- {code, message, details}
  created_at        BIGINT NOT NULL,
  updated_at        BIGINT NOT NULL,
  completed_at      BIGINT
);
CREATE INDEX tasks_by_tenant ON tasks (tenant_id, id);
CREATE INDEX tasks_by_tenant_status ON tasks (tenant_id, status, id);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE targets (
  id                TEXT COLLATE "C" PRIMARY KEY,
  task_id           TEXT COLLATE "C" NOT NULL REFERENCES tasks(id),
  position          INTEGER NOT NULL,
  name              TEXT NOT NULL,
  spec              JSON NOT NULL,         -- as the client asked
  status            TEXT NOT NULL,         -- queued | processing | completed | failed | canceled
  progress          DOUBLE PRECISION NOT NULL DEFAULT 0,
  attempts          INTEGER NOT NULL DEFAULT 0,
  lease_owner       TEXT,
  lease_expires_at  BIGINT,
  cost              DOUBLE PRECISION,
  duration          DOUBLE PRECISION,
  info              JSON,                  -- facts from the engine (e.g. seed)
  error             JSON,                  -- {code, message, details}
  created_at        BIGINT NOT NULL,
  started_at        BIGINT,
  finished_at       BIGINT,
  UNIQUE (task_id, position)
);
-- The two ways a target becomes due: never started, or its worker's lease ran out.
CREATE INDEX targets_queued ON targets (created_at) WHERE status = 'queued';
CREATE INDEX targets_leased ON targets (lease_expires_at) WHERE status = 'processing';

CREATE TABLE outputs (
  id           TEXT COLLATE "C" PRIMARY KEY,
  target_id    TEXT COLLATE "C" NOT NULL REFERENCES targets(id),
  task_id      TEXT COLLATE "C" NOT NULL REFERENCES tasks(id),
  tenant_id    TEXT COLLATE "C" NOT NULL,
  name         TEXT NOT NULL,
  format       TEXT NOT NULL,
  path         TEXT NOT NULL,          -- relative to the blob store root
  size         BIGINT NOT NULL,
  duration     DOUBLE PRECISION,
  bitrate      INTEGER,
  sample_rate  INTEGER,
  channels     INTEGER,
  created_at   BIGINT NOT NULL
);
CREATE INDEX outputs_by_target ON outputs (target_id);
CREATE INDEX outputs_by_task ON outputs (task_id);

-- The outbox. An event row is written in the same transaction as the state change it announces;
-- its payload is frozen then and never changes, so every retry sends the same bytes (TEXT, not
-- json: the exact body that is signed).
CREATE TABLE events (
  id          TEXT COLLATE "C" PRIMARY KEY,  -- the webhook-id receivers deduplicate on
  tenant_id   TEXT COLLATE "C" NOT NULL,
  task_id     TEXT COLLATE "C",
  type        TEXT NOT NULL,
  payload     TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX events_by_task ON events (task_id, id);

CREATE TABLE deliveries (
  id               TEXT COLLATE "C" PRIMARY KEY,
  event_id         TEXT COLLATE "C" NOT NULL REFERENCES events(id),
  tenant_id        TEXT COLLATE "C" NOT NULL,
  task_id          TEXT COLLATE "C",
  url              TEXT NOT NULL,
  status           TEXT NOT NULL,       -- pending | delivered | failed
  attempt_count    INTEGER NOT NULL DEFAULT 0,
  -- Set by a redelivery or recovery: a failure of this attempt is final (one manual try, no schedule).
  final_attempt    INTEGER,
  -- When the next try is due. A dispatcher that claims the delivery pushes this past its request
  -- timeout, so a dispatcher that dies mid-request leaves the delivery due again, not lost.
  next_attempt_at  BIGINT,
  last_error       TEXT,
  last_status_code INTEGER,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL,
  delivered_at     BIGINT
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_task ON deliveries (task_id);

-- No foreign key to deliveries: only the dispatcher writes attempts, for deliveries it has claimed,
-- and deliveries are never deleted; the check cost a lookup and a row lock per attempt.
CREATE TABLE attempts (
  id                TEXT COLLATE "C" NOT NULL,
  delivery_id       TEXT COLLATE "C" NOT NULL,
  attempt_number    INTEGER NOT NULL,
  started_at        BIGINT NOT NULL,
  status_code       INTEGER,
  latency_ms        DOUBLE PRECISION NOT NULL,
  response_excerpt  TEXT,
  error             TEXT,
  -- Read only by delivery; one index keyed as it is read keeps the hot insert cheap (as in SQLite).
  PRIMARY KEY (delivery_id, attempt_number)
);

-- Secrets this installation generates for itself (e.g. the download-URL signing key), shared by
-- every process on this database.
CREATE TABLE settings (
  key    TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);
