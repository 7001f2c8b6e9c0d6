/**
 * One store the growth and soak benchmarks measure: a SQLite data directory or a PostgreSQL
 * schema, migrated, with two tenants (acme and globex, each with an API key and an endpoint
 * subscribed to task-level events), optionally seeded with history, opened in this process (for
 * store operations and the dispatcher) and served by an API process (for HTTP).
 */
import fs from 'node:fs';
import Database from 'better-sqlite3';
import { loadConfig, type Config } from '../../src/config.js';
import type { EndpointRow } from '../../src/domain/types.js';
import { idAt, newId } from '../../src/ids.js';
import { newWebhookSecret } from '../../src/net/webhook-signature.js';
import { createApiKey } from '../../src/services/tenants.js';
import { openStore, sqliteFile } from '../../src/store/open-store.js';
import { parseDatabaseUrl } from '../../src/store/postgres/postgres-store.js';
import type { Store } from '../../src/store/store.js';
import { freshDatabase, type TestDatabase } from '../../test/helpers/database.js';
import { spawnService, type ServiceProcess } from '../../test/helpers/process.js';
import { tempDir } from '../../test/helpers/service.js';
import type { HistoryShape, HistoryTenant, ReplayTask } from './history.js';
import { seedPostgres } from './seed-postgres.js';
import { seedSqlite } from './seed-sqlite.js';

export type Kind = 'sqlite' | 'postgres';

export interface BenchTenant {
  id: string;
  key: string;
  endpoint: EndpointRow;
}

export interface SizeReport {
  /** Bytes on disk: the SQLite file and its WAL (after a checkpoint), or the schema's tables with their indexes and TOAST. */
  bytes: number;
  /** SQLite only: pages in the file and how many of them are free. */
  pages?: number;
  freePages?: number;
  walBytes?: number;
}

export interface SeedReport {
  rows: number;
  seconds: number;
  vacuumSeconds?: number;
}

export class BenchStore {
  readonly db: TestDatabase;
  readonly dataDir = tempDir('hookwave-bench-growth-');
  readonly config: Config;
  store!: Store;
  api: ServiceProcess | null = null;
  tenants!: { acme: BenchTenant; globex: BenchTenant };

  private constructor(readonly kind: Kind, overrides: Partial<Config>) {
    this.db = freshDatabase(kind);
    this.config = loadConfig({ dataDir: this.dataDir, databaseUrl: this.db.databaseUrl, dev: true, logLevel: 'warn', ...overrides }, {});
  }

  /** A migrated store with its two tenants, open in this process. */
  static async create(kind: Kind, overrides: Partial<Config> = {}): Promise<BenchStore> {
    const s = new BenchStore(kind, overrides);
    s.store = await openStore(s.config);
    const tenant = async (name: string, url: string): Promise<BenchTenant> => {
      const { key, tenant } = await createApiKey(s.store, name);
      const now = Date.now();
      const endpoint: EndpointRow = {
        id: newId('ep'), tenant_id: tenant.id, url, description: 'production receiver', events: ['task.completed', 'task.failed', 'task.canceled'],
        secret: newWebhookSecret(), previous_secret: null, previous_secret_until: null, enabled: true, disabled_reason: null,
        consecutive_failures: 0, failing_since: null, circuit_open_until: null, created_at: now, updated_at: now,
      };
      await s.store.insertEndpoint(endpoint);
      return { id: tenant.id, key, endpoint };
    };
    s.tenants = { acme: await tenant('acme', 'https://api.acme.example/webhooks/hookwave'), globex: await tenant('globex', 'https://globex.example/hooks/audio') };
    return s;
  }

  /** The shape's history for this store's tenants: 70 % acme, 30 % globex. */
  historyTenants(): HistoryTenant[] {
    const { acme, globex } = this.tenants;
    return [
      { id: acme.id, endpointId: acme.endpoint.id, endpointUrl: acme.endpoint.url, share: 0.7 },
      { id: globex.id, endpointId: globex.endpoint.id, endpointUrl: globex.endpoint.url, share: 0.3 },
    ];
  }

  /** Seeds history straight into the database (the store is closed meanwhile and opened again). */
  async seed(shape: Omit<HistoryShape, 'tenants'>, replay?: ReplayTask): Promise<SeedReport> {
    await this.store.close();
    const full = { ...shape, tenants: this.historyTenants() };
    let report: SeedReport;
    if (this.kind === 'sqlite') {
      report = seedSqlite(sqliteFile(this.config), full, replay);
    } else {
      const { connectionString, schema } = parseDatabaseUrl(this.db.databaseUrl!);
      report = await seedPostgres(connectionString, schema!, full, replay);
    }
    this.store = await openStore(this.config);
    return report;
  }

  /** Environment for a hookwave process on this store. */
  env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.db.env, HOOKWAVE_DATA_DIR: this.dataDir, HOOKWAVE_LOG_LEVEL: 'info', ...extra };
  }

  async startApi(extraEnv: Record<string, string> = {}): Promise<ServiceProcess> {
    this.api = await spawnService(['--role', 'api'], this.env(extraEnv));
    return this.api;
  }

  async stopApi(): Promise<void> {
    if (!this.api) return;
    this.api.child.kill('SIGTERM');
    await this.api.exited;
    this.api = null;
  }

  async countTasks(): Promise<number> {
    if (this.kind === 'postgres') return Number((await this.db.query<{ n: string }>('SELECT count(*) AS n FROM tasks'))[0]!.n);
    const db = new Database(sqliteFile(this.config), { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  /**
   * PostgreSQL: VACUUM FULL of the history's tables, which rewrites them holding only live rows: the
   * space what is kept takes, as opposed to the files, which PostgreSQL keeps for reuse. Its seconds.
   */
  async compact(): Promise<number> {
    if (this.kind !== 'postgres') return 0;
    const t0 = performance.now();
    for (const t of ['tasks', 'targets', 'outputs', 'events', 'deliveries', 'attempts']) await this.db.query(`VACUUM (FULL, ANALYZE) ${t}`);
    return (performance.now() - t0) / 1000;
  }

  /**
   * Deletes every row made from `fromMs` on (what the measurements added: tasks and their targets,
   * events, deliveries and attempts), so sizes compare history with history. Ids sort by time.
   */
  async deleteRowsFrom(fromMs: number): Promise<string> {
    const from = (prefix: string) => idAt(prefix, fromMs);
    const statements: Array<[string, string]> = [
      ['attempts', 'DELETE FROM attempts WHERE delivery_id >= $1'],
      ['deliveries', 'DELETE FROM deliveries WHERE id >= $1'],
      ['events', 'DELETE FROM events WHERE id >= $1'],
      ['targets', 'DELETE FROM targets WHERE task_id >= $1'],
      ['tasks', 'DELETE FROM tasks WHERE id >= $1'],
    ];
    const prefix: Record<string, string> = { attempts: 'dlv', deliveries: 'dlv', events: 'msg', targets: 'task', tasks: 'task' };
    const counts: string[] = [];
    if (this.kind === 'postgres') {
      for (const [table, sql] of statements) {
        const r = await this.db.query<{ n: string }>(`WITH d AS (${sql} RETURNING 1) SELECT count(*) AS n FROM d`, [from(prefix[table]!)]);
        counts.push(`${r[0]!.n} ${table}`);
      }
      return counts.join(', ');
    }
    const db = new Database(sqliteFile(this.config), { fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      db.transaction(() => {
        for (const [table, sql] of statements) counts.push(`${db.prepare(sql.replace('$1', '?')).run(from(prefix[table]!)).changes} ${table}`);
      })();
      return counts.join(', ');
    } finally {
      db.close();
    }
  }

  /**
   * PostgreSQL: VACUUM (ANALYZE) of the history's tables, what autovacuum does after deletes (the
   * space of deleted rows becomes reusable, the files keep their size); its seconds. SQLite: nothing
   * (the pruner gives pages back itself); 0.
   */
  async vacuumLikeAutovacuum(): Promise<number> {
    if (this.kind !== 'postgres') return 0;
    const t0 = performance.now();
    for (const t of ['tasks', 'targets', 'outputs', 'events', 'deliveries', 'attempts']) await this.db.query(`VACUUM (ANALYZE) ${t}`);
    return (performance.now() - t0) / 1000;
  }

  async size(): Promise<SizeReport> {
    if (this.kind === 'postgres') {
      const rows = await this.db.query<{ bytes: string }>(
        `SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = current_schema() AND c.relkind = 'r'`,
      );
      return { bytes: Number(rows[0]!.bytes) };
    }
    const file = sqliteFile(this.config);
    const db = new Database(file, { fileMustExist: true });
    try {
      // What the file holds, not what the WAL holds for it yet.
      db.pragma('busy_timeout = 5000');
      db.pragma('wal_checkpoint(TRUNCATE)');
      const wal = fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0;
      const pages = db.pragma('page_count', { simple: true }) as number;
      const freePages = db.pragma('freelist_count', { simple: true }) as number;
      return { bytes: fs.statSync(file).size + wal, pages, freePages, walBytes: wal };
    } finally {
      db.close();
    }
  }

  async close(): Promise<void> {
    await this.stopApi();
    await this.store.close();
    await this.db.drop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
