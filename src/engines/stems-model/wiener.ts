/**
 * One EM iteration of the multichannel (2×2) Wiener filter, as spec.json `wiener` and
 * training/stems/separate.py `wiener` define it (norbert-style): each stem's spatial covariance per bin from
 * its masked estimate, then every bin re-estimated as v_j R_j Cxx⁻¹ x, and the residual handed back in
 * proportion to the masks so the stems still add up to the mix exactly.
 *
 * The covariances are exponentially weighted sums over every frame so far (causal), updated frame by frame.
 * Statistics over a chunk's frames would change with the chunk size and jump at chunk edges; these depend only
 * on the track, so chunked output stays exactly one pass over the whole track.
 *
 * Complex 2×2 Hermitian matrices are kept as (a real, d real, b complex): [[a, b], [conj b, d]].
 */
import type { WienerSpec } from './model-file.js';

export class WienerFilter {
  /** Per stem and bin, decayed sums: |y0|², |y1|², Re y0·conj(y1), Im y0·conj(y1), v. */
  private readonly sums: Float64Array;
  private readonly v: Float64Array;
  private readonly r: Float64Array;
  private readonly y: Float64Array;
  /** The current bin's masks, [stem][channel]. */
  private readonly m: Float64Array;

  constructor(
    private readonly stems: number,
    private readonly bins: number,
    private readonly spec: WienerSpec,
  ) {
    this.sums = new Float64Array(stems * bins * 5);
    this.v = new Float64Array(stems);
    this.r = new Float64Array(stems * 4);
    this.y = new Float64Array(stems * 4);
    this.m = new Float64Array(stems * 2);
  }

  /**
   * The next frame of the track: `x` is its spectrum ([L re, L im]×bins, [R re, R im]×bins), `masks` its
   * masks ([stem, channel, bin]). Writes, for each output o (its
   * stems in `outputs[o]`), the filtered sum of those stems into `out[o]` in the spectrum's layout.
   */
  frame(x: Float32Array, masks: Float32Array, outputs: readonly (readonly number[])[], out: Float64Array[]): void {
    const { sums, bins, stems, spec, v, r, y, m } = this;
    const decay = spec.decay;
    for (let f = 0; f < bins; f++) {
      for (let jc = 0; jc < 2 * stems; jc++) m[jc] = masks[jc * bins + f]!;
      const x0r = x[2 * f]!;
      const x0i = x[2 * f + 1]!;
      const x1r = x[2 * (bins + f)]!;
      const x1i = x[2 * (bins + f) + 1]!;
      const p0x = x0r * x0r + x0i * x0i;
      const p1x = x1r * x1r + x1i * x1i;
      const cxr = x0r * x1r + x0i * x1i;
      const cxi = x0i * x1r - x0r * x1i;
      // Cxx = Σ_j v_j R_j + eps I
      let a = spec.eps;
      let d = spec.eps;
      let br = 0;
      let bi = 0;
      for (let j = 0; j < stems; j++) {
        const m0 = m[2 * j]!;
        const m1 = m[2 * j + 1]!;
        // y_j = m_j x per channel, so |y0|² = m0² |x0|² and y0·conj(y1) = m0 m1 x0·conj(x1).
        const p0 = m0 * m0 * p0x;
        const p1 = m1 * m1 * p1x;
        const m01 = m0 * m1;
        const vj = 0.5 * (p0 + p1);
        const at = 5 * (j * bins + f);
        const s00 = p0 + decay * sums[at]!;
        const s11 = p1 + decay * sums[at + 1]!;
        const s01r = m01 * cxr + decay * sums[at + 2]!;
        const s01i = m01 * cxi + decay * sums[at + 3]!;
        const sv = vj + decay * sums[at + 4]!;
        sums[at] = s00;
        sums[at + 1] = s11;
        sums[at + 2] = s01r;
        sums[at + 3] = s01i;
        sums[at + 4] = sv;
        const inv = 1 / (sv + spec.eps);
        const r00 = s00 * inv;
        const r11 = s11 * inv;
        const load = spec.diagLoad * ((r00 + r11) / 2);
        r[4 * j] = r00 + load;
        r[4 * j + 1] = r11 + load;
        r[4 * j + 2] = s01r * inv;
        r[4 * j + 3] = s01i * inv;
        v[j] = vj;
        a += vj * r[4 * j]!;
        d += vj * r[4 * j + 1]!;
        br += vj * r[4 * j + 2]!;
        bi += vj * r[4 * j + 3]!;
      }
      // z = Cxx⁻¹ x; det is real for a Hermitian matrix.
      const invDet = 1 / (a * d - (br * br + bi * bi));
      // z0 = (d x0 - b x1) / det, z1 = (-conj(b) x0 + a x1) / det
      const z0r = (d * x0r - (br * x1r - bi * x1i)) * invDet;
      const z0i = (d * x0i - (br * x1i + bi * x1r)) * invDet;
      const z1r = (-(br * x0r + bi * x0i) + a * x1r) * invDet;
      const z1i = (-(br * x0i - bi * x0r) + a * x1i) * invDet;
      let s0r = 0;
      let s0i = 0;
      let s1r = 0;
      let s1i = 0;
      for (let j = 0; j < stems; j++) {
        const r00 = r[4 * j]!;
        const r11 = r[4 * j + 1]!;
        const r01r = r[4 * j + 2]!;
        const r01i = r[4 * j + 3]!;
        const vj = v[j]!;
        // y0 = v (R00 z0 + R01 z1), y1 = v (conj(R01) z0 + R11 z1)
        const y0r = vj * (r00 * z0r + (r01r * z1r - r01i * z1i));
        const y0i = vj * (r00 * z0i + (r01r * z1i + r01i * z1r));
        const y1r = vj * ((r01r * z0r + r01i * z0i) + r11 * z1r);
        const y1i = vj * ((r01r * z0i - r01i * z0r) + r11 * z1i);
        y[4 * j] = y0r;
        y[4 * j + 1] = y0i;
        y[4 * j + 2] = y1r;
        y[4 * j + 3] = y1i;
        s0r += y0r;
        s0i += y0i;
        s1r += y1r;
        s1i += y1i;
      }
      // The residual goes back in proportion to the masks, so the stems add up to x.
      const e0r = x0r - s0r;
      const e0i = x0i - s0i;
      const e1r = x1r - s1r;
      const e1i = x1i - s1i;
      for (let o = 0; o < outputs.length; o++) {
        const dst = out[o]!;
        let o0r = 0;
        let o0i = 0;
        let o1r = 0;
        let o1i = 0;
        for (const j of outputs[o]!) {
          const m0 = m[2 * j]!;
          const m1 = m[2 * j + 1]!;
          o0r += y[4 * j]! + m0 * e0r;
          o0i += y[4 * j + 1]! + m0 * e0i;
          o1r += y[4 * j + 2]! + m1 * e1r;
          o1i += y[4 * j + 3]! + m1 * e1i;
        }
        dst[2 * f] = o0r;
        dst[2 * f + 1] = o0i;
        dst[2 * (bins + f)] = o1r;
        dst[2 * (bins + f) + 1] = o1i;
      }
    }
  }
}
