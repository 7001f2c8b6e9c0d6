/**
 * Loudness through the real API, as a user checks it: every output says how loud it is, a target
 * with a `loudness` option comes out at that loudness under its true-peak ceiling (extract,
 * generate and stems alike), and a target out of range is refused at submit. Every number is
 * checked against ffmpeg's own ebur128 measurement of the downloaded file.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ffmpegPath } from '../src/media/ffmpeg.js';
import { startFileServer, type FileServer } from './helpers/file-server.js';
import { startService, tempDir, waitForTask, type TestService } from './helpers/service.js';

const run = promisify(execFile);
const FIXTURES = path.join(import.meta.dirname, 'fixtures', 'stems');
/** Several ffmpeg passes per target on a shared two-core box: each story gets minutes, not the default minute. */
const SLOW = 300_000;

let svc: TestService;
let files: FileServer;
let mediaDir: string;

beforeAll(async () => {
  mediaDir = tempDir('hookwave-loudness-');
  // A 7 s band mix at -17.7 LUFS, true peak -2.7 dBTP.
  copyFileSync(path.join(FIXTURES, 'mix.flac'), path.join(mediaDir, 'mix.flac'));
  const make = (name: string, source: string) =>
    run(ffmpegPath(), ['-nostdin', '-v', 'error', '-f', 'lavfi', '-i', source, '-ac', '2', '-c:a', 'pcm_s16le', '-y', path.join(mediaDir, name)]);
  // A full-scale tone: about -3 LUFS with peaks at 0 dBTP, so no level puts it at -5 LUFS under -9 dBTP.
  await make('loud-tone.wav', 'sine=frequency=1000:duration=3,volume=7.9');
  await make('silence.wav', 'anullsrc=sample_rate=44100:channel_layout=stereo:duration=2');
  files = await startFileServer(mediaDir);
  svc = await startService();
});
afterAll(async () => {
  await svc?.close();
  await files?.close();
});

interface Measured {
  integrated: number;
  truePeak: number | null;
  range: number;
}

/** What ffmpeg's ebur128 says about a downloaded output: the user's own check. */
async function ebur128(output: { url: string; name: string; format: string }): Promise<Measured> {
  const res = await fetch(output.url);
  expect(res.status).toBe(200);
  const file = path.join(mediaDir, `downloaded-${Date.now()}-${output.name}.${output.format}`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  const { stderr } = await run(ffmpegPath(), ['-nostdin', '-hide_banner', '-nostats', '-i', file, '-af', 'ebur128=peak=true:framelog=verbose', '-f', 'null', '-'], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const peak = /Peak:\s+(\S+) dBFS/.exec(summary)![1]!;
  return {
    integrated: Number(/I:\s+(\S+) LUFS/.exec(summary)![1]),
    truePeak: peak === '-inf' ? null : Number(peak),
    range: Number(/LRA:\s+(\S+) LU/.exec(summary)![1]),
  };
}

async function submit(body: Record<string, unknown>) {
  const created = await svc.api('POST', '/v1/tasks', body);
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  return waitForTask(svc, created.body.task_id, SLOW - 30_000);
}

/** Each output's loudness is exactly what ebur128 measures of the file a user downloads. */
async function describedAsMeasured(task: any): Promise<Map<string, { output: any; measured: Measured }>> {
  const found = new Map<string, { output: any; measured: Measured }>();
  for (const target of task.targets) {
    for (const output of target.outputs) {
      const measured = await ebur128(output);
      expect(output.loudness, `${target.name}`).toMatchObject({ integrated_lufs: measured.integrated, true_peak_dbtp: measured.truePeak, range_lu: measured.range });
      found.set(target.name, { output, measured });
    }
  }
  return found;
}

function onTarget(measured: Measured, target: { integrated: number; true_peak: number }) {
  expect(Math.abs(measured.integrated - target.integrated)).toBeLessThanOrEqual(0.5);
  expect(measured.truePeak).not.toBeNull();
  expect(measured.truePeak!).toBeLessThanOrEqual(target.true_peak);
}

describe('loudness', () => {
  it('describes every output with the loudness ebur128 measures of the downloaded file', async () => {
    const task = await submit({ kind: 'extract', input: { url: files.url('mix.flac') }, targets: [{ format: 'mp3' }, { format: 'wav' }] });
    expect(task.status).toBe('completed');
    const outputs = await describedAsMeasured(task);
    expect(outputs.get('wav')!.measured.integrated).toBeCloseTo(-17.7, 0);
    // Nothing was asked, so nothing was normalised.
    for (const { output } of outputs.values()) expect(output.loudness.normalization).toBeUndefined();
  }, SLOW);

  it('brings an extract to its target: one gain when the ceiling allows it, the dynamic mode when it does not', async () => {
    const broadcast = { integrated: -23, true_peak: -2 };
    const streaming = { integrated: -14, true_peak: -1 };
    const task = await submit({
      kind: 'extract',
      input: { url: files.url('mix.flac') },
      targets: [
        { format: 'wav', name: 'broadcast', loudness: broadcast },
        { format: 'mp3', name: 'broadcast-mp3', loudness: broadcast },
        // +3.7 LU would put the -2.7 dBTP peaks over -1: only the dynamic mode gets there.
        { format: 'm4a', name: 'streaming', loudness: streaming },
        { format: 'opus', name: 'default-ceiling', loudness: { integrated: -16 } },
      ],
    });
    expect(task.status, JSON.stringify(task.targets.map((t: any) => t.error))).toBe('completed');
    const outputs = await describedAsMeasured(task);
    onTarget(outputs.get('broadcast')!.measured, broadcast);
    onTarget(outputs.get('broadcast-mp3')!.measured, broadcast);
    onTarget(outputs.get('streaming')!.measured, streaming);
    onTarget(outputs.get('default-ceiling')!.measured, { integrated: -16, true_peak: -1 });
    expect(outputs.get('broadcast')!.output.loudness.normalization).toBe('linear');
    expect(outputs.get('broadcast-mp3')!.output.loudness.normalization).toBe('linear');
    expect(outputs.get('streaming')!.output.loudness.normalization).toBe('dynamic');
    // A linear gain keeps the mix's dynamics: its loudness range stays what it was (3.8 LU).
    expect(outputs.get('broadcast')!.measured.range).toBeCloseTo(3.8, 0);
  }, SLOW);

  it('normalises generated music and stems too', async () => {
    const target = { integrated: -16, true_peak: -1.5 };
    const generated = await submit({ kind: 'generate', params: { prompt: 'lofi, piano', duration: 6, seed: 11 }, targets: [{ format: 'flac', loudness: target }, { format: 'ogg', loudness: target }] });
    expect(generated.status, JSON.stringify(generated.targets.map((t: any) => t.error))).toBe('completed');
    for (const { measured } of (await describedAsMeasured(generated)).values()) onTarget(measured, target);

    const stems = await submit({ kind: 'stems', input: { url: files.url('mix.flac') }, params: { method: 'fast' }, targets: [{ stem: 'drums', format: 'wav', loudness: target }] });
    expect(stems.status, JSON.stringify(stems.targets.map((t: any) => t.error))).toBe('completed');
    for (const { measured } of (await describedAsMeasured(stems)).values()) onTarget(measured, target);
  }, SLOW);

  it('says when there was nothing to normalise, and fails a target no level can reach instead of missing it', async () => {
    const task = await submit({
      kind: 'extract',
      input: { url: files.url('silence.wav') },
      targets: [{ format: 'wav', loudness: { integrated: -14 } }],
    });
    expect(task.status).toBe('completed');
    const [silent] = (await describedAsMeasured(task)).values();
    expect(silent!.output.loudness).toMatchObject({ integrated_lufs: -70, true_peak_dbtp: null, normalization: 'none' });

    const loud = await submit({ kind: 'extract', input: { url: files.url('loud-tone.wav') }, targets: [{ format: 'wav', loudness: { integrated: -5, true_peak: -9 } }] });
    expect(loud.status).toBe('failed');
    expect(loud.targets[0].error.code).toBe('ENGINE_FAILED');
    expect(loud.targets[0].error.message).toMatch(/could not be brought to -5 LUFS .* at most -9 dBTP/);
    expect(loud.targets[0].outputs).toEqual([]);
  }, SLOW);

  it('refuses a target out of range at submit, naming the field', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['extract', { format: 'mp3', loudness: { integrated: -80 } }, 'targets[0].loudness.integrated'],
      ['extract', { format: 'mp3', loudness: { integrated: -4 } }, 'targets[0].loudness.integrated'],
      ['generate', { format: 'wav', loudness: { integrated: -14, true_peak: 0.5 } }, 'targets[0].loudness.true_peak'],
      ['stems', { stem: 'vocals', format: 'wav', loudness: { integrated: -14, true_peak: -10 } }, 'targets[0].loudness.true_peak'],
      ['extract', { format: 'mp3', loudness: { true_peak: -1 } }, 'targets[0].loudness.integrated'],
      ['extract', { format: 'mp3', loudness: { integrated: -14, lra: 7 } }, 'targets[0].loudness.lra'],
    ];
    for (const [kind, target, field] of cases) {
      const input = kind === 'generate' ? {} : { input: { url: files.url('mix.flac') } };
      const res = await svc.api('POST', '/v1/tasks', { kind, ...input, targets: [target] });
      expect(res.status, JSON.stringify(target)).toBe(400);
      expect(res.body.error.code).toBe('INVALID_TARGET');
      expect(res.body.error.details.field).toBe(field);
      expect(res.body.error.message).toContain(field.split(".").pop());
    }
  }, SLOW);
});
