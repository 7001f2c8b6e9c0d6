/**
 * kind "extract": the first audio stream of any media file, re-encoded to one of six formats.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HookwaveError } from '../errors.js';
import type { Engine, EngineResult, EngineRunContext, TargetSpec } from './engine.js';
import { describeOutput, inlineAnalysisArgs, runAnalysed, runFfmpeg, untrustedInput, type AudioAnalysis } from '../media/ffmpeg.js';
import { probeInput } from './input-probe.js';
import { runMeasuredPcmPipeline, runPcmPipeline, type PcmIo } from './dsp/pcm-pipe.js';
import { byteCapArgs, DEFAULT_OUTPUT_LIMITS, outputTooLong, withinByteCap, type OutputEstimate, type OutputLimits } from './output-limits.js';
import { encodeNormalised, loudnessSchema, loudnessTargetOf } from './loudness-target.js';

export const EXTRACT_FORMATS = ['mp3', 'wav', 'flac', 'ogg', 'opus', 'm4a'] as const;
export type ExtractFormat = (typeof EXTRACT_FORMATS)[number];

const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000];
const MIN_BITRATE = 8000;
const MAX_BITRATE = 512000;
const MAX_CHANNELS = 8;

interface FormatSpec {
  ext: string;
  muxer: string;
  codecArgs: string[];
  lossless?: boolean;
  defaultBitrate?: number;
  defaultSampleRate?: number;
  /** Sample rates the encoder accepts; undefined = every rate we offer. */
  sampleRates?: number[];
  maxChannels: number;
}

const FORMATS: Record<ExtractFormat, FormatSpec> = {
  // libmp3lame: MPEG-1/2/2.5 rates only, mono/stereo only; out-of-range bitrates are clamped, not rejected.
  mp3: {
    ext: 'mp3',
    muxer: 'mp3',
    codecArgs: ['-c:a', 'libmp3lame'],
    defaultBitrate: 192000,
    sampleRates: SAMPLE_RATES.filter((r) => r <= 48000),
    maxChannels: 2,
  },
  wav: { ext: 'wav', muxer: 'wav', codecArgs: ['-c:a', 'pcm_s16le'], lossless: true, maxChannels: MAX_CHANNELS },
  flac: { ext: 'flac', muxer: 'flac', codecArgs: ['-c:a', 'flac'], lossless: true, maxChannels: MAX_CHANNELS },
  // Without a bitrate, VBR quality 5 (~160 kbit/s stereo) works at every sample rate; managed bitrates do not.
  ogg: { ext: 'ogg', muxer: 'ogg', codecArgs: ['-c:a', 'libvorbis'], maxChannels: MAX_CHANNELS },
  // Opus always decodes at 48 kHz (ffprobe reports 48000); a lower -ar only narrows the coded bandwidth.
  opus: {
    ext: 'opus',
    muxer: 'ogg',
    codecArgs: ['-c:a', 'libopus'],
    defaultBitrate: 128000,
    defaultSampleRate: 48000,
    sampleRates: [8000, 12000, 16000, 24000, 48000],
    maxChannels: MAX_CHANNELS,
  },
  // faststart moves the index to the front so players can start before the download ends.
  m4a: {
    ext: 'm4a',
    muxer: 'ipod',
    codecArgs: ['-c:a', 'aac', '-movflags', '+faststart'],
    defaultBitrate: 192000,
    maxChannels: MAX_CHANNELS,
  },
};

/**
 * Channel layouts per count in Vorbis/Opus order. `-ac 3`/`-ac 4` would pick 2.1/4.0, which libopus rejects
 * and libvorbis/flac mislabel; these layouts are accepted by every encoder here (mp3 aside, which is ≤ 2).
 */
const LAYOUTS = ['mono', 'stereo', '3.0', 'quad', '5.0', '5.1', '6.1', '7.1'];

/** libopus rejects more than 256 kbit/s per channel. */
const OPUS_MAX_PER_CHANNEL = 256000;

/**
 * libvorbis managed-bitrate templates (measured against libvorbis 1.3.7 via ffmpeg `-b:a`): a bitrate works when
 * some template covering the output rate (inclusive bounds) allows it. Bitrates are per channel; `channels` limits
 * a template to stereo or 5.1. Outside 8000..50000 Hz (70000 for 6 channels) only quality mode works.
 */
const VORBIS_TEMPLATES: Array<{ rates: [number, number]; perChannel: [number, number]; channels?: number }> = [
  { rates: [8000, 9000], perChannel: [8000, 42000] },
  { rates: [8000, 9000], perChannel: [6000, 42000], channels: 2 },
  { rates: [9000, 15000], perChannel: [12000, 50000] },
  { rates: [9000, 15000], perChannel: [8000, 50000], channels: 2 },
  { rates: [15000, 19000], perChannel: [16000, 100000] },
  { rates: [15000, 19000], perChannel: [12000, 100000], channels: 2 },
  { rates: [19000, 26000], perChannel: [16000, 90000] },
  { rates: [19000, 26000], perChannel: [15000, 90000], channels: 2 },
  { rates: [26000, 40000], perChannel: [30000, 190000] },
  { rates: [26000, 40000], perChannel: [18000, 190000], channels: 2 },
  { rates: [40000, 50000], perChannel: [32000, 240000] },
  { rates: [40000, 50000], perChannel: [22500, 250000], channels: 2 },
  { rates: [40000, 70000], perChannel: [14000, 240000], channels: 6 },
];

/** Total bitrate range libvorbis accepts, or null when it has no bitrate mode for this rate. */
export function vorbisBitrateRange(sampleRate: number, channels: number): [number, number] | null {
  let range: [number, number] | null = null;
  for (const t of VORBIS_TEMPLATES) {
    if (sampleRate < t.rates[0] || sampleRate > t.rates[1] || (t.channels && t.channels !== channels)) continue;
    const [lo, hi] = [t.perChannel[0] * channels, t.perChannel[1] * channels];
    range = range ? [Math.min(range[0], lo), Math.max(range[1], hi)] : [lo, hi];
  }
  return range;
}

const kbps = (bits: number) => `${Math.round(bits / 100) / 10}k`;

export const extractTargetSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['format'],
  properties: {
    format: { type: 'string', enum: [...EXTRACT_FORMATS], description: 'Output container/codec.' },
    name: {
      type: 'string',
      minLength: 1,
      maxLength: 64,
      pattern: '^[A-Za-z0-9._-]+$',
      description: 'Output name (defaults to the format).',
    },
    bitrate: {
      description: 'Target bitrate for lossy formats: "192k" or bits per second (8000..512000).',
      oneOf: [
        { type: 'string', pattern: '^[0-9]{1,4}k$' },
        { type: 'integer', minimum: MIN_BITRATE, maximum: MAX_BITRATE },
      ],
    },
    sample_rate: { type: 'integer', enum: SAMPLE_RATES, description: 'Output sample rate in Hz.' },
    channels: { type: 'integer', minimum: 1, maximum: MAX_CHANNELS, description: 'Output channel count.' },
    loudness: loudnessSchema,
  },
};

interface ExtractTarget {
  format: ExtractFormat;
  name?: string;
  bitrate?: number;
  sample_rate?: number;
  channels?: number;
}

function parseTarget(target: TargetSpec): ExtractTarget {
  const b = target.bitrate;
  return {
    format: target.format as ExtractFormat,
    name: target.name as string | undefined,
    bitrate: typeof b === 'string' ? Number(b.slice(0, -1)) * 1000 : (b as number | undefined),
    sample_rate: target.sample_rate as number | undefined,
    channels: target.channels as number | undefined,
  };
}

type TargetProblem = { field: string; message: string };

/** Problems that depend on the output rate and channel count, which may only be known once the input is probed. */
function checkEncoding(format: ExtractFormat, bitrate: number | undefined, rate?: number, channels?: number): TargetProblem | null {
  if (bitrate === undefined) return null;
  if (format === 'opus' && channels !== undefined && bitrate > OPUS_MAX_PER_CHANNEL * channels) {
    return {
      field: 'bitrate',
      message: `bitrate ${kbps(bitrate)} exceeds opus's limit of ${kbps(OPUS_MAX_PER_CHANNEL)} per channel (${channels} channel${channels === 1 ? '' : 's'})`,
    };
  }
  if (format === 'ogg' && rate !== undefined) {
    const range = vorbisBitrateRange(rate, channels ?? 2);
    if (!range) {
      return { field: 'bitrate', message: `ogg (vorbis) has no bitrate mode at ${rate} Hz; omit bitrate to use quality mode` };
    }
    if (channels !== undefined && (bitrate < range[0] || bitrate > range[1])) {
      return {
        field: 'bitrate',
        message: `bitrate ${kbps(bitrate)} is outside what ogg (vorbis) supports at ${rate} Hz with ${channels} channel${channels === 1 ? '' : 's'} (${kbps(range[0])}..${kbps(range[1])})`,
      };
    }
  }
  return null;
}

/** Checks of a target of `extractTargetSchema` that need no input; engines with the same output options reuse it. */
export function checkTarget(spec: TargetSpec): TargetProblem | null {
  const t = parseTarget(spec);
  const f = FORMATS[t.format];
  if (!f) return { field: 'format', message: `unknown format ${String(spec.format)}` };
  if (t.bitrate !== undefined) {
    if (f.lossless) return { field: 'bitrate', message: `bitrate is not used by lossless format ${t.format}` };
    if (t.bitrate < MIN_BITRATE || t.bitrate > MAX_BITRATE) {
      return { field: 'bitrate', message: `bitrate must be between ${kbps(MIN_BITRATE)} and ${kbps(MAX_BITRATE)}` };
    }
  }
  if (t.sample_rate !== undefined && f.sampleRates && !f.sampleRates.includes(t.sample_rate)) {
    return {
      field: 'sample_rate',
      message: `sample_rate ${t.sample_rate} is not supported by ${t.format} (supported: ${f.sampleRates.join(', ')})`,
    };
  }
  if (t.channels !== undefined && t.channels > f.maxChannels) {
    return { field: 'channels', message: `channels ${t.channels} is not supported by ${t.format} (at most ${f.maxChannels})` };
  }
  return checkEncoding(t.format, t.bitrate, t.sample_rate, t.channels);
}

export interface EncodeSource {
  /** Channels of the audio fed to the encoder (null: unknown, taken as stereo). */
  channels: number | null;
  /** Sample rate of the audio fed to the encoder (null: unknown). */
  sampleRate: number | null;
}

export interface EncoderPlan {
  format: ExtractFormat;
  ext: string;
  /** Channels the output will have. */
  channels: number;
  /** ffmpeg output options: codec, filters, rate, bitrate and muxer; the output path goes after them. */
  args: string[];
  /**
   * The filters the audio goes through before loudnorm when normalising (the engine's own, the
   * output layout and rate): a first pass measures exactly what the second will get.
   */
  measureFilters: string[];
  /** The filter chain `args` runs (its -af), for inlineAnalysisArgs. */
  filters: string[];
  /**
   * The file will hold exactly the samples its encoder is given, at the source's rate: 16-bit PCM wav, not
   * resampled, not normalised. Its analysis can then run in the encoding process (inlineAnalysisArgs). flac
   * may pick a sample format of its own, and lossy files must be decoded to be measured.
   */
  analysableInline: boolean;
}

/**
 * The encoder half of an ffmpeg command for a target of this schema, shared by every engine that writes audio.
 * `filters` run before the layout conversion; `setLayout` forces it even for wav (e.g. when the source is a raw pipe
 * whose channel count differs from the output's). Throws INVALID_TARGET when the source makes the target impossible.
 */
export function encoderArgs(spec: TargetSpec, source: EncodeSource, options: { filters?: string[]; setLayout?: boolean; loudnorm?: string } = {}): EncoderPlan {
  const t = parseTarget(spec);
  const f = FORMATS[t.format];
  // Resolve what the encoder will actually get, so codec limits can be checked with real numbers.
  const channels = t.channels ?? Math.min(source.channels ?? 2, f.maxChannels);
  const rate = t.sample_rate ?? f.defaultSampleRate;
  const bitrate = t.bitrate ?? f.defaultBitrate;
  const problem = checkEncoding(t.format, bitrate, rate ?? source.sampleRate ?? undefined, channels);
  if (problem) throw new HookwaveError('INVALID_TARGET', problem.message, { field: problem.field });

  const args = [...f.codecArgs];
  const filters = [...(options.filters ?? [])];
  const layout = `aformat=channel_layouts=${LAYOUTS[channels - 1]}`;
  // loudnorm measures and gains per channel layout, so it gets the output's, in the output's rate.
  const outRate = rate ?? source.sampleRate;
  const measureFilters = [...filters, layout, ...(outRate ? [`aresample=${outRate}`] : [])];
  if (options.loudnorm) {
    // Its dynamic mode works (and outputs) at 192 kHz and drops the layout: both are set again after it.
    filters.splice(0, filters.length, ...measureFilters, options.loudnorm, ...(outRate ? [`aresample=${outRate}`] : []), layout);
  } else if (t.channels !== undefined || t.format !== 'wav' || options.setLayout) {
    // wav stores any layout, so only remix it when asked; other encoders need a layout they know.
    filters.push(layout);
  }
  if (filters.length > 0) args.push('-af', filters.join(','));
  if (rate !== undefined) args.push('-ar', String(rate));
  if (bitrate !== undefined) args.push('-b:a', String(bitrate));
  else if (t.format === 'ogg') args.push('-q:a', '5');
  args.push('-f', f.muxer);
  const analysableInline = t.format === 'wav' && rate === undefined && !options.loudnorm;
  return { format: t.format, ext: f.ext, channels, args, measureFilters, filters, analysableInline };
}

/**
 * Encodes `input` into `tempPath` as `plan` says, under the byte cap. A wav its encoder writes sample for
 * sample is measured in the same process (inlineAnalysisArgs) and the analysis returned; for other files
 * undefined, and describeOutput decodes the finished file to measure it. `select` (-map, -t) is what the
 * output takes from the input, repeated for the analysis.
 */
export function encodeToFile(o: {
  input: string[];
  select?: string[];
  plan: EncoderPlan;
  tempPath: string;
  limits: OutputLimits;
  signal: AbortSignal;
  onProgress?: (seconds: number) => void;
}): Promise<AudioAnalysis | undefined> {
  const select = o.select ?? [];
  const encode = [...o.input, ...select, ...o.plan.args, ...byteCapArgs(o.limits), '-y', o.tempPath];
  const options = { signal: o.signal, onProgress: o.onProgress };
  return withinByteCap(o.tempPath, o.limits, async () => {
    if (o.plan.analysableInline) return runAnalysed([...encode, ...inlineAnalysisArgs(o.plan.filters, select)], options);
    await runFfmpeg(encode, options);
    return undefined;
  });
}

/**
 * encodeToFile for audio made in-process: `body` writes it to the encoder through runPcmPipeline's io (reading
 * the decoder's, if `decoderArgs`). The same wavs are measured in the encoding process. `outputArgs` go after
 * the plan's (e.g. bit-exact flags).
 */
export function encodePcmToFile(
  o: { decoderArgs: string[] | null; plan: EncoderPlan; outputArgs?: string[]; tempPath: string; limits: OutputLimits; signal: AbortSignal },
  body: (io: PcmIo) => Promise<void>,
): Promise<AudioAnalysis | undefined> {
  const pipe = { decoderArgs: o.decoderArgs, encoderArgs: [...o.plan.args, ...(o.outputArgs ?? []), ...byteCapArgs(o.limits), '-y', o.tempPath], signal: o.signal };
  return withinByteCap(o.tempPath, o.limits, async () => {
    if (o.plan.analysableInline) return runMeasuredPcmPipeline({ ...pipe, filters: o.plan.filters }, body);
    await runPcmPipeline(pipe, body);
    return undefined;
  });
}

/**
 * A lower bound of an encoded output's size, where the format makes one knowable: PCM wav exactly,
 * lossy formats from their bitrate. Lossless compression and quality-mode vorbis depend on the
 * audio (silence packs into almost nothing), so they get null and meet the cap while encoding.
 */
export function minEncodedBytes(spec: TargetSpec, seconds: number | null, source: { sampleRate: number | null; channels: number | null }): number | null {
  if (seconds === null) return null;
  const t = parseTarget(spec);
  const f = FORMATS[t.format];
  if (t.format === 'wav') {
    const rate = t.sample_rate ?? source.sampleRate;
    const channels = t.channels ?? source.channels;
    return rate && channels ? Math.floor(seconds * rate * Math.min(channels, f.maxChannels) * 2) : null;
  }
  const bitrate = t.bitrate ?? f.defaultBitrate;
  // Encoders land a little under a nominal bitrate; 0.9 keeps this a lower bound.
  return !f.lossless && bitrate ? Math.floor((seconds * bitrate * 0.9) / 8) : null;
}

/** Extract's output lasts as long as its input, at the rates the target asks for. */
export function estimateFromInput(spec: TargetSpec, _params: Record<string, unknown>, input: { duration: number | null }): OutputEstimate {
  return { seconds: input.duration, minBytes: minEncodedBytes(spec, input.duration, { sampleRate: null, channels: null }) };
}

async function run(ctx: EngineRunContext): Promise<EngineResult> {
  const limits = ctx.limits ?? DEFAULT_OUTPUT_LIMITS;
  const inputPath = ctx.input.path;
  if (!inputPath) throw new HookwaveError('ENGINE_FAILED', 'extract needs an input file');

  const info = await probeInput({ ...ctx.input, path: inputPath }, ctx.signal);
  const audio = info.audio!;
  const duration = audio.duration ?? info.duration;
  if (duration !== null && duration > limits.outputSeconds) throw outputTooLong(duration, limits);
  const source = { channels: audio.channels, sampleRate: audio.sampleRate };
  const plan = encoderArgs(ctx.target, source);

  const finalPath = join(ctx.outDir, `${ctx.targetName}.${plan.ext}`);
  // Encode under a hidden temp name: a killed or failed run must never leave a partial file under the final name.
  const tempPath = join(ctx.outDir, `.${ctx.targetName}.${randomBytes(4).toString('hex')}.part`);
  // An input whose length its header does not state is cut one second past the cap, and refused below.
  const cut = duration === null ? ['-t', String(limits.outputSeconds + 1)] : [];
  const select = ['-vn', '-map', '0:a:0', ...cut];
  const input = [...untrustedInput(inputPath), ...select];
  const loudnessTarget = loudnessTargetOf(ctx.target);
  let analysis: AudioAnalysis | undefined;

  try {
    if (loudnessTarget) {
      // Two passes over the input itself (decoding twice costs less than a lossless copy on disk).
      ({ analysis } = await encodeNormalised({
        target: loudnessTarget, input, plan: (loudnorm) => encoderArgs(ctx.target, source, { loudnorm }),
        tempPath, limits, signal: ctx.signal, seconds: duration, progress: (f) => ctx.progress(f),
      }));
    } else {
      analysis = await encodeToFile({
        input: untrustedInput(inputPath), select, plan, tempPath, limits, signal: ctx.signal,
        onProgress: duration ? (s) => ctx.progress(Math.min(1, Math.max(0, s / duration))) : undefined,
      });
    }
    await rename(tempPath, finalPath);
  } finally {
    await rm(tempPath, { force: true });
  }
  ctx.progress(1);
  const output = await describeOutput(finalPath, ctx.targetName, plan.format, { signal: ctx.signal, analysis });
  if (output.duration !== null && output.duration > limits.outputSeconds) {
    await rm(finalPath, { force: true });
    throw outputTooLong(output.duration, limits);
  }
  return { outputs: [output], duration: duration ?? output.duration };
}

export const extractEngine: Engine = {
  kind: 'extract',
  description: 'Extract the audio of any audio or video file and convert it to mp3, wav, flac, ogg, opus or m4a.',
  needsInput: true,
  targetSchema: extractTargetSchema,
  paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
  targetName: (target) => (typeof target.name === 'string' ? target.name : String(target.format)),
  checkTarget,
  estimateOutput: estimateFromInput,
  run,
};
