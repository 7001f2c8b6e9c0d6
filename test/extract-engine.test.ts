/**
 * The extract engine against real ffmpeg, without the HTTP service around it.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TargetSpec } from '../src/engines/engine.js';
import { encoderArgs, extractEngine } from '../src/engines/extract.js';
import { analyseAudio, describeOutput, ffmpegPath, probe } from '../src/media/ffmpeg.js';
import { readOutputHeader } from '../src/media/output-header.js';
import { childFfmpegs, engineContext, engineTempDir, failure, type EngineContextOptions } from './helpers/engine-context.js';
import { makeGarbage, makeTone, makeVideoOnly, makeVideoWithAudio } from './helpers/media.js';
import { until } from './helpers/until.js';

const tempDir = engineTempDir;

let mediaDir: string;
let tone: string; // 3 s, 44.1 kHz, stereo wav

beforeAll(async () => {
  mediaDir = tempDir('hookwave-media-');
  tone = await makeTone(mediaDir, { seconds: 3, sampleRate: 44100, channels: 2, format: 'wav' });
});

const context = (input: string, target: TargetSpec, options: EngineContextOptions = {}) => engineContext(extractEngine, target, { input, outDirPrefix: 'hookwave-out-', ...options });

const CODEC = { mp3: 'mp3', wav: 'pcm_s16le', flac: 'flac', ogg: 'vorbis', opus: 'opus', m4a: 'aac' } as const;
const CONTAINER = { mp3: 'mp3', wav: 'wav', flac: 'flac', ogg: 'ogg', opus: 'ogg', m4a: 'mp4' } as const;

describe('extract: every format', () => {
  const cases: Array<{ target: TargetSpec; rate: number; channels: number; bitrate?: number }> = [
    { target: { format: 'mp3' }, rate: 44100, channels: 2, bitrate: 192000 },
    { target: { format: 'mp3', bitrate: '128k', sample_rate: 22050, channels: 1, name: 'voice' }, rate: 22050, channels: 1, bitrate: 128000 },
    { target: { format: 'wav' }, rate: 44100, channels: 2 },
    { target: { format: 'wav', sample_rate: 8000, channels: 1 }, rate: 8000, channels: 1 },
    { target: { format: 'flac' }, rate: 44100, channels: 2 },
    { target: { format: 'flac', sample_rate: 96000, channels: 6 }, rate: 96000, channels: 6 },
    { target: { format: 'ogg' }, rate: 44100, channels: 2 },
    { target: { format: 'ogg', bitrate: 96000, sample_rate: 32000, channels: 3 }, rate: 32000, channels: 3, bitrate: 96000 },
    // Opus always decodes at 48 kHz, whatever rate it was encoded at.
    { target: { format: 'opus' }, rate: 48000, channels: 2 },
    { target: { format: 'opus', sample_rate: 16000, channels: 4, bitrate: '64k' }, rate: 48000, channels: 4 },
    { target: { format: 'm4a' }, rate: 44100, channels: 2 },
    { target: { format: 'm4a', sample_rate: 48000, channels: 8, bitrate: 256000 }, rate: 48000, channels: 8 },
  ];

  for (const { target, rate, channels, bitrate } of cases) {
    it(`${JSON.stringify(target)}`, async () => {
      expect(extractEngine.checkTarget!(target)).toBeNull();
      const ctx = context(tone, target);
      const result = await extractEngine.run(ctx);
      const format = target.format as keyof typeof CODEC;

      expect(result.duration).toBeCloseTo(3, 1);
      expect(result.outputs).toHaveLength(1);
      const out = result.outputs[0]!;
      const ext = format === 'opus' ? 'opus' : format;
      expect(out.path).toBe(join(ctx.outDir, `${ctx.targetName}.${ext}`));
      expect(readdirSync(ctx.outDir)).toEqual([`${ctx.targetName}.${ext}`]);
      expect(out).toMatchObject({ name: ctx.targetName, format, sample_rate: rate, channels });
      expect(out.size).toBeGreaterThan(0);
      expect(Math.abs(out.duration! - 3)).toBeLessThanOrEqual(0.1);

      const probed = await probe(out.path);
      expect(probed.formatName.split(',')).toContain(CONTAINER[format]);
      expect(probed.audio).toMatchObject({ codec: CODEC[format], sampleRate: rate, channels });
      expect(Math.abs(probed.audio!.duration! - 3)).toBeLessThanOrEqual(0.1);
      expect(probed.hasVideo).toBe(false);
      if (bitrate) expect(out.bitrate).toBe(bitrate);
    });
  }
});

describe('extract: inputs', () => {
  it('takes the audio out of a video', async () => {
    const video = await makeVideoWithAudio(tempDir('hookwave-media-'), 2);
    const result = await extractEngine.run(context(video, { format: 'mp3' }));
    const probed = await probe(result.outputs[0]!.path);
    expect(probed.hasVideo).toBe(false);
    expect(probed.audio?.codec).toBe('mp3');
    expect(Math.abs(result.outputs[0]!.duration! - 2)).toBeLessThanOrEqual(0.1);
  });

  it('rejects a video without audio with NO_AUDIO_STREAM', async () => {
    const video = await makeVideoOnly(tempDir('hookwave-media-'), 2);
    const ctx = context(video, { format: 'wav' });
    expect((await failure(extractEngine.run(ctx))).code).toBe('NO_AUDIO_STREAM');
    expect(readdirSync(ctx.outDir)).toEqual([]);
  });

  it('rejects garbage with UNSUPPORTED_MEDIA', async () => {
    const garbage = await makeGarbage(tempDir('hookwave-media-'), 4096);
    const ctx = context(garbage, { format: 'wav' });
    const err = await failure(extractEngine.run(ctx));
    expect(err.code).toBe('UNSUPPORTED_MEDIA');
    expect(err.message).toMatch(/not a readable audio or video file/);
    // ffprobe's own words name the path on this machine; the message must not.
    expect(err.message).not.toContain(garbage);
    expect(readdirSync(ctx.outDir)).toEqual([]);
  });
});

describe('extract: progress and cancelation', () => {
  it('reports increasing progress that ends at 1', async () => {
    const input = await makeTone(tempDir('hookwave-media-'), { seconds: 240, format: 'flac' });
    const seen: number[] = [];
    await extractEngine.run(context(input, { format: 'mp3' }, { progress: (f) => seen.push(f) }));
    expect(seen.at(-1)).toBe(1);
    expect(seen.some((f) => f > 0 && f < 1)).toBe(true);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    for (const f of seen) expect(f >= 0 && f <= 1).toBe(true);
  });

  it('kills ffmpeg promptly on abort and leaves no output behind', async () => {
    const input = await makeTone(tempDir('hookwave-media-'), { seconds: 600, format: 'flac' });
    const ctx = context(input, { format: 'mp3' });
    const running = failure(extractEngine.run(ctx));

    // Abort once the encode (not the probe) is under way: ffmpeg has written part of the output.
    await until('ffmpeg writing the output', () => readdirSync(ctx.outDir).some((f) => f.endsWith('.part')) && ctx.reported.some((f) => f > 0), 10_000, 10);
    expect(childFfmpegs()).toHaveLength(1);
    const abortedAt = Date.now();
    ctx.abort();

    const err = await running;
    expect(err.code).toBe('CANCELED');
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(childFfmpegs()).toEqual([]);
    expect(readdirSync(ctx.outDir)).toEqual([]);
  });

  it('rejects at once when already aborted', async () => {
    const ctx = context(tone, { format: 'mp3' });
    ctx.abort();
    expect((await failure(extractEngine.run(ctx))).code).toBe('CANCELED');
    expect(childFfmpegs()).toEqual([]);
  });
});

describe('extract: checkTarget', () => {
  const check = (t: TargetSpec) => extractEngine.checkTarget!(t);

  it('names the target by name, else by format', () => {
    expect(extractEngine.targetName({ format: 'mp3' }, 0)).toBe('mp3');
    expect(extractEngine.targetName({ format: 'mp3', name: 'voice' }, 0)).toBe('voice');
  });

  it('rejects sample rates an encoder does not support', () => {
    expect(check({ format: 'opus', sample_rate: 44100 })).toMatchObject({ field: 'sample_rate', message: expect.stringMatching(/44100.*opus/) });
    expect(check({ format: 'mp3', sample_rate: 96000 })?.field).toBe('sample_rate');
    for (const rate of [8000, 12000, 16000, 24000, 48000]) expect(check({ format: 'opus', sample_rate: rate })).toBeNull();
    expect(check({ format: 'flac', sample_rate: 96000 })).toBeNull();
  });

  it('rejects a bitrate on lossless formats', () => {
    expect(check({ format: 'flac', bitrate: '192k' })).toEqual({ field: 'bitrate', message: 'bitrate is not used by lossless format flac' });
    expect(check({ format: 'wav', bitrate: 128000 })?.field).toBe('bitrate');
  });

  it('rejects bitrates out of range or beyond a codec limit', () => {
    expect(check({ format: 'mp3', bitrate: '9999k' })?.field).toBe('bitrate');
    expect(check({ format: 'opus', bitrate: '320k', channels: 1 })?.field).toBe('bitrate');
    expect(check({ format: 'opus', bitrate: '320k', channels: 2 })).toBeNull();
    expect(check({ format: 'ogg', bitrate: '192k', sample_rate: 96000 })?.field).toBe('bitrate');
    expect(check({ format: 'ogg', bitrate: '320k', sample_rate: 22050, channels: 2 })?.field).toBe('bitrate');
    expect(check({ format: 'ogg', bitrate: '160k', sample_rate: 22050, channels: 2 })).toBeNull();
  });

  it('rejects more than two channels for mp3', () => {
    expect(check({ format: 'mp3', channels: 6 })?.field).toBe('channels');
    expect(check({ format: 'mp3', channels: 2 })).toBeNull();
  });

  it('fails the run with INVALID_TARGET when the input makes the bitrate impossible', async () => {
    const hiRes = await makeTone(tempDir('hookwave-media-'), { seconds: 1, sampleRate: 96000, format: 'flac' });
    const ctx = context(hiRes, { format: 'ogg', bitrate: '192k' });
    const err = await failure(extractEngine.run(ctx));
    expect(err.code).toBe('INVALID_TARGET');
    expect(err.message).toMatch(/96000 Hz/);
    expect(readdirSync(ctx.outDir)).toEqual([]);
  });
});

describe('describing outputs', () => {
  const asProbed = async (file: string) => {
    const p = await probe(file);
    return { duration: p.audio!.duration ?? p.duration, bitrate: p.audio!.bitrate ?? p.bitrate, sample_rate: p.audio!.sampleRate, channels: p.audio!.channels };
  };

  it('reads wav and flac from their headers with exactly the numbers ffprobe gives', async () => {
    const dir = tempDir('hookwave-describe-');
    const tones = [
      { seconds: 0.5, sampleRate: 44100, channels: 1 },
      { seconds: 1.2345, sampleRate: 44100, channels: 2 },
      { seconds: 3.3, sampleRate: 48000, channels: 2 },
      { seconds: 1.7, sampleRate: 22050, channels: 6 },
      { seconds: 0.01, sampleRate: 96000, channels: 8 },
    ];
    for (const t of tones) {
      for (const format of ['wav', 'flac'] as const) {
        const file = await makeTone(dir, { ...t, format });
        // From the header, not from a fallback to ffprobe.
        expect(await readOutputHeader(file, format, statSync(file).size)).not.toBeNull();
        const described = await describeOutput(file, 'out', format);
        expect({ ...described, what: `${format} ${JSON.stringify(t)}` }).toMatchObject({ ...(await asProbed(file)), size: statSync(file).size, what: `${format} ${JSON.stringify(t)}` });
      }
    }
  });

  it('asks ffprobe when a header does not state its length, as in a wav written to a pipe', async () => {
    const dir = tempDir('hookwave-describe-');
    const file = join(dir, 'streamed.wav');
    // Written to a pipe, ffmpeg cannot seek back: the data chunk keeps its "unknown" size.
    writeFileSync(file, execFileSync(ffmpegPath(), ['-v', 'error', '-f', 'lavfi', '-i', 'sine=d=1.5', '-c:a', 'pcm_s16le', '-f', 'wav', 'pipe:1']));
    expect(readFileSync(file).readUInt32LE(readFileSync(file).indexOf('data') + 4)).toBe(0xffffffff);
    expect(await readOutputHeader(file, 'wav', statSync(file).size)).toBeNull();
    const described = await describeOutput(file, 'out', 'wav');
    expect(described).toMatchObject({ ...(await asProbed(file)), channels: 1, sample_rate: 44100 });
    expect(described.duration).toBeCloseTo(1.5, 2);
  });
});

describe('a wav is measured while it is written', () => {
  // A band mix (true peak, loudness range and a waveform that are not a tone's).
  const mix = join(import.meta.dirname, 'fixtures', 'stems', 'mix.flac');

  for (const target of [{ format: 'wav' }, { format: 'wav', channels: 1 }] as TargetSpec[]) {
    it(`${JSON.stringify(target)}: the loudness and peaks the encoder saw are those of the file`, async () => {
      // Measured in the encoding process: no second ffmpeg decodes the file (other formats, or a resampled wav, need one).
      expect(encoderArgs(target, { channels: 2, sampleRate: 44100 }).analysableInline).toBe(true);
      expect(encoderArgs({ format: 'flac' }, { channels: 2, sampleRate: 44100 }).analysableInline).toBe(false);
      expect(encoderArgs({ format: 'wav', sample_rate: 22050 }, { channels: 2, sampleRate: 44100 }).analysableInline).toBe(false);

      const result = await extractEngine.run(context(mix, target));
      const out = result.outputs[0]!;
      expect(out.loudness!.integrated_lufs).toBeLessThan(-10);
      expect(out.peaks!.some((p) => p > 0.1)).toBe(true);
      const decoded = await analyseAudio(out.path);
      expect(out.loudness).toEqual(decoded.loudness);
      expect(out.peaks).toEqual(decoded.peaks);
    });
  }
});
