/**
 * Test media made on the spot with the same ffmpeg the service uses; nothing is downloaded.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ffmpegPath } from '../../src/media/ffmpeg.js';

const run = promisify(execFile);

async function ffmpeg(args: string[]): Promise<void> {
  await run(ffmpegPath(), ['-nostdin', '-hide_banner', '-v', 'error', '-y', ...args], { maxBuffer: 1024 * 1024 });
}

// Layouts every encoder accepts for each channel count (see src/engines/extract.ts).
const LAYOUTS = ['mono', 'stereo', '3.0', 'quad', '5.0', '5.1', '6.1', '7.1'];

export interface ToneOptions {
  seconds: number;
  frequency?: number;
  sampleRate?: number;
  channels?: number;
  format?: 'wav' | 'mp3' | 'flac';
}

const TONE_CODEC = { wav: 'pcm_s16le', mp3: 'libmp3lame', flac: 'flac' } as const;

/** A sine tone; the file name encodes every option, so equal requests share a name. */
export async function makeTone(dir: string, options: ToneOptions): Promise<string> {
  const { seconds, frequency = 440, sampleRate = 44100, channels = 2, format = 'wav' } = options;
  const file = join(dir, `tone-${seconds}s-${frequency}hz-${sampleRate}-${channels}ch.${format}`);
  await ffmpeg([
    '-f', 'lavfi', '-i', `sine=frequency=${frequency}:sample_rate=${sampleRate}:duration=${seconds}`,
    '-af', `aformat=channel_layouts=${LAYOUTS[channels - 1]}`,
    '-c:a', TONE_CODEC[format], file,
  ]);
  return file;
}

const testPattern = (seconds: number) => ['-f', 'lavfi', '-i', `testsrc=size=160x120:rate=15:duration=${seconds}`];
const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];

/** `video-with-audio.mp4`: H.264 test pattern plus an AAC 440 Hz tone. */
export async function makeVideoWithAudio(dir: string, seconds: number): Promise<string> {
  const file = join(dir, 'video-with-audio.mp4');
  await ffmpeg([
    ...testPattern(seconds),
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=44100:duration=${seconds}`,
    ...h264, '-c:a', 'aac', '-shortest', '-movflags', '+faststart', file,
  ]);
  return file;
}

/** `video-only.mp4`: a valid mp4 without any audio stream. */
export async function makeVideoOnly(dir: string, seconds: number): Promise<string> {
  const file = join(dir, 'video-only.mp4');
  await ffmpeg([...testPattern(seconds), ...h264, '-an', '-movflags', '+faststart', file]);
  return file;
}

/**
 * `garbage.mp3`: pseudo-random bytes. Seeded, because about 1 in 200 truly random buffers happens to
 * parse as some text format (e.g. lrc), which would make a test expecting UNSUPPORTED_MEDIA flaky.
 */
export async function makeGarbage(dir: string, bytes: number, seed = 0x9e3779b9): Promise<string> {
  const file = join(dir, 'garbage.mp3');
  const buf = Buffer.alloc(bytes);
  let s = seed >>> 0;
  for (let i = 0; i < bytes; i++) {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    buf[i] = s & 0xff;
  }
  await writeFile(file, buf);
  return file;
}

// ---------------------------------------------------------------------------------------------------------
// Multitrack test mixes for the stems engine: every source is synthesised here, so the truth is known.

export type StemSource = 'drums' | 'pad' | 'bass' | 'vocal';
export const STEM_SOURCES: StemSource[] = ['drums', 'pad', 'bass', 'vocal'];

export interface StemMixOptions {
  seconds: number;
  /** Which sources to mix (default all four). */
  sources?: StemSource[];
  /** Mono mix (the sources' two channels averaged). */
  mono?: boolean;
  bpm?: number;
}

export interface StemMix {
  /** The mix as 32-bit float wav. */
  mix: string;
  /** Each source alone, as 32-bit float wav with the mix's channel count. */
  sources: Partial<Record<StemSource, string>>;
}

const MIX_RATE = 44100;

/** Stateless white noise in [-1, 1): sample n of stream `salt`, so any block can be rendered on its own. */
function hashNoise(n: number, salt: number): number {
  let h = Math.imul(n ^ Math.imul(salt, 0x27d4eb2d), 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae3d);
  h ^= h >>> 16;
  return (h >>> 0) / 2147483648 - 1;
}

const midiHz = (m: number) => 440 * Math.pow(2, (m - 69) / 12);
// A minor: Am F C G, one chord per bar; roots for the bass, triads voiced above the bass range for the pad.
const CHORDS = [
  [57, 60, 64],
  [57, 60, 65],
  [60, 64, 67],
  [59, 62, 67],
];
const BASS_ROOTS = [33, 29, 36, 31];
const MELODY = [69, 72, 71, 69, 67, 69, 64, 65, 67, 69, 72, 74, 72, 71, 69, 67];
// Vowel formants (F1, F2, F3) the vocal cycles through, so its spectrum moves like a voice's.
const VOWELS = [
  [730, 1090, 2440],
  [530, 1840, 2480],
  [270, 2290, 3010],
  [570, 840, 2410],
];

// Table sine: the test mixes need millions of partial samples, and Math.sin would make building them slower
// than separating them.
const SIN_TABLE_BITS = 12;
const SIN_TABLE = new Float64Array((1 << SIN_TABLE_BITS) + 1).map((_, i) => Math.sin((2 * Math.PI * i) / (1 << SIN_TABLE_BITS)));
function fastSin(phase: number): number {
  let x = (phase / (2 * Math.PI)) % 1;
  if (x < 0) x += 1;
  const pos = x * (1 << SIN_TABLE_BITS);
  const i = pos | 0;
  const a = SIN_TABLE[i]!;
  return a + (SIN_TABLE[i + 1]! - a) * (pos - i);
}

function formantGain(f: number, formants: number[]): number {
  let g = 0;
  for (const fc of formants) {
    const bw = 80 + fc * 0.06;
    g += 1 / (1 + ((f - fc) / bw) ** 2);
  }
  return g;
}

/** Adds sample n of each source (stereo) into `out` at [l, r] offsets. */
class StemSynth {
  private readonly beat: number;
  private readonly bar: number;
  /** Per melody note, the 12 partial amplitudes (formant gain over harmonic number). */
  private readonly partials: Float64Array[];

  constructor(bpm: number) {
    this.beat = 60 / bpm;
    this.bar = 4 * this.beat;
    this.partials = Array.from({ length: MELODY.length * VOWELS.length }, (_, i) => {
      const f0 = midiHz(MELODY[i % MELODY.length]!);
      const formants = VOWELS[i % VOWELS.length]!;
      return Float64Array.from({ length: 12 }, (_, h) => formantGain((h + 1) * f0, formants) / (h + 1));
    });
  }

  drums(n: number, t: number): [number, number] {
    const eighth = this.beat / 2;
    const e = Math.floor(t / eighth);
    let l = 0;
    let r = 0;
    for (let back = 0; back < 5 && e - back >= 0; back++) {
      const idx = e - back;
      const tau = t - idx * eighth;
      const inBar = idx % 8;
      if (inBar === 0 || inBar === 4 || inBar === 5) {
        // kick: exponential pitch sweep 150 → 50 Hz, an acoustic kick's decay (not an 808's long boom)
        const phase = 2 * Math.PI * (50 * tau + 100 * 0.03 * (1 - Math.exp(-tau / 0.03)));
        const v = 0.4 * Math.sin(phase) * Math.exp(-tau / 0.07) + 0.1 * hashNoise(n, 5) * Math.exp(-tau / 0.004);
        l += v;
        r += v;
      }
      if (inBar === 2 || inBar === 6) {
        const v = 0.14 * hashNoise(n, 11) * Math.exp(-tau / 0.07) + 0.11 * Math.sin(2 * Math.PI * 185 * tau) * Math.exp(-tau / 0.05);
        l += v;
        r += v;
      }
      if (back === 0) {
        // hi-hat: first difference of noise is high-passed noise; a little right of centre
        const v = 0.12 * (hashNoise(n, 23) - hashNoise(n - 1, 23)) * Math.exp(-tau / 0.025);
        l += 0.8 * v;
        r += v;
      }
    }
    return [l, r];
  }

  pad(_n: number, t: number): [number, number] {
    const barIdx = Math.floor(t / this.bar);
    const tau = t - barIdx * this.bar;
    const chord = CHORDS[barIdx % CHORDS.length]!;
    // Slow attack and release inside each bar.
    const env = Math.min(1, tau / 0.3) * Math.min(1, (this.bar - tau) / 0.2);
    let l = 0;
    let r = 0;
    for (let i = 0; i < chord.length; i++) {
      const f = midiHz(chord[i]!);
      // Different detune and phase per channel: a wide, decorrelated image like a stereo pad.
      for (let h = 1; h <= 4; h++) {
        const a = 0.025 / h;
        l += a * fastSin(2 * Math.PI * f * h * 1.003 * t + i);
        r += a * fastSin(2 * Math.PI * f * h * 0.997 * t + 2.1 * i + 1.3);
      }
    }
    return [l * env, r * env];
  }

  bass(_n: number, t: number): [number, number] {
    const half = this.bar / 2;
    const idx = Math.floor(t / half);
    const tau = t - idx * half;
    const f = midiHz(BASS_ROOTS[Math.floor(idx / 2) % BASS_ROOTS.length]!);
    const env = Math.min(1, tau / 0.02) * Math.min(1, (half - tau) / 0.05);
    const v = env * (0.15 * Math.sin(2 * Math.PI * f * t) + 0.04 * Math.sin(4 * Math.PI * f * t));
    return [v, v];
  }

  vocal(_n: number, t: number): [number, number] {
    const note = this.beat;
    const idx = Math.floor(t / note);
    const tau = t - idx * note;
    const f0 = midiHz(MELODY[idx % MELODY.length]!);
    const partials = this.partials[idx % this.partials.length]!;
    const env = Math.min(1, tau / 0.04) * Math.min(1, Math.max(0, note - 0.06 - tau) / 0.04);
    if (env <= 0) return [0, 0];
    // 5.5 Hz vibrato of ±1.5 %: phase of f0·(1 + d·sin(2π·fv·t)).
    const phase = 2 * Math.PI * f0 * t - ((f0 * 0.015) / 5.5) * Math.cos(2 * Math.PI * 5.5 * t);
    let v = 0;
    for (let h = 1; h <= 12; h++) v += partials[h - 1]! * fastSin(h * phase);
    v *= 0.06 * env;
    return [v, v];
  }
}

function wavHeaderF32(frames: number, channels: number, rate: number): Buffer {
  const data = frames * channels * 4;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + data, 4);
  h.write('WAVE', 8);
  h.write('fmt ', 12);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(3, 20); // IEEE float
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 4, 28);
  h.writeUInt16LE(channels * 4, 32);
  h.writeUInt16LE(32, 34);
  h.write('data', 36);
  h.writeUInt32LE(data, 40);
  return h;
}

/**
 * A mix of synthesised drums (centre), a wide stereo pad, a centred sine bass and a centred formant "vocal"
 * with vibrato, plus each source alone; rendered a second at a time, so long tracks cost no memory.
 */
export async function makeStemMix(dir: string, options: StemMixOptions): Promise<StemMix> {
  const { seconds, sources = STEM_SOURCES, mono = false, bpm = 120 } = options;
  const channels = mono ? 1 : 2;
  const frames = Math.round(seconds * MIX_RATE);
  const tag = `${sources.join('+')}-${seconds}s-${channels}ch-${bpm}`;
  const mixPath = join(dir, `mix-${tag}.wav`);
  const paths: Partial<Record<StemSource, string>> = {};
  for (const s of sources) paths[s] = join(dir, `src-${s}-${tag}.wav`);
  const header = wavHeaderF32(frames, channels, MIX_RATE);
  const files = [mixPath, ...sources.map((s) => paths[s]!)];
  const handles = await Promise.all(files.map((f) => open(f, 'w')));
  try {
    await Promise.all(handles.map((h) => h.write(header)));
    const synth = new StemSynth(bpm);
    const block = MIX_RATE;
    for (let start = 0; start < frames; start += block) {
      const len = Math.min(block, frames - start);
      const bufs = files.map(() => new Float32Array(len * channels));
      for (let i = 0; i < len; i++) {
        const n = start + i;
        const t = n / MIX_RATE;
        for (let s = 0; s < sources.length; s++) {
          const [l, r] = synth[sources[s]!](n, t);
          const src = bufs[s + 1]!;
          const mix = bufs[0]!;
          if (mono) {
            const m = Math.fround(0.5 * (l + r));
            src[i] = m;
            mix[i] = mix[i]! + m;
          } else {
            src[2 * i] = l;
            src[2 * i + 1] = r;
            mix[2 * i] = mix[2 * i]! + Math.fround(l);
            mix[2 * i + 1] = mix[2 * i + 1]! + Math.fround(r);
          }
        }
      }
      await Promise.all(handles.map((h, i) => h.write(Buffer.from(bufs[i]!.buffer))));
    }
  } finally {
    await Promise.all(handles.map((h) => h.close()));
  }
  return { mix: mixPath, sources: paths };
}

/** Decodes any audio file to interleaved float32 (at `rate`, keeping its channel count unless `channels`). */
export async function decodeF32(path: string, options: { rate?: number; channels?: number } = {}): Promise<Float32Array> {
  const args = ['-nostdin', '-v', 'error', '-i', path, '-f', 'f32le', '-ar', String(options.rate ?? MIX_RATE)];
  if (options.channels) args.push('-ac', String(options.channels));
  args.push('pipe:1');
  const { stdout } = await run(ffmpegPath(), args, { encoding: 'buffer', maxBuffer: 1024 * 1024 * 1024 });
  const buf = stdout as Buffer;
  const copy = new Float32Array(buf.length / 4);
  new Uint8Array(copy.buffer).set(buf);
  return copy;
}

/**
 * Reads a PCM wav (16-bit integer or 32-bit float) into interleaved float32 without spawning ffmpeg: tests read
 * many short outputs, and a process per file would cost more than the engine runs they check.
 */
export function readWav(path: string): { samples: Float32Array; channels: number; sampleRate: number } {
  const buf = readFileSync(path);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${path} is not a wav file`);
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  for (let at = 12; at + 8 <= buf.length; ) {
    const id = buf.toString('ascii', at, at + 4);
    const size = buf.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      format = buf.readUInt16LE(body);
      channels = buf.readUInt16LE(body + 2);
      sampleRate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
      // WAVE_FORMAT_EXTENSIBLE: the real format code opens the sub-format GUID.
      if (format === 0xfffe) format = buf.readUInt16LE(body + 24);
    } else if (id === 'data') {
      const end = Math.min(buf.length, body + size);
      if (format === 1 && bits === 16) {
        const samples = new Float32Array((end - body) >> 1);
        for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(body + 2 * i) / 32768;
        return { samples, channels, sampleRate };
      }
      if (format === 3 && bits === 32) {
        const samples = new Float32Array((end - body) >> 2);
        for (let i = 0; i < samples.length; i++) samples[i] = buf.readFloatLE(body + 4 * i);
        return { samples, channels, sampleRate };
      }
      throw new Error(`${path}: unsupported wav format ${format}/${bits} bits`);
    }
    at = body + size + (size & 1);
  }
  throw new Error(`${path} has no data chunk`);
}

/**
 * Signal-to-distortion ratio of an estimate against the true source, in dB: 10·log10(‖s‖² / ‖s − ŝ‖²).
 * The plain (not scale-invariant) form, so a stem that is too loud or too quiet scores lower too.
 */
export function sdr(estimate: Float32Array, reference: Float32Array): number {
  let signal = 0;
  let error = 0;
  for (let i = 0; i < reference.length; i++) {
    signal += reference[i]! ** 2;
    error += (reference[i]! - (estimate[i] ?? 0)) ** 2;
  }
  return 10 * Math.log10(signal / error);
}

/** Interleaved stereo buffers that a streaming separator's `onOutput(output, data, frames)` fills in order. */
export function stereoCollector(outputs: number, samples: number): { outs: Float32Array[]; filled: number[]; onOutput: (output: number, data: Float32Array, frames: number) => void } {
  const outs = Array.from({ length: outputs }, () => new Float32Array(samples));
  const filled = outs.map(() => 0);
  const onOutput = (o: number, data: Float32Array, frames: number): void => {
    outs[o]!.set(data.subarray(0, 2 * frames), filled[o]);
    filled[o]! += 2 * frames;
  };
  return { outs, filled, onOutput };
}
