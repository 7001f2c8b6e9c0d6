/**
 * A target's `loudness` option, for every built-in kind: the output is brought to an integrated
 * loudness under a true-peak ceiling by a two-pass loudnorm (pass 1 measures the audio exactly as
 * pass 2 will get it; pass 2 applies one gain when that keeps the peaks under the ceiling, else
 * loudnorm's dynamic mode), and the encoded file is then measured with ebur128, the same way a
 * user would check it. Encoders move peaks (a lossy codec adds a few tenths of a dB) and dynamic
 * mode can land off target, so a miss is corrected from what the file measured and encoded again,
 * a few times at most; a file that still misses is never delivered as if it had reached it.
 */
import { HookwaveError } from '../errors.js';
import { analyseAudio, runFfmpeg, type AudioAnalysis } from '../media/ffmpeg.js';
import {
  DEFAULT_TRUE_PEAK,
  LOUDNESS_LIMITS,
  loudnormApplyFilter,
  loudnormMeasureFilter,
  measurable,
  parseLoudnormJson,
  type Loudness,
  type LoudnessTarget,
  type LoudnormAim,
} from '../media/loudness.js';
import { PCM_CHANNELS, PCM_RATE } from './dsp/pcm-pipe.js';
import type { TargetSpec } from './engine.js';
import type { EncoderPlan } from './extract.js';
import { byteCapArgs, withinByteCap, type OutputLimits } from './output-limits.js';

export const loudnessSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['integrated'],
  description:
    'Normalise the output to this loudness (EBU R128): {"integrated": -14, "true_peak": -1}. One gain when it keeps the true peak under the ceiling, else loudnorm\'s dynamic mode; the output\'s `loudness.normalization` says which.',
  properties: {
    integrated: {
      type: 'number',
      minimum: LOUDNESS_LIMITS.integrated[0],
      maximum: LOUDNESS_LIMITS.integrated[1],
      description: 'Integrated loudness in LUFS (-70..-5), e.g. -14 for streaming, -23 for broadcast (EBU R128); the output lands within ±0.5 LU.',
    },
    true_peak: {
      type: 'number',
      minimum: LOUDNESS_LIMITS.true_peak[0],
      maximum: LOUDNESS_LIMITS.true_peak[1],
      description: `True-peak ceiling in dBTP (-9..0, default ${DEFAULT_TRUE_PEAK}); the output never measures above it.`,
    },
  },
};

/** The target's `loudness` option, defaults filled in; null when it has none. */
export function loudnessTargetOf(spec: TargetSpec): LoudnessTarget | null {
  const l = spec.loudness as { integrated?: number; true_peak?: number } | undefined;
  if (!l || typeof l.integrated !== 'number') return null;
  return { integrated: l.integrated, true_peak: typeof l.true_peak === 'number' ? l.true_peak : DEFAULT_TRUE_PEAK };
}

/** How far from the target's integrated loudness an output may land, LU. */
export const LOUDNESS_TOLERANCE = 0.5;
/** Encodes of pass 2 at most: the first, and corrections from what the file measured. */
const MAX_ENCODES = 4;
/** How much further under the ceiling a correction aims than the overshoot it saw, dB. */
const PEAK_MARGIN = 0.1;

/** How far a result is from its target, LU and dB together: what a correction has to shrink. */
function miss(l: Loudness, target: LoudnessTarget): number {
  return Math.abs(l.integrated_lufs - target.integrated) + Math.max(0, (l.true_peak_dbtp ?? -Infinity) - target.true_peak);
}
/** What a correction must gain on the closest result so far to be worth another pass. */
const MIN_PROGRESS = 0.1;

export function reached(l: Loudness, target: LoudnessTarget): boolean {
  // ebur128 prints one decimal; these are the numbers the user's own measurement shows.
  const eps = 1e-9;
  return Math.abs(l.integrated_lufs - target.integrated) <= LOUDNESS_TOLERANCE + eps && (l.true_peak_dbtp === null || l.true_peak_dbtp <= target.true_peak + eps);
}

export interface NormaliseJob {
  target: LoudnessTarget;
  /** ffmpeg options that read the audio to normalise (each pass reads it again): an input and the output options that pick its stream. */
  input: string[];
  /** The encoder plan with the given loudnorm filter (engines' `encoderArgs` with their own options). */
  plan: (loudnorm?: string) => EncoderPlan;
  /** Output options after the encoder's (e.g. bit-exact flags). */
  outputArgs?: string[];
  tempPath: string;
  limits: OutputLimits;
  signal: AbortSignal;
  /** Seconds of audio, for progress; null when unknown. */
  seconds: number | null;
  /** 0..1 over both passes. */
  progress: (fraction: number) => void;
}

/**
 * Writes the normalised output to `tempPath` (the caller renames it, or removes it on a throw) and
 * answers the analysis of the file written (its loudness as ebur128 measured it, and its peaks).
 */
export async function encodeNormalised(job: NormaliseJob): Promise<{ analysis: AudioAnalysis }> {
  const { target, signal, limits, tempPath } = job;
  const along = (from: number, to: number) =>
    job.seconds ? (s: number) => job.progress(Math.min(to, from + ((to - from) * s) / job.seconds!)) : undefined;

  const first = job.plan();
  const measured = parseLoudnormJson(
    await runFfmpeg([...job.input, '-af', [...first.measureFilters, loudnormMeasureFilter(target)].join(','), '-f', 'null', '-'], {
      signal,
      report: true,
      onProgress: along(0, 0.5),
    }),
  );
  const encode = (plan: EncoderPlan) =>
    withinByteCap(tempPath, limits, () =>
      runFfmpeg([...job.input, ...plan.args, ...(job.outputArgs ?? []), ...byteCapArgs(limits), '-y', tempPath], { signal, report: true, onProgress: along(0.5, 0.99) }),
    );

  if (!measurable(measured)) {
    // Silence has no loudness to move: encoded as it is, and said so.
    await encode(first);
    const analysis = await analyseAudio(tempPath, signal);
    return { analysis: { ...analysis, loudness: { ...analysis.loudness, normalization: 'none' } } };
  }

  const aim: LoudnormAim = { ...target };
  let closest: Loudness | null = null;
  let passes = 0;
  while (passes < MAX_ENCODES) {
    passes++;
    const applied = parseLoudnormJson(await encode(job.plan(loudnormApplyFilter(aim, measured))));
    const analysis = await analyseAudio(tempPath, signal);
    const got: Loudness = { ...analysis.loudness, normalization: applied.normalization_type };
    if (reached(got, target)) return { analysis: { ...analysis, loudness: got } };
    // A correction that did not bring it closer will not: loudnorm's limiter takes back what a
    // louder aim adds (a loud target for audio with high peaks), so stop rather than burn passes.
    if (closest && miss(got, target) > miss(closest, target) - MIN_PROGRESS) break;
    if (!closest || miss(got, target) < miss(closest, target)) closest = got;
    // Correct by what the file measured: peaks over the ceiling lower the aim's ceiling by the
    // overshoot, a level off target moves the aim's loudness by the miss.
    if (got.true_peak_dbtp !== null && got.true_peak_dbtp > target.true_peak) aim.true_peak -= got.true_peak_dbtp - target.true_peak + PEAK_MARGIN;
    aim.integrated += target.integrated - got.integrated_lufs;
    aim.true_peak = Math.max(LOUDNESS_LIMITS.true_peak[0], aim.true_peak);
    aim.integrated = Math.min(LOUDNESS_LIMITS.integrated[1], Math.max(LOUDNESS_LIMITS.integrated[0], aim.integrated));
  }
  throw new HookwaveError(
    'ENGINE_FAILED',
    `the output could not be brought to ${target.integrated} LUFS (±${LOUDNESS_TOLERANCE} LU) with true peaks at most ${target.true_peak} dBTP: ` +
      `the closest of ${passes} passes measured ${closest!.integrated_lufs} LUFS, ${closest!.true_peak_dbtp ?? '-inf'} dBTP; ask for a lower loudness or a higher true-peak ceiling`,
    { field: 'loudness' },
  );
}

/**
 * Encoder options for a PCM pipe (runPcmPipeline) that keeps the audio as it is, float and
 * unclipped, in a raw file for the two passes; capped at the output's length limit (one second
 * more, so an input without a stated length still ends up refused, not cut).
 */
export function pcmIntermediateArgs(path: string, limits: OutputLimits): string[] {
  const bytes = (limits.outputSeconds + 1) * PCM_RATE * PCM_CHANNELS * 4;
  return ['-c:a', 'pcm_f32le', '-f', 'f32le', '-fs', String(bytes), '-y', path];
}

/** ffmpeg input options that read a file written with pcmIntermediateArgs. */
export function pcmIntermediateInput(path: string): string[] {
  return ['-f', 'f32le', '-ar', String(PCM_RATE), '-ac', String(PCM_CHANNELS), '-i', `file:${path}`];
}
