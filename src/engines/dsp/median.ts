/**
 * Running medians for harmonic/percussive separation. Sorting a 17-value window for each of 2049 bins in
 * every frame, twice, would dominate the run time; keeping each window sorted and sliding one value out and
 * one in costs O(window) simple moves instead.
 */

/** Replaces `out` with `into` in the sorted run `s[base .. base+len)`, keeping it sorted. */
function replaceSorted(s: Float32Array, base: number, len: number, out: number, into: number): void {
  // A linear scan beats binary search at these lengths: one mispredicted branch at its end instead of one per
  // halving, and spectra change slowly, so values seldom move far.
  let lo = base;
  while (s[lo]! < out) lo++;
  let i = lo;
  const end = base + len - 1;
  if (into > out) {
    while (i < end && s[i + 1]! < into) {
      s[i] = s[i + 1]!;
      i++;
    }
  } else {
    while (i > base && s[i - 1]! > into) {
      s[i] = s[i - 1]!;
      i--;
    }
  }
  s[i] = into;
}

/**
 * Median over the last `size` frames of every bin. Starts as if `size` silent frames came before the first,
 * which is what the zero-padded start of the signal is.
 */
export class TimeMedian {
  private readonly sorted: Float32Array;

  constructor(
    readonly bins: number,
    readonly size: number,
  ) {
    this.sorted = new Float32Array(bins * size);
  }

  /** Slides every bin's window: `leaving` is the frame `size` frames ago, `entering` the newest. */
  slide(leaving: Float32Array, entering: Float32Array): void {
    const { bins, size, sorted } = this;
    for (let k = 0, base = 0; k < bins; k++, base += size) {
      const out = leaving[k]!;
      const into = entering[k]!;
      if (out !== into) replaceSorted(sorted, base, size, out, into);
    }
  }

  median(out: Float32Array): void {
    const { bins, size, sorted } = this;
    const mid = size >> 1;
    for (let k = 0, base = mid; k < bins; k++, base += size) out[k] = sorted[base]!;
  }
}

/** Median across `size` neighbouring bins (odd), the spectrum mirrored at both ends. */
export class FrequencyMedian {
  private readonly window: Float32Array;
  private padded: Float32Array;

  constructor(readonly size: number) {
    if (size % 2 !== 1) throw new Error('median size must be odd');
    this.window = new Float32Array(size);
    this.padded = new Float32Array(0);
  }

  apply(values: Float32Array, out: Float32Array, bins: number = values.length): void {
    const { size, window } = this;
    const half = size >> 1;
    if (this.padded.length !== bins + 2 * half) this.padded = new Float32Array(bins + 2 * half);
    // Mirrored edges copied in once, so the sliding loop below has no bounds logic.
    const p = this.padded;
    p.set(values.subarray(0, bins), half);
    for (let j = 1; j <= half; j++) {
      p[half - j] = values[j]!;
      p[half + bins - 1 + j] = values[bins - 1 - j]!;
    }
    for (let j = 0; j < size; j++) window[j] = p[j]!;
    window.sort();
    out[0] = window[half]!;
    for (let k = 1; k < bins; k++) {
      const leaving = p[k - 1]!;
      const entering = p[k - 1 + size]!;
      if (leaving !== entering) replaceSorted(window, 0, size, leaving, entering);
      out[k] = window[half]!;
    }
  }
}
