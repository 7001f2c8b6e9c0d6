/**
 * Kill the process at any moment, start it again: no task and no webhook is lost. A webhook may
 * arrive twice, always with the same webhook-id. (On SQLite the data directory is the database;
 * with HOOKWAVE_TEST_DATABASE=postgres both processes share one fresh schema.)
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { runCli, spawnService } from './helpers/process.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { callApi, tempDir } from './helpers/service.js';
import { until } from './helpers/until.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';

let files: FileServer;
let receiver: Receiver;
let tone: string;
const databases: TestDatabase[] = [];

function database(): TestDatabase {
  const db = freshDatabase();
  databases.push(db);
  return db;
}

beforeAll(async () => {
  const dir = tempDir('hookwave-media-');
  tone = path.basename(await makeTone(dir, { seconds: 20, format: 'wav' }));
  files = await startFileServer(dir);
  receiver = await startReceiver();
});
afterAll(async () => {
  await files.close();
  await receiver.close();
  for (const db of databases) await db.drop();
});

describe('kill -9 and restart', () => {
  it('loses no task and no webhook', async () => {
    const dataDir = tempDir();
    const env = {
      ...database().env,
      HOOKWAVE_DATA_DIR: dataDir,
      HOOKWAVE_DEV: '1',
      HOOKWAVE_LEASE_MS: '1500',
      HOOKWAVE_HEARTBEAT_MS: '300',
      HOOKWAVE_WORKER_CONCURRENCY: '2',
      HOOKWAVE_RETRY_SCHEDULE_MS: '200,200,200,200,200',
      HOOKWAVE_RETRY_JITTER: '0',
      HOOKWAVE_POLL_INTERVAL_MS: '200',
    };
    const created = runCli(['keys', 'create', '--tenant', 'acme', '--json'], env);
    expect(created.status).toBe(0);
    const { key, webhook_secret } = JSON.parse(created.stdout) as { key: string; webhook_secret: string };
    expect(webhook_secret).toMatch(/^whsec_/);

    // Slow answers keep deliveries in flight when the process dies.
    receiver.respond(() => ({ status: 200, delayMs: 150 }));
    const first = await spawnService([], env);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await callApi(first.url, key, 'POST', '/v1/tasks', {
        kind: 'extract',
        input: { url: files.url(tone) },
        targets: [{ format: 'mp3' }, { format: 'opus' }],
        webhook_url: receiver.url,
      });
      expect(res.status).toBe(202);
      ids.push(res.body.task_id);
    }
    // Die in the middle: some tasks done and delivered, some running, some queued.
    await until('two webhooks from the first process', () => receiver.received.length >= 2, 30_000, 20);
    first.child.kill('SIGKILL');
    await first.exited;
    const before = receiver.received.length;
    expect(before).toBeLessThan(ids.length);

    const second = await spawnService([], env);
    try {
      const done = new Map<string, string>();
      await until(
        () => `a task.completed webhook for every task (${done.size} of ${ids.length})`,
        () => {
          for (const r of receiver.received) if (r.body?.type === 'task.completed') done.set(r.body.data.id, r.headers['webhook-id'] as string);
          return done.size >= ids.length;
        },
        90_000,
        100,
      );
      expect([...done.keys()].sort()).toEqual([...ids].sort());

      // Every task completed; duplicates, if any, repeat the same webhook-id with the same body.
      for (const id of ids) {
        const task = await callApi(second.url, key, 'GET', `/v1/tasks/${id}`);
        expect(task.body.status).toBe('completed');
        expect(task.body.targets.every((t: { outputs: unknown[] }) => t.outputs.length === 1)).toBe(true);
        const completions = receiver.received.filter((r) => r.body?.type === 'task.completed' && r.body.data.id === id);
        expect(new Set(completions.map((r) => r.headers['webhook-id'])).size).toBe(1);
        expect(new Set(completions.map((r) => r.raw)).size).toBe(1);
      }
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  }, 150_000);

  it('resends a delivery that was in flight when the dispatcher died, with the same webhook-id', async () => {
    const dataDir = tempDir();
    const env = { ...database().env, HOOKWAVE_DATA_DIR: dataDir, HOOKWAVE_DEV: '1', HOOKWAVE_WEBHOOK_TIMEOUT_MS: '1000', HOOKWAVE_POLL_INTERVAL_MS: '200' };
    const { key } = JSON.parse(runCli(['keys', 'create', '--tenant', 'acme', '--json'], env).stdout) as { key: string };
    const rx = await startReceiver();
    rx.respond((_r, i) => (i === 0 ? 'hang' : { status: 200 }));
    try {
      const first = await spawnService([], env);
      const created = await callApi(first.url, key, 'POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }], webhook_url: rx.url });
      await rx.waitFor(1, 30_000); // the request is in flight, unanswered
      first.child.kill('SIGKILL');
      await first.exited;

      const second = await spawnService([], env);
      try {
        const [sent, resent] = await rx.waitFor(2, 30_000);
        expect(resent!.headers['webhook-id']).toBe(sent!.headers['webhook-id']);
        expect(resent!.raw).toBe(sent!.raw);
        expect(resent!.body.data.id).toBe(created.body.task_id);
      } finally {
        second.child.kill('SIGTERM');
        await second.exited;
      }
    } finally {
      await rx.close();
    }
  }, 90_000);
});
