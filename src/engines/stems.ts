/**
 * kind "stems": splits a mix into vocals / instrumental / drums / bass / other.
 *
 * `method: "model"` (the default) runs the learned separator shipped in models/stems with onnxruntime
 * (stems-model/: the STFT, chunked inference and inverse STFT that spec.json and training/stems/separate.py
 * define; docs/stems-model.md is its model card). `method: "fast"` runs the older DSP separator (median-filter
 * harmonic/percussive separation, a bass crossover and centre-panning cues; dsp/masks.ts): several times
 * cheaper and worse on every stem (2.6 to 7.7 dB less SDR on the held-out songs; docs/engines.md).
 *
 * The track streams through: ffmpeg decodes to stereo float PCM on a pipe and the STFT runs frame by frame (the
 * model in chunks of frames), so memory does not grow with track length. The model separates a track once for
 * all of a task's stem targets (stems-model/separate-once.ts): the first target to start writes every stem the
 * task asks for to raw float files beside the input, and each target encodes its own from there. The DSP runs
 * per target (it is cheap) and streams its stem straight into the encoder. Stems are complementary: vocals + instrumental and
 * drums + bass + vocals + other add back up to the input.
 *
 * Mono input is duplicated to stereo and the output averaged back (the model's convention). For the DSP,
 * panning then carries no information: vocals are the harmonic part of the vocal band, and the target's info
 * says `stereo_cues: false`. Output is mono unless `channels` asks otherwise. Stems come out at 44.1 kHz (the
 * processing rate) unless `sample_rate` or the format says otherwise.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HookwaveError } from '../errors.js';
import { PcmBatcher, PCM_RATE, pcmFrames, runPcmPipeline, type PcmIo } from './dsp/pcm-pipe.js';
import { STEMS, type StemName } from './dsp/masks.js';
import { StemSeparator } from './dsp/separator.js';
import { ModelSeparator } from './stems-model/model-separator.js';
import { RawPcmWriter } from './dsp/raw-pcm-writer.js';
import { separateOnce } from './stems-model/separate-once.js';
import { stemsSession, type StemsSession } from './stems-model/session.js';
import type { Engine, EngineResult, EngineRunContext, TargetSpec } from './engine.js';
import { checkTarget as checkOutputTarget, encodePcmToFile, encodeToFile, encoderArgs, extractTargetSchema } from './extract.js';
import { describeOutput, untrustedInput, type AudioAnalysis } from '../media/ffmpeg.js';
import { probeInput } from './input-probe.js';
import { DEFAULT_OUTPUT_LIMITS, outputTooLong, type OutputEstimate, type OutputLimits } from './output-limits.js';
import { minEncodedBytes } from './extract.js';
import { encodeNormalised, loudnessTargetOf, pcmIntermediateArgs, pcmIntermediateInput } from './loudness-target.js';

const output = extractTargetSchema.properties;

export const STEM_METHODS = ['model', 'fast'] as const;
export type StemMethod = (typeof STEM_METHODS)[number];

export const stemsParamsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    method: {
      type: 'string',
      enum: [...STEM_METHODS],
      default: 'model',
      description: 'model: the learned separator (better on every stem); fast: median-filter DSP, several times cheaper, for previews.',
    },
  },
};

export const stemsTargetSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['stem', 'format'],
  properties: {
    stem: {
      type: 'string',
      enum: [...STEMS],
      description: 'Which stem: vocals, instrumental (everything but vocals), drums, bass or other (the rest).',
    },
    ...output,
    name: { ...output.name, description: 'Output name (defaults to the stem).' },
    // Separation works on a stereo image; more channels would only be copies.
    channels: { ...output.channels, maximum: 2, description: 'Output channel count (defaults to 1 for mono input, else 2).' },
  },
};

// Exact copies of the one channel, and back: ffmpeg's default mono↔stereo matrices scale by √½.
const MONO_TO_STEREO = 'pan=stereo|c0=c0|c1=c0';
const STEREO_TO_MONO = 'pan=mono|c0=0.5*c0+0.5*c1';

/** A stem lasts as long as its input, at 44.1 kHz unless the target says otherwise, mono at least. */
function estimateOutput(spec: TargetSpec, _params: Record<string, unknown>, input: { duration: number | null }): OutputEstimate {
  return { seconds: input.duration, minBytes: minEncodedBytes(spec, input.duration, { sampleRate: PCM_RATE, channels: 1 }) };
}

/** The model's stems that make up `stem`: instrumental is everything but the vocals. */
export function stemIndices(modelStems: readonly string[], stem: StemName): number[] {
  for (const s of ['drums', 'bass', 'other', 'vocals']) {
    if (!modelStems.includes(s)) throw new Error(`the stems model has no "${s}" stem (it has ${modelStems.join(', ')})`);
  }
  if (stem === 'instrumental') return modelStems.flatMap((s, i) => (s === 'vocals' ? [] : [i]));
  return [modelStems.indexOf(stem)];
}

async function run(ctx: EngineRunContext): Promise<EngineResult> {
  const limits = ctx.limits ?? DEFAULT_OUTPUT_LIMITS;
  const inputPath = ctx.input.path;
  if (!inputPath) throw new HookwaveError('ENGINE_FAILED', 'stems needs an input file');
  const stem = ctx.target.stem as StemName;

  const info = await probeInput({ ...ctx.input, path: inputPath }, ctx.signal);
  const audio = info.audio!;
  const duration = audio.duration ?? info.duration;
  if (duration !== null && duration > limits.outputSeconds) throw outputTooLong(duration, limits);
  const mono = audio.channels === 1;
  const wantsMono = ctx.target.channels === undefined ? mono : ctx.target.channels === 1;
  const source = { channels: mono ? 1 : 2, sampleRate: PCM_RATE };
  // The pipe is always stereo, so the layout must be set even for wav.
  const encodeOptions = { setLayout: true, filters: mono && wantsMono ? [STEREO_TO_MONO] : [] };
  const plan = encoderArgs(ctx.target, source, encodeOptions);
  const loudnessTarget = loudnessTargetOf(ctx.target);

  const finalPath = join(ctx.outDir, `${ctx.targetName}.${plan.ext}`);
  // Encode under a hidden temp name: a killed or failed run must never leave a partial file under the final name.
  const tag = randomBytes(4).toString('hex');
  const tempPath = join(ctx.outDir, `.${ctx.targetName}.${tag}.part`);
  // Normalising needs the whole stem twice: it is separated once, into a raw float file.
  const rawPath = join(ctx.outDir, `.${ctx.targetName}.${tag}.raw`);
  const decoderArgs = [...untrustedInput(inputPath), '-vn', '-map', '0:a:0', ...(mono ? ['-af', MONO_TO_STEREO] : [])];
  const expectedFrames = duration ? duration * PCM_RATE : 0;
  const separateShare = loudnessTarget ? 0.7 : 0.99;

  // A stem in a raw float file (the model's, written once for the whole task, or the DSP's when it is to
  // be normalised, which reads it twice), encoded to the target: normalised when it asks, else as it is.
  const encodeRaw = async (raw: string, share: number): Promise<AudioAnalysis | undefined> => {
    const input = pcmIntermediateInput(raw);
    const progress = (f: number) => ctx.progress(share + (1 - share) * f);
    if (loudnessTarget) {
      const { analysis } = await encodeNormalised({
        target: loudnessTarget, input, plan: (loudnorm) => encoderArgs(ctx.target, source, { ...encodeOptions, loudnorm }),
        tempPath, limits, signal: ctx.signal, seconds: duration, progress,
      });
      return analysis;
    }
    return encodeToFile({
      input, plan, tempPath, limits, signal: ctx.signal,
      onProgress: duration ? (sec) => progress(Math.min(1, sec / duration)) : undefined,
    });
  };
  // Runs the encode into the temp file, moves it to its final name and describes it; the temp files never
  // outlive the run.
  const finish = async (encode: () => Promise<AudioAnalysis | undefined>, info: Record<string, unknown>): Promise<EngineResult> => {
    let analysis: AudioAnalysis | undefined;
    try {
      analysis = await encode();
      await rename(tempPath, finalPath);
    } finally {
      await Promise.all([rm(tempPath, { force: true }), rm(rawPath, { force: true })]);
    }
    ctx.progress(1);
    return { outputs: [await describeOutput(finalPath, ctx.targetName, plan.format, { signal: ctx.signal, analysis })], duration, info };
  };

  const method: StemMethod = ctx.params.method === 'fast' ? 'fast' : 'model';
  if (method === 'model') {
    // Loaded once per thread; a broken model file fails here with the message that says how to restore it.
    const session = await stemsSession();
    const { spec } = session;
    if (spec.sampleRate !== PCM_RATE) throw new Error(`the stems model expects ${spec.sampleRate} Hz; the pipeline runs at ${PCM_RATE} Hz`);
    const share = loudnessTarget ? 0.6 : 0.85;
    const { files, separatedHere } = await separateOnce({
      dir: ctx.input.sharedDir ?? join(ctx.outDir, '.separation'),
      key: spec.name,
      needed: [stem],
      planned: plannedStems(ctx.taskTargets, stem),
      signal: ctx.signal,
      progress: (f) => ctx.progress(share * f),
      separate: (outputs, progress) =>
        separateToFiles({ decoderArgs, outputs, session, signal: ctx.signal, limits, progress: (frames) => expectedFrames > 0 && progress(Math.min(1, frames / expectedFrames)) }),
    });
    // Whether this target ran the model or reused its task's separation: what its CPU time paid for.
    return finish(() => encodeRaw(files[stem]!, share), { method, model: spec.name, separated: separatedHere ? 'here' : 'shared' });
  }

  const separate = async (io: PcmIo) => {
    const batcher = new PcmBatcher();
    const onOutput = (_output: number, data: Float32Array, frames: number) => batcher.push(data, 0, frames);
    const drain = async (flush = false) => {
      for (const buf of batcher.take(flush)) await io.write(buf, () => batcher.recycle(buf));
    };
    const separator = new StemSeparator({ stems: [stem], stereoCues: !mono, sampleRate: PCM_RATE, onOutput });
    let frames = 0;
    for await (const chunk of pcmFrames(io.input!)) {
      separator.push(chunk);
      frames += chunk.length >> 1;
      await drain();
      if (expectedFrames > 0) ctx.progress(Math.min(0.99, (separateShare * frames) / expectedFrames));
    }
    separator.finish();
    await drain(true);
  };
  return finish(async () => {
    if (loudnessTarget) {
      await runPcmPipeline({ decoderArgs, encoderArgs: pcmIntermediateArgs(rawPath, limits), signal: ctx.signal }, separate);
      return encodeRaw(rawPath, separateShare);
    }
    // Without normalising, the stem streams straight into the encoder.
    return encodePcmToFile({ decoderArgs, plan, tempPath, limits, signal: ctx.signal }, separate);
  }, { method, stereo_cues: !mono });
}

/** The stems the task's targets ask for (this target's among them), in the order STEMS lists them. */
export function plannedStems(taskTargets: TargetSpec[] | undefined, stem: StemName): StemName[] {
  const wanted = new Set<string>([stem, ...(taskTargets ?? []).map((t) => String(t.stem))]);
  return STEMS.filter((s) => wanted.has(s));
}

/**
 * Runs the model once over the input and writes each of `outputs` (stem name → file) as raw interleaved
 * stereo float32 at PCM_RATE, as long as the input and no longer than the output cap allows.
 */
async function separateToFiles(o: {
  decoderArgs: string[];
  outputs: Record<string, string>;
  session: StemsSession;
  signal: AbortSignal;
  limits: OutputLimits;
  progress: (frames: number) => void;
}): Promise<void> {
  const { spec } = o.session;
  const names = Object.keys(o.outputs) as StemName[];
  const maxFrames = (o.limits.outputSeconds + 1) * PCM_RATE;
  await runPcmPipeline({ decoderArgs: o.decoderArgs, encoderArgs: null, signal: o.signal }, async (io) => {
    const writers = names.map((name) => new RawPcmWriter(o.outputs[name]!));
    try {
      const separator = new ModelSeparator({
        spec,
        outputs: names.map((name) => stemIndices(spec.stems, name)),
        masks: o.session.masks,
        onOutput: (output, data, frames) => writers[output]!.push(data, frames),
      });
      for await (const chunk of pcmFrames(io.input!)) {
        await separator.push(chunk);
        if (o.signal.aborted) throw new HookwaveError('CANCELED', 'canceled');
        if (separator.samples > maxFrames) throw outputTooLong(separator.samples / PCM_RATE, o.limits);
        await Promise.all(writers.map((w) => w.drain()));
        o.progress(separator.samples);
      }
      // A cancel ends the decoder's stream too: no last chunk for a run nobody will read.
      if (o.signal.aborted) throw new HookwaveError('CANCELED', 'canceled');
      await separator.finish();
      await Promise.all(writers.map((w) => w.close()));
    } finally {
      for (const w of writers) w.destroy();
    }
  });
}

export const stemsEngine: Engine = {
  kind: 'stems',
  description:
    'Split a mix into vocals, instrumental, drums, bass or other stems (a learned separator, or median-filter DSP with method "fast"), in mp3, wav, flac, ogg, opus or m4a.',
  needsInput: true,
  targetSchema: stemsTargetSchema,
  paramsSchema: stemsParamsSchema,
  targetName: (target: TargetSpec) => (typeof target.name === 'string' ? target.name : String(target.stem)),
  plansAcrossTargets: true,
  checkTarget: checkOutputTarget,
  estimateOutput,
  run,
};
