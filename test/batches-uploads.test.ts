/**
 * Batches of tasks sharing one webhook, uploads as inputs, and multi-target tasks whose target
 * events arrive one per target before the task event.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeGarbage, makeTone, makeVideoOnly } from './helpers/media.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

let svc: TestService;
let files: FileServer;
let rx: Receiver;
let dir: string;
let tone: string;

beforeAll(async () => {
  dir = tempDir('hookwave-media-');
  tone = await makeTone(dir, { seconds: 2, format: 'wav' });
  await makeVideoOnly(dir, 1);
  await makeGarbage(dir, 2048);
  files = await startFileServer(dir);
  rx = await startReceiver();
  svc = await startService({ maxInputBytes: 5 * 1024 * 1024, costPerSecond: { extract: 0.01, default: 0.001 } });
});
afterAll(async () => {
  await svc.close();
  await files.close();
  await rx.close();
});

function upload(body: Buffer | string, headers: Record<string, string> = {}) {
  return fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': svc.key, 'content-type': 'application/octet-stream', ...headers }, body });
}

describe('batches', () => {
  it('creates each good item, reports each bad one, and shares one webhook URL', async () => {
    const url = files.url(path.basename(tone));
    const res = await svc.api('POST', '/v1/batches', {
      webhook_url: rx.url,
      tasks: [
        { kind: 'extract', input: { url }, targets: [{ format: 'mp3' }] },
        { kind: 'extract', input: { url }, targets: [{ format: 'mp5' }] },
        { kind: 'nope', input: { url }, targets: [{ format: 'mp3' }] },
        { kind: 'extract', input: { url }, targets: [{ format: 'ogg' }], metadata: { item: 4 } },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ success: true, batch_id: expect.stringMatching(/^bat_/), accepted: 2, rejected: 2 });
    const [ok1, bad1, bad2, ok2] = res.body.results;
    expect(ok1).toMatchObject({ index: 0, success: true, task_id: expect.stringMatching(/^task_/) });
    expect(bad1).toMatchObject({ index: 1, success: false, error: { code: 'INVALID_TARGET', message: expect.stringMatching(/^tasks\[1\]: targets\[0\]\.format/) } });
    expect(bad2.error.code).toBe('UNKNOWN_KIND');

    for (const r of [ok1, ok2]) await waitForTask(svc, r.task_id);
    const hooks = await rx.waitFor(2);
    expect(hooks.map((h) => h.body.data.id).sort()).toEqual([ok1.task_id, ok2.task_id].sort());
    expect(hooks.every((h) => h.body.data.batch_id === res.body.batch_id)).toBe(true);

    const summary = await svc.api('GET', `/v1/batches/${res.body.batch_id}`);
    expect(summary.body).toMatchObject({ status: 'ended', item_count: 4, task_count: 2, counts: { completed: 2, failed: 0 } });
    expect(summary.body.cost).toBeGreaterThan(0);
    expect((await svc.api('GET', '/v1/batches/bat_00000000000000000000000000')).status).toBe(404);
  });

  it('reports items that are not task bodies as their own errors, and creates the rest', async () => {
    const url = files.url(path.basename(tone));
    const res = await svc.api('POST', '/v1/batches', {
      tasks: [
        { kind: 'extract', input: { url }, targets: [] },
        { kind: 'extract', input: { url } },
        { kind: 'extract', input: { url }, targets: [{ format: 'wav' }], colour: 'blue' },
        { kind: 'extract', input: { url }, targets: [{ format: 'wav' }], title: 'x'.repeat(300) },
        { kind: 'extract', input: { url }, targets: [{ format: 'wav' }] },
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ accepted: 1, rejected: 4 });
    const [empty, missing, unknown, long, ok] = res.body.results;
    expect(empty.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'tasks[0].targets' } });
    expect(missing.error).toMatchObject({ code: 'VALIDATION_ERROR', message: 'tasks[1]: targets is required', details: { field: 'tasks[1].targets' } });
    expect(unknown.error).toMatchObject({ code: 'VALIDATION_ERROR', details: { field: 'tasks[2].colour' } });
    expect(long.error.details.field).toBe('tasks[3].title');
    expect((await waitForTask(svc, ok.task_id)).status).toBe('completed');
    const summary = await svc.api('GET', `/v1/batches/${res.body.batch_id}`);
    expect(summary.body).toMatchObject({ item_count: 5, task_count: 1 });
  });

  it('answers a retried batch with the same Idempotency-Key with the same batch and tasks', async () => {
    const url = files.url(path.basename(tone));
    const body = { tasks: [{ kind: 'extract', input: { url }, targets: [{ format: 'wav' }] }, { kind: 'nope', input: { url }, targets: [{ format: 'wav' }] }] };
    const first = await svc.api('POST', '/v1/batches', body, { 'idempotency-key': 'batch-42' });
    const again = await svc.api('POST', '/v1/batches', body, { 'idempotency-key': 'batch-42' });
    expect(again.status).toBe(202);
    expect(again.body.batch_id).toBe(first.body.batch_id);
    expect(again.body.results[0].task_id).toBe(first.body.results[0].task_id);
    expect(again.body.results[1].error.code).toBe('UNKNOWN_KIND');
    const summary = await svc.api('GET', `/v1/batches/${first.body.batch_id}`);
    expect(summary.body.task_count).toBe(1);
  });

  it('refuses more than 100 items', async () => {
    const item = { kind: 'extract', input: { url: files.url('x.wav') }, targets: [{ format: 'mp3' }] };
    const res = await svc.api('POST', '/v1/batches', { tasks: Array.from({ length: 101 }, () => item) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'BATCH_TOO_LARGE', details: { field: 'tasks' } });
  });
});

describe('uploads', () => {
  it('streams an upload, sniffs it, and runs a task on it', async () => {
    const res = await upload(fs.readFileSync(tone), { 'x-file-name': 'my song.wav' });
    expect(res.status).toBe(201);
    const up = (await res.json()) as any;
    expect(up).toMatchObject({ success: true, upload_id: expect.stringMatching(/^upl_/), file_name: 'my song.wav', size: fs.statSync(tone).size, format: 'wav' });
    expect(up.duration).toBeCloseTo(2, 1);
    expect(Date.parse(up.expires_at) - Date.now()).toBeGreaterThan(23 * 3600_000);

    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id: up.upload_id }, targets: [{ format: 'flac' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    expect(task.input).toEqual({ upload_id: up.upload_id });
    expect(task.targets[0].outputs[0].duration).toBeCloseTo(2, 1);
  });

  it('refuses what is not audio, what is too large, empty bodies, and unknown upload ids', async () => {
    const garbage = await upload(fs.readFileSync(path.join(dir, 'garbage.mp3')));
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as any).error.code).toBe('UNSUPPORTED_MEDIA');

    const video = await upload(fs.readFileSync(path.join(dir, 'video-only.mp4')), { 'content-type': 'video/mp4' });
    expect(((await video.json()) as any).error.code).toBe('NO_AUDIO_STREAM');

    const big = await upload(Buffer.alloc(6 * 1024 * 1024, 1));
    expect(big.status).toBe(413);
    expect(((await big.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE');

    const empty = await upload('');
    expect(empty.status).toBe(400);

    const json = await svc.api('POST', '/v1/uploads', { file: 'x' });
    expect(json.status).toBe(415);

    const missing = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id: 'upl_00000000000000000000000000' }, targets: [{ format: 'mp3' }] });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'UPLOAD_NOT_FOUND', details: { field: 'input.upload_id' } });

    const both = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url('a.wav'), upload_id: 'upl_x' }, targets: [{ format: 'mp3' }] });
    expect(both.body.error.message).toMatch(/not both/);
  });

  it("keeps another tenant's upload out of reach", async () => {
    const up = (await (await upload(fs.readFileSync(tone))).json()) as any;
    const other = await svc.newTenant('upload-thief');
    const res = await fetch(`${svc.url}/v1/tasks`, {
      method: 'POST',
      headers: { 'x-api-key': other.key, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'extract', input: { upload_id: up.upload_id }, targets: [{ format: 'mp3' }] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe('UPLOAD_NOT_FOUND');
  });

  it('sweeps expired uploads', async () => {
    const up = (await (await upload(fs.readFileSync(tone))).json()) as any;
    const removed = await svc.hw.uploads.sweep(Date.now() + 48 * 3600_000);
    expect(removed).toBeGreaterThanOrEqual(1);
    const res = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id: up.upload_id }, targets: [{ format: 'mp3' }] });
    expect(res.body.error.code).toBe('UPLOAD_NOT_FOUND');
  });
});

describe('multi-target tasks', () => {
  it('sends one target event per target, then the task event, and sums the cost', async () => {
    const own = await startReceiver();
    try {
      const created = await svc.api('POST', '/v1/tasks', {
        kind: 'extract',
        input: { url: files.url(path.basename(tone)) },
        targets: [{ format: 'mp3' }, { format: 'wav' }, { format: 'opus' }],
        webhook_url: own.url,
        webhook_events: ['task.target.completed', 'task.target.failed', 'task.completed', 'task.failed'],
      });
      const hooks = await own.waitFor(4);
      const errors = JSON.stringify(hooks.at(-1)!.body.data.targets.map((t: { error: unknown }) => t.error));
      expect(hooks.map((h) => h.body.type), errors).toEqual(['task.target.completed', 'task.target.completed', 'task.target.completed', 'task.completed']);
      // Each target event carries the whole task; the first shows the other targets still open.
      expect(hooks[0]!.body.data.targets.filter((t: { status: string }) => t.status === 'completed')).toHaveLength(1);
      const task = await waitForTask(svc, created.body.task_id);
      const sum = task.targets.reduce((a: number, t: { cost: number }) => a + t.cost, 0);
      expect(task.cost).toBeCloseTo(sum, 6);
      expect(task.targets[0].cost).toBeCloseTo(0.01 * task.targets[0].duration, 6);
    } finally {
      await own.close();
    }
  });
});
