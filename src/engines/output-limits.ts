/**
 * What one output may cost: bytes on disk and seconds of audio. Without a cap, an hour of silent
 * opus (1.4 MB) extracted to 96 kHz 8-channel wav wrote 5.3 GB in 40 s, and a task has up to 32
 * targets. A request whose outputs are known to exceed the caps is refused at submit; otherwise
 * the encoder is stopped at the byte cap (ffmpeg `-fs`) and the target fails with
 * OUTPUT_TOO_LARGE, its partial file removed.
 */
import { stat } from 'node:fs/promises';
import { DEFAULT_MAX_OUTPUT_BYTES, DEFAULT_MAX_OUTPUT_SECONDS } from '../config.js';
import { HookwaveError } from '../errors.js';

export interface OutputLimits {
  /** HOOKWAVE_MAX_OUTPUT_BYTES: bytes of one output file. */
  outputBytes: number;
  /** HOOKWAVE_MAX_OUTPUT_SECONDS: seconds of audio in one output. */
  outputSeconds: number;
}

/** What is known before the work runs; null where it is not (an input URL not yet fetched). */
export interface OutputEstimate {
  seconds: number | null;
  /** A lower bound of the file's size: refusing on it never refuses a request that would fit. */
  minBytes: number | null;
}

const MIB = 1024 * 1024;

/** The defaults of HOOKWAVE_MAX_OUTPUT_BYTES and HOOKWAVE_MAX_OUTPUT_SECONDS. */
export const DEFAULT_OUTPUT_LIMITS: OutputLimits = { outputBytes: DEFAULT_MAX_OUTPUT_BYTES, outputSeconds: DEFAULT_MAX_OUTPUT_SECONDS };
const describeBytes = (n: number) => (n >= 1024 * MIB ? `${(n / 1024 / MIB).toFixed(1)} GiB` : `${Math.round(n / MIB)} MiB`);

export function outputTooLong(seconds: number, limits: OutputLimits, field?: string): HookwaveError {
  return new HookwaveError(
    'OUTPUT_TOO_LARGE',
    `the output would be ${Math.round(seconds)} s long; outputs are limited to ${limits.outputSeconds} s (HOOKWAVE_MAX_OUTPUT_SECONDS): send a shorter input`,
    { ...(field ? { field } : {}), limit_seconds: limits.outputSeconds },
  );
}

export function outputTooBig(limits: OutputLimits, estimate?: number, field?: string): HookwaveError {
  const what = estimate === undefined ? 'the output reached' : `the output would be at least ${describeBytes(estimate)}, over`;
  return new HookwaveError(
    'OUTPUT_TOO_LARGE',
    `${what} the limit of ${describeBytes(limits.outputBytes)} per output (HOOKWAVE_MAX_OUTPUT_BYTES): ask for a lossy format, fewer channels or a lower sample rate, or send a shorter input`,
    { ...(field ? { field } : {}), limit_bytes: limits.outputBytes },
  );
}

/** Throws OUTPUT_TOO_LARGE naming `field` when what is known already exceeds the caps. */
export function checkEstimate(estimate: OutputEstimate, limits: OutputLimits, field: string): void {
  if (estimate.seconds !== null && estimate.seconds > limits.outputSeconds) throw outputTooLong(estimate.seconds, limits, field);
  if (estimate.minBytes !== null && estimate.minBytes > limits.outputBytes) throw outputTooBig(limits, estimate.minBytes, field);
}

/** ffmpeg output options that stop writing at the cap (ffmpeg then ends as if the input had). */
export function byteCapArgs(limits: OutputLimits): string[] {
  return ['-fs', String(limits.outputBytes)];
}

/**
 * Runs an encode into `file` under the byte cap: a file that reached the cap is OUTPUT_TOO_LARGE
 * (whatever else the interrupted pipeline said), never a truncated success. The caller removes
 * the file when this throws.
 */
export async function withinByteCap<T>(file: string, limits: OutputLimits, encode: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await encode();
  } catch (err) {
    if ((await sizeOf(file)) >= limits.outputBytes) throw outputTooBig(limits);
    throw err;
  }
  if ((await sizeOf(file)) >= limits.outputBytes) throw outputTooBig(limits);
  return result;
}

async function sizeOf(file: string): Promise<number> {
  return stat(file).then((s) => s.size, () => 0);
}
