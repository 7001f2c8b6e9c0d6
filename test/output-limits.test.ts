/**
 * One output may cost so many bytes and so many seconds (HOOKWAVE_MAX_OUTPUT_BYTES / _SECONDS).
 * Silent opus packs an hour into a megabyte; the same hour as 96 kHz 8-channel wav is 5.5 GB.
 * What is known at submit is refused at once; what is not is stopped while encoding, and nothing
 * of it is left on disk.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../src/media/ffmpeg.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

let svc: TestService;
let files: FileServer;
let silence: string;
const MIB = 1024 * 1024;

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function upload(file: string): Promise<string> {
  const res = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': svc.key, 'x-file-name': path.basename(file), 'content-type': 'application/octet-stream' }, body: fs.readFileSync(file) });
  expect(res.status).toBe(201);
  return ((await res.json()) as { upload_id: string }).upload_id;
}

beforeAll(async () => {
  const dir = tempDir('hookwave-limits-');
  silence = path.join(dir, 'silence.opus');
  // 60 s of silent opus: a few kilobytes.
  execFileSync(ffmpegPath(), ['-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=48000:cl=stereo', '-t', '60', '-c:a', 'libopus', '-b:a', '6k', silence]);
  files = await startFileServer(dir);
  svc = await startService({ maxOutputBytes: 5 * MIB, maxOutputSeconds: 90 });
});

afterAll(async () => {
  await svc.close();
  await files.close();
});

const hugeWav = { format: 'wav', sample_rate: 96000, channels: 8 };

describe('output caps known at submit', () => {
  it('refuses 96 kHz 8-channel wav of an uploaded minute, naming the target and the setting', async () => {
    const res = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id: await upload(silence) }, targets: [{ format: 'mp3' }, hugeWav] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'OUTPUT_TOO_LARGE', details: { field: 'targets[1]', limit_bytes: 5 * MIB } });
    expect(res.body.error.message).toMatch(/at least 8\d MiB, over the limit of 5 MiB per output \(HOOKWAVE_MAX_OUTPUT_BYTES\)/);
    expect((await svc.api('GET', '/v1/tasks')).body.data).toEqual([]);
  });

  it('refuses a generated piece longer than the seconds cap', async () => {
    const res = await svc.api('POST', '/v1/tasks', { kind: 'generate', params: { prompt: 'rock', duration: 120 }, targets: [{ format: 'mp3' }] });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'OUTPUT_TOO_LARGE', details: { field: 'targets[0]', limit_seconds: 90 } });
  });

  it('accepts what may fit: flac of the same minute is judged while encoding, and fits', async () => {
    const res = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { upload_id: await upload(silence) }, targets: [{ format: 'flac', sample_rate: 96000, channels: 8 }] });
    expect(res.status).toBe(202);
    expect((await waitForTask(svc, res.body.task_id)).status).toBe('completed');
  });
});

describe('output caps met while encoding', () => {
  it('stops the encoder at the byte cap, fails the target with OUTPUT_TOO_LARGE and leaves no file', async () => {
    const before = filesUnder(path.join(svc.dataDir, 'files')).length;
    // A URL input: its length is unknown until it is fetched.
    const res = await svc.api('POST', '/v1/tasks', { kind: 'extract', input: { url: files.url('silence.opus') }, targets: [hugeWav] });
    expect(res.status).toBe(202);
    const task = await waitForTask(svc, res.body.task_id);
    expect(task.status).toBe('failed');
    expect(task.targets[0].error).toMatchObject({ code: 'OUTPUT_TOO_LARGE', details: { limit_bytes: 5 * MIB } });
    expect(task.targets[0].outputs).toEqual([]);
    expect(filesUnder(path.join(svc.dataDir, 'work', 'runs'))).toEqual([]);
    expect(filesUnder(path.join(svc.dataDir, 'files')).length).toBe(before);
  });

  it('refuses an input longer than the seconds cap once it is fetched', async () => {
    const dir = tempDir('hookwave-limits-long-');
    execFileSync(ffmpegPath(), ['-v', 'error', '-f', 'lavfi', '-i', 'anullsrc=r=8000:cl=mono', '-t', '100', '-c:a', 'libopus', '-b:a', '6k', path.join(dir, 'long.opus')]);
    const long = await startFileServer(dir);
    try {
      const res = await svc.api('POST', '/v1/tasks', { kind: 'stems', input: { url: long.url('long.opus') }, targets: [{ stem: 'vocals', format: 'mp3' }] });
      const task = await waitForTask(svc, res.body.task_id);
      expect(task.status).toBe('failed');
      expect(task.targets[0].error).toMatchObject({ code: 'OUTPUT_TOO_LARGE', details: { limit_seconds: 90 } });
      expect(task.targets[0].error.message).toMatch(/100 s long; outputs are limited to 90 s/);
    } finally {
      await long.close();
    }
  });
});
