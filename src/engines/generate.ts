/**
 * kind "generate": procedural music from tags, no input and no model weights. A seeded composer writes chords,
 * bass, drums and a melody in the requested key, tempo and metre; our own synthesis renders them block by block
 * straight into an ffmpeg encoder, so memory stays flat however long the piece.
 *
 * Same seed and params → byte-identical files: every random choice comes from the seed, and the encoder runs
 * in bitexact mode without metadata. Without a seed one is derived from the task id, so every target of a task
 * (say an mp3 and a wav) is the same piece; the seed used is reported in the target's `info`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PCM_RATE, runPcmPipeline, type PcmIo } from './dsp/pcm-pipe.js';
import { Prng } from './dsp/prng.js';
import { SongRenderer } from './dsp/renderer.js';
import { styleFromPrompt } from './dsp/style.js';
import { makeKey, parseKeyscale, type Key } from './dsp/theory.js';
import type { Engine, EngineResult, EngineRunContext, TargetSpec } from './engine.js';
import { checkTarget as checkOutputTarget, encodePcmToFile, encoderArgs, extractTargetSchema } from './extract.js';
import { describeOutput, type AudioAnalysis } from '../media/ffmpeg.js';
import { DEFAULT_OUTPUT_LIMITS, outputTooLong } from './output-limits.js';
import { encodeNormalised, loudnessTargetOf, pcmIntermediateArgs, pcmIntermediateInput } from './loudness-target.js';
import { minEncodedBytes } from './extract.js';

export const MAX_SEED = 4294967295;
const DEFAULT_DURATION = 30;

const output = extractTargetSchema.properties;

export const generateTargetSchema = {
  ...extractTargetSchema,
  properties: {
    ...output,
    // Rendered in stereo; more channels would only be copies.
    channels: { ...output.channels, maximum: 2, description: 'Output channel count (default 2).' },
  },
};

export const generateParamsSchema = {
  type: 'object',
  additionalProperties: false,
  // Forms (the dashboard's) start from it.
  examples: [{ prompt: 'lofi, electric piano, vinyl crackle, chill', duration: DEFAULT_DURATION }],
  properties: {
    prompt: {
      type: 'string',
      maxLength: 1000,
      description:
        'Comma-separated tags: a genre (lofi, rock, edm/house, ambient, jazz, hip hop, pop), instruments (piano, electric piano, guitar, strings/pad, synth, organ, bells) and feel (vinyl crackle, chill, energetic, dark, dreamy, no drums, waltz).',
    },
    duration: { type: 'number', minimum: 1, maximum: 600, description: `Length in seconds (default ${DEFAULT_DURATION}).` },
    bpm: { type: 'number', minimum: 40, maximum: 240, description: 'Tempo in quarter notes per minute (default: from the genre).' },
    keyscale: {
      type: 'string',
      pattern: '^\\s*[A-Ga-g][#b]?\\s+([Mm][Aa][Jj][Oo][Rr]|[Mm][Ii][Nn][Oo][Rr])\\s*$',
      description: 'Key, e.g. "A minor", "C# major", "Eb minor" (default: chosen from the seed and the mood).',
    },
    timesignature: { type: 'integer', minimum: 2, maximum: 12, description: 'Beats (quarter notes) per bar (default 4, or 3 for "waltz").' },
    seed: { type: 'integer', minimum: 0, maximum: MAX_SEED, description: 'Same seed and params give the same file (default: random, reported in info).' },
  },
};

export interface GenerateSettings {
  prompt: string;
  duration: number;
  bpm: number;
  key: Key;
  timesignature: number;
  seed: number;
}

/** A seed no client chose: random per task, but shared by all of the task's targets. */
function seedFor(ctx: Pick<EngineRunContext, 'taskId'>): number {
  const digest = ctx.taskId ? createHash('sha256').update(`hookwave-generate:${ctx.taskId}`).digest() : randomBytes(4);
  return digest.readUInt32BE(0);
}

/** Fills in every default from the prompt and the seed, so the result can be reported and replayed. */
export function resolveSettings(params: Record<string, unknown>, fallbackSeed: number): GenerateSettings & { genre: string } {
  const prompt = typeof params.prompt === 'string' ? params.prompt : '';
  const seed = typeof params.seed === 'number' ? params.seed >>> 0 : fallbackSeed >>> 0;
  const { style, mood, waltz } = styleFromPrompt(prompt);
  // Defaults draw from their own stream, so naming (say) the bpm does not change the rest of the song.
  const rng = new Prng(seed).fork('defaults');
  const tonic = rng.int(0, 11);
  const minor = mood ? mood === 'minor' : rng.chance(style.minorBias);
  const nudge = rng.range(0.94, 1.06);
  const parsedKey = typeof params.keyscale === 'string' ? parseKeyscale(params.keyscale) : null;
  return {
    prompt,
    duration: typeof params.duration === 'number' ? params.duration : DEFAULT_DURATION,
    bpm: typeof params.bpm === 'number' ? params.bpm : Math.max(40, Math.min(240, Math.round(style.bpm * nudge))),
    key: parsedKey ?? makeKey(tonic, minor ? 'minor' : 'major'),
    timesignature: typeof params.timesignature === 'number' ? params.timesignature : waltz ? 3 : 4,
    seed,
    genre: style.genre,
  };
}

async function run(ctx: EngineRunContext): Promise<EngineResult> {
  const limits = ctx.limits ?? DEFAULT_OUTPUT_LIMITS;
  const settings = resolveSettings(ctx.params, seedFor(ctx));
  if (settings.duration > limits.outputSeconds) throw outputTooLong(settings.duration, limits);
  const { style } = styleFromPrompt(settings.prompt);
  const renderer = new SongRenderer(
    { style, key: settings.key, bpm: settings.bpm, beatsPerBar: settings.timesignature, seconds: settings.duration },
    new Prng(settings.seed),
  );
  const source = { channels: 2, sampleRate: PCM_RATE };
  const plan = encoderArgs(ctx.target, source, { setLayout: true });
  const loudnessTarget = loudnessTargetOf(ctx.target);

  const finalPath = join(ctx.outDir, `${ctx.targetName}.${plan.ext}`);
  // Encode under a hidden temp name: a killed or failed run must never leave a partial file under the final name.
  const tag = randomBytes(4).toString('hex');
  const tempPath = join(ctx.outDir, `.${ctx.targetName}.${tag}.part`);
  // Normalising needs the whole piece twice: it is rendered once, into a raw float file.
  const rawPath = join(ctx.outDir, `.${ctx.targetName}.${tag}.raw`);
  // Bit-exact mode drops the encoder version tag and uses fixed stream serials; no metadata means no dates.
  const deterministic = ['-fflags', '+bitexact', '-flags:a', '+bitexact', '-map_metadata', '-1'];
  const renderShare = loudnessTarget ? 0.4 : 0.99;
  const render = async (io: PcmIo) => {
    for (let block = renderer.nextBlock(); block; block = renderer.nextBlock()) {
      await io.write(Buffer.from(block.buffer, block.byteOffset, block.byteLength));
      ctx.progress(Math.min(0.99, (renderShare * renderer.renderedFrames) / renderer.totalFrames));
    }
  };
  let analysis: AudioAnalysis | undefined;
  try {
    if (loudnessTarget) {
      await runPcmPipeline({ decoderArgs: null, encoderArgs: pcmIntermediateArgs(rawPath, limits), signal: ctx.signal }, render);
      ({ analysis } = await encodeNormalised({
        target: loudnessTarget, input: pcmIntermediateInput(rawPath), plan: (loudnorm) => encoderArgs(ctx.target, source, { setLayout: true, loudnorm }),
        outputArgs: deterministic, tempPath, limits, signal: ctx.signal, seconds: settings.duration,
        progress: (f) => ctx.progress(renderShare + (1 - renderShare) * f),
      }));
    } else {
      analysis = await encodePcmToFile({ decoderArgs: null, plan, outputArgs: deterministic, tempPath, limits, signal: ctx.signal }, render);
    }
    await rename(tempPath, finalPath);
  } finally {
    await Promise.all([rm(tempPath, { force: true }), rm(rawPath, { force: true })]);
  }
  ctx.progress(1);
  return {
    outputs: [await describeOutput(finalPath, ctx.targetName, plan.format, { signal: ctx.signal, analysis })],
    duration: settings.duration,
    info: {
      seed: settings.seed,
      bpm: settings.bpm,
      keyscale: settings.key.name,
      timesignature: settings.timesignature,
      duration: settings.duration,
      style: settings.genre,
    },
  };
}

export const generateEngine: Engine = {
  kind: 'generate',
  description:
    'Generate instrumental music from tags (genre, instruments, feel) with a given length, tempo, key and time signature; procedural composition and synthesis, reproducible by seed.',
  needsInput: false,
  targetSchema: generateTargetSchema,
  paramsSchema: generateParamsSchema,
  targetName: (target: TargetSpec) => (typeof target.name === 'string' ? target.name : String(target.format)),
  checkTarget: checkOutputTarget,
  // The length is a parameter: known at submit.
  estimateOutput: (spec, params) => {
    const seconds = typeof params.duration === 'number' ? params.duration : DEFAULT_DURATION;
    return { seconds, minBytes: minEncodedBytes(spec, seconds, { sampleRate: PCM_RATE, channels: 2 }) };
  },
  run,
};
