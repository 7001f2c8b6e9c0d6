/**
 * Deletion and retention (issue 13.4): a client deletes a task and its files go at once (outputs
 * and the upload it was made from), its personal fields are redacted, its links answer 410; the
 * deletion is a fact in the database that any process finishes, so a crash halfway loses nothing;
 * and outputs older than HOOKWAVE_OUTPUT_RETENTION go by themselves.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTone } from './helpers/media.js';
import { readSse } from './helpers/sse.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';

let svc: TestService | null = null;
afterEach(async () => {
  await svc?.close();
  svc = null;
});

async function uploadTone(s: TestService): Promise<string> {
  const tone = fs.readFileSync(await makeTone(tempDir('hookwave-del-'), { seconds: 1, format: 'wav' }));
  const res = await fetch(`${s.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': s.key, 'content-type': 'application/octet-stream', 'x-file-name': 'interview.wav' }, body: tone });
  expect(res.status).toBe(201);
  return ((await res.json()) as { upload_id: string }).upload_id;
}

/** Where the local blob store keeps a stored file (test services store files under the data directory). */
const blobFile = (s: TestService, key: string) => path.join(s.dataDir, 'files', key);

describe('DELETE /v1/tasks/:id', () => {
  it('removes the outputs and the uploaded input at once, redacts the task, and its links answer 410', async () => {
    svc = await startService();
    const uploadId = await uploadTone(svc);
    const created = await svc.api('POST', '/v1/tasks', {
      kind: 'extract',
      input: { upload_id: uploadId },
      targets: [{ format: 'mp3' }, { format: 'flac' }],
      metadata: { customer: 'Jane Doe' },
      webhook_url: 'https://hooks.example.com/private',
      webhook_events: ['task.completed'],
    });
    const done = await waitForTask(svc, created.body.task_id);
    expect(done.status).toBe('completed');
    const urls: string[] = done.targets.flatMap((t: { outputs: Array<{ url: string }> }) => t.outputs.map((o) => o.url));
    expect((await fetch(urls[0]!)).status).toBe(200);
    const outputs = await svc.hw.store.loadAggregates([(await svc.hw.store.getTaskById(done.id))!]);
    const files = outputs[0]!.outputs.map((o) => blobFile(svc!, o.path));
    for (const f of files) expect(fs.existsSync(f)).toBe(true);
    const upload = (await svc.hw.store.getUploadById(uploadId))!;

    const del = await svc.api('DELETE', `/v1/tasks/${done.id}`);
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ id: done.id, deleted: true });

    await until('the files to be gone', () => files.every((f) => !fs.existsSync(f)) && !fs.existsSync(blobFile(svc!, upload.path)));
    const after = (await svc.api('GET', `/v1/tasks/${done.id}`)).body;
    expect(after).toMatchObject({ id: done.id, status: 'completed', input: {}, metadata: null, webhook_url: null, cost: done.cost, deleted_at: expect.any(String) });
    for (const url of urls) {
      const res = await fetch(url);
      expect(res.status).toBe(410);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('GONE');
    }
    // What the client deleted is gone from the task's events too: its feed, and the body any delivery sends.
    const feed = await readSse(`${svc.url}/v1/tasks/${done.id}/events`, { 'x-api-key': svc.key }, { until: (e) => e.event === 'task.completed' });
    const told = feed.map((e) => e.data).join('\n');
    expect(told).toContain(done.id);
    for (const secret of ['Jane Doe', 'hooks.example.com', uploadId]) expect(told).not.toContain(secret);
    const deliveries = (await svc.api('GET', `/v1/deliveries?task_id=${done.id}`)).body.data as Array<{ id: string }>;
    for (const d of deliveries) expect(JSON.stringify((await svc.api('GET', `/v1/deliveries/${d.id}`)).body)).not.toContain('Jane Doe');

    // Deleting again is answered the same (a retried DELETE is not an error); an unknown id is 404.
    expect((await svc.api('DELETE', `/v1/tasks/${done.id}`)).status).toBe(200);
    expect((await svc.api('DELETE', '/v1/tasks/task_01zzzzzzzzzzzzzzzzzzzzzzzz')).status).toBe(404);
  });

  it('cancels a running task it deletes', async () => {
    svc = await startService();
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 600 }, targets: [{ format: 'flac' }] });
    const del = await svc.api('DELETE', `/v1/tasks/${created.body.task_id}`);
    expect(del.status).toBe(200);
    const task = await waitForTask(svc, created.body.task_id);
    expect(task).toMatchObject({ status: 'canceled', error: { code: 'CANCELED' }, deleted_at: expect.any(String) });
  });

  it('finishes a deletion that its process did not: the files go on the next sweep', async () => {
    svc = await startService({ outputSweepMs: 200 });
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] });
    const done = await waitForTask(svc, created.body.task_id);
    const [agg] = await svc.hw.store.loadAggregates([(await svc.hw.store.getTaskById(done.id))!]);
    const file = blobFile(svc, agg!.outputs[0]!.path);
    // What the request commits before it removes anything: as if the process died right after.
    await svc.hw.store.tx((tx) => tx.deleteTask(done.id, Date.now()));
    expect(fs.existsSync(file)).toBe(true);
    await until('the periodic sweep to remove the file', () => !fs.existsSync(file));
  });
});

describe('output retention', () => {
  it('deletes outputs older than HOOKWAVE_OUTPUT_RETENTION and says when in expires_at', async () => {
    svc = await startService({ outputRetentionMs: 1500, outputSweepMs: 200 });
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { duration: 1 }, targets: [{ format: 'mp3' }] });
    const done = await waitForTask(svc, created.body.task_id);
    const output = done.targets[0].outputs[0];
    expect(Date.parse(output.expires_at) - Date.parse(done.targets[0].finished_at)).toBeLessThanOrEqual(1500);
    expect((await fetch(output.url)).status).toBe(200);
    await until('the output to expire', async () => (await fetch(output.url)).status === 410);
    const [agg] = await svc.hw.store.loadAggregates([(await svc.hw.store.getTaskById(done.id))!]);
    await until('its file to be removed', () => !fs.existsSync(blobFile(svc!, agg!.outputs[0]!.path)));
    // The task itself stays: only its files went.
    expect((await svc.api('GET', `/v1/tasks/${done.id}`)).body).toMatchObject({ status: 'completed', deleted_at: null });
  });
});
