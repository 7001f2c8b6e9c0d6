/**
 * Streaming separation with the learned model: interleaved stereo in, one interleaved stereo stream per
 * requested output (a stem, or a sum of stems) out. Memory is fixed by the chunk size, never by the track.
 *
 * The model sees the magnitude spectrogram in chunks: `core` frames plus `context` frames of real neighbours
 * on each side (zeros beyond the track's ends), and only the core's masks are kept. The context exceeds the
 * network's receptive field, so the result equals one pass over the whole track: chunks tile the track with
 * no crossfade and no seam. The Wiener step keeps that: its statistics run frame by frame across chunks.
 * A ring of core + 2·context frames holds what the next chunk needs.
 */
import type { StemsModelSpec } from './model-file.js';
import { StreamingIstft, StreamingStft } from './spectrogram.js';
import { WienerFilter } from './wiener.js';

/** Masks for `frames` frames of magnitudes [1, 2, bins, frames] → [1, stems, 2, bins, frames]. */
export type MaskRunner = (magnitudes: Float32Array, frames: number) => Promise<Float32Array>;

export interface ModelSeparatorOptions {
  spec: StemsModelSpec;
  /** Each output is the sum of these stems (indices into spec.stems). */
  outputs: number[][];
  masks: MaskRunner;
  /** Receives `frames` interleaved stereo samples of output `output`; the view is reused. */
  onOutput: (output: number, data: Float32Array, frames: number) => void;
  /** Core frames per model call (the spec's by default; tests make it small to cross many boundaries). */
  coreFrames?: number;
  /** Overrides spec.wiener.enabled. */
  wiener?: boolean;
}

export class ModelSeparator {
  private readonly bins: number;
  private readonly core: number;
  private readonly context: number;
  private readonly ring: number;
  private readonly magnitudes: Float32Array;
  private readonly spectra: Float32Array;
  private readonly stft: StreamingStft;
  private readonly istfts: StreamingIstft[];
  private readonly outputs: number[][];
  private readonly stemCount: number;
  private readonly wiener: WienerFilter | null;
  private readonly work: Float64Array[];
  /** One frame's masks, [stem, channel, bin]. */
  private readonly frameMasks: Float32Array;
  /** First frame of the next chunk's core. */
  private nextChunk = 0;
  private finished = false;

  constructor(private readonly options: ModelSeparatorOptions) {
    const { spec } = options;
    this.bins = spec.bins;
    this.core = options.coreFrames ?? spec.coreFrames;
    this.context = spec.contextFrames;
    // A chunk runs as soon as its last frame is in; the slack holds the frames the track's end adds at once.
    this.ring = this.core + 2 * this.context + 4;
    this.magnitudes = new Float32Array(this.ring * 2 * this.bins);
    this.spectra = new Float32Array(this.ring * 4 * this.bins);
    this.outputs = options.outputs;
    this.stemCount = spec.stems.length;
    this.stft = new StreamingStft(spec.nFft, spec.hop, (spectrum, magnitude) => {
      const slot = (this.stft.frames - 1) % this.ring;
      this.spectra.set(spectrum, slot * 4 * this.bins);
      this.magnitudes.set(magnitude, slot * 2 * this.bins);
    });
    this.istfts = this.outputs.map((_, o) => new StreamingIstft(spec.nFft, spec.hop, (data, frames) => options.onOutput(o, data, frames)));
    const useWiener = options.wiener ?? spec.wiener.enabled;
    if (useWiener && spec.wiener.iterations !== 1) throw new Error(`stems model ${spec.name}: only one Wiener iteration is implemented, the spec asks for ${spec.wiener.iterations}`);
    if (useWiener && !(spec.wiener.decay > 0)) throw new Error(`stems model ${spec.name}: its spec.json has no wiener.decay, so the Wiener step cannot run with it`);
    this.wiener = useWiener ? new WienerFilter(this.stemCount, this.bins, spec.wiener) : null;
    this.work = this.outputs.map(() => new Float64Array(4 * this.bins));
    this.frameMasks = new Float32Array(this.stemCount * 2 * this.bins);
  }

  /** Input samples per channel so far. */
  get samples(): number {
    return this.stft.samples;
  }

  /** Interleaved stereo samples, any count; runs the model on every chunk that is complete. */
  async push(interleaved: Float32Array): Promise<void> {
    const step = 2 * this.options.spec.hop;
    // At most one frame per slice, so a chunk runs before the ring wraps over its first context frame.
    for (let i = 0; i < interleaved.length; i += step) {
      this.stft.push(interleaved.subarray(i, Math.min(interleaved.length, i + step)));
      while (this.stft.frames >= this.nextChunk + this.core + this.context) await this.runChunk(null);
    }
  }

  /** The end of the input: separates the remaining frames and emits every output's last samples. */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    this.stft.finish();
    const total = this.stft.frames;
    for (const istft of this.istfts) istft.setLength(this.stft.samples);
    while (this.nextChunk < total) await this.runChunk(total);
    for (const istft of this.istfts) istft.finish();
  }

  /** Separates core frames [nextChunk, nextChunk + core), clipped to the track when its length is known. */
  private async runChunk(total: number | null): Promise<void> {
    const { bins, context, ring, magnitudes, spectra, stemCount, outputs } = this;
    const t0 = this.nextChunk;
    const t1 = total === null ? t0 + this.core : Math.min(total, t0 + this.core);
    const known = total ?? this.stft.frames;
    const width = t1 - t0 + 2 * context;
    const input = new Float32Array(2 * bins * width);
    const first = Math.max(0, t0 - context);
    const last = Math.min(known, t1 + context);
    for (let t = first; t < last; t++) {
      const col = t - (t0 - context);
      const src = ((t % ring) * 2) * bins;
      for (let cf = 0; cf < 2 * bins; cf++) input[cf * width + col] = magnitudes[src + cf]!;
    }
    const masks = await this.options.masks(input, width);
    if (masks.length !== stemCount * 2 * bins * width) throw new Error(`the stems model returned ${masks.length} mask values for ${width} frames`);

    const wiener = this.wiener;
    const m = this.frameMasks;
    for (let t = t0; t < t1; t++) {
      const col = context + (t - t0);
      const x = spectra.subarray((t % ring) * 4 * bins, ((t % ring) + 1) * 4 * bins);
      // The model's masks are [stem, channel, bin, column]; one frame's column, [stem, channel, bin], is what
      // both paths below read.
      for (let jcf = 0; jcf < m.length; jcf++) m[jcf] = masks[jcf * width + col]!;
      if (wiener) {
        wiener.frame(x, m, outputs, this.work);
      } else {
        for (let o = 0; o < outputs.length; o++) {
          const dst = this.work[o]!;
          const stems = outputs[o]!;
          for (let c = 0; c < 2; c++) {
            for (let f = 0; f < bins; f++) {
              let g = 0;
              for (const j of stems) g += m[(j * 2 + c) * bins + f]!;
              const at = 2 * (c * bins + f);
              dst[at] = g * x[at]!;
              dst[at + 1] = g * x[at + 1]!;
            }
          }
        }
      }
      for (let o = 0; o < outputs.length; o++) this.istfts[o]!.add(this.work[o]!);
    }
    this.nextChunk = t1;
  }
}
