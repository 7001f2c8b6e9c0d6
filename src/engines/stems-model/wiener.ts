/**
 * One EM iteration of the multichannel (2×2) Wiener filter over one chunk's core frames, as spec.json
 * `wiener` and training/stems/separate.py `wiener` define it (norbert-style): each stem's spatial covariance
 * per bin from its masked estimate, then every bin of every frame re-estimated as v_j R_j Cxx⁻¹ x, and the
 * residual handed back in proportion to the masks so the stems still add up to the mix exactly.
 *
 * Complex 2×2 Hermitian matrices are kept as (a real, d real, b complex): [[a, b], [conj b, d]].
 */
import type { WienerSpec } from './model-file.js';

export class WienerFilter {
  /** Per stem and bin: R00, R11, Re R01, Im R01. */
  private readonly r: Float64Array;
  private readonly v: Float64Array;
  private readonly y: Float64Array;

  constructor(
    private readonly stems: number,
    private readonly bins: number,
    private readonly spec: WienerSpec,
  ) {
    this.r = new Float64Array(stems * bins * 4);
    this.v = new Float64Array(stems);
    this.y = new Float64Array(stems * 4);
  }

  /** Starts a chunk. */
  reset(): void {
    this.r.fill(0);
  }

  /**
   * Pass 1, once per core frame: accumulates Σ_t y yᴴ and Σ_t v for each stem and bin. `x` is one frame's
   * spectrum ([L re, L im]×bins, [R re, R im]×bins), `mask(j, c, f)` the stem's mask.
   */
  accumulate(x: Float32Array, mask: (j: number, c: number, f: number) => number, vsum: Float64Array): void {
    const { r, bins, stems } = this;
    for (let j = 0; j < stems; j++) {
      for (let f = 0; f < bins; f++) {
        const m0 = mask(j, 0, f);
        const m1 = mask(j, 1, f);
        const y0r = m0 * x[2 * f]!;
        const y0i = m0 * x[2 * f + 1]!;
        const y1r = m1 * x[2 * (bins + f)]!;
        const y1i = m1 * x[2 * (bins + f) + 1]!;
        const p0 = y0r * y0r + y0i * y0i;
        const p1 = y1r * y1r + y1i * y1i;
        const at = 4 * (j * bins + f);
        r[at] = r[at]! + p0;
        r[at + 1] = r[at + 1]! + p1;
        // y0 · conj(y1)
        r[at + 2] = r[at + 2]! + (y0r * y1r + y0i * y1i);
        r[at + 3] = r[at + 3]! + (y0i * y1r - y0r * y1i);
        vsum[j * bins + f] = vsum[j * bins + f]! + 0.5 * (p0 + p1);
      }
    }
  }

  /** Between the passes: R_j = Σ y yᴴ / (Σ v + eps), plus diagonal loading. */
  normalise(vsum: Float64Array): void {
    const { r, bins, stems, spec } = this;
    for (let i = 0; i < stems * bins; i++) {
      const den = vsum[i]! + spec.eps;
      const a = r[4 * i]! / den;
      const d = r[4 * i + 1]! / den;
      const load = spec.diagLoad * ((a + d) / 2);
      r[4 * i] = a + load;
      r[4 * i + 1] = d + load;
      r[4 * i + 2] = r[4 * i + 2]! / den;
      r[4 * i + 3] = r[4 * i + 3]! / den;
    }
  }

  /**
   * Pass 2, per core frame: the filtered estimate of every stem at every bin, summed into `out[o]` for each
   * output o (its stems in `outputs[o]`), in the spectrum layout.
   */
  apply(x: Float32Array, mask: (j: number, c: number, f: number) => number, outputs: readonly (readonly number[])[], out: Float64Array[]): void {
    const { r, bins, stems, spec, v, y } = this;
    for (const o of out) o.fill(0);
    for (let f = 0; f < bins; f++) {
      const x0r = x[2 * f]!;
      const x0i = x[2 * f + 1]!;
      const x1r = x[2 * (bins + f)]!;
      const x1i = x[2 * (bins + f) + 1]!;
      // Cxx = Σ_j v_j R_j + eps I
      let a = spec.eps;
      let d = spec.eps;
      let br = 0;
      let bi = 0;
      for (let j = 0; j < stems; j++) {
        const m0 = mask(j, 0, f);
        const m1 = mask(j, 1, f);
        const vj = 0.5 * (m0 * m0 * (x0r * x0r + x0i * x0i) + m1 * m1 * (x1r * x1r + x1i * x1i));
        v[j] = vj;
        const at = 4 * (j * bins + f);
        a += vj * r[at]!;
        d += vj * r[at + 1]!;
        br += vj * r[at + 2]!;
        bi += vj * r[at + 3]!;
      }
      // z = Cxx⁻¹ x; det is real for a Hermitian matrix.
      const det = a * d - (br * br + bi * bi);
      // z0 = (d x0 - b x1) / det, z1 = (-conj(b) x0 + a x1) / det
      const z0r = (d * x0r - (br * x1r - bi * x1i)) / det;
      const z0i = (d * x0i - (br * x1i + bi * x1r)) / det;
      const z1r = (-(br * x0r + bi * x0i) + a * x1r) / det;
      const z1i = (-(br * x0i - bi * x0r) + a * x1i) / det;
      let s0r = 0;
      let s0i = 0;
      let s1r = 0;
      let s1i = 0;
      for (let j = 0; j < stems; j++) {
        const at = 4 * (j * bins + f);
        const r00 = r[at]!;
        const r11 = r[at + 1]!;
        const r01r = r[at + 2]!;
        const r01i = r[at + 3]!;
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
          const m0 = mask(j, 0, f);
          const m1 = mask(j, 1, f);
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
