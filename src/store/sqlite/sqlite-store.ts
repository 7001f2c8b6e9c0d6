/**
 * The embedded store: one SQLite file in WAL mode, one connection per process.
 *
 * better-sqlite3 is synchronous, so the async Store interface is a thin layer: an operation runs at
 * once unless a transaction is open, in which case it waits its turn. A transaction holds the
 * connection from BEGIN IMMEDIATE to COMMIT, and its callback only awaits Tx calls (which resolve
 * at once), so transactions never interleave and stay microseconds long.
 *
 * Durability: with synchronous=NORMAL (default) a commit survives a crash of the process but the
 * last commits may be lost on power loss; synchronous=FULL (HOOKWAVE_SQLITE_SYNC=full) fsyncs the
 * WAL on every commit and survives power loss too.
 *
 * Size: the file is made with auto_vacuum=INCREMENTAL, so pages freed by row retention can be given
 * back to the filesystem (reclaimSpace) instead of only being reused; the WAL is truncated to
 * journal_size_limit whenever it starts over, so a burst of writes does not leave it large.
 */
import fs from 'node:fs';
import path from 'node:path';
import { EventEmitter } from 'node:events';
import Database from 'better-sqlite3';
import type { Logger } from '../../logger.js';
import type { ReclaimStep, Store, Tx, WakeChannel } from '../store.js';
import { defineOps, exposeOps, type Ops } from '../ops/ops.js';
import { sqliteAreas } from './areas.js';
import { Checkpointer } from './checkpointer.js';
import { migrateSqlite, pendingMigrations } from './migrate.js';

export interface SqliteStoreOptions {
  file: string;
  synchronous: 'normal' | 'full';
  logger?: Pick<Logger, 'info' | 'warn'>;
}

const MAX_GROUP = 512;
/** The WAL file is cut back to this whenever it starts over (after a burst, e.g. a first prune of a large backlog). */
const WAL_SIZE_LIMIT = 64 * 1024 * 1024;
/**
 * A database made before auto_vacuum=INCREMENTAL is switched at startup when it is at most this
 * large: the one full VACUUM it takes rewrites the file, about 1 s for 64 MiB here (128 MiB took
 * 2.2 s), while every writer waits. A larger one is left to `hookwave vacuum`, run while stopped.
 */
const AUTO_VACUUM_SWITCH_MAX_BYTES = 64 * 1024 * 1024;
const AUTO_VACUUM_INCREMENTAL = 2;

interface BatchItem {
  fn: (tx: Tx) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

interface TxResult {
  ok: boolean;
  value: unknown;
  after: Array<[WakeChannel, string | undefined]>;
}

class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.tail.then(fn);
    this.tail = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }
}

export class SqliteStore implements Store {
  readonly dialect = 'sqlite' as const;
  /** Transactions commit one at a time, ids made inside them: rows appear in id order. */
  readonly lateCommitMs = 0;
  private readonly db: Database.Database;
  /** Transaction control statements, prepared once: they run for every transaction. */
  private readonly control: Record<'begin' | 'commit' | 'rollback', Database.Statement>;
  private readonly lock = new Lock();
  private readonly wake = new EventEmitter();
  private inTx = false;
  private readonly checkpointer: Checkpointer;
  /** Ops that run at once, for transaction callbacks that already hold the connection. */
  private readonly direct: Ops;
  private batch: BatchItem[] = [];
  private readonly log: Pick<Logger, 'info' | 'warn'>;

  constructor(opts: SqliteStoreOptions) {
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    this.log = opts.logger ?? { info() {}, warn() {} };
    this.db = new Database(opts.file);
    // Takes effect only before the first table is made, i.e. for a new file (migrate() switches old ones).
    if (this.db.pragma('page_count', { simple: true }) === 0) this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT}`);
    this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    this.db.pragma('foreign_keys = ON');
    // Other hookwave processes (a separate worker) may hold the write lock briefly.
    this.db.pragma('busy_timeout = 5000');
    // Checkpoints run in a background thread; the automatic one stays as a high backstop.
    this.db.pragma('wal_autocheckpoint = 10000');
    this.checkpointer = new Checkpointer(opts.file);
    const areas = sqliteAreas(this.db);
    this.control = {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
    };
    this.wake.setMaxListeners(0);
    exposeOps(this, defineOps(areas, (fn) => (this.inTx ? this.lock.run(async () => fn()) : Promise.resolve().then(fn))));
    this.direct = defineOps(areas, (fn) => {
      try {
        return Promise.resolve(fn());
      } catch (err) {
        return Promise.reject(err);
      }
    });
  }

  async migrate(): Promise<void> {
    migrateSqlite(this.db);
    this.switchToIncrementalVacuum();
  }

  /** Switches a database made before auto_vacuum=INCREMENTAL, at once when that is quick (see AUTO_VACUUM_SWITCH_MAX_BYTES). */
  private switchToIncrementalVacuum(): void {
    if (this.db.pragma('auto_vacuum', { simple: true }) === AUTO_VACUUM_INCREMENTAL) return;
    const bytes = this.fileBytes();
    if (bytes > AUTO_VACUUM_SWITCH_MAX_BYTES) {
      this.log.warn(
        { file_mb: Math.round(bytes / 1e6) },
        'this SQLite file keeps the space of deleted rows (it was made before incremental auto-vacuum); run `hookwave vacuum` once while hookwave is stopped to switch it, so row retention can give space back',
      );
      return;
    }
    const started = Date.now();
    this.vacuumNow();
    this.log.info({ file_mb: Math.round(bytes / 1e6), ms: Date.now() - started }, 'switched the SQLite file to incremental auto-vacuum (one full VACUUM)');
  }

  private fileBytes(): number {
    return (this.db.pragma('page_count', { simple: true }) as number) * (this.db.pragma('page_size', { simple: true }) as number);
  }

  private vacuumNow(): void {
    this.db.pragma('auto_vacuum = INCREMENTAL');
    this.db.exec('VACUUM');
  }

  /**
   * `hookwave vacuum`: rewrites the whole file with auto_vacuum=INCREMENTAL, giving every free page
   * back. Writers wait until it is done (seconds per GiB), and it needs free disk space about the
   * file's size; meant for a stopped hookwave, once, for files made before incremental auto-vacuum.
   */
  async vacuum(): Promise<{ bytesBefore: number; bytesAfter: number }> {
    return this.lock.run(async () => {
      const bytesBefore = this.fileBytes();
      this.vacuumNow();
      return { bytesBefore, bytesAfter: this.fileBytes() };
    });
  }

  async reclaimSpace(maxPages: number, keepFraction: number): Promise<ReclaimStep> {
    return this.lock.run(async () => {
      const pageBytes = this.db.pragma('page_size', { simple: true }) as number;
      // Giving back n pages shrinks the file too: n such that (free - n) <= keepFraction * (pages - n).
      const beyondReserve = () => {
        const free = this.db.pragma('freelist_count', { simple: true }) as number;
        const pages = this.db.pragma('page_count', { simple: true }) as number;
        return { free, n: keepFraction >= 1 ? 0 : Math.max(0, Math.ceil((free - pages * keepFraction) / (1 - keepFraction))) };
      };
      const before = beyondReserve();
      const n = Math.min(maxPages, before.n);
      // auto_vacuum=NONE (an old file not switched yet): incremental_vacuum would do nothing.
      if (n <= 0 || this.db.pragma('auto_vacuum', { simple: true }) !== AUTO_VACUUM_INCREMENTAL) return { released: 0, left: 0, pageBytes };
      // BEGIN IMMEDIATE: waits for another process's writer (busy_timeout) rather than failing halfway.
      this.control.begin.run();
      try {
        this.db.pragma(`incremental_vacuum(${n})`);
        this.control.commit.run();
      } catch (err) {
        if (this.db.inTransaction) this.control.rollback.run();
        throw err;
      }
      const after = beyondReserve();
      return { released: before.free - after.free, left: after.n, pageBytes };
    });
  }

  async pendingMigrations(): Promise<number> {
    return pendingMigrations(this.db);
  }

  /**
   * Group commit: transactions requested in the same turn of the event loop share one
   * BEGIN … COMMIT. Every caller is answered after the shared COMMIT, so "resolved" still means
   * "durable". One failing callback fails alone: the group is rolled back and each callback runs
   * again in a transaction of its own (callbacks only do database work, so running one twice is
   * safe). That is cheaper than a SAVEPOINT around each callback, which makes SQLite journal every
   * page the callback touches: ~10 µs of a 37 µs task create, measured.
   */
  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.batch.push({ fn: fn as (tx: Tx) => Promise<unknown>, resolve: resolve as (v: unknown) => void, reject });
      if (this.batch.length === 1) setImmediate(() => void this.lock.run(() => this.commitBatch()));
    });
  }

  private async commitBatch(): Promise<void> {
    const batch = this.batch.splice(0, MAX_GROUP);
    if (this.batch.length > 0) setImmediate(() => void this.lock.run(() => this.commitBatch()));
    if (batch.length === 0) return;
    let results: TxResult[] | null;
    try {
      results = await this.runInOneTransaction(batch);
    } catch (err) {
      // BEGIN or COMMIT itself failed (disk full, I/O error): nothing of the group is stored.
      for (const item of batch) item.reject(err);
      return;
    }
    if (!results) {
      results = [];
      for (const item of batch) {
        try {
          results.push(...(await this.runInOneTransaction([item]))!);
        } catch (err) {
          results.push({ ok: false, value: err, after: [] });
        }
      }
    }
    batch.forEach((item, i) => {
      const r = results[i]!;
      if (r.ok) item.resolve(r.value);
      else item.reject(r.value);
    });
    const fired = new Set<string>();
    for (const r of results) {
      for (const [channel, payload] of r.after) {
        // Many rows on one channel need one wake-up, not one each.
        const key = `${channel}\u0000${payload ?? ''}`;
        if (fired.has(key)) continue;
        fired.add(key);
        this.notify(channel, payload);
      }
    }
  }

  /**
   * Runs `items` in one BEGIN … COMMIT. When a callback throws, rolls back and returns null, or,
   * for a single item, returns its failure. Throws when BEGIN or COMMIT fails.
   */
  private async runInOneTransaction(items: BatchItem[]): Promise<TxResult[] | null> {
    const results: TxResult[] = [];
    this.inTx = true;
    try {
      this.control.begin.run();
      for (const item of items) {
        const after: Array<[WakeChannel, string | undefined]> = [];
        const tx = Object.assign(Object.create(this.direct) as Tx, {
          notifyAfterCommit: (channel: WakeChannel, payload?: string) => void after.push([channel, payload]),
        });
        try {
          results.push({ ok: true, value: await item.fn(tx), after });
        } catch (err) {
          this.control.rollback.run();
          return items.length === 1 ? [{ ok: false, value: err, after: [] }] : null;
        }
      }
      this.control.commit.run();
      return results;
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.inTx = false;
    }
  }

  subscribe(channel: WakeChannel, fn: (payload: string | undefined) => void): () => void {
    this.wake.on(channel, fn);
    return () => this.wake.off(channel, fn);
  }

  notify(channel: WakeChannel, payload?: string): void {
    this.wake.emit(channel, payload);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    await this.checkpointer.stop();
    await this.lock.run(async () => {
      if (this.db.open) this.db.close();
    });
  }
}

// The Ops methods exposeOps puts on each instance.
export interface SqliteStore extends Ops {}
