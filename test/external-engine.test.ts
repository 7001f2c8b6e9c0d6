/**
 * Bring-your-own model server: a kind registered by configuration, whose work a model server does
 * over HTTP, with retries and errors mapped to target errors.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../src/engines/ffmpeg.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { startModelServer, type ModelServer } from './helpers/model-server.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

const run = promisify(execFile);
let svc: TestService;
let model: ModelServer;
let files: FileServer;
let dir: string;

/** Mean volume in dB of a band of an audio file, measured by ffmpeg. */
async function meanVolume(file: string, filter = 'anull'): Promise<number> {
  const { stderr } = await run(ffmpegPath(), ['-nostdin', '-i', file, '-af', `${filter},volumedetect`, '-f', 'null', '-']);
  return Number(/mean_volume: (-?[\d.]+) dB/.exec(stderr)![1]);
}

beforeAll(async () => {
  dir = tempDir('hookwave-media-');
  // A mix of a low and a high tone: a low-pass must remove the high one.
  await run(ffmpegPath(), ['-nostdin', '-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=150:d=2', '-f', 'lavfi', '-i', 'sine=f=6000:d=2', '-filter_complex', 'amix=inputs=2', path.join(dir, 'mix.wav')]);
  files = await startFileServer(dir);
  model = await startModelServer();
  svc = await startService({
    externalEngines: [{ kind: 'filters', url: model.url, retries: 2, target_schema: { properties: { effect: { type: 'string', enum: ['lowpass', 'quieter'] } }, required: ['effect'] } }],
  });
});
afterAll(async () => {
  await svc.close();
  await model.close();
  await files.close();
});

describe('an external engine', () => {
  it('sends the work to the model server and stores what it produced', async () => {
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'wav', effect: 'lowpass', name: 'bass' }], params: { strength: 2 } });
    expect(created.status).toBe(202);
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    const target = task.targets[0];
    expect(target.info).toEqual({ model: 'ffmpeg-filter', effect: 'lowpass' });
    expect(target.outputs[0]).toMatchObject({ name: 'bass', format: 'wav' });
    expect(target.outputs[0].duration).toBeCloseTo(2, 1);

    const call = model.calls.at(-1)!;
    expect(call.body).toMatchObject({ task_id: task.id, target_id: target.id, kind: 'filters', params: { strength: 2 }, target: { name: 'bass', format: 'wav', effect: 'lowpass' } });
    expect(call.headers['idempotency-key']).toBe(target.id);

    const out = path.join(dir, 'out.wav');
    fs.writeFileSync(out, Buffer.from(await (await fetch(target.outputs[0].url)).arrayBuffer()));
    // The high tone is gone, the low one stays.
    const highIn = await meanVolume(path.join(dir, 'mix.wav'), 'highpass=f=3000');
    const highOut = await meanVolume(out, 'highpass=f=3000');
    expect(highIn - highOut).toBeGreaterThan(20);
    expect(Math.abs((await meanVolume(out, 'lowpass=f=300')) - (await meanVolume(path.join(dir, 'mix.wav'), 'lowpass=f=300')))).toBeLessThan(3);
  });

  it('validates targets against the configured schema', async () => {
    const res = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'wav', effect: 'reverse' }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'INVALID_TARGET', message: expect.stringMatching(/targets\[0\]\.effect must be one of: lowpass, quieter/) });
  });

  it('retries a model server that answers 503, then succeeds', async () => {
    model.failNext(2, 503);
    const before = model.calls.length;
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'flac', effect: 'quieter' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    expect(model.calls.length - before).toBe(3);
  });

  it("fails the target with the model server's error, mapped to our codes", async () => {
    model.failNext(1, 422, { code: 'UNSUPPORTED_MEDIA', message: 'cannot read that' });
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { url: files.url('mix.wav') }, targets: [{ format: 'wav', effect: 'quieter' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toMatchObject({ code: 'UNSUPPORTED_MEDIA', message: expect.stringMatching(/HTTP 422: cannot read that/) });
  });

  it('gives the model server a signed URL for an uploaded input', async () => {
    const up = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': svc.key, 'content-type': 'audio/wav', 'x-file-name': 'mix.wav' }, body: fs.readFileSync(path.join(dir, 'mix.wav')) });
    const { upload_id } = (await up.json()) as { upload_id: string };
    const created = await svc.api('POST', '/v1/tasks', { kind: 'filters', input: { upload_id }, targets: [{ format: 'mp3', effect: 'quieter' }] });
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');
    expect(model.calls.at(-1)!.body.input.url).toMatch(new RegExp(`/v1/files/${upload_id}/mix\\.wav\\?expires=\\d+&signature=`));
  });
});
