/** The PostgreSQL implementation of every area, on one connection (the pool, or a transaction's client). */
import { defineOps, type Ops } from '../ops/ops.js';
import { PostgresDeliveryQueries } from './delivery-queries.js';
import { PostgresEndpointQueries } from './endpoint-queries.js';
import { PostgresEventQueries } from './event-queries.js';
import { PostgresKeyQueries } from './key-queries.js';
import { PostgresMetricQueries } from './metric-queries.js';
import type { Sql } from './sql.js';
import { PostgresTaskQueries } from './task-queries.js';
import { PostgresUploadQueries } from './upload-queries.js';

export function postgresOps(sql: Sql): Ops {
  return defineOps({
    keys: new PostgresKeyQueries(sql),
    tasks: new PostgresTaskQueries(sql),
    deliveries: new PostgresDeliveryQueries(sql),
    events: new PostgresEventQueries(sql),
    endpoints: new PostgresEndpointQueries(sql),
    uploads: new PostgresUploadQueries(sql),
    metrics: new PostgresMetricQueries(sql),
  });
}
