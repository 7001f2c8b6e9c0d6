import path from 'node:path';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import type { Store } from './store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import { PostgresStore, parseDatabaseUrl } from './postgres/postgres-store.js';

/**
 * The store the configuration asks for: PostgreSQL when a postgres:// database URL is set (any
 * number of processes share it), else SQLite under the data directory.
 */
export async function openStore(cfg: Config, opts: { migrate?: boolean } = {}): Promise<Store> {
  // `hookwave doctor` looks without changing anything: no migrations, no LISTEN connection.
  const migrate = opts.migrate ?? true;
  if (cfg.databaseUrl) {
    const { connectionString, schema } = parseDatabaseUrl(cfg.databaseUrl);
    const store = new PostgresStore({ connectionString, schema, poolSize: cfg.databasePoolSize, logger: createLogger(cfg.logLevel) });
    try {
      if (migrate) {
        await store.migrate();
        await store.listen();
      }
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }
  const store = new SqliteStore({ file: sqliteFile(cfg), synchronous: cfg.sqliteSync, logger: createLogger(cfg.logLevel) });
  if (migrate) await store.migrate();
  return store;
}

/** Where the embedded store keeps its database. */
export function sqliteFile(cfg: Pick<Config, 'dataDir'>): string {
  return path.join(cfg.dataDir, 'hookwave.db');
}
