/**
 * Waveform peaks: the loudest sample of each of a fixed number of equal slices of a file, so a
 * client draws a waveform (wavesurfer's `peaks`, a canvas, a terminal sparkline) without
 * downloading the audio. Fed the decoded PCM of the loudness pass (media/ffmpeg.ts analyseAudio),
 * so they cost no extra decode.
 *
 * The length is not known while decoding (headers lie, and some formats state none), so the PCM is
 * first reduced to the peak of every block of BLOCK_FRAMES frames, a few KB per minute, and those
 * blocks are grouped into the slices when the stream ends.
 */

/** Slices per output: one value per pixel column of a 256-pixel preview; scale up by repeating. */
export const PEAK_COUNT = 256;

const BLOCK_FRAMES = 256;

export class PeakMeter {
  private blocks = new Float32Array(4096);
  private count = 0;
  private current = 0;
  private inBlock = 0;
  private carry: Buffer | null = null;

  /** @param channels interleaved channels in the PCM fed (signed 16-bit little-endian) */
  constructor(private readonly channels: number) {}

  write(chunk: Buffer): void {
    let data = chunk;
    if (this.carry) {
      data = Buffer.concat([this.carry, chunk]);
      this.carry = null;
    }
    const whole = data.length - (data.length % 2);
    if (whole < data.length) this.carry = data.subarray(whole);
    // A typed view reads ~10x faster than readInt16LE; it needs an even offset (copied when not).
    // Little-endian, as every platform Node ships for.
    const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data.subarray(0, whole));
    const samples = new Int16Array(aligned.buffer, aligned.byteOffset, whole / 2);
    const samplesPerBlock = BLOCK_FRAMES * this.channels;
    // Block by block, so the inner loop is nothing but the max.
    let i = 0;
    while (i < samples.length) {
      const end = Math.min(samples.length, i + samplesPerBlock - this.inBlock);
      let peak = this.current;
      for (let k = i; k < end; k++) {
        const v = samples[k]!;
        const a = v < 0 ? -v : v;
        if (a > peak) peak = a;
      }
      this.current = peak;
      this.inBlock += end - i;
      i = end;
      if (this.inBlock === samplesPerBlock) this.closeBlock();
    }
  }

  /** The peaks, PEAK_COUNT of them (fewer for a file shorter than that many blocks), each 0..1. */
  finish(count = PEAK_COUNT): number[] {
    if (this.inBlock > 0) this.closeBlock();
    const n = Math.min(count, this.count);
    const out: number[] = [];
    for (let s = 0; s < n; s++) {
      const from = Math.floor((s * this.count) / n);
      const to = Math.max(from + 1, Math.floor(((s + 1) * this.count) / n));
      let peak = 0;
      for (let b = from; b < to; b++) peak = Math.max(peak, this.blocks[b]!);
      // Three decimals: finer than any screen draws, and a quarter of the JSON of full floats.
      out.push(Math.round((peak / 32768) * 1000) / 1000);
    }
    return out;
  }

  private closeBlock(): void {
    if (this.count === this.blocks.length) {
      const grown = new Float32Array(this.blocks.length * 2);
      grown.set(this.blocks);
      this.blocks = grown;
    }
    this.blocks[this.count++] = this.current;
    this.current = 0;
    this.inBlock = 0;
  }
}
