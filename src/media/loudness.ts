/**
 * Loudness as EBU R128 / ITU-R BS.1770 define it, in ffmpeg's words: what its `ebur128` filter
 * reports about a file, what its `loudnorm` filter measured and did, and the `loudnorm` filter
 * strings of a two-pass normalisation. Pure text in, text out; the processes run elsewhere.
 */
import { HookwaveError } from '../errors.js';

/** How an output's level was brought to its target. */
export type Normalization =
  /** One gain for the whole file: its dynamics are untouched. */
  | 'linear'
  /** loudnorm's dynamic mode (a gain that follows the audio, with a true-peak limiter): the target's peak ceiling left no room for one gain. */
  | 'dynamic'
  /** Nothing to normalise: the audio is silent or below the −70 LUFS gate. */
  | 'none';

export interface Loudness {
  /** Integrated loudness, LUFS (ebur128 reports −70 for silence). */
  integrated_lufs: number;
  /** Highest true peak of any channel, dBTP; null for digital silence (−∞). */
  true_peak_dbtp: number | null;
  /** Loudness range, LU. */
  range_lu: number;
  /** Present when the target asked for a loudness: how it was reached. */
  normalization?: Normalization;
}

/** A target's `loudness` option: where the output should land. */
export interface LoudnessTarget {
  /** LUFS, −70…−5. */
  integrated: number;
  /** dBTP ceiling, −9…0. */
  true_peak: number;
}

export const LOUDNESS_LIMITS = { integrated: [-70, -5], true_peak: [-9, 0] } as const;
/** What a target's true peak ceiling is when it names only the integrated loudness (EBU R128 and the streaming services use −1). */
export const DEFAULT_TRUE_PEAK = -1;

/** What loudnorm's first pass measured (its `input_*` numbers) and, in the second, what it did. */
export interface LoudnormReport {
  input_i: number;
  input_tp: number;
  input_lra: number;
  input_thresh: number;
  target_offset: number;
  normalization_type: 'linear' | 'dynamic';
}

function malformed(what: string): HookwaveError {
  return new HookwaveError('ENGINE_FAILED', `could not read ffmpeg's ${what} report`);
}

/** dB figures as ebur128 prints them: one decimal, "-inf" for silence. */
function decibels(text: string | undefined): number | null {
  if (text === undefined || /inf|nan/i.test(text)) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n + 0 : null; // + 0 turns -0 into 0
}

/** The summary `ebur128=peak=true` prints when it closes (the last one, should a log hold two). */
export function parseEbur128Summary(log: string): Loudness {
  const at = log.lastIndexOf('Summary:');
  if (at < 0) throw malformed('ebur128');
  const summary = log.slice(at);
  const integrated = decibels(/\bI:\s+(\S+) LUFS/.exec(summary)?.[1]);
  const range = decibels(/\bLRA:\s+(\S+) LU\b/.exec(summary)?.[1]);
  const peak = /\bPeak:\s+(\S+) dBFS/.exec(summary)?.[1];
  if (peak === undefined) throw malformed('ebur128');
  // Below the absolute gate ebur128 has no loudness to report; it prints −70, the gate itself.
  return { integrated_lufs: integrated ?? -70, true_peak_dbtp: decibels(peak), range_lu: range ?? 0 };
}

/** The JSON block `loudnorm=print_format=json` prints when it closes. */
export function parseLoudnormJson(log: string): LoudnormReport {
  const start = log.lastIndexOf('\n{');
  const end = log.indexOf('}', start);
  if (start < 0 || end < 0) throw malformed('loudnorm');
  let raw: Record<string, string>;
  try {
    raw = JSON.parse(log.slice(start, end + 1)) as Record<string, string>;
  } catch {
    throw malformed('loudnorm');
  }
  // loudnorm prints "-inf" for silence; the callers treat anything not finite as "nothing to measure".
  const n = (key: string) => (raw[key] === undefined ? NaN : Number(raw[key]));
  const type = raw.normalization_type;
  return {
    input_i: n('input_i'),
    input_tp: n('input_tp'),
    input_lra: n('input_lra'),
    input_thresh: n('input_thresh'),
    target_offset: n('target_offset'),
    normalization_type: type === 'linear' ? 'linear' : 'dynamic',
  };
}

/** Whether a first pass found anything to normalise: silence, or audio under the gate, has no integrated loudness. */
export function measurable(m: LoudnormReport): boolean {
  return Number.isFinite(m.input_i) && Number.isFinite(m.input_tp) && Number.isFinite(m.input_thresh) && m.input_i > -70;
}

/** Where loudnorm is asked to land: the target, possibly moved by a correction (see engines/loudness-target.ts). */
export interface LoudnormAim {
  integrated: number;
  true_peak: number;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const fixed = (v: number) => v.toFixed(2);

/**
 * loudnorm's loudness-range target. Linear mode is only chosen when the measured range fits under
 * it, and in dynamic mode it is how far the range gets compressed: the source's own range keeps
 * its dynamics (EBU's 7 LU is the floor, loudnorm's 50 the ceiling).
 */
function rangeTarget(measuredRange: number | null): number {
  return clamp(Math.ceil(((measuredRange ?? 0) + 0.1) * 10) / 10, 7, 50);
}

/** Pass 1: measure only (its output is discarded). */
export function loudnormMeasureFilter(aim: LoudnormAim): string {
  return `loudnorm=I=${fixed(aim.integrated)}:TP=${fixed(aim.true_peak)}:LRA=${rangeTarget(null)}:print_format=json`;
}

/**
 * Pass 2: apply, with the first pass's measurements, one gain when it keeps the true peak under
 * the ceiling (linear=true), else loudnorm's dynamic mode. loudnorm only takes linear mode for a
 * measured range above 0 (0 is its "not measured"), so a steady tone's 0 goes in as 0.01.
 */
export function loudnormApplyFilter(aim: LoudnormAim, m: LoudnormReport): string {
  const lra = Math.max(m.input_lra, 0.01);
  return [
    `loudnorm=I=${fixed(clamp(aim.integrated, -70, -5))}`,
    `TP=${fixed(clamp(aim.true_peak, -9, 0))}`,
    `LRA=${rangeTarget(m.input_lra)}`,
    `measured_I=${fixed(m.input_i)}`,
    `measured_TP=${fixed(clamp(m.input_tp, -99, 99))}`,
    `measured_LRA=${fixed(lra)}`,
    `measured_thresh=${fixed(m.input_thresh)}`,
    `offset=${fixed(Number.isFinite(m.target_offset) ? clamp(m.target_offset, -99, 99) : 0)}`,
    'linear=true',
    'print_format=json',
  ].join(':');
}
