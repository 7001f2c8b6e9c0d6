/**
 * The feeds behind the SSE routes (src/services/events.ts), on the database of this run: a
 * tenant's backlog comes a page at a time, each event once, and a task's feed carries its
 * targets' progress and ends after its final event.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import type { EventRow, TargetRow, TaskRow, Tenant } from '../src/domain/types.js';
import { idAt, newId } from '../src/ids.js';
import { EventService, type Feed } from '../src/services/events.js';
import { openStore } from '../src/store/open-store.js';
import type { Store } from '../src/store/store.js';
import { freshDatabase, type TestDatabase } from './helpers/database.js';
import { tempDir } from './helpers/service.js';

let db: TestDatabase;
let store: Store;
let events: EventService;

beforeAll(async () => {
  db = freshDatabase();
  store = await openStore(loadConfig({ dataDir: tempDir(), databaseUrl: db.databaseUrl }));
  events = new EventService(store);
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

async function tenant(): Promise<Tenant> {
  const t: Tenant = { id: newId('ten'), name: `feeds ${newId('x')}`, webhook_secret: 'whsec_x', created_at: Date.now() };
  await store.insertTenant(t);
  return t;
}

function event(tenantId: string, taskId: string | null, type = 'task.target.completed'): EventRow {
  return { id: newId('msg'), tenant_id: tenantId, task_id: taskId, type, payload: '{}', created_at: Date.now() };
}

/** Reads until the feed has nothing more at once; the ids it gave, read by read. */
async function readAll(feed: Feed): Promise<{ ids: string[]; reads: number; ended: boolean }> {
  const ids: string[] = [];
  for (let reads = 1; ; reads++) {
    const r = await feed.read();
    ids.push(...r.events.map((e) => e.id));
    if (r.ended || !r.more) return { ids, reads, ended: r.ended };
  }
}

describe("a tenant's feed", () => {
  it('gives a backlog a page at a time, in order, each event once, then only what is new', async () => {
    const t = await tenant();
    const start = event(t.id, null);
    await store.insertEvent(start);
    const backlog = Array.from({ length: 1001 }, () => event(t.id, null));
    await store.tx(async (tx) => {
      for (const e of backlog) await tx.insertEvent(e);
    });
    const feed = events.tenantFeed(t.id, start.id);
    const first = await readAll(feed);
    expect(first.ids).toEqual(backlog.map((e) => e.id));
    expect(first.reads).toBe(3);
    expect((await readAll(feed)).ids).toEqual([]);
    const later = event(t.id, null);
    await store.insertEvent(later);
    expect((await readAll(feed)).ids).toEqual([later.id]);
  });

  it('starts from now without a Last-Event-ID', async () => {
    const t = await tenant();
    // Ids sort by time: this one was made a second ago.
    await store.insertEvent({ ...event(t.id, null), id: idAt('msg', Date.now() - 1000) });
    const feed = events.tenantFeed(t.id, undefined);
    const fresh = event(t.id, null);
    await store.insertEvent(fresh);
    expect((await readAll(feed)).ids).toEqual([fresh.id]);
  });
});

describe("a task's feed", () => {
  it("gives the task's events and its targets' progress, and ends after the final event", async () => {
    const t = await tenant();
    const now = Date.now();
    const task: TaskRow = {
      id: newId('task'), tenant_id: t.id, kind: 'extract', status: 'processing', title: null, input: {}, params: {}, metadata: null, webhook_url: null,
      webhook_events: null, idempotency_key: null, request_hash: null, batch_id: null, cost: null, error: null, created_at: now, updated_at: now, completed_at: null, deadline_at: null, deleted_at: null, pruned_at: null,
    };
    const target: TargetRow = {
      id: newId('tgt'), task_id: task.id, position: 0, name: 'mp3', spec: {}, status: 'processing', progress: 0.25, attempts: 1, lease_owner: 'w',
      lease_expires_at: now + 60_000, cost: null, duration: null, info: null, error: null, created_at: now, started_at: now, finished_at: null,
    };
    await store.insertTask(task, [target]);
    const feed = await events.taskFeed(t.id, task.id, undefined);
    expect(await feed.read()).toEqual({ events: [], progress: [{ task_id: task.id, target_id: target.id, name: 'mp3', progress: 0.25 }], ended: false, more: false });
    // Progress that did not change is not sent again.
    expect((await feed.read()).progress).toEqual([]);
    const done = event(t.id, task.id);
    const final = event(t.id, task.id, 'task.completed');
    const after = event(t.id, task.id);
    for (const e of [done, final, after]) await store.insertEvent(e);
    expect(await feed.read()).toEqual({ events: [done, final], progress: [], ended: true, more: false });
    await expect(events.taskFeed((await tenant()).id, task.id, undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
