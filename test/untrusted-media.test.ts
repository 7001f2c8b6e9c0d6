/**
 * An input is opened as one audio or video file and nothing else. ffmpeg picks a demuxer by
 * sniffing the bytes, so a 5-line HLS playlist uploaded as "song.mp3" used to be followed to any
 * readable file on the machine: tenant A got tenant B's output back as its own audio. Playlists
 * and every other format that refers to further files or streams must be refused, by upload and
 * by URL, in every engine that reads the input; real containers keep working.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { makeTone } from './helpers/media.js';
import { callApi, startService, tempDir, waitForTask, type TestService } from './helpers/service.js';
import { execFileSync } from 'node:child_process';
import { ffmpegPath } from '../src/media/ffmpeg.js';

let svc: TestService;
let files: FileServer;
let mediaDir: string;
let tenantB: { key: string };
let victimFile: string;

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function upload(key: string, body: Buffer | string, name: string) {
  const res = await fetch(`${svc.url}/v1/uploads`, { method: 'POST', headers: { 'x-api-key': key, 'x-file-name': name, 'content-type': 'application/octet-stream' }, body });
  return { status: res.status, body: (await res.json()) as any };
}

/** Everything an error says, as one string: none of it may name a path on the server. */
const said = (error: unknown) => JSON.stringify(error);

beforeAll(async () => {
  mediaDir = tempDir('hookwave-untrusted-');
  svc = await startService();
  tenantB = await svc.newTenant('victim');
  // Tenant B's finished output: the file a hostile playlist would point at.
  files = await startFileServer(mediaDir);
  await makeTone(mediaDir, { seconds: 3, frequency: 523, format: 'wav' });
  const created = await callApi(svc.url, tenantB.key, 'POST', '/v1/tasks', { kind: 'extract', input: { url: files.url('tone-3s-523hz-44100-2ch.wav') }, targets: [{ format: 'mp3' }] });
  expect((await waitForTask({ api: (m, p, b, h) => callApi(svc.url, tenantB.key, m, p, b, h) }, created.body.task_id)).status).toBe('completed');
  victimFile = filesUnder(path.join(svc.dataDir, 'files')).find((f) => f.endsWith('.mp3'))!;
  expect(victimFile).toBeTruthy();
});

afterAll(async () => {
  await svc.close();
  await files.close();
});

const hostile = () => ({
  hls: `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:3.0,\n${victimFile}\n#EXT-X-ENDLIST\n`,
  ffconcat: `ffconcat version 1.0\nfile '${victimFile}'\n`,
  // Probing this would open UDP sockets and wait for RTP.
  sdp: 'v=0\no=- 0 0 IN IP4 127.0.0.1\ns=stream\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 L16/44100/2\n',
});

describe('inputs that refer to other files', () => {
  it("refuses the 5-line HLS playlist naming another tenant's output, as an upload", async () => {
    const res = await upload(svc.key, hostile().hls, 'song.mp3');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('UNSUPPORTED_MEDIA');
    expect(res.body.error.message).toMatch(/hls.*send the audio or video file itself/);
    expect(said(res.body.error)).not.toContain(svc.dataDir);
  });

  for (const [format, label] of [['hls', 'an HLS playlist'], ['ffconcat', 'an ffconcat list'], ['sdp', 'an SDP description']] as const) {
    for (const kind of ['extract', 'stems'] as const) {
      it(`fails ${kind} of ${label} served at an input URL with UNSUPPORTED_MEDIA`, async () => {
        fs.writeFileSync(path.join(mediaDir, `${format}-${kind}.mp3`), hostile()[format]);
        const target = kind === 'stems' ? { stem: 'vocals', format: 'wav' } : { format: 'wav' };
        const created = await svc.api('POST', '/v1/tasks', { kind, input: { url: files.url(`${format}-${kind}.mp3`) }, targets: [target] });
        const task = await waitForTask(svc, created.body.task_id);
        expect(task.status).toBe('failed');
        expect(task.error.code).toBe('UNSUPPORTED_MEDIA');
        expect(said(task.error)).not.toContain(svc.dataDir);
        expect(said(task.error)).not.toContain(mediaDir);
        // Nothing was produced from the other tenant's audio.
        expect(task.targets[0].outputs).toEqual([]);
      });
    }
  }
});

describe('real containers', () => {
  it('still accepts audio in m4a, ogg/opus, webm and mp4 video, by upload', async () => {
    const made: Array<[string, string[]]> = [
      ['clip.m4a', ['-c:a', 'aac']],
      ['clip.opus', ['-c:a', 'libopus']],
      ['clip.webm', ['-c:a', 'libopus']],
      ['clip.mka', ['-c:a', 'flac']],
    ];
    for (const [name, codec] of made) {
      const file = path.join(mediaDir, name);
      execFileSync(ffmpegPath(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=duration=1', ...codec, file]);
      const res = await upload(svc.key, fs.readFileSync(file), name);
      expect(res.status, `${name}: ${said(res.body)}`).toBe(201);
      expect(res.body.duration).toBeCloseTo(1, 0);
    }
  });
});
