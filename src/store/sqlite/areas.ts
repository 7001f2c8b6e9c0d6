/** The SQLite implementation of every area, sharing one connection's prepared statements. */
import type Database from 'better-sqlite3';
import type { SyncOpsAreas } from '../ops/ops.js';
import { SqliteDeliveryQueries } from './delivery-queries.js';
import { SqliteEndpointQueries } from './endpoint-queries.js';
import { SqliteEventQueries } from './event-queries.js';
import { SqliteKeyQueries } from './key-queries.js';
import { SqliteMetricQueries } from './metric-queries.js';
import { Statements } from './sql.js';
import { SqliteTaskQueries } from './task-queries.js';
import { SqliteUploadQueries } from './upload-queries.js';

export function sqliteAreas(db: Database.Database): SyncOpsAreas {
  const statements = new Statements(db);
  return {
    keys: new SqliteKeyQueries(statements),
    tasks: new SqliteTaskQueries(statements),
    deliveries: new SqliteDeliveryQueries(statements),
    events: new SqliteEventQueries(statements),
    endpoints: new SqliteEndpointQueries(statements),
    uploads: new SqliteUploadQueries(statements),
    metrics: new SqliteMetricQueries(statements),
  };
}
