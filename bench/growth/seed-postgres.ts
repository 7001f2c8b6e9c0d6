/**
 * Seeds a migrated PostgreSQL schema with history (history.ts) directly: `COPY … FROM STDIN` per
 * table, one transaction per ~50k rows, synchronous_commit off, foreign-key triggers off. The next transaction's rows are
 * generated while the server stores the previous one's. Then VACUUM (ANALYZE) of each table, which
 * is what autovacuum would have done over the weeks the history took, so plans and visibility are
 * those of a store that grew.
 */
import pg from 'pg';
import { columnsOf, history, TABLE_NAMES, type HistoryShape, type ReplayTask, type Table, type Value } from './history.js';

const ROWS_PER_TRANSACTION = 50_000;
/** Tasks per generated chunk: small chunks die young, which keeps the garbage collector cheap. */
const CHUNK_TASKS = 200;

/** A value in COPY's text format: \N for NULL; backslash, tab and line breaks escaped. */
function copyValue(v: Value): string {
  if (v === null) return '\\N';
  if (typeof v === 'number') return String(v);
  return /[\\\t\n\r]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : v;
}

interface Connection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/**
 * `COPY table FROM STDIN` with the rows given, through pg's Submittable interface (a query object
 * pg hands the connection to; what pg-copy-streams does, without the dependency).
 */
class CopyIn {
  callback?: (err: Error | null) => void;
  private failed = false;

  constructor(
    private readonly text: string,
    private readonly data: Buffer,
  ) {}

  submit(connection: Connection): void {
    connection.query(this.text);
  }

  handleCopyInResponse(connection: Connection): void {
    const CHUNK = 1 << 20;
    for (let at = 0; at < this.data.length; at += CHUNK) connection.sendCopyFromChunk(this.data.subarray(at, at + CHUNK));
    connection.endCopyFrom();
  }

  handleError(err: Error): void {
    this.failed = true;
    this.callback?.(err);
  }

  handleReadyForQuery(): void {
    if (!this.failed) this.callback?.(null);
  }

  handleCommandComplete(): void {}
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handleCopyData(): void {}
}

function copy(client: pg.Client, table: Table, lines: string[]): Promise<void> {
  const q = new CopyIn(`COPY ${table} (${columnsOf(table).join(', ')}) FROM STDIN`, Buffer.from(lines.join('')));
  return new Promise((resolve, reject) => {
    q.callback = (err) => (err ? reject(err) : resolve());
    void client.query(q as unknown as pg.QueryConfig);
  });
}

export interface SeedResult {
  rows: number;
  seconds: number;
  /** Of which VACUUM (ANALYZE). */
  vacuumSeconds: number;
}

type Lines = Record<Table, string[]>;
const noLines = (): Lines => ({ tasks: [], targets: [], outputs: [], events: [], deliveries: [], attempts: [] });

export async function seedPostgres(connectionString: string, schema: string, shape: HistoryShape, replay?: ReplayTask): Promise<SeedResult> {
  const t0 = performance.now();
  const client = new pg.Client({ connectionString, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = off');
    // The rows are consistent by construction (parents first): foreign-key triggers would only
    // look each parent up again. Needs a superuser, which the benchmark's database user is.
    await client.query('SET session_replication_role = replica');
    const store = async (group: Lines): Promise<void> => {
      await client.query('BEGIN');
      // Parents first: targets and outputs have foreign keys to tasks, deliveries to events.
      for (const t of TABLE_NAMES) if (group[t].length > 0) await copy(client, t, group[t]);
      await client.query('COMMIT');
    };
    let rows = 0;
    let group = noLines();
    let groupRows = 0;
    let storing: Promise<void> = Promise.resolve();
    for (const chunk of history(shape, CHUNK_TASKS, replay)) {
      for (const t of TABLE_NAMES) {
        for (const r of chunk[t]) group[t].push(r.map(copyValue).join('\t') + '\n');
        groupRows += chunk[t].length;
      }
      if (groupRows >= ROWS_PER_TRANSACTION) {
        await storing;
        storing = store(group);
        rows += groupRows;
        group = noLines();
        groupRows = 0;
      }
      // Lets the client write the previous group to the server while this one is generated.
      await new Promise((r) => setImmediate(r));
    }
    await storing;
    await store(group);
    rows += groupRows;
    const v0 = performance.now();
    for (const t of [...TABLE_NAMES, 'tenants', 'endpoints', 'api_keys']) await client.query(`VACUUM (ANALYZE) ${t}`);
    const end = performance.now();
    return { rows, seconds: (end - t0) / 1000, vacuumSeconds: (end - v0) / 1000 };
  } finally {
    await client.end();
  }
}
