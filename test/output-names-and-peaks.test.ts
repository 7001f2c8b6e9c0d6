/**
 * Outputs as a user finds them in a downloads folder and draws them in an app: named after the
 * input (song.mp3, song-vocals.wav), not after the format (mp3.mp3), and with waveform peaks in the
 * API, so a waveform needs no download. The peaks are checked against the signal: silence where
 * the input is silent, the tone's level where it plays.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputBaseName } from '../src/domain/output-file-name.js';
import { ffmpegPath } from '../src/media/ffmpeg.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

const run = promisify(execFile);
const SLOW = 180_000;

let svc: TestService;
let files: FileServer;
let mediaDir: string;

beforeAll(async () => {
  mediaDir = tempDir('hookwave-names-');
  // 4 s of silence, then 4 s of a tone whose peaks are at half of full scale (-6 dBFS).
  await run(ffmpegPath(), [
    '-nostdin', '-v', 'error',
    '-f', 'lavfi', '-i', 'anullsrc=sample_rate=44100:channel_layout=stereo:duration=4',
    '-f', 'lavfi', '-i', 'aevalsrc=0.5*sin(2*PI*440*t)|0.5*sin(2*PI*440*t):c=stereo:s=44100:d=4',
    '-filter_complex', '[0:a][1:a]concat=n=2:v=0:a=1',
    '-c:a', 'pcm_s16le', '-y', path.join(mediaDir, 'Take 1 (final).wav'),
  ]);
  files = await startFileServer(mediaDir);
  svc = await startService();
});
afterAll(async () => {
  await svc?.close();
  await files?.close();
});

async function submit(body: Record<string, unknown>) {
  const created = await svc.api('POST', '/v1/tasks', body);
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  const task = await waitForTask(svc, created.body.task_id, SLOW - 30_000);
  expect(task.status, JSON.stringify(task.targets.map((t: any) => t.error))).toBe('completed');
  return task;
}

const outputsOf = (task: any) => new Map<string, any>(task.targets.flatMap((t: any) => t.outputs.map((o: any) => [t.name, o])));

describe('outputs are named after their input', () => {
  it('an extract of "Take 1 (final).wav" downloads as "Take 1 (final).mp3", a named target as "Take 1 (final)-master.flac"', { timeout: SLOW }, async () => {
    const task = await submit({
      kind: 'extract',
      input: { url: files.url('takes/Take%201%20(final).wav') },
      targets: [{ format: 'mp3' }, { format: 'flac', name: 'master' }],
    });
    const outputs = outputsOf(task);
    expect(outputs.get('mp3').file_name).toBe('Take 1 (final).mp3');
    expect(outputs.get('master').file_name).toBe('Take 1 (final)-master.flac');

    // The download itself says so, for a browser's "Save as" and for curl -J.
    const res = await fetch(outputs.get('master').url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toContain('filename="Take 1 (final)-master.flac"');
    await res.arrayBuffer();
  });

  it('stems of an upload named "my song.wav" are "my song-vocals.wav" and "my song-instrumental.mp3"', { timeout: SLOW }, async () => {
    const up = await fetch(`${svc.url}/v1/uploads`, {
      method: 'POST',
      headers: { 'x-api-key': svc.key, 'content-type': 'audio/wav', 'x-file-name': 'my song.wav' },
      body: fs.readFileSync(path.join(mediaDir, 'Take 1 (final).wav')),
    });
    expect(up.status).toBe(201);
    const { upload_id } = (await up.json()) as { upload_id: string };
    const task = await submit({ kind: 'stems', input: { upload_id }, params: { method: 'fast' }, targets: [{ stem: 'vocals', format: 'wav' }, { stem: 'instrumental', format: 'mp3' }] });
    const outputs = outputsOf(task);
    expect(outputs.get('vocals').file_name).toBe('my song-vocals.wav');
    expect(outputs.get('instrumental').file_name).toBe('my song-instrumental.mp3');
  });

  it('a generated track without input is named after its title', { timeout: SLOW }, async () => {
    const task = await submit({ kind: 'generate', title: 'Morning / demo', params: { duration: 2 }, targets: [{ format: 'mp3' }] });
    expect(outputsOf(task).get('mp3').file_name).toBe('Morning _ demo.mp3');
  });

  it('names never carry a path, a hidden-file dot or control characters', () => {
    expect(outputBaseName({ uploadFileName: '../../etc/passwd.wav', taskId: 'task_1' })).toBe('etc_passwd');
    expect(outputBaseName({ uploadFileName: '.hidden.wav', taskId: 'task_1' })).toBe('hidden');
    expect(outputBaseName({ uploadFileName: 'a\u0000b\r\nc.wav', taskId: 'task_1' })).toBe('a_b__c');
    expect(outputBaseName({ inputUrl: 'https://example.test/a/b/song%2Fx.flac?sig=1', taskId: 'task_1' })).toBe('song_x');
    expect(outputBaseName({ inputUrl: 'https://example.test/', title: null, taskId: 'task_1' })).toBe('task_1');
    expect(outputBaseName({ inputUrl: 'https://example.test/%E0%A4%A.wav', taskId: 'task_1' })).toBe('%E0%A4%A');
  });
});

describe('every output has waveform peaks', () => {
  it('256 peaks: silent over the silent half, the tone level (0.5) over the other', { timeout: SLOW }, async () => {
    const task = await submit({ kind: 'extract', input: { url: files.url('takes/Take%201%20(final).wav') }, targets: [{ format: 'wav' }, { format: 'mp3' }] });
    for (const [name, output] of outputsOf(task)) {
      const peaks: number[] = output.peaks;
      expect(peaks, name).toHaveLength(256);
      // mp3 adds encoder delay at the start and spreads the onset a little: judge away from the edge.
      expect(Math.max(...peaks.slice(0, 120)), name).toBeLessThan(0.01);
      for (const p of peaks.slice(136)) expect(p, name).toBeGreaterThan(0.45);
      for (const p of peaks.slice(136)) expect(p, name).toBeLessThan(0.56);
    }
    const wav = outputsOf(task).get('wav');
    // Exact on the lossless copy: 0.5 × 32767 rounds to 16384 (= 0.5).
    expect(Math.max(...wav.peaks)).toBe(0.5);
  });
});
