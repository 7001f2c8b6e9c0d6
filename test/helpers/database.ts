/**
 * Which store the tests run on. SQLite by default; with HOOKWAVE_TEST_DATABASE=postgres every test
 * service (and every spawned process group) gets a fresh PostgreSQL schema, dropped afterwards, so
 * test files running in parallel never see each other's rows or wake-ups.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const usePostgres = process.env.HOOKWAVE_TEST_DATABASE === 'postgres';

/** The database the schemas are made in (loopback only). */
export const testDatabaseUrl = process.env.HOOKWAVE_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** For in-process config: a postgres:// URL with ?schema=, or null for SQLite. */
  databaseUrl: string | null;
  /** For spawned processes: DATABASE_URL, or empty values so an inherited one cannot switch SQLite tests over. */
  env: Record<string, string>;
  schema: string | null;
  /** Runs SQL in the schema (test checks); PostgreSQL only. */
  query<R extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  drop(): Promise<void>;
}

/** A new, empty database for one service or process group; `kind` defaults to the test run's. */
export function freshDatabase(kind: 'sqlite' | 'postgres' = usePostgres ? 'postgres' : 'sqlite'): TestDatabase {
  if (kind === 'sqlite') {
    return {
      databaseUrl: null,
      env: { DATABASE_URL: '', HOOKWAVE_DATABASE_URL: '' },
      schema: null,
      query: () => Promise.reject(new Error('no PostgreSQL in a SQLite test run')),
      drop: async () => undefined,
    };
  }
  const schema = `hw_test_${randomBytes(6).toString('hex')}`;
  const url = new URL(testDatabaseUrl);
  url.searchParams.set('schema', schema);
  return {
    databaseUrl: url.toString(),
    env: { DATABASE_URL: url.toString() },
    schema,
    async query(sql, values) {
      return withClient(async (c) => {
        await c.query(`SET search_path TO ${schema}`);
        return (await c.query(sql, values)).rows;
      });
    },
    async drop() {
      await withClient((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`));
    },
  };
}

async function withClient<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testDatabaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
