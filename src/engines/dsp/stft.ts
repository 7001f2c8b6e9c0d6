/**
 * Streaming stereo STFT with weighted overlap-add. Left and right are packed into one complex FFT
 * (re = left, im = right): the two spectra can be told apart by conjugate symmetry, and a mask that is the same
 * for both channels and symmetric in frequency can be applied to the packed spectrum directly, so each frame
 * costs one forward and one inverse transform per stem instead of two of each.
 */
import FFT from 'fft.js';

export interface StftConfig {
  /** Frame length, a power of two. */
  size: number;
  /** Hop; size/hop must be 4 for the window below to overlap-add to a constant. */
  hop: number;
}

/**
 * sqrt-Hann analysis and synthesis windows: their product is a periodic Hann, which sums to exactly 2 at a
 * quarter-frame hop, so an all-ones mask gives back the input (within float rounding) and masks that sum to one
 * give stems that sum to the input.
 */
export function makeWindows({ size, hop }: StftConfig): { analysis: Float64Array; synthesis: Float64Array } {
  if (size / hop !== 4) throw new Error('the STFT window needs hop = size / 4');
  const analysis = new Float64Array(size);
  const synthesis = new Float64Array(size);
  const overlap = 2; // Σ Hann at hop size/4
  for (let n = 0; n < size; n++) {
    const w = Math.sqrt(0.5 * (1 - Math.cos((2 * Math.PI * n) / size)));
    analysis[n] = w;
    synthesis[n] = w / overlap;
  }
  return { analysis, synthesis };
}

export class PackedFft {
  private readonly fft: FFT;
  readonly size: number;

  constructor(size: number) {
    this.size = size;
    this.fft = new FFT(size);
  }

  /** Interleaved complex arrays of length 2·size. */
  forward(out: Float64Array, data: Float64Array): void {
    this.fft.transform(out, data);
  }

  /** Includes the 1/size scaling. */
  inverse(out: Float64Array, data: Float64Array): void {
    this.fft.inverseTransform(out, data);
  }
}

/**
 * Left and right spectra at bin k (0 ≤ k ≤ size/2) of a packed spectrum `z`, written into `lr` as
 * [Lre, Lim, Rre, Rim].
 */
export function unpackBin(z: Float64Array, size: number, k: number, lr: Float64Array): void {
  const j = k === 0 ? 0 : size - k;
  const a = z[2 * k]!;
  const b = z[2 * k + 1]!;
  const c = z[2 * j]!;
  const d = z[2 * j + 1]!;
  lr[0] = 0.5 * (a + c);
  lr[1] = 0.5 * (b - d);
  lr[2] = 0.5 * (b + d);
  lr[3] = 0.5 * (c - a);
}

/** Multiplies bin k and its mirror by the real gains in `mask` (length size/2 + 1), from `src` into `dst`. */
export function applyMask(src: Float64Array, dst: Float64Array, mask: Float32Array, size: number): void {
  const half = size >> 1;
  dst[0] = src[0]! * mask[0]!;
  dst[1] = src[1]! * mask[0]!;
  dst[size] = src[size]! * mask[half]!;
  dst[size + 1] = src[size + 1]! * mask[half]!;
  for (let k = 1; k < half; k++) {
    const m = mask[k]!;
    const i = 2 * k;
    const j = 2 * (size - k);
    dst[i] = src[i]! * m;
    dst[i + 1] = src[i + 1]! * m;
    dst[j] = src[j]! * m;
    dst[j + 1] = src[j + 1]! * m;
  }
}

/**
 * Overlap-add accumulator for one output: frames go in, complete hops come out. Holds one frame of each channel.
 */
export class OverlapAdd {
  private readonly left: Float64Array;
  private readonly right: Float64Array;
  private readonly time: Float64Array;
  /** Interleaved stereo output of the last completed hop. */
  readonly hopOut: Float32Array;

  constructor(
    private readonly fft: PackedFft,
    private readonly synthesis: Float64Array,
    private readonly hop: number,
  ) {
    const n = fft.size;
    this.left = new Float64Array(n);
    this.right = new Float64Array(n);
    this.time = new Float64Array(2 * n);
    this.hopOut = new Float32Array(2 * hop);
  }

  /** Inverse-transforms a packed spectrum, adds it in, and fills `hopOut` with the hop that is now complete. */
  add(spectrum: Float64Array): void {
    const { left, right, time, synthesis, hop, hopOut } = this;
    const n = this.fft.size;
    this.fft.inverse(time, spectrum);
    for (let i = 0; i < n; i++) {
      const w = synthesis[i]!;
      left[i] = left[i]! + time[2 * i]! * w;
      right[i] = right[i]! + time[2 * i + 1]! * w;
    }
    for (let i = 0; i < hop; i++) {
      hopOut[2 * i] = left[i]!;
      hopOut[2 * i + 1] = right[i]!;
    }
    left.copyWithin(0, hop);
    right.copyWithin(0, hop);
    left.fill(0, n - hop);
    right.fill(0, n - hop);
  }
}
