/**
 * Row retention (issue 14): a service that has done a month of work holds a month of delivery log,
 * not everything it ever did. Tasks finish and their webhooks are delivered; a month later (the
 * pruner is given that `now`, no test waits a month) their deliveries, attempts and events are
 * gone and the API answers 404 for them, while each task stays as a tombstone with its status, cost
 * and times. A delivery still pending is never pruned, nor the event it will send; a pass cut short
 * leaves a store the API reads without a fault, and the next pass finishes it; and the SQLite file
 * gives the freed space back (a file made before that is switched at start, or by `hookwave vacuum`).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { DeliveryRow, EventRow } from '../src/domain/types.js';
import { newId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { nextStepPages, RowPruner } from '../src/services/row-pruner.js';
import { SqliteStore } from '../src/store/sqlite/sqlite-store.js';
import { usePostgres } from './helpers/database.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { readSse } from './helpers/sse.js';
import { until } from './helpers/until.js';

const DAY = 86_400_000;
const silent = createLogger('silent');

let svc: TestService | null = null;
let receivers: Receiver[] = [];
afterEach(async () => {
  await svc?.close();
  svc = null;
  await Promise.all(receivers.map((r) => r.close()));
  receivers = [];
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** A task that ends with its webhook sent to `url`; resolves with the ended task. */
async function finishedTask(s: TestService, url: string): Promise<any> {
  const created = await s.api('POST', '/v1/tasks', {
    kind: 'generate',
    title: 'Night drive',
    params: { duration: 1 },
    targets: [{ format: 'mp3' }],
    metadata: { order: 'A-1001' },
    webhook_url: url,
  });
  expect(created.status).toBe(202);
  return waitForTask(s, created.body.task_id);
}

/** Waits until every output file of the task is removed (recorded by the output sweep). */
async function filesRemoved(s: TestService, taskId: string): Promise<void> {
  await until(`the files of ${taskId} to be removed`, async () => {
    const [agg] = await s.hw.store.loadAggregates([(await s.hw.store.getTaskById(taskId))!]);
    return agg!.outputs.length > 0 && agg!.outputs.every((o) => o.removed_at !== null);
  });
}

/** The task's deliveries once none is in flight any more (delivered, failed, or waiting for a retry). */
async function settledDeliveries(s: TestService, taskId: string, settled: (d: any) => boolean): Promise<any[]> {
  return until(`the deliveries of ${taskId} to settle`, async () => {
    const list = (await s.api('GET', `/v1/tasks/${taskId}/deliveries`)).body.data as any[];
    return list.length > 0 && list.every(settled) && list;
  });
}

describe('row retention', () => {
  it('prunes a month-old delivery log and leaves tombstoned tasks that still answer', async () => {
    const ok = await receiver();
    const down = await receiver();
    down.respond(() => ({ status: 503 }));
    // Files go a second after they are made, so tasks can become tombstones; retries wait an hour.
    svc = await startService({ outputRetentionMs: 1000, outputSweepMs: 100, retryScheduleMs: [3_600_000] });

    const done = await finishedTask(svc, ok.url);
    const [delivered] = await settledDeliveries(svc, done.id, (d) => d.status === 'delivered');
    const fileUrl: string = done.targets[0].outputs[0].url;
    const waiting = await finishedTask(svc, down.url);
    const [pending] = await settledDeliveries(svc, waiting.id, (d) => d.status === 'pending' && d.attempts.length === 1);
    await filesRemoved(svc, done.id);
    await filesRemoved(svc, waiting.id);

    const monthLater = Date.now() + 31 * DAY;
    const pass = await svc.hw.rowPruner.pass(monthLater);
    expect(pass).toMatchObject({ deliveries: 1, attempts: 1, tasks: 2, complete: true });
    // Each task had task.target.completed (no receiver wanted it) and task.completed; the pending delivery keeps its event.
    expect(pass.events).toBe(3);

    // The delivery log has forgotten the delivered webhook: 404 with the catalogued code, never a 500.
    const gone = await svc.api('GET', `/v1/deliveries/${delivered.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('NOT_FOUND');
    expect((await svc.api('POST', `/v1/deliveries/${delivered.id}/redeliver`)).status).toBe(404);
    expect((await svc.api('GET', `/v1/tasks/${done.id}/deliveries`)).body.data).toEqual([]);
    expect((await svc.api('GET', `/v1/deliveries?task_id=${done.id}`)).body.data).toEqual([]);

    // The task is a tombstone: status, cost and times, no targets, nothing personal.
    const tombstone = await svc.api('GET', `/v1/tasks/${done.id}`);
    expect(tombstone.status).toBe(200);
    expect(tombstone.body).toMatchObject({
      id: done.id, kind: 'generate', status: 'completed', cost: done.cost, created_at: done.created_at, completed_at: done.completed_at,
      title: null, input: {}, params: {}, metadata: null, webhook_url: null, targets: [], deleted_at: null, pruned_at: new Date(monthLater).toISOString(),
    });
    expect((await svc.api('GET', '/v1/tasks')).body.data.map((t: { id: string }) => t.id)).toContain(done.id);
    // A download link handed out before is gone, not missing.
    const file = await fetch(fileUrl);
    expect(file.status).toBe(410);
    expect(((await file.json()) as { error: { code: string } }).error.code).toBe('GONE');
    // Its event stream replays what is left (nothing) and ends, as for any ended task.
    const replay = await readSse(`${svc.url}/v1/tasks/${done.id}/events`, { 'x-api-key': svc.key }, { timeoutMs: 5000 });
    expect(replay).toEqual([]);
    const resumed = await readSse(`${svc.url}/v1/tasks/${done.id}/events?last_event_id=${delivered.event_id}`, { 'x-api-key': svc.key }, { timeoutMs: 5000 });
    expect(resumed).toEqual([]);
    // Deleting a tombstone is answered as any deletion.
    expect((await svc.api('DELETE', `/v1/tasks/${done.id}`)).status).toBe(200);
    expect((await svc.api('GET', `/v1/tasks/${done.id}`)).body).toMatchObject({ status: 'completed', deleted_at: expect.any(String), pruned_at: expect.any(String) });

    // The delivery still waiting for its retry is kept, with the event it will send.
    const kept = await svc.api('GET', `/v1/deliveries/${pending.id}`);
    expect(kept.body).toMatchObject({ status: 'pending', request_body: expect.stringContaining(waiting.id) });

    // Prometheus counts what went; a second pass finds nothing more.
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/hookwave_pruned_rows_total\{kind="deliveries"\} 1\b/);
    expect(metrics).toMatch(/hookwave_pruned_rows_total\{kind="tasks"\} 2\b/);
    expect(await svc.hw.rowPruner.pass(monthLater)).toMatchObject({ events: 0, deliveries: 0, attempts: 0, tasks: 0 });

    // Once it ends, a month later it goes like the others.
    const failedForGood = Date.now() + 1;
    await svc.hw.store.recordAttempts([{ attempt: null, delivery: { id: pending.id, status: 'failed', attempt_count: 1, next_attempt_at: null, last_error: 'gave up', last_status_code: 503, updated_at: failedForGood, delivered_at: null } }]);
    expect(await svc.hw.rowPruner.pass(failedForGood + 31 * DAY)).toMatchObject({ deliveries: 1, attempts: 1, events: 1 });
    expect((await svc.api('GET', `/v1/deliveries/${pending.id}`)).status).toBe(404);
  });

  it('keeps a task whole while its files are kept, and a task that ended recently', async () => {
    svc = await startService({ outputRetentionMs: 0 });
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] });
    const done = await waitForTask(svc, created.body.task_id);
    expect(await svc.hw.rowPruner.pass(Date.now() + 6 * DAY)).toMatchObject({ tasks: 0 });
    // Files kept for ever (HOOKWAVE_OUTPUT_RETENTION=forever): the task keeps its targets and outputs.
    expect(await svc.hw.rowPruner.pass(Date.now() + 365 * DAY)).toMatchObject({ tasks: 0 });
    expect((await svc.api('GET', `/v1/tasks/${done.id}`)).body).toMatchObject({ pruned_at: null, targets: [{ outputs: [{ format: 'mp3' }] }] });
    // Deleting it removes its files; a week after it ended it is a tombstone.
    expect((await svc.api('DELETE', `/v1/tasks/${done.id}`)).status).toBe(200);
    await filesRemoved(svc, done.id);
    expect(await svc.hw.rowPruner.pass(Date.now() + 8 * DAY)).toMatchObject({ tasks: 1 });
    expect((await svc.api('GET', `/v1/tasks/${done.id}`)).body).toMatchObject({ status: 'completed', targets: [], deleted_at: expect.any(String), pruned_at: expect.any(String) });
  });

  it('leaves a consistent store when a pass stops halfway, and the next pass finishes it', async () => {
    svc = await startService();
    const ok = await receiver();
    const tasks = [];
    for (let i = 0; i < 3; i++) tasks.push(await finishedTask(svc, ok.url));
    const deliveries = (await Promise.all(tasks.map((t) => settledDeliveries(svc!, t.id, (d) => d.status === 'delivered')))).flat();
    expect(deliveries.length).toBe(3);

    // Two rows a batch, and the process "dies" after the first batch.
    const pruner = new RowPruner({ store: svc.hw.store, logger: silent, retention: { eventMs: 30 * DAY, deliveryMs: 30 * DAY, taskMs: 0 }, batchSize: 2 });
    const monthLater = Date.now() + 31 * DAY;
    const cut = await pruner.pass(monthLater, { maxBatches: 1 });
    expect(cut).toMatchObject({ deliveries: 2, attempts: 2, events: 0, complete: false });

    // Every delivery is either gone with its attempts, or whole; the API reads both without a fault.
    const states = await Promise.all(
      deliveries.map(async (d) => {
        const res = await svc!.api('GET', `/v1/deliveries/${d.id}`);
        expect([200, 404]).toContain(res.status);
        if (res.status === 404) expect(await svc!.hw.store.listAttempts([d.id])).toEqual([]);
        else expect(res.body.attempts).toHaveLength(1);
        return res.status;
      }),
    );
    expect(states.sort()).toEqual([200, 404, 404]);
    for (const t of tasks) expect((await svc.api('GET', `/v1/tasks/${t.id}/deliveries`)).status).toBe(200);

    const rest = await pruner.pass(monthLater);
    expect(rest).toMatchObject({ deliveries: 1, attempts: 1, events: 6, complete: true });
    for (const d of deliveries) expect((await svc.api('GET', `/v1/deliveries/${d.id}`)).status).toBe(404);
  });

  it.skipIf(usePostgres)('gives the freed pages of the SQLite file back to the filesystem', async () => {
    svc = await startService();
    const file = path.join(svc.dataDir, 'hookwave.db');
    const tenant = (await svc.hw.store.getTenantByName('acme'))!;
    // A busy month of webhooks: 4000 events of ~1 KB, each delivered once.
    const now = Date.now();
    for (let batch = 0; batch < 8; batch++) {
      await svc.hw.store.tx(async (tx) => {
        for (let i = 0; i < 500; i++) {
          const event: EventRow = { id: newId('msg'), tenant_id: tenant.id, task_id: null, type: 'task.completed', payload: JSON.stringify({ pad: 'x'.repeat(1000) }), created_at: now };
          const delivery: DeliveryRow = {
            id: newId('dlv'), event_id: event.id, tenant_id: tenant.id, task_id: null, endpoint_id: null, url: 'https://hooks.example/h', status: 'delivered', attempt_count: 1,
            next_attempt_at: null, last_error: null, last_status_code: 200, created_at: now, updated_at: now, delivered_at: now,
          };
          await tx.insertEvent(event);
          await tx.insertDeliveries([delivery]);
        }
      });
    }
    const db = new Database(file, { readonly: true });
    try {
      const pragma = (name: string) => db.pragma(name, { simple: true }) as number;
      expect(pragma('auto_vacuum')).toBe(2); // INCREMENTAL: made so by the store
      await until('the rows to reach the file', () => fs.statSync(file).size > 4_000_000);
      const sizeBefore = fs.statSync(file).size;

      // Pruning alone frees pages inside the file (kept for reuse, here all of them)...
      const keepAll = new RowPruner({ store: svc.hw.store, logger: silent, retention: { eventMs: 30 * DAY, deliveryMs: 30 * DAY, taskMs: 0 }, keepFreeFraction: 1 });
      expect(await keepAll.pass(now + 31 * DAY)).toMatchObject({ events: 4000, deliveries: 4000, reclaimedPages: 0 });
      const freed = pragma('freelist_count');
      expect(freed).toBeGreaterThan(1000);

      // A pass whose time for giving space back is spent stops after one step of 1 MiB...
      const hurried = new RowPruner({ store: svc.hw.store, logger: silent, retention: { eventMs: 30 * DAY, deliveryMs: 30 * DAY, taskMs: 0 }, reclaimBudgetMs: 0 });
      expect(await hurried.pass(now + 31 * DAY)).toMatchObject({ reclaimedPages: 256, complete: true });

      // ...and the service's pruner gives back the rest but a tenth of the file, in steps.
      const pass = await svc.hw.rowPruner.pass(now + 31 * DAY);
      expect(pass.reclaimedPages).toBeGreaterThan(freed / 2);
      expect(pragma('freelist_count')).toBe(freed - 256 - pass.reclaimedPages);
      expect(pragma('freelist_count')).toBeLessThanOrEqual(Math.ceil(pragma('page_count') * 0.1));
      // The background checkpoint writes the smaller file back.
      await until('the file to shrink', () => fs.statSync(file).size < sizeBefore / 2);
    } finally {
      db.close();
    }
  });
});

describe('SQLite files made before incremental auto-vacuum', () => {
  /** A file as older hookwave made them: tables, and auto_vacuum NONE. */
  function oldFile(): string {
    const file = path.join(tempDir('hookwave-oldfile-'), 'hookwave.db');
    const db = new Database(file);
    db.exec('CREATE TABLE older_rows (id INTEGER PRIMARY KEY, body TEXT)');
    db.prepare('INSERT INTO older_rows (body) VALUES (?)').run('x'.repeat(10_000));
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(0);
    db.close();
    return file;
  }
  const autoVacuum = (file: string) => {
    const db = new Database(file, { readonly: true });
    try {
      return db.pragma('auto_vacuum', { simple: true });
    } finally {
      db.close();
    }
  };

  it.skipIf(usePostgres)('are switched when they open, if small; `hookwave vacuum` switches any', async () => {
    const small = oldFile();
    const store = new SqliteStore({ file: small, synchronous: 'normal' });
    await store.migrate();
    await store.close();
    expect(autoVacuum(small)).toBe(2);

    // What `hookwave vacuum` does, without the migrations' switch first.
    const other = oldFile();
    const unmigrated = new SqliteStore({ file: other, synchronous: 'normal' });
    expect(await unmigrated.reclaimSpace(256, 0)).toMatchObject({ released: 0 }); // auto_vacuum NONE: nothing to give back yet
    const r = await unmigrated.vacuum();
    await unmigrated.close();
    expect(r.bytesAfter).toBeGreaterThan(0);
    expect(autoVacuum(other)).toBe(2);
  });
});

describe('giving space back from a file larger than memory', () => {
  it('sizes each step by the last one\'s speed, so no step holds the write lock for seconds', () => {
    // 256 pages in 7 s (37 pages/s, measured on a 42 GB file): the next step asks for one page.
    expect(nextStepPages(256, 256, 7000)).toBe(1);
    // 37 pages/s fits one page in 50 ms, never none.
    expect(nextStepPages(1, 1, 27)).toBe(1);
    // A cached file (256 pages in 10 ms): grows, but at most twofold a step...
    expect(nextStepPages(256, 256, 10)).toBe(512);
    // ...and never beyond 4,096 pages (16 MiB).
    expect(nextStepPages(4096, 4096, 1)).toBe(4096);
    // 100 pages in 100 ms: 50 fit in the target.
    expect(nextStepPages(100, 100, 100)).toBe(50);
  });
});

describe('row retention settings', () => {
  it('reads durations, turns a kind off with 0 or "off", and refuses what is surely a slip', () => {
    expect(loadConfig({}, {})).toMatchObject({ eventRetentionMs: 30 * DAY, deliveryRetentionMs: 30 * DAY, taskRetentionMs: 7 * DAY });
    expect(loadConfig({}, { HOOKWAVE_EVENT_RETENTION: '90d', HOOKWAVE_DELIVERY_RETENTION: 'off', HOOKWAVE_TASK_RETENTION: '0' })).toMatchObject({
      eventRetentionMs: 90 * DAY,
      deliveryRetentionMs: 0,
      taskRetentionMs: 0,
    });
    expect(() => loadConfig({}, { HOOKWAVE_DELIVERY_RETENTION: '30' })).toThrow(/HOOKWAVE_DELIVERY_RETENTION must be at least 1h .*got 30 seconds/);
    expect(() => loadConfig({}, { HOOKWAVE_TASK_RETENTION: 'a week' })).toThrow(/HOOKWAVE_TASK_RETENTION must be a duration like 7d/);
  });
});
