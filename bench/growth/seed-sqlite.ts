/**
 * Seeds a migrated SQLite store with history (history.ts) directly: prepared INSERTs with
 * positional parameters, one transaction per ~50k rows, on a connection of its own with
 * synchronous off (a crash mid-seed only loses the seed). The store must not be open elsewhere.
 */
import Database from 'better-sqlite3';
import { columnsOf, history, TABLE_NAMES, type HistoryShape, type ReplayTask } from './history.js';

const ROWS_PER_TRANSACTION = 50_000;
/** Tasks per generated chunk: small chunks die young, which keeps the garbage collector cheap. */
const CHUNK_TASKS = 200;

export interface SeedResult {
  rows: number;
  seconds: number;
}

export function seedSqlite(file: string, shape: HistoryShape, replay?: ReplayTask): SeedResult {
  const t0 = performance.now();
  const db = new Database(file);
  try {
    db.pragma('synchronous = OFF');
    // The generated rows are consistent by construction (parents first); checking each key would
    // only make the seed slower.
    db.pragma('foreign_keys = OFF');
    db.pragma('cache_size = -262144');
    const insert = Object.fromEntries(
      TABLE_NAMES.map((t) => {
        const cols = columnsOf(t);
        return [t, db.prepare(`INSERT INTO ${t} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`)];
      }),
    ) as Record<(typeof TABLE_NAMES)[number], Database.Statement>;
    const begin = db.prepare('BEGIN');
    const commit = db.prepare('COMMIT');
    let rows = 0;
    let inTx = 0;
    begin.run();
    for (const chunk of history(shape, CHUNK_TASKS, replay)) {
      // Parents first: targets and outputs have foreign keys to tasks.
      for (const t of TABLE_NAMES) {
        const stmt = insert[t];
        for (const row of chunk[t]) stmt.run(row);
        inTx += chunk[t].length;
      }
      if (inTx >= ROWS_PER_TRANSACTION) {
        commit.run();
        rows += inTx;
        inTx = 0;
        begin.run();
      }
    }
    commit.run();
    rows += inTx;
    db.pragma('wal_checkpoint(TRUNCATE)');
    return { rows, seconds: (performance.now() - t0) / 1000 };
  } finally {
    db.close();
  }
}
