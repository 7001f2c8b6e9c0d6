/**
 * Bus effects for the generator, working in place on block buffers: a small Schroeder/Freeverb-style reverb,
 * a fixed low-pass (the lo-fi "muffle"), vinyl crackle and hiss, and a peak limiter that keeps the mix inside
 * full scale.
 */
import type { Prng } from './prng.js';
import { SAMPLE_RATE, svfCoefficients } from './synth.js';

// Freeverb's tunings (at 44.1 kHz), four of its eight combs and two allpasses. The comb bank is shared by both
// channels (the send is mono anyway); the two allpass chains differ, which is what makes the tail wide.
const COMBS = [1116, 1277, 1422, 1617];
const ALLPASSES = [556, 341];
const STEREO_SPREAD = 23;

/**
 * Small Schroeder/Freeverb reverb: damped feedback combs (high frequencies die first, as in a room) into
 * allpass diffusers. One flat delay memory with fixed offsets and hand-unrolled loops: called per sample through
 * objects, the same structure cost three times as much.
 */
export class Reverb {
  private readonly combs = COMBS.map((n) => new Float32Array(n));
  private readonly combPos = new Int32Array(COMBS.length);
  private readonly combStore = new Float64Array(COMBS.length);
  private readonly allpasses = [...ALLPASSES, ...ALLPASSES.map((n) => n + STEREO_SPREAD)].map((n) => new Float32Array(n));
  private readonly apPos = new Int32Array(4);

  constructor(
    private readonly feedback = 0.82,
    private readonly damp = 0.3,
  ) {}

  /** Adds the reverb of the send buffers (mono-summed) into out l/r at `wet`. */
  process(sendL: Float32Array, sendR: Float32Array, outL: Float32Array, outR: Float32Array, count: number, wet: number): void {
    const { feedback, damp, combs, combPos, combStore, allpasses, apPos } = this;
    const g = wet * 0.12;
    const [c0, c1, c2, c3] = combs as [Float32Array, Float32Array, Float32Array, Float32Array];
    const [a0, a1, b0, b1] = allpasses as [Float32Array, Float32Array, Float32Array, Float32Array];
    let [q0, q1, q2, q3] = [combPos[0]!, combPos[1]!, combPos[2]!, combPos[3]!];
    let [z0, z1, z2, z3] = [combStore[0]!, combStore[1]!, combStore[2]!, combStore[3]!];
    let [pa0, pa1, pb0, pb1] = [apPos[0]!, apPos[1]!, apPos[2]!, apPos[3]!];
    const keep = 1 - damp;
    for (let i = 0; i < count; i++) {
      const x = (sendL[i]! + sendR[i]!) * g;
      // Four damped combs.
      let y = c0[q0]!;
      z0 = y * keep + z0 * damp;
      c0[q0] = x + z0 * feedback;
      if (++q0 === c0.length) q0 = 0;
      let c = y;
      y = c1[q1]!;
      z1 = y * keep + z1 * damp;
      c1[q1] = x + z1 * feedback;
      if (++q1 === c1.length) q1 = 0;
      c += y;
      y = c2[q2]!;
      z2 = y * keep + z2 * damp;
      c2[q2] = x + z2 * feedback;
      if (++q2 === c2.length) q2 = 0;
      c += y;
      y = c3[q3]!;
      z3 = y * keep + z3 * damp;
      c3[q3] = x + z3 * feedback;
      if (++q3 === c3.length) q3 = 0;
      c += y;
      // Two allpasses per channel.
      let b = a0[pa0]!;
      a0[pa0] = c + b * 0.5;
      if (++pa0 === a0.length) pa0 = 0;
      let l = b - c;
      b = a1[pa1]!;
      a1[pa1] = l + b * 0.5;
      if (++pa1 === a1.length) pa1 = 0;
      l = b - l;
      b = b0[pb0]!;
      b0[pb0] = c + b * 0.5;
      if (++pb0 === b0.length) pb0 = 0;
      let r = b - c;
      b = b1[pb1]!;
      b1[pb1] = r + b * 0.5;
      if (++pb1 === b1.length) pb1 = 0;
      r = b - r;
      outL[i] = outL[i]! + l;
      outR[i] = outR[i]! + r;
    }
    combPos.set([q0, q1, q2, q3]);
    combStore.set([z0, z1, z2, z3]);
    apPos.set([pa0, pa1, pb0, pb1]);
  }
}

/** 12 dB/octave low-pass (TPT state-variable filter), both channels, fixed cutoff. */
export class StereoLowpass {
  private s1L = 0;
  private s2L = 0;
  private s1R = 0;
  private s2R = 0;
  private readonly a1: number;
  private readonly a2: number;
  private readonly a3: number;

  constructor(cutoff: number, q = 0.707) {
    ({ a1: this.a1, a2: this.a2, a3: this.a3 } = svfCoefficients(cutoff, q));
  }

  process(l: Float32Array, r: Float32Array, count: number): void {
    const { a1, a2, a3 } = this;
    let { s1L, s2L, s1R, s2R } = this;
    for (let i = 0; i < count; i++) {
      let v3 = l[i]! - s2L;
      let v1 = a1 * s1L + a2 * v3;
      let v2 = s2L + a2 * s1L + a3 * v3;
      s1L = 2 * v1 - s1L;
      s2L = 2 * v2 - s2L;
      l[i] = v2;
      v3 = r[i]! - s2R;
      v1 = a1 * s1R + a2 * v3;
      v2 = s2R + a2 * s1R + a3 * v3;
      s1R = 2 * v1 - s1R;
      s2R = 2 * v2 - s2R;
      r[i] = v2;
    }
    this.s1L = s1L;
    this.s2L = s2L;
    this.s1R = s1R;
    this.s2R = s2R;
  }
}

/**
 * Vinyl: sparse clicks of random size and polarity, each a few samples long, over soft filtered hiss.
 * Clicks are scheduled by drawing the gap to the next one (a Poisson process, ~6 a second) rather than rolling
 * dice every sample, and the hiss uses an inline LCG: per-sample PRNG calls made this the costliest effect.
 */
export class Crackle {
  private click = 0;
  private clickDecay = 0;
  private hiss = 0;
  private untilClick: number;
  private lcg: number;

  constructor(
    private readonly rng: Prng,
    private readonly level = 1,
  ) {
    this.untilClick = this.gap();
    this.lcg = Math.floor(rng.next() * 4294967296) >>> 0;
  }

  private gap(): number {
    return Math.ceil((-Math.log(1 - this.rng.next()) * SAMPLE_RATE) / 6);
  }

  process(l: Float32Array, r: Float32Array, count: number): void {
    const { rng, level } = this;
    let { click, clickDecay, hiss, untilClick, lcg } = this;
    for (let i = 0; i < count; i++) {
      if (--untilClick <= 0) {
        const size = Math.pow(rng.next(), 3);
        click = (rng.chance(0.5) ? 1 : -1) * size * 0.25;
        clickDecay = 0.3 + 0.4 * rng.next();
        untilClick = this.gap();
      }
      lcg = (Math.imul(lcg, 1664525) + 1013904223) >>> 0;
      hiss += 0.08 * (lcg / 2147483648 - 1 - hiss);
      const s = (click + hiss * 0.012) * level;
      click *= clickDecay;
      l[i] = l[i]! + s;
      r[i] = r[i]! + s * 0.9;
    }
    this.click = click;
    this.clickDecay = clickDecay;
    this.hiss = hiss;
    this.untilClick = untilClick;
    this.lcg = lcg;
  }
}

/**
 * Peak limiter: instant attack and a 150 ms release on one gain for both channels (so the image does not
 * shift), ceiling −1 dBFS. Instant attack would distort a loud mix; here it only catches the rare peaks that
 * the mix levels' headroom leaves.
 */
export class Limiter {
  private gain = 1;
  private readonly release = Math.exp(-1 / (0.15 * SAMPLE_RATE));

  constructor(private readonly ceiling = 0.89) {}

  process(l: Float32Array, r: Float32Array, count: number): void {
    const { ceiling, release } = this;
    let gain = this.gain;
    for (let i = 0; i < count; i++) {
      const peak = Math.max(Math.abs(l[i]!), Math.abs(r[i]!));
      const needed = peak * gain > ceiling ? ceiling / peak : 1;
      gain = needed < gain ? needed : 1 - (1 - gain) * release;
      l[i] = l[i]! * gain;
      r[i] = r[i]! * gain;
    }
    this.gain = gain;
  }
}
