/**
 * The generate engine against real ffmpeg: reproducibility, tempo, key, length, seeds and cancelation.
 */
import { readdirSync, readFileSync } from 'node:fs';
import FFT from 'fft.js';
import { describe, expect, it } from 'vitest';
import { validateSchema } from '../src/schema/validation.js';
import { beatGroups, Composer } from '../src/engines/dsp/composer.js';
import { Prng } from '../src/engines/dsp/prng.js';
import { styleFromPrompt } from '../src/engines/dsp/style.js';
import { makeKey } from '../src/engines/dsp/theory.js';
import type { TargetSpec } from '../src/engines/engine.js';
import { encoderArgs } from '../src/engines/extract.js';
import { generateEngine } from '../src/engines/generate.js';
import { isHookwaveError } from '../src/errors.js';
import { analyseAudio } from '../src/media/ffmpeg.js';
import { childFfmpegs, engineContext, type EngineContextOptions } from './helpers/engine-context.js';
import { decodeF32 } from './helpers/media.js';
import { until } from './helpers/until.js';

function context(params: Record<string, unknown>, target: TargetSpec, options: EngineContextOptions = {}) {
  return engineContext(generateEngine, target, { taskId: 'task_generate_test', targetId: 'tgt_generate_test', params, outDirPrefix: 'hookwave-generate-out-', ...options });
}

async function generate(params: Record<string, unknown>, target: TargetSpec = { format: 'wav' }, options: EngineContextOptions = {}) {
  const ctx = context(params, target, options);
  const result = await generateEngine.run(ctx);
  return { ctx, result, output: result.outputs[0]!, bytes: readFileSync(result.outputs[0]!.path) };
}

/**
 * Kick onsets: the signal through a 4-pole low-pass at 90 Hz, a peak-hold envelope, and rising crossings of half
 * its maximum (re-armed below a quarter), so that quieter bass notes in the same band do not count.
 */
function kickOnsets(x: Float32Array, rate: number): number[] {
  const c = Math.exp((-2 * Math.PI * 90) / rate);
  const release = Math.exp(-1 / (0.02 * rate));
  const env = new Float32Array(x.length);
  let [a, b, d, e, level, max] = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < x.length; i++) {
    a = (1 - c) * x[i]! + c * a;
    b = (1 - c) * a + c * b;
    d = (1 - c) * b + c * d;
    e = (1 - c) * d + c * e;
    level = Math.max(Math.abs(e), level * release);
    env[i] = level;
    max = Math.max(max, level);
  }
  const onsets: number[] = [];
  let armed = true;
  for (let i = 0; i < env.length; i++) {
    if (armed && env[i]! > 0.5 * max) {
      onsets.push(i / rate);
      armed = false;
    } else if (!armed && env[i]! < 0.25 * max) armed = true;
  }
  return onsets;
}

/** Share of tonal energy (80 Hz–2 kHz) in each pitch class, 0 = C. */
function chroma(x: Float32Array, rate: number): number[] {
  const n = 8192;
  const fft = new FFT(n);
  const input = fft.createComplexArray() as number[];
  const spectrum = fft.createComplexArray() as number[];
  const classes = new Array<number>(12).fill(0);
  for (let start = 0; start + n <= x.length; start += n) {
    for (let i = 0; i < n; i++) {
      input[2 * i] = x[start + i]! * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
      input[2 * i + 1] = 0;
    }
    fft.transform(spectrum, input);
    for (let k = 1; k < n / 2; k++) {
      const hz = (k * rate) / n;
      if (hz < 80 || hz > 2000) continue;
      const pc = (((Math.round(12 * Math.log2(hz / 440)) + 9) % 12) + 12) % 12;
      classes[pc] = classes[pc]! + spectrum[2 * k]! ** 2 + spectrum[2 * k + 1]! ** 2;
    }
  }
  const total = classes.reduce((s, v) => s + v, 0);
  return classes.map((v) => v / total);
}

const MAJOR = [0, 2, 4, 5, 7, 9, 11];
const inScale = (chromaVec: number[], tonic: number) => MAJOR.reduce((s, step) => s + chromaVec[(tonic + step) % 12]!, 0);
// Krumhansl–Kessler major-key profile: how strongly each scale step implies the key (tonic and dominant most).
const MAJOR_PROFILE = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88];

/** Correlation of a chroma vector with the major profile on `tonic` (Krumhansl–Schmuckler key finding). */
function keyScore(chromaVec: number[], tonic: number): number {
  const profile = chromaVec.map((_, i) => MAJOR_PROFILE[(i - tonic + 12) % 12]!);
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const [ma, mb] = [mean(chromaVec), mean(profile)];
  let [num, da, db] = [0, 0, 0];
  for (let i = 0; i < 12; i++) {
    num += (chromaVec[i]! - ma) * (profile[i]! - mb);
    da += (chromaVec[i]! - ma) ** 2;
    db += (profile[i]! - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

describe('generate: reproducibility', () => {
  const params = { prompt: 'lofi chill, piano, vinyl crackle', duration: 6, seed: 1234 };

  // Every container, not just the simple ones: ogg/opus stream serials, the flac header's MD5 and vendor
  // string, and mp4 creation times and encoder tags are where non-determinism would creep in. All six come
  // out byte-identical (bitexact mode, no metadata), so no format needs the weaker decoded-PCM comparison.
  for (const format of ['mp3', 'wav', 'flac', 'ogg', 'opus', 'm4a']) {
    it(`same seed and params give a byte-identical ${format}; another seed does not`, async () => {
      const a = await generate(params, { format });
      const b = await generate(params, { format }, { taskId: 'another_task' });
      const c = await generate({ ...params, seed: 1235 }, { format });
      expect(a.bytes.length).toBeGreaterThan(10_000);
      expect(a.output).toMatchObject({ format, channels: 2 });
      expect(Math.abs(a.output.duration! - 6)).toBeLessThan(0.1);
      expect(a.bytes.equals(b.bytes)).toBe(true);
      expect(a.bytes.equals(c.bytes)).toBe(false);
      expect(a.result.info).toMatchObject({ seed: 1234, duration: 6, timesignature: 4 });
    });
  }

  it('picks and reports a seed when none is given, the same for every target of a task', async () => {
    const a = await generate({ prompt: 'rock', duration: 3 }, { format: 'wav' }, { taskId: 'task_a' });
    const b = await generate({ prompt: 'rock', duration: 3 }, { format: 'mp3' }, { taskId: 'task_a' });
    const other = await generate({ prompt: 'rock', duration: 3 }, { format: 'wav' }, { taskId: 'task_b' });
    const seed = a.result.info!.seed as number;
    expect(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff).toBe(true);
    expect(b.result.info).toEqual(a.result.info);
    expect(other.result.info!.seed).not.toBe(seed);
    expect(Object.keys(a.result.info!)).toEqual(expect.arrayContaining(['seed', 'bpm', 'keyscale', 'timesignature', 'duration']));
    // Replaying the reported seed gives the same piece.
    const replay = await generate({ prompt: 'rock', duration: 3, seed }, { format: 'wav' }, { taskId: 'task_c' });
    expect(replay.bytes.equals(a.bytes)).toBe(true);
  });
});

describe('generate: what is measured is what was written', () => {
  for (const target of [{ format: 'wav' }, { format: 'wav', channels: 1 }, { format: 'flac' }] as TargetSpec[]) {
    it(`${JSON.stringify(target)}: the loudness and peaks reported are those of the file`, async () => {
      // A wav is measured by its own encoder as it is written; a flac is decoded again afterwards. Either way the
      // numbers must be what a decode of the finished file finds.
      expect(encoderArgs(target, { channels: 2, sampleRate: 44100 }, { setLayout: true }).analysableInline).toBe(target.format === 'wav');
      const { output } = await generate({ prompt: 'rock, drums, bass, guitar', duration: 4, seed: 7 }, target);
      expect(output.loudness!.integrated_lufs).toBeLessThan(-5);
      expect(output.peaks!.some((p) => p > 0.05)).toBe(true);
      const decoded = await analyseAudio(output.path);
      expect(output.loudness).toEqual(decoded.loudness);
      expect(output.peaks).toEqual(decoded.peaks);
    });
  }
});

describe('generate: tempo, metre, key and length', () => {
  const cases = [
    { prompt: 'edm, synth', bpm: 128, timesignature: 4, keyscale: 'D major', tonic: 2 },
    { prompt: 'rock, guitar', bpm: 100, timesignature: 3, keyscale: 'Eb major', tonic: 3 },
  ];
  for (const c of cases) {
    it(`honours ${c.bpm} bpm in ${c.timesignature}/4 and ${c.keyscale} (${c.prompt})`, async () => {
      const { result, output } = await generate({ prompt: c.prompt, bpm: c.bpm, timesignature: c.timesignature, keyscale: c.keyscale, duration: 12, seed: 5 });
      expect(result.info).toMatchObject({ bpm: c.bpm, timesignature: c.timesignature, keyscale: c.keyscale });
      const beat = 60 / c.bpm;
      expect(Math.abs(output.duration! - 12)).toBeLessThan(beat);

      const onsets = kickOnsets(await decodeF32(output.path, { rate: 11025, channels: 1 }), 11025);
      expect(onsets.length).toBeGreaterThan(4);
      const intervals = onsets.slice(1).map((t, i) => t - onsets[i]!).sort((x, y) => x - y);
      const ratio = intervals[intervals.length >> 1]! / beat;
      // Simple multiples of the beat, the dotted quarter included (a kick on 1 and the "and" of 2 is common).
      const nearest = [0.5, 1, 1.5, 2, 3, 4].reduce((best, m) => (Math.abs(ratio - m) < Math.abs(ratio - best) ? m : best));
      expect(Math.abs(ratio - nearest) / nearest).toBeLessThan(0.03);
      // And the kicks sit on one (half-)beat grid all through, not just on average; the grid's phase is taken
      // from whichever onset fits best, since the detector's filter delays them all alike.
      const onGrid = (ref: number) =>
        onsets.filter((t) => {
          const q = (t - ref) / (beat / 2);
          return Math.abs(q - Math.round(q)) * (beat / 2) < 0.025;
        }).length;
      expect(Math.max(...onsets.map(onGrid)) / onsets.length).toBeGreaterThan(0.8);

      // Most tonal energy is in the requested scale, and key finding names the requested key. (Plain in-scale
      // energy cannot tell neighbouring keys apart: saw and string harmonics add the flat seventh of every note.)
      const pcs = chroma(await decodeF32(output.path, { rate: 22050, channels: 1 }), 22050);
      expect(inScale(pcs, c.tonic)).toBeGreaterThan(0.6);
      const ours = keyScore(pcs, c.tonic);
      for (let t = 0; t < 12; t++) if (t !== c.tonic) expect(keyScore(pcs, t)).toBeLessThan(ours);
    });
  }

  it('renders the requested length (mp3 within one beat) and reports progress up to 1', async () => {
    const seen: number[] = [];
    const { result, output, ctx } = await generate({ prompt: 'jazz, piano', duration: 7.5, bpm: 90, seed: 9 }, { format: 'mp3', name: 'tune' }, { progress: (f) => seen.push(f) });
    expect(result.duration).toBe(7.5);
    expect(Math.abs(output.duration! - 7.5)).toBeLessThan(60 / 90);
    expect(output).toMatchObject({ name: 'tune', format: 'mp3', sample_rate: 44100, channels: 2 });
    expect(readdirSync(ctx.outDir)).toEqual(['tune.mp3']);
    expect(seen.at(-1)).toBe(1);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
  });

  it('writes every time signature from 2 to 12: bars of the right length, a kick on each bar', () => {
    for (let ts = 2; ts <= 12; ts++) {
      expect(beatGroups(ts).reduce((a, b) => a + b, 0)).toBe(ts);
      const bpm = 120;
      const { style } = styleFromPrompt('pop');
      const composer = new Composer({ style, key: makeKey(0, 'major'), bpm, beatsPerBar: ts, seconds: 20 }, new Prng(ts));
      const barSeconds = (60 / bpm) * ts;
      for (let bar = 0; ; bar++) {
        const events = composer.nextBar();
        if (!events) {
          expect(bar).toBe(Math.ceil(20 / barSeconds));
          break;
        }
        for (const e of events) {
          expect(e.time).toBeGreaterThanOrEqual(bar * barSeconds - 0.02);
          expect(e.time).toBeLessThan((bar + 1) * barSeconds);
        }
        // The outro (at most the last two bars) lets the drums drop out.
        if (bar < composer.totalBars - 2) expect(events.some((e) => e.part === 'kick' && Math.abs(e.time - bar * barSeconds) < 1e-9)).toBe(true);
      }
    }
  });
});

describe('generate: params and targets', () => {
  const valid = (params: unknown) => {
    try {
      validateSchema(generateEngine.paramsSchema, params, 'params');
      return true;
    } catch {
      return false;
    }
  };

  it('validates params', () => {
    expect(valid({ prompt: 'lofi', duration: 30, bpm: 85, keyscale: 'A minor', timesignature: 4, seed: 4294967295 })).toBe(true);
    expect(valid({ keyscale: 'C# major' })).toBe(true);
    expect(valid({ keyscale: 'Eb minor' })).toBe(true);
    expect(valid({ keyscale: 'H minor' })).toBe(false);
    expect(valid({ duration: 601 })).toBe(false);
    expect(valid({ duration: 0.5 })).toBe(false);
    expect(valid({ bpm: 30 })).toBe(false);
    expect(valid({ timesignature: 13 })).toBe(false);
    expect(valid({ seed: -1 })).toBe(false);
    expect(valid({ seed: 4294967296 })).toBe(false);
    expect(valid({ tempo: 120 })).toBe(false);
  });

  it('names targets by name, else by format, and checks output options like extract', () => {
    expect(generateEngine.needsInput).toBe(false);
    expect(generateEngine.targetName({ format: 'mp3' }, 0)).toBe('mp3');
    expect(generateEngine.targetName({ format: 'mp3', name: 'song' }, 0)).toBe('song');
    expect(generateEngine.checkTarget!({ format: 'flac', bitrate: '128k' })?.field).toBe('bitrate');
    expect(generateEngine.checkTarget!({ format: 'ogg' })).toBeNull();
  });
});

describe('generate: cancelation', () => {
  it('kills ffmpeg promptly on abort and leaves no output behind', async () => {
    const ctx = context({ prompt: 'edm', duration: 600, seed: 1 }, { format: 'mp3' });
    const running = generateEngine.run(ctx).then(
      () => {
        throw new Error('expected the run to fail');
      },
      (e: unknown) => e,
    );
    await until('generation to start', () => ctx.reported.some((f) => f > 0), 10_000, 10);
    expect(childFfmpegs()).toHaveLength(1);
    const abortedAt = Date.now();
    ctx.abort();
    const err = await running;
    expect(isHookwaveError(err) && err.code).toBe('CANCELED');
    expect(Date.now() - abortedAt).toBeLessThan(1000);
    expect(childFfmpegs()).toEqual([]);
    expect(readdirSync(ctx.outDir)).toEqual([]);
  });
});
