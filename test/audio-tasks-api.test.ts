/**
 * The generate and stems kinds through the whole service, as a user meets them: submit over the API, let
 * the worker run the real engines, read the task back, download the outputs and check the audio.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../src/media/ffmpeg.js';
import { makeStemMix, readWav, type StemMix } from './helpers/media.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

const RATES = { generate: 0.002, stems: 0.01 };
let svc: TestService;
let dir: string;
let mix: StemMix;

beforeAll(async () => {
  dir = tempDir('hookwave-audio-api-');
  mix = await makeStemMix(dir, { seconds: 4 });
  svc = await startService({ costPerSecond: { ...RATES, default: 0.001 } });
});
afterAll(async () => {
  await svc.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Downloads an output through its signed URL (no API key) into `dir`. */
async function download(output: { url: string; name: string; format: string; size: number }, tag: string): Promise<string> {
  const res = await fetch(output.url);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  expect(bytes.length).toBe(output.size);
  const file = path.join(dir, `${tag}-${output.name}.${output.format}`);
  fs.writeFileSync(file, bytes);
  return file;
}

describe('a generate task through the API', () => {
  it('composes the piece, reports the seed it picked, and replays it from that seed', async () => {
    const params = { prompt: 'lofi chill, piano', duration: 5, bpm: 96 };
    const created = await svc.api('POST', '/v1/tasks', { kind: 'generate', params, targets: [{ format: 'mp3' }, { format: 'flac', name: 'master', channels: 1 }] });
    expect(created.status).toBe(202);
    const task = await waitForTask(svc, created.body.task_id);
    expect(task.status).toBe('completed');

    const [mp3, flac] = task.targets;
    const seed = mp3.info.seed;
    expect(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff).toBe(true);
    // Every target of a task is the same piece: one seed, reported on each.
    expect(flac.info).toEqual(mp3.info);
    expect(mp3.info).toMatchObject({ bpm: 96, duration: 5, timesignature: 4, style: 'lofi' });

    const beat = 60 / 96;
    expect(mp3.outputs[0]).toMatchObject({ name: 'mp3', format: 'mp3', channels: 2, sample_rate: 44100 });
    expect(flac.outputs[0]).toMatchObject({ name: 'master', format: 'flac', channels: 1 });
    for (const t of [mp3, flac]) {
      expect(t).toMatchObject({ status: 'completed', progress: 1, duration: 5, error: null });
      expect(Math.abs(t.outputs[0].duration - 5)).toBeLessThan(beat);
      expect(t.cost).toBeCloseTo(RATES.generate * 5, 6);
      // What is served is what the task says it is.
      const probed = await probe(await download(t.outputs[0], 'gen'));
      expect(probed.formatName).toBe(t.outputs[0].format);
      expect(Math.abs(probed.duration! - 5)).toBeLessThan(beat);
    }
    expect(task.cost).toBeCloseTo(mp3.cost + flac.cost, 6);

    // The reported seed is the one used: naming it gives the same file.
    const replay = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { ...params, seed }, targets: [{ format: 'flac', name: 'master', channels: 1 }] });
    const again = await waitForTask(svc, replay.body.task_id);
    expect(again.status).toBe('completed');
    expect(again.targets[0].info.seed).toBe(seed);
    const first = fs.readFileSync(await download(flac.outputs[0], 'gen'));
    const second = fs.readFileSync(await download(again.targets[0].outputs[0], 'replay'));
    expect(second.equals(first)).toBe(true);
  });
});

describe('a stems task through the API', () => {
  it('separates an upload into several stems, each with its cost, adding back up to the mix', async () => {
    const up = await fetch(`${svc.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'x-api-key': svc.key, 'content-type': 'audio/wav', 'x-file-name': 'mix.wav' },
      body: fs.readFileSync(mix.mix),
    });
    expect(up.status).toBe(201);
    const { upload_id } = (await up.json()) as { upload_id: string };

    const targets = [
      { stem: 'vocals', format: 'wav' },
      { stem: 'instrumental', format: 'wav' },
      { stem: 'drums', format: 'flac' },
      { stem: 'bass', format: 'mp3', channels: 1, name: 'bass-mono' },
      { stem: 'other', format: 'ogg' },
    ];
    const created = await svc.api('POST', '/v1/tasks', { kind: 'stems', input: { upload_id }, targets });
    expect(created.status).toBe(202);
    // Five model runs, and each engine thread loads the model once (about 5 s of CPU in all): the wait is
    // generous because a shared two-core machine can be ten times oversubscribed.
    const task = await waitForTask(svc, created.body.task_id, 110_000);
    expect(task.status).toBe('completed');
    expect(task.targets.map((t: any) => t.name)).toEqual(['vocals', 'instrumental', 'drums', 'bass-mono', 'other']);

    for (const [i, t] of task.targets.entries()) {
      const want = targets[i]!;
      // The learned model by default, run in the worker's engine threads.
      expect(t).toMatchObject({ status: 'completed', progress: 1, error: null, info: { method: 'model' } });
      expect(t.duration).toBeCloseTo(4, 2);
      expect(t.cost).toBeCloseTo(RATES.stems * t.duration, 6);
      expect(t.outputs).toHaveLength(1);
      // A stereo mix gives stereo stems unless the target asks for mono.
      expect(t.outputs[0]).toMatchObject({ format: want.format, channels: want.channels ?? 2, sample_rate: 44100 });
      expect(Math.abs(t.outputs[0].duration - 4)).toBeLessThan(0.1);
    }
    const sum = task.targets.reduce((s: number, t: any) => s + t.cost, 0);
    expect(task.cost).toBeCloseTo(sum, 6);
    expect(task.cost).toBeCloseTo(5 * RATES.stems * 4, 4);

    // The stems served are the real separation: vocals + instrumental give the mix back.
    const original = readWav(mix.mix).samples;
    const [vocals, instrumental] = await Promise.all([0, 1].map(async (i) => readWav(await download(task.targets[i].outputs[0], 'stems')).samples));
    expect(vocals!.length).toBe(original.length);
    let worst = 0;
    let peak = 0;
    let vocalEnergy = 0;
    for (let i = 0; i < original.length; i++) {
      worst = Math.max(worst, Math.abs(vocals![i]! + instrumental![i]! - original[i]!));
      peak = Math.max(peak, Math.abs(original[i]!));
      vocalEnergy += vocals![i]! ** 2;
    }
    expect(worst).toBeLessThan(1e-3 * peak);
    expect(vocalEnergy).toBeGreaterThan(0);
  }, 120_000);
});
