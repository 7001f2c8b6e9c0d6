/**
 * The STFT and inverse STFT exactly as the model was trained (models/stems/spec.json `stft`, mirrored from
 * training/stems/separate.py): periodic Hann, zero padding of n_fft/2 at both ends, frames t = 0..N/hop,
 * unnormalised forward transform; inverse by windowed overlap-add divided by the overlap-added squared
 * window, so that unmasked spectra give the input back and masks that sum to one give stems that do.
 *
 * Both run as streams with a fixed-size state: samples in, frames out; frames in, samples out.
 * Left and right go through one complex FFT (re = left, im = right) and are told apart by conjugate
 * symmetry, which halves the transforms.
 */
import FFT from 'fft.js';

export function periodicHann(n: number): Float64Array {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

/**
 * One frame of both channels: `spectrum` holds [L re, L im] for bins 0..bins-1, then [R re, R im] (float32:
 * what is kept until the model's masks come back), `magnitude` |L| then |R| (the model's input).
 */
export type FrameSink = (spectrum: Float32Array, magnitude: Float32Array) => void;

export class StreamingStft {
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly left: Float64Array;
  private readonly right: Float64Array;
  private readonly packed: Float64Array;
  private readonly transformed: Float64Array;
  private readonly spectrum: Float32Array;
  private readonly magnitude: Float32Array;
  private fill: number;
  /** Input samples per channel seen so far. */
  samples = 0;
  /** Frames emitted so far. */
  frames = 0;
  private finished = false;

  constructor(
    private readonly nFft: number,
    private readonly hop: number,
    private readonly sink: FrameSink,
  ) {
    this.fft = new FFT(nFft);
    this.window = periodicHann(nFft);
    this.left = new Float64Array(nFft);
    this.right = new Float64Array(nFft);
    this.packed = new Float64Array(2 * nFft);
    this.transformed = new Float64Array(2 * nFft);
    const bins = nFft / 2 + 1;
    this.spectrum = new Float32Array(4 * bins);
    this.magnitude = new Float32Array(2 * bins);
    // The padded signal starts with n_fft/2 zeros.
    this.fill = nFft / 2;
  }

  /** Interleaved stereo samples, any count. */
  push(interleaved: Float32Array): void {
    if (this.finished) throw new Error('push after finish');
    const { left, right, nFft } = this;
    const count = interleaved.length >> 1;
    let i = 0;
    while (i < count) {
      const n = Math.min(count - i, nFft - this.fill);
      for (let j = 0; j < n; j++) {
        const l = interleaved[2 * (i + j)]!;
        const r = interleaved[2 * (i + j) + 1]!;
        // NaN or ±Inf would turn every mask of a chunk into NaN; no real recording contains them.
        left[this.fill + j] = l - l === 0 ? l : 0;
        right[this.fill + j] = r - r === 0 ? r : 0;
      }
      this.fill += n;
      i += n;
      this.samples += n;
      if (this.fill === nFft) this.step();
    }
  }

  /** The track's end: emits the remaining frames (zeros beyond it), 1 + N/hop frames in all. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    const total = totalFrames(this.samples, this.hop);
    while (this.frames < total) {
      this.left.fill(0, this.fill);
      this.right.fill(0, this.fill);
      this.fill = this.nFft;
      this.step();
    }
  }

  private step(): void {
    const { left, right, packed, transformed, window, nFft, hop, spectrum, magnitude } = this;
    for (let n = 0; n < nFft; n++) {
      packed[2 * n] = left[n]! * window[n]!;
      packed[2 * n + 1] = right[n]! * window[n]!;
    }
    this.fft.transform(transformed, packed);
    const bins = nFft / 2 + 1;
    for (let k = 0; k < bins; k++) {
      const m = k === 0 ? 0 : nFft - k;
      const a = transformed[2 * k]!;
      const b = transformed[2 * k + 1]!;
      const c = transformed[2 * m]!;
      const d = transformed[2 * m + 1]!;
      // L[k] = (Z[k] + conj Z[N-k]) / 2, R[k] = (Z[k] - conj Z[N-k]) / 2i
      const lr = 0.5 * (a + c);
      const li = 0.5 * (b - d);
      const rr = 0.5 * (b + d);
      const ri = 0.5 * (c - a);
      spectrum[2 * k] = lr;
      spectrum[2 * k + 1] = li;
      spectrum[2 * (bins + k)] = rr;
      spectrum[2 * (bins + k) + 1] = ri;
      magnitude[k] = Math.sqrt(lr * lr + li * li);
      magnitude[bins + k] = Math.sqrt(rr * rr + ri * ri);
    }
    this.frames++;
    left.copyWithin(0, hop);
    right.copyWithin(0, hop);
    this.fill = nFft - hop;
    this.sink(spectrum, magnitude);
  }
}

/** 1 + N // hop, as the model's training and separate.py count frames. */
export function totalFrames(samples: number, hop: number): number {
  return 1 + Math.floor(samples / hop);
}

/**
 * Inverse STFT of one output: stereo half-spectra in (the same layout as StreamingStft's `spectrum`, float64),
 * interleaved stereo samples out, exactly N of them once `finish(N)` is called.
 */
export class StreamingIstft {
  private readonly fft: FFT;
  private readonly window: Float64Array;
  private readonly squared: Float64Array;
  private readonly packed: Float64Array;
  private readonly time: Float64Array;
  private readonly left: Float64Array;
  private readonly right: Float64Array;
  private readonly weight: Float64Array;
  private readonly out: Float32Array;
  /** Padded-signal position of left[0]. */
  private position = 0;
  private emitted = 0;
  /** Samples per channel of the input, once known: nothing at or beyond it is emitted. */
  private length = Infinity;

  constructor(
    private readonly nFft: number,
    private readonly hop: number,
    /** Receives `frames` interleaved stereo samples; the view is reused. */
    private readonly emit: (data: Float32Array, frames: number) => void,
  ) {
    this.fft = new FFT(nFft);
    this.window = periodicHann(nFft);
    this.squared = this.window.map((w) => w * w);
    this.packed = new Float64Array(2 * nFft);
    this.time = new Float64Array(2 * nFft);
    this.left = new Float64Array(nFft);
    this.right = new Float64Array(nFft);
    this.weight = new Float64Array(nFft);
    this.out = new Float32Array(2 * nFft);
  }

  /** Adds the next frame; `spectrum` is [L re, L im]×bins then [R re, R im]×bins. */
  add(spectrum: Float64Array): void {
    const { nFft, packed, time, window, squared, left, right, weight } = this;
    const bins = nFft / 2 + 1;
    // Z = L + iR over the full circle: Z[k] = L[k] + i R[k], Z[N-k] = conj L[k] + i conj R[k]. As numpy's
    // irfft does, the imaginary parts at DC and Nyquist are ignored.
    for (let k = 0; k < bins; k++) {
      const lr = spectrum[2 * k]!;
      const li = k === 0 || k === bins - 1 ? 0 : spectrum[2 * k + 1]!;
      const rr = spectrum[2 * (bins + k)]!;
      const ri = k === 0 || k === bins - 1 ? 0 : spectrum[2 * (bins + k) + 1]!;
      packed[2 * k] = lr - ri;
      packed[2 * k + 1] = li + rr;
      if (k > 0 && k < bins - 1) {
        const m = nFft - k;
        packed[2 * m] = lr + ri;
        packed[2 * m + 1] = rr - li;
      }
    }
    this.fft.inverseTransform(time, packed);
    for (let n = 0; n < nFft; n++) {
      left[n] = left[n]! + time[2 * n]! * window[n]!;
      right[n] = right[n]! + time[2 * n + 1]! * window[n]!;
      weight[n] = weight[n]! + squared[n]!;
    }
    // No later frame reaches the first hop: it is final.
    this.flush(this.hop);
    left.copyWithin(0, this.hop);
    right.copyWithin(0, this.hop);
    weight.copyWithin(0, this.hop);
    left.fill(0, nFft - this.hop);
    right.fill(0, nFft - this.hop);
    weight.fill(0, nFft - this.hop);
    this.position += this.hop;
  }

  /** The input's length, as soon as it is known (before the frames that reach past it are added). */
  setLength(samples: number): void {
    this.length = samples;
  }

  /** After the last frame: emits what remains of the input's samples. */
  finish(): void {
    if (this.length === Infinity) throw new Error('finish before setLength');
    this.flush(this.nFft);
  }

  /** Emits buffer positions [0, count) that fall inside the kept range [n_fft/2, n_fft/2 + length). */
  private flush(count: number): void {
    const limit = this.length;
    const { left, right, weight, out } = this;
    const lead = this.nFft / 2;
    let frames = 0;
    for (let i = 0; i < count; i++) {
      const p = this.position + i - lead;
      if (p < this.emitted || p >= limit) continue;
      const w = weight[i]!;
      out[2 * frames] = w > 1e-10 ? left[i]! / w : left[i]!;
      out[2 * frames + 1] = w > 1e-10 ? right[i]! / w : right[i]!;
      frames++;
    }
    if (frames > 0) {
      this.emitted += frames;
      this.emit(out, frames);
    }
  }
}
