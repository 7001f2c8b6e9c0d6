/**
 * Row retention on PostgreSQL: removing a day of deliveries and attempts by batched DELETE (what
 * the pruner does: store.pruneDeliveries, 500 rows a statement) or by dropping that day's
 * partitions, on the same rows in two schemas: the real one (migrations) and a copy whose
 * deliveries and attempts are range-partitioned by day on their ids (ids sort by creation time, so
 * a day is an id range and lookups by id still find one partition).
 *
 * Measured, each variant next to the other in the same run:
 * - the hot path: a delivery and its attempt inserted one row a statement, as the outbox and the
 *   attempt writer do; reads by id, by task (the delivery log of a task), and the due-deliveries
 *   claim query;
 * - removing the oldest day: time, the longest statement, and what a concurrent writer (one
 *   delivery + attempt insert and one read, in a loop) saw meanwhile, next to the same loop idle;
 * - space: the tables' size before, after removal, after VACUUM (what autovacuum does), and after
 *   one more day of inserts (whether the freed space is reused).
 *
 * Loopback PostgreSQL (the test database), small counts, bounded: `tsx bench/pg-retention.ts [--quick]`.
 */
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { idAt } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { RowPruner } from '../src/services/row-pruner.js';
import { PostgresStore } from '../src/store/postgres/postgres-store.js';
import { testDatabaseUrl } from '../test/helpers/database.js';
import { formatNumber, percentile, table } from './table.js';

const DAY = 86_400_000;
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/** An id of `prefix` made at `ms` (random low part, as newId). */
function idMadeAt(prefix: string, ms: number): string {
  const bytes = randomBytes(16);
  let rand = '';
  for (const b of bytes) rand += ALPHABET[b % 32];
  return idAt(prefix, ms).slice(0, -16) + rand;
}

interface Variant {
  name: 'batched DELETE' | 'partition DROP';
  schema: string;
  client: pg.Client;
}

async function connect(schema: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: testDatabaseUrl, options: `-c search_path=${schema}` });
  await c.connect();
  return c;
}

/** The partitioned copy: same columns and indexes as the real tables, one partition per day of ids. */
async function createPartitioned(c: pg.Client, from: string, to: string, dayStarts: number[]): Promise<void> {
  await c.query(`CREATE SCHEMA ${to}`);
  await c.query(`CREATE TABLE ${to}.events (LIKE ${from}.events INCLUDING ALL)`);
  await c.query(`CREATE TABLE ${to}.deliveries (LIKE ${from}.deliveries INCLUDING DEFAULTS) PARTITION BY RANGE (id)`);
  await c.query(`ALTER TABLE ${to}.deliveries ADD PRIMARY KEY (id), ADD FOREIGN KEY (event_id) REFERENCES ${to}.events (id)`);
  await c.query(`CREATE INDEX ON ${to}.deliveries (next_attempt_at) WHERE status = 'pending'`);
  await c.query(`CREATE INDEX ON ${to}.deliveries (task_id)`);
  await c.query(`CREATE INDEX ON ${to}.deliveries (endpoint_id, status, created_at) WHERE endpoint_id IS NOT NULL`);
  await c.query(`CREATE INDEX ON ${to}.deliveries (tenant_id, id)`);
  await c.query(`CREATE INDEX ON ${to}.deliveries (event_id)`);
  await c.query(`CREATE TABLE ${to}.attempts (LIKE ${from}.attempts INCLUDING DEFAULTS) PARTITION BY RANGE (delivery_id)`);
  await c.query(`ALTER TABLE ${to}.attempts ADD PRIMARY KEY (delivery_id, attempt_number)`);
  for (const start of dayStarts) await addDay(c, to, start);
}

const part = (table: string, start: number) => `${table}_${new Date(start).toISOString().slice(0, 10).replace(/-/g, '')}`;

async function addDay(c: pg.Client, schema: string, start: number): Promise<void> {
  const lo = idAt('dlv', start);
  const hi = idAt('dlv', start + DAY);
  await c.query(`CREATE TABLE ${schema}.${part('deliveries', start)} PARTITION OF ${schema}.deliveries FOR VALUES FROM ('${lo}') TO ('${hi}')`);
  await c.query(`CREATE TABLE ${schema}.${part('attempts', start)} PARTITION OF ${schema}.attempts FOR VALUES FROM ('${lo}') TO ('${hi}')`);
}

/** Inserts `n` delivered deliveries (each with its event and one attempt) made through the day from `start`, in chunks. */
async function fillDay(c: pg.Client, start: number, n: number, taskIds: string[]): Promise<number> {
  const t0 = performance.now();
  const CHUNK = 5000;
  for (let i0 = 0; i0 < n; i0 += CHUNK) {
    const m = Math.min(CHUNK, n - i0);
    const at = Array.from({ length: m }, (_, i) => Math.floor(start + ((i0 + i) * DAY) / n));
    const events = at.map((t) => idMadeAt('msg', t));
    const deliveries = at.map((t) => idMadeAt('dlv', t));
    const tasks = at.map((_, i) => taskIds[(i0 + i) % taskIds.length]!);
    await c.query(
      `INSERT INTO events (id, tenant_id, task_id, type, payload, created_at)
       SELECT e, 'ten_bench', t, 'task.completed', $4, a FROM unnest($1::text[], $2::text[], $3::bigint[]) AS u(e, t, a)`,
      [events, tasks, at, JSON.stringify({ type: 'task.completed', data: { pad: 'x'.repeat(600) } })],
    );
    await c.query(
      `INSERT INTO deliveries (id, event_id, tenant_id, task_id, endpoint_id, url, status, attempt_count, next_attempt_at, created_at, updated_at, delivered_at, last_status_code)
       SELECT d, e, 'ten_bench', t, NULL, 'https://hooks.example/h', 'delivered', 1, NULL, a, a, a, 200 FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS u(d, e, t, a)`,
      [deliveries, events, tasks, at],
    );
    await c.query(
      `INSERT INTO attempts (id, delivery_id, attempt_number, started_at, status_code, latency_ms, response_excerpt, request_headers, response_headers)
       SELECT 'att_' || d, d, 1, a, 200, 12.5, 'ok', '{"webhook-id":"x","content-type":"application/json"}', '{"content-type":"text/plain"}'
         FROM unnest($1::text[], $2::bigint[]) AS u(d, a)`,
      [deliveries, at],
    );
  }
  return performance.now() - t0;
}

/** Bytes of deliveries and attempts with their indexes (every partition, where partitioned). */
async function size(c: pg.Client, schema: string): Promise<number> {
  let bytes = 0;
  for (const t of ['deliveries', 'attempts']) {
    const r = await c.query<{ bytes: string | null }>(
      `SELECT coalesce((SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('${schema}.${t}')), pg_total_relation_size('${schema}.${t}')) AS bytes`,
    );
    bytes += Number(r.rows[0]!.bytes);
  }
  return bytes;
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/**
 * What a writer sees: one delivery (with its event) and its attempt inserted, one statement each
 * in one transaction, then one read by id, in a loop on its own connection until `stop`; the latency of each round.
 */
async function probe(c: pg.Client, now: number, stop: { done: boolean }, minMs: number): Promise<number[]> {
  const lat: number[] = [];
  const until = performance.now() + minMs;
  while (!stop.done || performance.now() < until) {
    const t0 = performance.now();
    const e = idMadeAt('msg', now);
    const d = idMadeAt('dlv', now);
    // As the outbox writes them: in one transaction.
    await c.query('BEGIN');
    await c.query(`INSERT INTO events (id, tenant_id, task_id, type, payload, created_at) VALUES ($1, 'ten_bench', 'task_probe', 'task.completed', '{}', $2)`, [e, now]);
    await c.query(
      `INSERT INTO deliveries (id, event_id, tenant_id, task_id, url, status, attempt_count, next_attempt_at, created_at, updated_at) VALUES ($1, $2, 'ten_bench', 'task_probe', 'https://hooks.example/h', 'pending', 0, $3, $3, $3)`,
      [d, e, now],
    );
    await c.query(`INSERT INTO attempts (id, delivery_id, attempt_number, started_at, status_code, latency_ms) VALUES ($1, $2, 1, $3, 200, 1)`, ['att_' + d, d, now]);
    await c.query('COMMIT');
    await c.query(`SELECT * FROM deliveries WHERE id = $1`, [d]);
    lat.push(performance.now() - t0);
  }
  return lat.sort((a, b) => a - b);
}

async function timeQueries(c: pg.Client, sql: string, params: unknown[][]): Promise<number> {
  const t0 = performance.now();
  for (const p of params) await c.query(sql, p);
  return ((performance.now() - t0) / params.length) * 1000;
}

export async function benchPgRetention(opts: { quick: boolean }): Promise<void> {
  // 30 days: as many partitions as the default delivery retention keeps.
  const days = opts.quick ? 10 : 30;
  const perDay = opts.quick ? 2000 : 5000;
  const tag = randomBytes(4).toString('hex');
  const schemas = { plain: `hw_bench_ret_${tag}_a`, parted: `hw_bench_ret_${tag}_b` };
  const base = Math.floor((Date.now() - (days + 1) * DAY) / DAY) * DAY;
  const dayStarts = Array.from({ length: days + 2 }, (_, k) => base + k * DAY);
  if (days < 3) throw new Error('needs at least 3 days');
  const taskIds = Array.from({ length: perDay / 2 }, (_, i) => `task_${String(i).padStart(8, '0')}`);

  const store = new PostgresStore({ connectionString: testDatabaseUrl, schema: schemas.plain });
  await store.migrate();
  await Promise.all([store.ping(), store.ping()]); // the pool's connections made before anything is timed
  const admin = await connect('public');
  const variants: Variant[] = [];
  try {
    // The next day's partition is made when that day comes (below), as a partition manager would.
    await createPartitioned(admin, schemas.plain, schemas.parted, dayStarts.slice(0, days + 1));
    for (const s of [schemas.plain, schemas.parted]) {
      // Vacuum when this benchmark says, so both variants are measured alike.
      for (const t of ['deliveries', 'attempts', 'events']) await admin.query(`ALTER TABLE ${s}.${t} SET (autovacuum_enabled = false)`).catch(() => undefined);
      for (const r of (await admin.query<{ relid: string }>(`SELECT relid::text FROM pg_partition_tree('${s}.deliveries') UNION ALL SELECT relid::text FROM pg_partition_tree('${s}.attempts')`)).rows) {
        await admin.query(`ALTER TABLE ${r.relid} SET (autovacuum_enabled = false)`).catch(() => undefined);
      }
    }
    variants.push({ name: 'batched DELETE', schema: schemas.plain, client: await connect(schemas.plain) }, { name: 'partition DROP', schema: schemas.parted, client: await connect(schemas.parted) });

    // ---- fill: `days` days, alternating variants day by day ----
    const fillMs: Record<string, number> = { 'batched DELETE': 0, 'partition DROP': 0 };
    for (let k = 0; k < days; k++) for (const v of variants) fillMs[v.name] = fillMs[v.name]! + await fillDay(v.client, dayStarts[k]!, perDay, taskIds);
    for (const v of variants) await v.client.query('VACUUM ANALYZE deliveries, attempts, events');

    // ---- the hot path and reads, alternating in rounds ----
    const hot: Record<string, { insert: number[]; byId: number[]; byTask: number[]; due: number[] }> = {};
    for (const v of variants) hot[v.name] = { insert: [], byId: [], byTask: [], due: [] };
    const idsOf: Record<string, string[][]> = {};
    for (const v of variants) idsOf[v.name] = (await v.client.query<{ id: string }>('SELECT id FROM deliveries TABLESAMPLE SYSTEM (5) LIMIT 300')).rows.map((r) => [r.id]);
    const someTasks = taskIds.slice(0, 300).map((t) => [t, 'ten_bench']);
    const now = dayStarts[days]! + DAY / 2;
    for (let round = 0; round < 3; round++) {
      for (const v of variants) {
        const stop = { done: true };
        const lat = await probe(v.client, now, stop, 600);
        hot[v.name]!.insert.push(...lat);
        hot[v.name]!.byId.push(await timeQueries(v.client, 'SELECT * FROM deliveries WHERE id = $1', idsOf[v.name]!));
        hot[v.name]!.byTask.push(await timeQueries(v.client, 'SELECT * FROM deliveries WHERE task_id = $1 AND tenant_id = $2 ORDER BY created_at, id', someTasks));
        hot[v.name]!.due.push(
          await timeQueries(v.client, "SELECT id FROM deliveries WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT 256", Array.from({ length: 200 }, () => [now])),
        );
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    table(`PostgreSQL, ${days} days × ${perDay} deliveries (each with its event and 1 attempt): the hot path, plain tables vs partitioned by day`, variants.map((v) => {
      const h = hot[v.name]!;
      const ins = [...h.insert].sort((a, b) => a - b);
      return {
        tables: v.name === 'batched DELETE' ? 'plain (today)' : 'partitioned by day',
        'fill, rows/s': Math.round((days * perDay) / (fillMs[v.name]! / 1000)),
        'write (3 inserts, 1 commit) + read by id, p50 ms': percentile(ins, 50),
        'p99 ms': percentile(ins, 99),
        'read by id, µs': Math.round(median(h.byId)),
        "a task's deliveries, µs": Math.round(median(h.byTask)),
        'due-deliveries claim read, µs': Math.round(median(h.due)),
      };
    }));

    // ---- removing the two oldest days, with a writer running ----
    // Plain tables: day 0 by back-to-back batches (the statements' own cost), day 1 as the pruner
    // runs them (a rest as long as each batch). Partitioned: each day's partitions dropped.
    const removal: Array<Record<string, string | number>> = [];
    const space: Array<Record<string, string | number>> = [];
    const silent = createLogger('silent');
    for (const v of variants) {
      const before = await size(admin, v.schema);
      for (const day of [0, 1]) {
        const idle = await probe(v.client, now, { done: true }, 1500);
        const writer = await connect(v.schema);
        const stop = { done: false };
        const busy = probe(writer, now, stop, 0);
        const statements: number[] = [];
        const t0 = performance.now();
        let removed = 0;
        let how: string;
        if (v.name === 'partition DROP') {
          how = 'partitioned: DROP the day';
          const s0 = performance.now();
          removed = Number((await v.client.query<{ n: string }>(`SELECT count(*) AS n FROM ${part('deliveries', dayStarts[day]!)}`)).rows[0]!.n);
          await v.client.query(`DROP TABLE ${part('attempts', dayStarts[day]!)}, ${part('deliveries', dayStarts[day]!)}`);
          statements.push(performance.now() - s0);
        } else if (day === 0) {
          how = 'plain: DELETE, 500 a statement, back to back';
          let after: string | null = null;
          do {
            const s0 = performance.now();
            const r = await store.pruneDeliveries(dayStarts[1]!, after, 500);
            statements.push(performance.now() - s0);
            removed += r.deliveries;
            after = r.next;
          } while (after !== null);
        } else {
          how = 'plain: RowPruner.pass (rests between batches)';
          const pruner = new RowPruner({ store, logger: silent, retention: { deliveryMs: 30 * DAY, eventMs: 0, taskMs: 0 } });
          removed = (await pruner.pass(dayStarts[2]! + 30 * DAY)).deliveries;
        }
        const removeMs = performance.now() - t0;
        stop.done = true;
        const during = await busy;
        await writer.end();
        const spread = (xs: number[]) => `${formatNumber(percentile(xs, 50))} / ${formatNumber(percentile(xs, 99))} / ${formatNumber(xs[xs.length - 1]!)}`;
        removal.push({
          how,
          'rows removed (+ as many attempts)': removed,
          'time, ms': Math.round(removeMs),
          'longest statement, ms': statements.length > 0 ? formatNumber(Math.max(...statements)) : '(see above)',
          'writer p50 / p99 / max ms, idle': spread(idle),
          [`writer p50 / p99 / max ms, during (samples)`]: `${spread(during)} (${during.length})`,
        });
      }
      const afterRemoval = await size(admin, v.schema);
      const v0 = performance.now();
      await v.client.query('VACUUM deliveries, attempts');
      const vacuumMs = performance.now() - v0;
      const afterVacuum = await size(admin, v.schema);
      // One more day arrives (in a new partition, where partitioned).
      if (v.name === 'partition DROP') await addDay(v.client, v.schema, dayStarts[days + 1]!);
      await fillDay(v.client, dayStarts[days + 1]!, perDay, taskIds);
      const afterRefill = await size(admin, v.schema);
      space.push({
        tables: v.name === 'batched DELETE' ? 'plain, batched DELETE' : 'partitioned, DROP',
        before: mb(before),
        'two days removed': mb(afterRemoval),
        'VACUUM, ms': Math.round(vacuumMs),
        'after VACUUM': mb(afterVacuum),
        'one more day inserted': mb(afterRefill),
      });
    }
    table(`Removing the two oldest of ${days} days (${perDay} deliveries + ${perDay} attempts a day) while a writer inserts and reads`, removal);
    table('Space of deliveries and attempts (with indexes)', space);
  } finally {
    for (const v of variants) await v.client.end().catch(() => undefined);
    await store.close();
    for (const s of Object.values(schemas)) await admin.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await admin.end();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await benchPgRetention({ quick: process.argv.includes('--quick') });
