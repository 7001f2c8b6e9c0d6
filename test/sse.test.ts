/**
 * Server-sent events for clients without a public endpoint: a task's events as they happen, with
 * progress, and Last-Event-ID resume.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { readSse } from './helpers/sse.js';
import { until } from './helpers/until.js';

let svc: TestService;
let files: FileServer;
let short: string;
let long: string;

beforeAll(async () => {
  const dir = tempDir('hookwave-media-');
  short = path.basename(await makeTone(dir, { seconds: 1, format: 'wav' }));
  long = path.basename(await makeTone(dir, { seconds: 240, format: 'flac' }));
  files = await startFileServer(dir);
  svc = await startService({ maxInputBytes: 100 * 1024 * 1024 });
});
afterAll(async () => {
  await svc.close();
  await files.close();
});

describe('GET /v1/tasks/:id/events', () => {
  it('streams target and task events with progress, ends after the final one, and resumes from Last-Event-ID', async () => {
    const created = await svc.api('POST', '/v1/tasks', {
      kind: 'extract',
      input: { url: files.url(long) },
      targets: [{ format: 'mp3' }, { format: 'ogg' }],
    });
    const id = created.body.task_id;
    const events = await readSse(`${svc.url}/v1/tasks/${id}/events`, { 'x-api-key': svc.key }, { timeoutMs: 60_000 });
    const stored = events.filter((e) => e.id);
    expect(stored.map((e) => e.event)).toEqual(['task.target.completed', 'task.target.completed', 'task.completed']);
    const final = JSON.parse(stored[2]!.data);
    expect(final.type).toBe('task.completed');
    expect(final.data).toMatchObject({ id, status: 'completed' });
    expect(stored.every((e) => e.id!.startsWith('msg_'))).toBe(true);

    const progress = events.filter((e) => e.event === 'progress').map((e) => JSON.parse(e.data));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.task_id === id && p.progress >= 0 && p.progress <= 1)).toBe(true);
    expect(progress.some((p) => p.progress > 0)).toBe(true);

    // A client that saw only the first event resumes after it.
    const resumed = await readSse(`${svc.url}/v1/tasks/${id}/events`, { 'x-api-key': svc.key, 'last-event-id': stored[0]!.id! });
    expect(resumed.map((e) => e.id)).toEqual([stored[1]!.id, stored[2]!.id]);
  }, 90_000);

  it('replays the whole history of a finished task and refuses other tenants', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'wav' }] });
    await waitForTask(svc, created.body.task_id);
    const events = await readSse(`${svc.url}/v1/tasks/${created.body.task_id}/events`, { authorization: `Bearer ${svc.key}` });
    expect(events.map((e) => e.event)).toEqual(['task.target.completed', 'task.completed']);

    // A client that already has the final event gets an empty stream that ends, not one that hangs.
    const t0 = Date.now();
    const after = await readSse(`${svc.url}/v1/tasks/${created.body.task_id}/events`, { 'x-api-key': svc.key, 'last-event-id': events[1]!.id! }, { timeoutMs: 15_000 });
    expect(after).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(5000);

    const other = await svc.newTenant('sse-other');
    const res = await fetch(`${svc.url}/v1/tasks/${created.body.task_id}/events`, { headers: { 'x-api-key': other.key } });
    expect(res.status).toBe(404);
  });
});

describe('GET /v1/events', () => {
  it("streams the tenant's new events as they happen", async () => {
    const t = await svc.newTenant('stream-co');
    let open = false;
    const listening = readSse(`${svc.url}/v1/events`, { 'x-api-key': t.key }, { until: (e) => e.event === 'task.completed', onOpen: () => (open = true) });
    // "From now on" starts when the server answers: a task created after that is in the stream.
    await until('the stream to open', () => open);
    const created = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'x-api-key': t.key, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'extract', input: { url: files.url(short) }, targets: [{ format: 'flac' }] }),
    });
    const { task_id } = (await created.json()) as { task_id: string };
    const events = await listening;
    expect(events.map((e) => e.event)).toEqual(['task.target.completed', 'task.completed']);
    expect(JSON.parse(events[1]!.data).data.id).toBe(task_id);
  });
});
