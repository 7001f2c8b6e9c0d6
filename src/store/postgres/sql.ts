/**
 * What the PostgreSQL area queries share. Each has the semantics of its SQLite twin (the
 * reference). One set of area queries is bound to the pool (each statement in its own implicit
 * transaction) or to a client inside BEGIN … COMMIT (PostgresStore.tx).
 *
 * Rows come back in the shapes SQLite gives: the pool parses BIGINT as a number, `json` columns
 * arrive parsed and BOOLEAN as a boolean, so rows need no conversion. Rows go in as one JSON
 * parameter through json_populate_recordset, which maps keys to columns by name and keeps the text
 * of nested JSON exactly as sent.
 *
 * Where SQLite needs several statements inside one transaction, these use one statement with data-
 * modifying CTEs where that keeps the semantics, so storing a task, claiming deliveries and
 * recording attempts are one round trip each and atomic without a transaction of their own.
 * Claiming targets reads the tasks after updating them, as SQLite does, so it is three statements
 * in a short transaction (`atomic`).
 */
export type Row = Record<string, unknown>;

export type Exec = (text: string, values?: unknown[]) => Promise<{ rows: Row[]; rowCount: number | null }>;

/** Runs `fn` atomically: with the same connection inside an open transaction, else in a new one. */
export type Atomic = <T>(fn: (sql: Sql) => Promise<T>) => Promise<T>;

export const json = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

const COLUMNS = {
  tenants: ['id', 'name', 'webhook_secret', 'created_at'],
  api_keys: ['id', 'tenant_id', 'hash', 'prefix', 'created_at', 'revoked_at'],
  tasks: [
    'id', 'tenant_id', 'kind', 'status', 'title', 'input', 'params', 'metadata', 'webhook_url', 'webhook_events',
    'idempotency_key', 'request_hash', 'batch_id', 'cost', 'error', 'created_at', 'updated_at', 'completed_at', 'deadline_at',
  ],
  targets: [
    'id', 'task_id', 'tenant_id', 'position', 'name', 'spec', 'status', 'progress', 'attempts', 'lease_owner', 'lease_expires_at',
    'cost', 'duration', 'info', 'error', 'created_at', 'started_at', 'finished_at',
  ],
  outputs: ['id', 'target_id', 'task_id', 'tenant_id', 'name', 'format', 'path', 'size', 'duration', 'bitrate', 'sample_rate', 'channels', 'loudness', 'file_name', 'peaks', 'created_at', 'expires_at', 'removed_at'],
  events: ['id', 'tenant_id', 'task_id', 'type', 'payload', 'created_at'],
  deliveries: [
    'id', 'event_id', 'tenant_id', 'task_id', 'endpoint_id', 'url', 'status', 'attempt_count', 'next_attempt_at', 'last_error',
    'last_status_code', 'created_at', 'updated_at', 'delivered_at',
  ],
  attempts: [
    'id', 'delivery_id', 'attempt_number', 'started_at', 'status_code', 'latency_ms', 'response_excerpt', 'error',
    'request_headers', 'response_headers',
  ],
  endpoints: [
    'id', 'tenant_id', 'url', 'description', 'events', 'secret', 'previous_secret', 'previous_secret_until', 'enabled',
    'disabled_reason', 'consecutive_failures', 'failing_since', 'circuit_open_until', 'created_at', 'updated_at',
  ],
  batches: ['id', 'tenant_id', 'webhook_url', 'item_count', 'idempotency_key', 'created_at'],
  uploads: ['id', 'tenant_id', 'file_name', 'path', 'size', 'format', 'duration', 'created_at', 'expires_at'],
} as const;

export type Table = keyof typeof COLUMNS;

/** `INSERT INTO table (cols) SELECT cols FROM json_populate_recordset(NULL::table, $1)`: any number of rows, one statement. */
export function insertSql(table: Table, param = '$1', suffix = ''): string {
  const cols = COLUMNS[table].join(', ');
  return `INSERT INTO ${table} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${table}, ${param}) ${suffix}`.trim();
}

/** `SET a = $1, b = $2` for the keys present in a patch; JSON columns are serialised. */
export function patchSql(patch: object, jsonColumns: readonly string[], firstParam = 1): { set: string; values: unknown[] } {
  const values: unknown[] = [];
  const parts: string[] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    values.push(jsonColumns.includes(k) ? json(v) : v);
    parts.push(`${k} = $${firstParam + values.length - 1}`);
  }
  return { set: parts.join(', '), values };
}

/** WHERE clauses with numbered parameters, for the list queries whose filters are optional. */
export class Where {
  readonly parts: string[] = [];
  readonly values: unknown[] = [];
  add(sqlWithParam: (p: string) => string, value: unknown): void {
    this.values.push(value);
    this.parts.push(sqlWithParam(`$${this.values.length}`));
  }
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  get sql(): string {
    return this.parts.join(' AND ');
  }
}

/** Statements on one connection (the pool, or a client inside BEGIN … COMMIT). */
export class Sql {
  constructor(
    readonly exec: Exec,
    readonly atomic: Atomic,
  ) {}

  async one<T>(text: string, values: unknown[]): Promise<T | null> {
    const { rows } = await this.exec(text, values);
    return (rows[0] as T | undefined) ?? null;
  }

  async all<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.exec(text, values)).rows as T[];
  }

  async count(text: string, values: unknown[]): Promise<number> {
    return (await this.exec(text, values)).rowCount ?? 0;
  }

  async insert(table: Table, rows: object[]): Promise<void> {
    if (rows.length === 0) return;
    await this.exec(insertSql(table), [JSON.stringify(rows)]);
  }
}

/** Base of the area queries: their helpers stay off the store, which exposes only the Ops names. */
export abstract class PostgresQueries {
  constructor(protected readonly sql: Sql) {}

  protected exec(text: string, values?: unknown[]): ReturnType<Exec> {
    return this.sql.exec(text, values);
  }

  protected one<T>(text: string, values: unknown[]): Promise<T | null> {
    return this.sql.one<T>(text, values);
  }

  protected all<T>(text: string, values: unknown[] = []): Promise<T[]> {
    return this.sql.all<T>(text, values);
  }

  protected count(text: string, values: unknown[]): Promise<number> {
    return this.sql.count(text, values);
  }

  protected insert(table: Table, rows: object[]): Promise<void> {
    return this.sql.insert(table, rows);
  }

  protected atomic<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.sql.atomic(fn);
  }
}

export function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = out.get(k);
    if (list) list.push(row);
    else out.set(k, [row]);
  }
  return out;
}
