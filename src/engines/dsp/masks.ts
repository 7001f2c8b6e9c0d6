/**
 * Soft masks that split every STFT bin between the stems. They partition each bin by construction:
 *   drums  = P                      (percussive share, Fitzgerald's Wiener-like mask from the two medians)
 *   bass   = H · low(f)             (harmonic share below a 160–260 Hz crossover)
 *   vocals = H · voice(f) · centre  (harmonic, in the vocal band above the crossover, panned to the centre)
 *   other  = H · (1 − low(f) − voice(f) · centre)
 * with H + P = 1 and low + voice ≤ 1, so drums + bass + vocals + other = 1 and instrumental = 1 − vocals:
 * stems add back up to the input exactly, and what a mask gets wrong only moves sound between stems.
 */
import { unpackBin } from './stft.js';

export const STEMS = ['vocals', 'instrumental', 'drums', 'bass', 'other'] as const;
export type StemName = (typeof STEMS)[number];

export interface MaskTuning {
  /** Bass crossover: all bass below `bassFull` Hz, none above `bassNone` Hz, raised cosine between. */
  bassFull: number;
  bassNone: number;
  /** Vocal band edges (raised cosine ramps): [start of rise, full, start of fall, zero]. */
  voiceBand: [number, number, number, number];
  /** Channel similarity (−1..1) at or below which a bin is not centre-panned at all. */
  centreFloor: number;
  /** Exponent sharpening the centre weight between the floor and 1. */
  centrePower: number;
  /** Exponent on the median powers in the harmonic/percussive split (1 = Wiener on magnitudes, higher = harder). */
  hpPower: number;
}

export const DEFAULT_TUNING: MaskTuning = {
  bassFull: 160,
  bassNone: 260,
  voiceBand: [100, 150, 7000, 9000],
  centreFloor: 0.6,
  centrePower: 2,
  hpPower: 1,
};

/** 0 at `from`, 1 at `to` (either order), raised cosine between. */
function ramp(f: number, from: number, to: number): number {
  const x = (f - from) / (to - from);
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  return 0.5 - 0.5 * Math.cos(Math.PI * x);
}

/** Per-bin curves that depend only on frequency, computed once. */
export interface BandCurves {
  low: Float32Array;
  voice: Float32Array;
}

export function bandCurves(size: number, sampleRate: number, tuning: MaskTuning = DEFAULT_TUNING): BandCurves {
  const bins = size / 2 + 1;
  const low = new Float32Array(bins);
  const voice = new Float32Array(bins);
  const [v0, v1, v2, v3] = tuning.voiceBand;
  for (let k = 0; k < bins; k++) {
    const f = (k * sampleRate) / size;
    const l = ramp(f, tuning.bassNone, tuning.bassFull);
    low[k] = l;
    // Capped so that low + voice ≤ 1 holds for any tuning.
    voice[k] = Math.min(1 - l, ramp(f, v0, v1) * ramp(f, v3, v2));
  }
  return { low, voice };
}

/**
 * Fills one mask per requested stem for one frame.
 * `harmonic`/`percussive`: time- and frequency-median power; `spectrum`: the frame's packed stereo spectrum.
 */
export class MaskBuilder {
  private readonly hm: Float32Array;
  private readonly centre: Float32Array;
  private readonly lr = new Float64Array(4);
  private readonly needCentre: boolean;

  constructor(
    private readonly size: number,
    private readonly curves: BandCurves,
    private readonly stems: readonly StemName[],
    private readonly stereoCues: boolean,
    private readonly tuning: MaskTuning = DEFAULT_TUNING,
  ) {
    const bins = size / 2 + 1;
    this.hm = new Float32Array(bins);
    this.centre = new Float32Array(bins).fill(1);
    this.needCentre = stereoCues && stems.some((s) => s !== 'drums' && s !== 'bass');
  }

  build(harmonic: Float32Array, percussive: Float32Array, spectrum: Float64Array, masks: Float32Array[]): void {
    const { hm, centre, lr, size } = this;
    const { low, voice } = this.curves;
    const bins = hm.length;
    const q = this.tuning.hpPower;
    for (let k = 0; k < bins; k++) {
      const h = q === 1 ? harmonic[k]! : Math.pow(harmonic[k]!, q);
      const sum = h + (q === 1 ? percussive[k]! : Math.pow(percussive[k]!, q));
      // Silence in both medians: split evenly; the bin carries (almost) nothing either way.
      hm[k] = sum > 0 ? h / sum : 0.5;
    }
    if (this.needCentre) {
      const floor = this.tuning.centreFloor;
      const power = this.tuning.centrePower;
      for (let k = 0; k < bins; k++) {
        if (voice[k] === 0) {
          centre[k] = 0;
          continue;
        }
        unpackBin(spectrum, size, k, lr);
        const energy = lr[0]! * lr[0]! + lr[1]! * lr[1]! + lr[2]! * lr[2]! + lr[3]! * lr[3]!;
        // 2·Re(L·R*)/(|L|²+|R|²): 1 only when both channels carry the same thing, in level and in phase.
        const similarity = energy > 0 ? (2 * (lr[0]! * lr[2]! + lr[1]! * lr[3]!)) / energy : 0;
        const x = (similarity - floor) / (1 - floor);
        centre[k] = x <= 0 ? 0 : power === 1 ? x : Math.pow(x, power);
      }
    }
    for (let s = 0; s < this.stems.length; s++) {
      const m = masks[s]!;
      switch (this.stems[s]!) {
        case 'drums':
          for (let k = 0; k < bins; k++) m[k] = 1 - hm[k]!;
          break;
        case 'bass':
          for (let k = 0; k < bins; k++) m[k] = hm[k]! * low[k]!;
          break;
        case 'vocals':
          for (let k = 0; k < bins; k++) m[k] = hm[k]! * voice[k]! * centre[k]!;
          break;
        case 'instrumental':
          for (let k = 0; k < bins; k++) m[k] = 1 - hm[k]! * voice[k]! * centre[k]!;
          break;
        case 'other':
          for (let k = 0; k < bins; k++) m[k] = hm[k]! * (1 - low[k]! - voice[k]! * centre[k]!);
          break;
      }
    }
  }
}
