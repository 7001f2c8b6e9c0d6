import type pg from 'pg';
import { listMigrations } from '../sqlite/migrate.js';

/**
 * Applies pending migrations from migrations/postgres, each in its own transaction. Several
 * processes starting at once take turns on a session-level advisory lock (keyed by schema), so
 * exactly one applies each migration and the others find it recorded.
 */
export async function migratePostgres(client: pg.ClientBase, schema: string | null): Promise<number> {
  const lockKey = `hookwave.migrate.${schema ?? ''}`;
  await client.query('SELECT pg_advisory_lock(hashtext($1))', [lockKey]);
  try {
    // Looked up first: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege on the database even
    // when the schema exists, which an operator's pre-made schema and a least-privilege role lack.
    if (schema && !(await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount) {
      await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    }
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    let applied = 0;
    for (const m of listMigrations('postgres')) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied++;
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]);
  }
}

export async function pendingPostgresMigrations(client: pg.ClientBase): Promise<number> {
  const exists = (await client.query<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")).rows[0]?.t;
  if (!exists) return listMigrations('postgres').length;
  const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
  return listMigrations('postgres').filter((m) => !done.has(m.version)).length;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
