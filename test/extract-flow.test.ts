/**
 * The whole spine, as a user lives it: submit an extract task with a webhook URL, receive the
 * signed webhook, poll the task, download the result; and each way a task can fail.
 */
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../src/media/ffmpeg.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeGarbage, makeTone, makeVideoOnly, makeVideoWithAudio } from './helpers/media.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { until } from './helpers/until.js';
import fs from 'node:fs';
import path from 'node:path';

let svc: TestService;
let files: FileServer;
let receiver: Receiver;
let mediaDir: string;
let tone: string;
let longTone: string;

beforeAll(async () => {
  mediaDir = tempDir('hookwave-media-');
  tone = path.basename(await makeTone(mediaDir, { seconds: 3, sampleRate: 44100, channels: 2, format: 'wav' }));
  longTone = path.basename(await makeTone(mediaDir, { seconds: 600, sampleRate: 44100, channels: 2, format: 'flac' }));
  await makeVideoWithAudio(mediaDir, 2);
  await makeVideoOnly(mediaDir, 2);
  await makeGarbage(mediaDir, 4096);
  files = await startFileServer(mediaDir);
  receiver = await startReceiver();
  svc = await startService({ maxInputBytes: 2 * 1024 * 1024 });
});
afterAll(async () => {
  await svc.close();
  await files.close();
  await receiver.close();
});

function eventsFor(taskId: string) {
  return receiver.received.filter((r) => r.body?.data?.id === taskId);
}

async function waitForEvent(taskId: string, type: string) {
  return until(`a ${type} webhook for ${taskId}`, () => eventsFor(taskId).find((r) => r.body.type === type), 30_000, 25);
}

describe('an extract task end to end', () => {
  it('converts, signs the webhook, and serves the outputs through signed URLs', async () => {
    const created = await svc.api('POST', '/v1/tasks', {
      kind: 'extract',
      input: { url: files.url(tone) },
      targets: [{ format: 'mp3', bitrate: '128k' }, { format: 'flac', name: 'lossless', sample_rate: 48000, channels: 1 }],
      webhook_url: `${receiver.url}?token=s3cret`,
      metadata: { user: 7 },
    });
    expect(created.status).toBe(202);
    const id = created.body.task_id;

    const hook = await waitForEvent(id, 'task.completed');
    // Any Standard Webhooks library verifies it with the tenant's secret.
    const verified = new Webhook(svc.secret).verify(hook.raw, hook.headers as Record<string, string>) as any;
    expect(verified.type).toBe('task.completed');
    expect(hook.headers['user-agent']).toMatch(/^hookwave\/\d+\.\d+\.\d+/);
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['webhook-id']).toMatch(/^msg_/);
    expect(hook.url).toBe('/hook?token=s3cret');
    expect(() => new Webhook('whsec_' + Buffer.from('wrong-secret-wrong-secret').toString('base64')).verify(hook.raw, hook.headers as Record<string, string>)).toThrow();

    const task = await waitForTask(svc, id);
    expect(task.status).toBe('completed');
    // The webhook carries the task exactly as GET returns it (download URLs are re-signed on each GET).
    const strip = (t: any) => ({ ...t, targets: t.targets.map((x: any) => ({ ...x, outputs: x.outputs.map(({ url, url_expires_at, ...o }: any) => o) })) });
    expect(strip(hook.body.data)).toEqual(strip(task));
    expect(task.metadata).toEqual({ user: 7 });
    expect(task.completed_at).not.toBeNull();
    expect(task.cost).toBeGreaterThan(0);
    expect(task.cost).toBeCloseTo(task.targets[0].cost + task.targets[1].cost, 6);

    const [mp3, flac] = task.targets;
    expect(mp3).toMatchObject({ name: 'mp3', status: 'completed', progress: 1, error: null });
    expect(mp3.duration).toBeCloseTo(3, 1);
    expect(mp3.outputs[0]).toMatchObject({ name: 'mp3', format: 'mp3', channels: 2, sample_rate: 44100 });
    expect(mp3.outputs[0].bitrate).toBeGreaterThan(100_000);
    expect(mp3.outputs[0].bitrate).toBeLessThan(160_000);
    expect(flac.outputs[0]).toMatchObject({ name: 'lossless', format: 'flac', channels: 1, sample_rate: 48000 });
    const expires = Date.parse(flac.outputs[0].url_expires_at) - Date.now();
    expect(expires).toBeGreaterThan(3500_000);
    expect(expires).toBeLessThanOrEqual(3600_000);

    // Download with no API key: the signature is the authorisation.
    const res = await fetch(flac.outputs[0].url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/flac');
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(bytes.length).toBe(flac.outputs[0].size);
    const local = path.join(mediaDir, 'downloaded.flac');
    fs.writeFileSync(local, bytes);
    const probed = await probe(local);
    expect(probed.audio?.channels).toBe(1);
    expect(probed.audio?.sampleRate).toBe(48000);
    expect(probed.duration).toBeCloseTo(3, 1);

    // A byte range, as an audio player asks for it.
    const part = await fetch(flac.outputs[0].url, { headers: { range: 'bytes=0-99' } });
    expect(part.status).toBe(206);
    expect((await part.arrayBuffer()).byteLength).toBe(100);

    // Attempts are on record.
    const deliveries = await svc.api('GET', `/v1/tasks/${id}/deliveries`);
    expect(deliveries.body.data).toHaveLength(1);
    expect(deliveries.body.data[0]).toMatchObject({ event_type: 'task.completed', status: 'delivered', attempt_count: 1 });
    expect(deliveries.body.data[0].attempts[0]).toMatchObject({ attempt_number: 1, status_code: 200, error: null });
  });

  it('extracts the audio of a video', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url('video-with-audio.mp4') }, targets: [{ format: 'm4a' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    expect(task.targets[0].outputs[0]).toMatchObject({ format: 'm4a' });
    expect(task.targets[0].outputs[0].duration).toBeCloseTo(2, 0);
  });

  it('refuses tampered and expired download URLs with 403', async () => {
    const short = await startService({ fileUrlTtl: 3 });
    try {
      const created = await short.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }] });
      const task = await waitForTask(short, created.body.task_id);
      const url = new URL(task.targets[0].outputs[0].url);

      const tampered = new URL(url);
      tampered.searchParams.set('expires', String(Number(url.searchParams.get('expires')) + 3600));
      const t = await fetch(tampered);
      expect(t.status).toBe(403);
      expect(((await t.json()) as any).error.code).toBe('SIGNATURE_INVALID');

      const other = new URL(url);
      other.pathname = other.pathname.replace(/out_[0-9a-z]+/, 'out_00000000000000000000000000');
      const o = await fetch(other);
      expect(o.status).toBe(403);
      await o.arrayBuffer();

      // A fresh URL works; read it whole: a download left half-read holds its connection, and the
      // server's close waits for it. (Expiry is whole seconds, so a 3 s URL lives 2–3 s: enough margin
      // on a loaded machine between this GET and the fetch.)
      const current = await short.api('GET', `/v1/tasks/${created.body.task_id}`);
      const valid = current.body.targets[0].outputs[0];
      const ok = await fetch(valid.url);
      expect(ok.status).toBe(200);
      await ok.arrayBuffer();
      const expired = await until(
        'the URL to expire',
        async () => {
          const res = await fetch(valid.url);
          if (res.status !== 200) return res;
          await res.arrayBuffer();
          return null;
        },
        15_000,
        200,
      );
      // It served until its stated expiry (whole seconds: up to a second early).
      expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(valid.url_expires_at) - 1000);
      expect(expired.status).toBe(403);
      expect(((await expired.json()) as any).error.code).toBe('URL_EXPIRED');

      // GET hands out a fresh one.
      const fresh = await short.api('GET', `/v1/tasks/${created.body.task_id}`);
      const again = await fetch(fresh.body.targets[0].outputs[0].url);
      expect(again.status).toBe(200);
      await again.arrayBuffer();
    } finally {
      await short.close();
    }
  });
});

describe('input downloads go through the URL guard', () => {
  it('fails a target whose input redirects to a private address, by name or literally, without dialing it', async () => {
    // cdn.test resolves to a private address; the connect step must refuse it (the loopback
    // safety net would throw a different error if it were ever dialed).
    const guarded = await startService({}, {
      resolver: async (name) => {
        if (name === 'cdn.test') return [{ address: '10.0.0.7', family: 4 }];
        throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
      },
    });
    try {
      for (const target of ['http://cdn.test/song.wav', 'http://169.254.169.254/latest/meta-data']) {
        const url = `${files.url('redirect-to')}?u=${encodeURIComponent(target)}`;
        const created = await guarded.api('POST', '/v1/tasks', { kind: 'extract', input: { url }, targets: [{ format: 'mp3' }] });
        const task = await waitForTask(guarded, created.body.task_id);
        expect(task.status).toBe('failed');
        expect(task.targets[0].error.code).toBe('URL_NOT_ALLOWED');
        expect(task.targets[0].error.message).toMatch(/10\.0\.0\.7|169\.254\.169\.254/);
      }
    } finally {
      await guarded.close();
    }
  });
});

describe('a task that fails', () => {
  const cases: Array<[string, () => string, string]> = [
    ['a video without audio', () => files.url('video-only.mp4'), 'NO_AUDIO_STREAM'],
    ['a corrupt file', () => files.url('garbage.mp3'), 'UNSUPPORTED_MEDIA'],
    ['an input URL that answers 404', () => files.url('missing.wav'), 'DOWNLOAD_FAILED'],
    ['an input over the size limit', () => files.url(longTone), 'INPUT_TOO_LARGE'],
  ];
  it.each(cases)('fails %s with a clear error code and a task.failed webhook', async (_name, url, code) => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: url() }, targets: [{ format: 'mp3' }], webhook_url: receiver.url });
    const hook = await waitForEvent(created.body.task_id, 'task.failed');
    expect(hook.body.data.status).toBe('failed');
    expect(hook.body.data.error.code).toBe(code);
    expect(hook.body.data.targets[0].error.code).toBe(code);
    expect(hook.body.data.targets[0].error.message.length).toBeGreaterThan(5);
    expect(hook.body.data.targets[0].outputs).toEqual([]);
  });
});

describe('canceling a running task', () => {
  it('refuses to cancel a completed task with 409, and leaves it and its outputs as they were', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(tone) }, targets: [{ format: 'wav' }] });
    const done = await waitForTask(svc, created.body.task_id);
    expect(done.status).toBe('completed');
    const res = await svc.api('POST', `/v1/tasks/${done.id}/cancel`);
    expect(res.status).toBe(409);
    expect(res.body.error).toMatchObject({ code: 'TASK_NOT_CANCELABLE', details: { status: 'completed' } });
    const after = (await svc.api('GET', `/v1/tasks/${done.id}`)).body;
    expect(after.status).toBe('completed');
    expect(after.targets[0].status).toBe('completed');
    expect(after.targets[0].outputs).toHaveLength(1);
  });

  it('kills the running ffmpeg, ends the task canceled and sends task.canceled', async () => {
    const big = await startService({ maxInputBytes: 500 * 1024 * 1024 });
    const rx = await startReceiver();
    try {
      const created = await big.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url(longTone) }, targets: [{ format: 'opus' }], webhook_url: rx.url });
      const id = created.body.task_id;
      // Wait until ffmpeg is running (progress moves), then cancel.
      await until(
        'the engine to report progress',
        async () => {
          const t = (await big.api('GET', `/v1/tasks/${id}`)).body;
          if (t.status !== 'processing' && t.status !== 'queued') throw new Error(`task ended ${t.status} before cancel`);
          return t.targets[0].progress > 0;
        },
        20_000,
        50,
      );
      const res = await big.api('POST', `/v1/tasks/${id}/cancel`);
      expect(res.body.status).toBe('canceled');
      const [hook] = await rx.waitFor(1);
      expect(hook!.body.type).toBe('task.canceled');
      expect(hook!.body.data.status).toBe('canceled');
      // The worker lets go of it: nothing is running and no output appears later.
      await until('the worker to let go', () => big.hw.worker!.activeTargets === 0, 5000, 50);
      const task = (await big.api('GET', `/v1/tasks/${id}`)).body;
      expect(task.status).toBe('canceled');
      expect(task.targets[0].status).toBe('canceled');
      expect(task.targets[0].outputs).toEqual([]);
      expect(rx.received.map((r) => r.body.type)).toEqual(['task.canceled']);
    } finally {
      await big.close();
      await rx.close();
    }
  });
});
