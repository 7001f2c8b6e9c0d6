/**
 * The scale-out store: one PostgreSQL database shared by any number of API, worker and dispatcher
 * processes.
 *
 * - Operations outside a transaction run on the pool, one implicit transaction each.
 * - `tx()` holds one pooled client from BEGIN to COMMIT at READ COMMITTED isolation. Callbacks
 *   that read, decide and write take the row lock of what they decide on (`lockTask`: finishTarget
 *   settles a task when it sees no open target, cancel refuses an ended task), so two workers
 *   finishing a task's last two targets at once settle it one after the other, the second seeing
 *   the first's outcome in its next statement's snapshot. SERIALIZABLE gave the same answer but,
 *   with hundreds of tasks in flight, failed finishing transactions on predicate-lock conflicts
 *   more often than retries could absorb; a target whose outcome could not be stored ran again.
 *   A deadlock (a cancel meeting a claim) rolls back and runs the callback again (callbacks only
 *   touch the database, so that is safe).
 * - Leases: claims use FOR UPDATE SKIP LOCKED, so concurrent workers and dispatchers never take
 *   the same row and never wait on each other.
 * - Wake-ups: LISTEN on one dedicated connection per process; a transaction's notifyAfterCommit
 *   becomes pg_notify inside that transaction, so other processes hear it exactly when it commits.
 *   This process is told at once, without the round trip, and ignores its own echo.
 */
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Logger } from '../../logger.js';
import type { ReclaimStep, Store, Tx, WakeChannel } from '../store.js';
import { exposeOps, type Ops } from '../ops/ops.js';
import { postgresOps } from './areas.js';
import { migratePostgres, pendingPostgresMigrations, quoteIdent } from './migrate.js';
import { Sql, type Exec } from './sql.js';

export interface PostgresStoreOptions {
  /** postgres://user:pass@host:port/db (a `schema` query parameter is read by parseDatabaseUrl). */
  connectionString: string;
  /** Tables live in this schema (created on migrate); null = the server's default search_path. */
  schema?: string | null;
  /** Connections in the pool of this process (plus one for LISTEN). */
  poolSize?: number;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

const WAKE_CHANNELS: WakeChannel[] = ['targets', 'deliveries', 'cancel', 'events', 'progress'];
const RETRYABLE = new Set(['40P01', '40001']); // deadlock_detected, serialization_failure
const MAX_TX_RUNS = 10;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;

const OID_INT8 = 20;
const OID_NUMERIC = 1700;

/** Numbers as SQLite gives them: BIGINT millisecond times and COUNT(*) fit a double exactly. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === OID_INT8 || oid === OID_NUMERIC) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** Splits hookwave's own `?schema=` parameter off a database URL. */
export function parseDatabaseUrl(url: string): { connectionString: string; schema: string | null } {
  const u = new URL(url);
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`DATABASE_URL must start with postgres:// (got ${u.protocol}//…)`);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  return { connectionString: u.toString(), schema: schema || null };
}

export class PostgresStore implements Store {
  readonly dialect = 'postgres' as const;
  /**
   * An id is made inside its transaction, and transactions of different processes commit in any
   * order, so a row can become visible after one with a later id. Transactions here are short; a
   * row that is not visible this long after its id was made is taken as never coming. (A task's
   * own events are ordered: their transactions hold the task's row lock.)
   */
  readonly lateCommitMs = 5000;
  readonly schema: string | null;
  private readonly pool: pg.Pool;
  private readonly clientConfig: pg.ClientConfig;
  private readonly wake = new EventEmitter();
  private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Tags this process's notifications so it can ignore their echo. */
  private readonly sender = randomBytes(6).toString('base64url');
  private readonly channelPrefix: string;
  private listener: pg.Client | null = null;
  private listening: Promise<void> | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reconnectDelay = RECONNECT_MIN_MS;
  private closed = false;
  private retries = 0;

  constructor(opts: PostgresStoreOptions) {
    this.schema = opts.schema ?? null;
    if (this.schema !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(this.schema)) {
      throw new Error(`schema must be a plain identifier (letters, digits, _), got "${this.schema}"`);
    }
    this.log = opts.logger ?? { info() {}, warn() {}, error() {} };
    this.clientConfig = {
      connectionString: opts.connectionString,
      application_name: 'hookwave',
      types,
      ...(this.schema ? { options: `-c search_path=${this.schema}` } : {}),
    };
    this.pool = new pg.Pool({ ...this.clientConfig, max: opts.poolSize ?? 10 });
    // An idle pooled connection that breaks is dropped by the pool; without a handler it would crash the process.
    this.pool.on('error', (err) => this.log.warn({ err }, 'idle PostgreSQL connection lost'));
    // Each test schema and each installation sharing a database hears only its own wake-ups.
    this.channelPrefix = this.schema ? `${this.schema}.` : '';
    this.wake.setMaxListeners(0);
    // Unnamed statements on purpose: each is planned for its parameters. Named (prepared) ones
    // doubled PostgreSQL's CPU per webhook delivery here, their generic plans being worse.
    const exec: Exec = (text, values) => this.pool.query(text, values);
    exposeOps(this, postgresOps(new Sql(exec, (fn) => this.transaction((_tx, sql) => fn(sql)))));
  }

  async migrate(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await migratePostgres(client, this.schema);
    } finally {
      client.release();
    }
  }

  async pendingMigrations(): Promise<number> {
    const client = await this.pool.connect();
    try {
      return await pendingPostgresMigrations(client);
    } finally {
      client.release();
    }
  }

  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return this.transaction(fn);
  }

  /** BEGIN … COMMIT on one client; `fn` gets the Tx bound to it, and its statements (what `atomic` needs). */
  private async transaction<T>(fn: (tx: Tx, sql: Sql) => Promise<T>): Promise<T> {
    for (let run = 1; ; run++) {
      const client = await this.pool.connect();
      const notes = new Map<string, [WakeChannel, string | undefined]>();
      const exec: Exec = (text, values) => client.query(text, values);
      const sql: Sql = new Sql(exec, (inner) => inner(sql));
      const tx: Tx = Object.assign(postgresOps(sql), {
        notifyAfterCommit: (channel: WakeChannel, payload?: string) => {
          // Many rows on one channel need one wake-up, not one each.
          notes.set(`${channel}\u0000${payload ?? ''}`, [channel, payload]);
        },
      });
      let broken = false;
      try {
        await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
        const value = await fn(tx, sql);
        if (notes.size > 0) {
          const list = [...notes.values()];
          await client.query('SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS n(c, p)', [
            list.map(([c]) => this.channelPrefix + c),
            list.map(([, p]) => this.encode(p)),
          ]);
        }
        await client.query('COMMIT');
        client.release();
        for (const [channel, payload] of notes.values()) this.wake.emit(channel, payload);
        return value;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        client.release(broken ? (err as Error) : undefined);
        if (run < MAX_TX_RUNS && RETRYABLE.has((err as { code?: string }).code ?? '')) {
          this.retries++;
          // Jittered, growing pause so the transactions that collided do not collide again.
          await new Promise((r) => setTimeout(r, Math.random() * 5 * run));
          continue;
        }
        throw err;
      }
    }
  }

  // ---- wake-ups ----

  subscribe(channel: WakeChannel, fn: (payload: string | undefined) => void): () => void {
    this.wake.on(channel, fn);
    void this.listen().catch(() => undefined);
    return () => this.wake.off(channel, fn);
  }

  notify(channel: WakeChannel, payload?: string): void {
    this.wake.emit(channel, payload);
    if (this.closed) return;
    this.pool.query('SELECT pg_notify($1, $2)', [this.channelPrefix + channel, this.encode(payload)]).catch((err: unknown) => {
      // Other processes still find the work through their safety poll.
      this.log.warn({ err, channel }, 'pg_notify failed');
    });
  }

  /** `sender` or `sender:payload`. */
  private encode(payload: string | undefined): string {
    return payload === undefined ? this.sender : `${this.sender}:${payload}`;
  }

  /**
   * Opens the LISTEN connection (once; later calls wait for the same). openStore awaits it, so a
   * process that reports itself started already hears every wake-up.
   */
  listen(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.listening ??= this.connectListener().catch((err: unknown) => {
      this.listening = null;
      this.scheduleReconnect(err);
      throw err;
    });
    return this.listening;
  }

  private async connectListener(): Promise<void> {
    const client = new pg.Client(this.clientConfig);
    const lost = (err?: unknown) => {
      if (this.listener !== client) return;
      this.listener = null;
      this.listening = null;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.scheduleReconnect(err ?? new Error('LISTEN connection ended'));
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (msg) => this.onNotification(msg.channel, msg.payload));
    try {
      await client.connect();
      await client.query(WAKE_CHANNELS.map((c) => `LISTEN ${quoteIdent(this.channelPrefix + c)}`).join('; '));
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    const wasReconnecting = this.reconnectDelay > RECONNECT_MIN_MS;
    this.reconnectDelay = RECONNECT_MIN_MS;
    if (wasReconnecting) {
      this.log.info('LISTEN connection restored');
      // Whatever was committed while nobody listened is found by looking again.
      this.wake.emit('targets', undefined);
      this.wake.emit('deliveries', undefined);
    }
  }

  private scheduleReconnect(err: unknown): void {
    if (this.closed || this.reconnectTimer) return;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(RECONNECT_MAX_MS, this.reconnectDelay * 2);
    this.log.warn({ err, retry_in_ms: delay }, 'LISTEN connection to PostgreSQL lost; wake-ups fall back to the safety poll until it is back');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.listen().catch(() => undefined);
    }, delay);
  }

  private onNotification(fullChannel: string, raw: string | undefined): void {
    if (!fullChannel.startsWith(this.channelPrefix)) return;
    const channel = fullChannel.slice(this.channelPrefix.length) as WakeChannel;
    if (!WAKE_CHANNELS.includes(channel)) return;
    const text = raw ?? '';
    const colon = text.indexOf(':');
    const sender = colon < 0 ? text : text.slice(0, colon);
    if (sender === this.sender) return;
    this.wake.emit(channel, colon < 0 ? undefined : text.slice(colon + 1));
  }

  /** Whether wake-ups from other processes arrive now (false while the LISTEN connection is re-made). */
  get isListening(): boolean {
    return this.listener !== null;
  }

  /** Transactions run again after a serialization failure or deadlock: how contended the database is. */
  get txRetries(): number {
    return this.retries;
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  /** Autovacuum (tuned per table by migration 009) makes the space of deleted rows reusable; nothing to do here. */
  async reclaimSpace(): Promise<ReclaimStep> {
    return { released: 0, left: 0, pageBytes: 8192 };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    const listener = this.listener;
    this.listener = null;
    await this.listening?.catch(() => undefined);
    if (listener) {
      listener.removeAllListeners();
      listener.on('error', () => undefined);
      await listener.end().catch(() => undefined);
    }
    this.wake.removeAllListeners();
    await this.pool.end();
  }
}

// The Ops methods exposeOps puts on each instance; outside tx() each runs on the pool.
export interface PostgresStore extends Ops {}
