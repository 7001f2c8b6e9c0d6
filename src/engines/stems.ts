/**
 * kind "stems": splits a mix into vocals / instrumental / drums / bass / other with our own DSP (median-filter
 * harmonic/percussive separation, a bass crossover and centre-panning cues; see dsp/masks.ts). No model weights.
 *
 * The track streams through: ffmpeg decodes to stereo float PCM on a pipe, the STFT runs frame by frame, and the
 * stem streams into a second ffmpeg that encodes the target format, so memory does not grow with track length.
 * Stems are complementary: vocals + instrumental and drums + bass + vocals + other add back up to the input.
 *
 * Mono input: both channels are the same, so panning carries no information. Vocals are then the harmonic part
 * of the vocal band (full from 260 Hz to 7 kHz, faded out below 160 Hz and above 9 kHz), which also takes in pads
 * and chords there; the target's info says `{ "stereo_cues": false }`. Output is mono unless `channels` asks
 * otherwise.
 * Stems come out at 44.1 kHz (the processing rate) unless `sample_rate` or the format says otherwise.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HookwaveError } from '../errors.js';
import { PcmBatcher, PCM_RATE, pcmFrames, runPcmPipeline } from './dsp/pcm-pipe.js';
import { STEMS, type StemName } from './dsp/masks.js';
import { StemSeparator } from './dsp/separator.js';
import type { Engine, EngineResult, EngineRunContext, TargetSpec } from './engine.js';
import { checkTarget as checkOutputTarget, encoderArgs, extractTargetSchema } from './extract.js';
import { describeOutput, probe, untrustedInput } from '../media/ffmpeg.js';
import { byteCapArgs, DEFAULT_OUTPUT_LIMITS, outputTooLong, withinByteCap, type OutputEstimate } from './output-limits.js';
import { minEncodedBytes } from './extract.js';

const output = extractTargetSchema.properties;

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

async function run(ctx: EngineRunContext): Promise<EngineResult> {
  const limits = ctx.limits ?? DEFAULT_OUTPUT_LIMITS;
  const inputPath = ctx.input.path;
  if (!inputPath) throw new HookwaveError('ENGINE_FAILED', 'stems needs an input file');
  const stem = ctx.target.stem as StemName;

  const info = await probe(inputPath, { signal: ctx.signal });
  const audio = info.audio!;
  const duration = audio.duration ?? info.duration;
  if (duration !== null && duration > limits.outputSeconds) throw outputTooLong(duration, limits);
  const mono = audio.channels === 1;
  const wantsMono = ctx.target.channels === undefined ? mono : ctx.target.channels === 1;
  const plan = encoderArgs(
    ctx.target,
    { channels: mono ? 1 : 2, sampleRate: PCM_RATE },
    // The pipe is always stereo, so the layout must be set even for wav.
    { setLayout: true, filters: mono && wantsMono ? [STEREO_TO_MONO] : [] },
  );

  const finalPath = join(ctx.outDir, `${ctx.targetName}.${plan.ext}`);
  // Encode under a hidden temp name: a killed or failed run must never leave a partial file under the final name.
  const tempPath = join(ctx.outDir, `.${ctx.targetName}.${randomBytes(4).toString('hex')}.part`);
  const decoderArgs = [...untrustedInput(inputPath), '-vn', '-map', '0:a:0', ...(mono ? ['-af', MONO_TO_STEREO] : [])];
  const expectedFrames = duration ? duration * PCM_RATE : 0;

  try {
    await withinByteCap(tempPath, limits, () => runPcmPipeline({ decoderArgs, encoderArgs: [...plan.args, ...byteCapArgs(limits), '-y', tempPath], signal: ctx.signal }, async (io) => {
      const batcher = new PcmBatcher();
      const separator = new StemSeparator({
        stems: [stem],
        stereoCues: !mono,
        sampleRate: PCM_RATE,
        onOutput: (_stem, data, frames) => batcher.push(data, 0, frames),
      });
      let frames = 0;
      for await (const chunk of pcmFrames(io.input!)) {
        separator.push(chunk);
        frames += chunk.length >> 1;
        for (const buf of batcher.take()) await io.write(buf, () => batcher.recycle(buf));
        if (expectedFrames > 0) ctx.progress(Math.min(0.99, frames / expectedFrames));
      }
      separator.finish();
      for (const buf of batcher.take(true)) await io.write(buf, () => batcher.recycle(buf));
    }));
    await rename(tempPath, finalPath);
  } finally {
    await rm(tempPath, { force: true });
  }
  ctx.progress(1);
  return {
    outputs: [await describeOutput(finalPath, ctx.targetName, plan.format)],
    duration,
    info: { stereo_cues: !mono },
  };
}

export const stemsEngine: Engine = {
  kind: 'stems',
  description:
    'Split a mix into vocals, instrumental, drums, bass or other stems (median-filter and stereo-cue DSP, no models), in mp3, wav, flac, ogg, opus or m4a.',
  needsInput: true,
  targetSchema: stemsTargetSchema,
  paramsSchema: { type: 'object', additionalProperties: false, properties: {} },
  targetName: (target: TargetSpec) => (typeof target.name === 'string' ? target.name : String(target.stem)),
  checkTarget: checkOutputTarget,
  estimateOutput,
  run,
};
