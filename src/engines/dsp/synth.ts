/**
 * Instrument voices rendered sample by sample into stereo block buffers. Cost matters (the generator must run
 * far faster than real time), so oscillators avoid Math.sin in the inner loops: damped resonators
 * (y[n] = 2r·cos(w)·y[n−1] − r²·y[n−2]) for additive partials, a sine table for FM, PolyBLEP for saws,
 * and per-sample multiplicative envelopes. All noise comes from the voice's own seeded PRNG.
 */
import FFT from 'fft.js';
import type { Prng } from './prng.js';

export const SAMPLE_RATE = 44100;
const TWO_PI = 2 * Math.PI;

const TABLE_BITS = 12;
const TABLE_SIZE = 1 << TABLE_BITS;
const SINE = new Float64Array(TABLE_SIZE + 1);
for (let i = 0; i <= TABLE_SIZE; i++) SINE[i] = Math.sin((TWO_PI * i) / TABLE_SIZE);

/** sin(2π·phase) for any phase (in cycles), by table with linear interpolation. */
export function sinCycles(phase: number): number {
  const x = (phase - Math.floor(phase)) * TABLE_SIZE;
  const i = x | 0;
  const a = SINE[i]!;
  return a + (SINE[i + 1]! - a) * (x - i);
}

export const midiToHz = (m: number) => 440 * Math.pow(2, (m - 69) / 12);

let scratchBuffer = new Float64Array(8192);
/** A shared work buffer for one voice's block (voices render one at a time). */
function scratch(size: number): Float64Array {
  if (scratchBuffer.length < size) scratchBuffer = new Float64Array(size);
  return scratchBuffer;
}

/** Per-sample factor that decays by 60 dB in `seconds`. */
const t60 = (seconds: number) => Math.pow(0.001, 1 / (Math.max(1e-4, seconds) * SAMPLE_RATE));

/**
 * Coefficients of a TPT state-variable filter (Zavalishin's topology-preserving transform) at `cutoff` Hz,
 * held below 0.45·SAMPLE_RATE where the prewarped tangent runs away; `k` (1/q) is the damping. The per-sample
 * step stays written out in each loop that runs one, where its state lives in locals.
 */
export function svfCoefficients(cutoff: number, q: number): { a1: number; a2: number; a3: number; k: number } {
  const g = Math.tan((Math.PI * Math.min(cutoff, SAMPLE_RATE * 0.45)) / SAMPLE_RATE);
  const k = 1 / q;
  const a1 = 1 / (1 + g * (g + k));
  const a2 = g * a1;
  return { a1, a2, a3: g * a2, k };
}

export interface Voice {
  /** Absolute sample index of the first sample. */
  readonly start: number;
  /**
   * Adds `count` samples into l/r from block index `offset`, continuing where the last call stopped.
   * Returns false once the voice is silent for good.
   */
  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean;
}

/** Equal-power pan gains for pan in [-1, 1]. */
function panGains(pan: number, gain: number): [number, number] {
  const a = ((pan + 1) * Math.PI) / 4;
  return [Math.cos(a) * gain, Math.sin(a) * gain];
}

/**
 * Attack (linear) → decay (exponential towards sustain) → hold → release (exponential) after `gate` samples.
 * `next()` is small enough for the compiler to inline into the voices' loops.
 */
export class Envelope {
  private n = 0;
  private level = 0;
  private readonly attackStep: number;
  private readonly attackEnd: number;
  private readonly decay: number;
  private readonly release: number;

  constructor(
    attack: number,
    decay: number,
    private readonly sustain: number,
    release: number,
    private readonly gate: number,
  ) {
    const attackSamples = Math.max(1, Math.round(attack * SAMPLE_RATE));
    this.attackStep = 1 / attackSamples;
    this.attackEnd = attackSamples;
    this.decay = t60(decay);
    this.release = t60(release);
  }

  next(): number {
    const n = this.n++;
    let level = this.level;
    if (n >= this.gate) level *= this.release;
    else if (n < this.attackEnd) level = (n + 1) * this.attackStep;
    else level = this.sustain + (level - this.sustain) * this.decay;
    this.level = level;
    return level;
  }

  /** Past the gate and 60 dB down: inaudible under a mix, and every sample rendered after costs time. */
  get done(): boolean {
    return this.n > this.gate && this.level < 1e-3;
  }
}

// ---- additive: piano, organ ------------------------------------------------------------------------------

/**
 * Sum of exponentially decaying partials, each a damped resonator. Piano: stretched (inharmonic) partials,
 * upper ones dying faster, long low notes; organ: steady drawbars.
 */
export class AdditiveVoice implements Voice {
  private readonly coef: Float64Array;
  private readonly r2: Float64Array;
  private readonly y1: Float64Array;
  private readonly y2: Float64Array;
  private readonly env: Envelope;
  private readonly gl: number;
  private readonly gr: number;

  constructor(
    readonly start: number,
    freq: number,
    partials: Array<{ ratio: number; amp: number; decay: number }>,
    env: Envelope,
    gain: number,
    pan: number,
  ) {
    // Partials above 8 kHz or 26 dB down add little to these instruments and cost as much as the rest.
    const usable = partials.filter((p) => p.ratio * freq < 8000 && p.amp > 0.05).slice(0, 8);
    const n = usable.length;
    this.coef = new Float64Array(n);
    this.r2 = new Float64Array(n);
    this.y1 = new Float64Array(n);
    this.y2 = new Float64Array(n);
    usable.forEach((p, i) => {
      const w = (TWO_PI * p.ratio * freq) / SAMPLE_RATE;
      const r = p.decay > 0 ? t60(p.decay) : 1;
      this.coef[i] = 2 * r * Math.cos(w);
      this.r2[i] = r * r;
      // y[n] = A·rⁿ·sin(w·n): start from y[−1], y[−2] so the first sample is 0 and no click is heard.
      this.y1[i] = (p.amp * Math.sin(-w)) / r;
      this.y2[i] = (p.amp * Math.sin(-2 * w)) / (r * r);
    });
    this.env = env;
    [this.gl, this.gr] = panGains(pan, gain);
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    const { coef, r2, y1, y2, env, gl, gr } = this;
    const sum = scratch(count);
    sum.fill(0, 0, count);
    // Partial by partial, so each resonator's state stays in registers across the block.
    for (let p = 0; p < coef.length; p++) {
      const c = coef[p]!;
      const d = r2[p]!;
      let a = y1[p]!;
      let b = y2[p]!;
      for (let i = 0; i < count; i++) {
        const y = c * a - d * b;
        b = a;
        a = y;
        sum[i] = sum[i]! + y;
      }
      y1[p] = a;
      y2[p] = b;
    }
    for (let i = 0; i < count; i++) {
      const e = env.next() * sum[i]!;
      l[offset + i] = l[offset + i]! + e * gl;
      r[offset + i] = r[offset + i]! + e * gr;
    }
    return !env.done;
  }
}

export function pianoPartials(freq: number, vel: number): Array<{ ratio: number; amp: number; decay: number }> {
  // Low strings ring for seconds, high ones briefly; harder hits are brighter.
  const base = Math.max(0.8, Math.min(6, 6 * Math.pow(110 / freq, 0.6)));
  const B = 0.0004;
  const out = [];
  for (let n = 1; n <= 10; n++) {
    out.push({
      ratio: n * Math.sqrt(1 + B * n * n),
      amp: (n === 1 ? 1 : 0.9 / Math.pow(n, 1.1 + (1 - vel) * 0.8)) * (n % 7 === 0 ? 0.3 : 1),
      decay: base / (1 + 0.45 * (n - 1)),
    });
  }
  return out;
}

export const ORGAN_PARTIALS = [1, 2, 3, 4, 6, 8].map((ratio, i) => ({ ratio, amp: [1, 0.7, 0.45, 0.3, 0.2, 0.15][i]!, decay: 0 }));

// ---- FM: electric piano, bell ----------------------------------------------------------------------------

export class FmVoice implements Voice {
  private phaseC = 0;
  private phaseM = 0;
  private phaseT = 0;
  private index: number;
  private tine: number;
  private readonly indexDecay: number;
  private readonly tineDecay: number;
  private readonly incC: number;
  private readonly incM: number;
  private readonly incT: number;
  private readonly gl: number;
  private readonly gr: number;

  constructor(
    readonly start: number,
    freq: number,
    private readonly env: Envelope,
    gain: number,
    pan: number,
    kind: 'epiano' | 'bell',
    vel: number,
  ) {
    const ratio = kind === 'epiano' ? 1 : 3.5;
    this.incC = freq / SAMPLE_RATE;
    this.incM = (freq * ratio) / SAMPLE_RATE;
    // The "tine": a high partial that gives the electric piano its bell-like attack.
    this.incT = Math.min(0.45, (freq * (kind === 'epiano' ? 7 : 5.2)) / SAMPLE_RATE);
    this.index = (kind === 'epiano' ? 1.6 : 3) * (0.5 + 0.5 * vel);
    this.indexDecay = t60(kind === 'epiano' ? 1.2 : 4);
    this.tine = kind === 'epiano' ? 0.25 * vel : 0.1;
    this.tineDecay = t60(kind === 'epiano' ? 0.35 : 1.5);
    [this.gl, this.gr] = panGains(pan, gain);
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    let { phaseC, phaseM, phaseT, index, tine } = this;
    const { incC, incM, incT, indexDecay, tineDecay, env, gl, gr } = this;
    for (let i = offset, end = offset + count; i < end; i++) {
      // Modulator and tine phases stay in [0, 1), so only the carrier (phase-modulated) needs the general lookup.
      let x = phaseM * TABLE_SIZE;
      let j = x | 0;
      let a = SINE[j]!;
      const mod = index * (a + (SINE[j + 1]! - a) * (x - j));
      x = phaseT * TABLE_SIZE;
      j = x | 0;
      a = SINE[j]!;
      const s = sinCycles(phaseC + mod / TWO_PI) + tine * (a + (SINE[j + 1]! - a) * (x - j));
      phaseC += incC;
      if (phaseC >= 1) phaseC -= 1;
      phaseM += incM;
      if (phaseM >= 1) phaseM -= 1;
      phaseT += incT;
      if (phaseT >= 1) phaseT -= 1;
      index *= indexDecay;
      tine *= tineDecay;
      const e = env.next();
      l[i] = l[i]! + s * e * gl;
      r[i] = r[i]! + s * e * gr;
    }
    this.phaseC = phaseC;
    this.phaseM = phaseM;
    this.phaseT = phaseT;
    this.index = index;
    this.tine = tine;
    return !env.done;
  }
}

// ---- Karplus-Strong: guitar-ish pluck, picked and upright bass -------------------------------------------

export class PluckVoice implements Voice {
  private readonly line: Float32Array;
  private pos = 0;
  private last = 0;
  private readonly frac: number;
  private readonly len: number;
  private feedback: number;
  private readonly damped: number;
  private n = 0;
  private readonly gl: number;
  private readonly gr: number;
  private quiet = 0;

  constructor(
    readonly start: number,
    freq: number,
    private readonly gate: number,
    gain: number,
    pan: number,
    vel: number,
    rng: Prng,
    options: { sustain?: number; brightness?: number } = {},
  ) {
    // The averaging loop filter adds half a sample of delay.
    const period = SAMPLE_RATE / freq - 0.5;
    this.len = Math.max(2, Math.floor(period));
    this.frac = period - this.len;
    this.line = new Float32Array(this.len + 2);
    // Excitation: noise, low-passed more for soft notes (a softer pick), with its mean removed.
    const bright = Math.min(0.95, (options.brightness ?? 0.6) * (0.5 + 0.5 * vel));
    let lp = 0;
    let mean = 0;
    for (let i = 0; i < this.line.length; i++) {
      lp += bright * (rng.signed() - lp);
      this.line[i] = lp;
      mean += lp;
    }
    mean /= this.line.length;
    for (let i = 0; i < this.line.length; i++) this.line[i] = this.line[i]! - mean;
    const sustain = options.sustain ?? 3;
    // Feedback per period for a T60 of `sustain` seconds; a released string is damped within ~0.1 s.
    this.feedback = Math.pow(0.001, 1 / (sustain * freq));
    this.damped = Math.pow(0.001, 1 / (0.08 * freq));
    [this.gl, this.gr] = panGains(pan, gain * 2);
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    const { line, len, frac, gl, gr } = this;
    const size = line.length;
    let { pos, last, n, feedback, quiet } = this;
    for (let i = offset, end = offset + count; i < end; i++) {
      if (n++ === this.gate) feedback = this.damped;
      // Read `len + frac` samples back with linear interpolation.
      let a = pos - len;
      if (a < 0) a += size;
      let b = a - 1;
      if (b < 0) b += size;
      const delayed = line[a]! + (line[b]! - line[a]!) * frac;
      const y = 0.5 * (delayed + last) * feedback;
      last = delayed;
      line[pos] = y;
      if (++pos === size) pos = 0;
      l[i] = l[i]! + y * gl;
      r[i] = r[i]! + y * gr;
      quiet = Math.abs(y) < 1e-4 ? quiet + 1 : 0;
    }
    this.pos = pos;
    this.last = last;
    this.n = n;
    this.feedback = feedback;
    this.quiet = quiet;
    return quiet < size * 2;
  }
}

// ---- subtractive: pads, leads, synth bass ----------------------------------------------------------------

const SAW_BITS = 11;
const SAW_SIZE = 1 << SAW_BITS;
/** One band-limited sawtooth cycle per octave band (20·2^i Hz up), built on first use. */
const sawTables: Float32Array[] = [];

/**
 * A sawtooth cycle without aliasing for notes up to `freq`: only the harmonics that stay below 20 kHz, summed
 * once into a table by an inverse FFT. Reading a table costs a fraction of computing PolyBLEP per sample.
 */
function sawTable(freq: number): Float32Array {
  const band = Math.max(0, Math.min(10, Math.ceil(Math.log2(Math.max(freq, 20) / 20))));
  let table = sawTables[band];
  if (!table) {
    const top = 20 * Math.pow(2, band);
    const harmonics = Math.max(1, Math.min(SAW_SIZE / 2 - 1, Math.floor(20000 / top)));
    const fft = new FFT(SAW_SIZE);
    const spectrum = new Float64Array(2 * SAW_SIZE);
    const cycle = new Float64Array(2 * SAW_SIZE);
    // A rising ramp is −(2/π)·Σ sin(2πkt)/k; sin terms sit on the imaginary axis, mirrored with opposite sign.
    for (let k = 1; k <= harmonics; k++) {
      const b = -(2 / Math.PI) / k;
      spectrum[2 * k + 1] = (-b * SAW_SIZE) / 2;
      spectrum[2 * (SAW_SIZE - k) + 1] = (b * SAW_SIZE) / 2;
    }
    fft.inverseTransform(cycle, spectrum);
    table = new Float32Array(SAW_SIZE + 1);
    for (let n = 0; n < SAW_SIZE; n++) table[n] = cycle[2 * n]!;
    table[SAW_SIZE] = table[0]!;
    sawTables[band] = table;
  }
  return table;
}

export interface SubtractiveOptions {
  /** Detune of each oscillator in cents, one to three saws. */
  detune: number[];
  /** Stereo position of each oscillator, -1..1. */
  spread: number[];
  /** Filter cutoff (Hz) at the start and where it settles, and how fast it gets there. */
  cutoffStart: number;
  cutoffEnd: number;
  cutoffTime: number;
  resonance: number;
  /** Vibrato depth in cents after `vibratoDelay` seconds. */
  vibrato?: number;
  vibratoDelay?: number;
  /**
   * False: no filter in the voice. Pads whose cutoff barely moves are filtered once on their bus instead,
   * which saves two filters per note.
   */
  filter?: boolean;
}

/**
 * Up to three detuned wavetable saws, each panned, through a stereo low-pass with an exponential cutoff sweep.
 * The oscillators are unrolled into locals: looping over arrays of phases cost a third more per sample.
 */
export class SubtractiveVoice implements Voice {
  private p0 = 0;
  private p1 = 0.37;
  private p2 = 0.74;
  private readonly i0: number;
  private readonly i1: number;
  private readonly i2: number;
  private readonly l0: number;
  private readonly l1: number;
  private readonly l2: number;
  private readonly r0: number;
  private readonly r1: number;
  private readonly r2: number;
  private readonly saw: Float32Array;
  // Two TPT state-variable low-pass filters (left, right).
  private ic1L = 0;
  private ic2L = 0;
  private ic1R = 0;
  private ic2R = 0;
  private cutoff: number;
  private readonly cutoffDecay16: number;
  private n = 0;
  private a1 = 0;
  private a2 = 0;
  private a3 = 0;
  private vibPhase = 0;
  private vib = 1;

  constructor(
    readonly start: number,
    freq: number,
    private readonly env: Envelope,
    gain: number,
    pan: number,
    private readonly o: SubtractiveOptions,
  ) {
    const count = Math.min(3, o.detune.length);
    const inc = (i: number) => (i < count ? (freq * Math.pow(2, o.detune[i]! / 1200)) / SAMPLE_RATE : 0);
    const gains = (i: number): [number, number] => (i < count ? panGains(Math.max(-1, Math.min(1, pan + o.spread[i]!)), gain / Math.sqrt(count)) : [0, 0]);
    [this.i0, this.i1, this.i2] = [inc(0), inc(1), inc(2)];
    [this.l0, this.r0] = gains(0);
    [this.l1, this.r1] = gains(1);
    [this.l2, this.r2] = gains(2);
    // Room for the widest detune and vibrato above the nominal pitch.
    this.saw = sawTable(freq * Math.pow(2, (Math.max(...o.detune) + (o.vibrato ?? 0)) / 1200));
    this.cutoff = o.cutoffStart - o.cutoffEnd;
    this.cutoffDecay16 = Math.pow(t60(o.cutoffTime), 16);
  }

  private updateFilter(): void {
    ({ a1: this.a1, a2: this.a2, a3: this.a3 } = svfCoefficients(this.o.cutoffEnd + this.cutoff, this.o.resonance));
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    const { env, o, saw, i0, i1, i2, l0, l1, l2, r0, r1, r2 } = this;
    const filtered = o.filter !== false;
    const oscs = o.detune.length;
    const vibDepth = o.vibrato ? Math.pow(2, o.vibrato / 1200) - 1 : 0;
    const vibStart = (o.vibratoDelay ?? 0.25) * SAMPLE_RATE;
    let { p0, p1, p2, ic1L, ic2L, ic1R, ic2R, n, vibPhase, vib, a1, a2, a3 } = this;
    for (let i = offset, end = offset + count; i < end; i++) {
      // Filter and vibrato move slowly: updating them every 16 samples is inaudible and saves tan() and sin().
      if ((n & 15) === 0) {
        if (filtered) {
          this.cutoff *= this.cutoffDecay16;
          this.updateFilter();
          ({ a1, a2, a3 } = this);
        }
        vib = vibDepth !== 0 && n > vibStart ? 1 + vibDepth * sinCycles(vibPhase) : 1;
        vibPhase += (16 * 5.5) / SAMPLE_RATE;
      }
      p0 += i0 * vib;
      if (p0 >= 1) p0 -= 1;
      let x = p0 * SAW_SIZE;
      let j = x | 0;
      let a = saw[j]!;
      let s = a + (saw[j + 1]! - a) * (x - j);
      let yl = s * l0;
      let yr = s * r0;
      // The oscillator count never changes within a voice, so these branches are always predicted.
      if (oscs > 1) {
        p1 += i1 * vib;
        if (p1 >= 1) p1 -= 1;
        x = p1 * SAW_SIZE;
        j = x | 0;
        a = saw[j]!;
        s = a + (saw[j + 1]! - a) * (x - j);
        yl += s * l1;
        yr += s * r1;
      }
      if (oscs > 2) {
        p2 += i2 * vib;
        if (p2 >= 1) p2 -= 1;
        x = p2 * SAW_SIZE;
        j = x | 0;
        a = saw[j]!;
        s = a + (saw[j + 1]! - a) * (x - j);
        yl += s * l2;
        yr += s * r2;
      }
      if (filtered) {
        let v3 = yl - ic2L;
        let v1 = a1 * ic1L + a2 * v3;
        let v2 = ic2L + a2 * ic1L + a3 * v3;
        ic1L = 2 * v1 - ic1L;
        ic2L = 2 * v2 - ic2L;
        yl = v2;
        v3 = yr - ic2R;
        v1 = a1 * ic1R + a2 * v3;
        v2 = ic2R + a2 * ic1R + a3 * v3;
        ic1R = 2 * v1 - ic1R;
        ic2R = 2 * v2 - ic2R;
        yr = v2;
      }
      const e = env.next();
      l[i] = l[i]! + yl * e;
      r[i] = r[i]! + yr * e;
      n++;
    }
    this.p0 = p0;
    this.p1 = p1;
    this.p2 = p2;
    this.ic1L = ic1L;
    this.ic2L = ic2L;
    this.ic1R = ic1R;
    this.ic2R = ic2R;
    this.n = n;
    this.vibPhase = vibPhase;
    this.vib = vib;
    return !env.done;
  }
}

/** A sine bass with a touch of second harmonic (soft saturation), the lo-fi and hip-hop sub. */
export class SubBassVoice implements Voice {
  private phase = 0;
  private readonly inc: number;
  private readonly gl: number;
  private readonly gr: number;

  constructor(
    readonly start: number,
    freq: number,
    private readonly env: Envelope,
    gain: number,
  ) {
    this.inc = freq / SAMPLE_RATE;
    [this.gl, this.gr] = panGains(0, gain);
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    const { inc, env, gl, gr } = this;
    let phase = this.phase;
    for (let i = offset, end = offset + count; i < end; i++) {
      const x = sinCycles(phase) * 1.2;
      phase += inc;
      if (phase >= 1) phase -= 1;
      // x − x³/3 (clipped): odd harmonics at low level, enough to be heard on small speakers.
      const s = x > 1 ? 2 / 3 : x < -1 ? -2 / 3 : x - (x * x * x) / 3;
      const e = env.next();
      l[i] = l[i]! + s * e * gl;
      r[i] = r[i]! + s * e * gr;
    }
    this.phase = phase;
    return !env.done;
  }
}

// ---- drums -----------------------------------------------------------------------------------------------

/** Kick and toms: a sine whose pitch falls exponentially, plus a click of noise. */
export class SweepDrumVoice implements Voice {
  private phase = 0;
  private freqOffset: number;
  private amp: number;
  private click: number;
  private readonly freqDecay: number;
  private readonly ampDecay: number;
  private readonly clickDecay: number;
  private readonly gl: number;
  private readonly gr: number;

  constructor(
    readonly start: number,
    private readonly endFreq: number,
    startFreq: number,
    sweepTime: number,
    decay: number,
    clickLevel: number,
    gain: number,
    pan: number,
    private readonly rng: Prng,
  ) {
    this.freqOffset = startFreq - endFreq;
    this.freqDecay = Math.exp(-1 / (sweepTime * SAMPLE_RATE));
    this.amp = 1;
    this.ampDecay = t60(decay);
    this.click = clickLevel;
    this.clickDecay = t60(0.012);
    [this.gl, this.gr] = panGains(pan, gain);
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    let { phase, freqOffset, amp, click } = this;
    const { endFreq, freqDecay, ampDecay, clickDecay, gl, gr, rng } = this;
    for (let i = offset, end = offset + count; i < end; i++) {
      phase += (endFreq + freqOffset) / SAMPLE_RATE;
      freqOffset *= freqDecay;
      let s = sinCycles(phase) * amp;
      amp *= ampDecay;
      if (click > 1e-4) {
        s += click * rng.signed();
        click *= clickDecay;
      }
      l[i] = l[i]! + s * gl;
      r[i] = r[i]! + s * gr;
    }
    this.phase = phase - Math.floor(phase);
    this.freqOffset = freqOffset;
    this.amp = amp;
    this.click = click;
    return amp > 1e-3;
  }
}

export interface NoiseDrumOptions {
  /** Noise filtered by a band-pass (SVF) at `freq` with `q`; high-pass instead when `highpass`. */
  freq: number;
  q: number;
  highpass?: boolean;
  decay: number;
  /** A pitched body (snare shell), Hz and level, decaying over `toneDecay`. */
  tone?: number;
  toneLevel?: number;
  toneDecay?: number;
  /** Re-triggers of the envelope (a hand clap's several hands), in seconds apart. */
  bursts?: number;
  burstGap?: number;
  /** Metallic partials (square waves at inharmonic ratios, as in an 808 cymbal) mixed into the noise. */
  metal?: number;
}

const METAL_RATIOS = [1, 1.4829, 1.8017, 2.5461, 2.6307, 3.8975];
const METAL_BITS = 17;
let metalTable: Float32Array | null = null;

/**
 * Three seconds of six square waves at inharmonic ratios (the 808 cymbal recipe), computed once: reading it at
 * a random offset costs one load per sample instead of six oscillators.
 */
function metalSource(): Float32Array {
  if (!metalTable) {
    metalTable = new Float32Array(1 << METAL_BITS);
    for (let n = 0; n < metalTable.length; n++) {
      let m = 0;
      for (const ratio of METAL_RATIOS) m += ((330 * ratio * n) / SAMPLE_RATE) % 1 < 0.5 ? 1 : -1;
      metalTable[n] = m / 3;
    }
  }
  return metalTable;
}

/** Snares, hats, claps, rides, shakers, crashes: filtered noise with optional tone, bursts and metal. */
export class NoiseDrumVoice implements Voice {
  private n = 0;
  private amp = 1;
  private tone = 0;
  private tonePhase = 0;
  private ic1 = 0;
  private ic2 = 0;
  private readonly a1: number;
  private readonly a2: number;
  private readonly a3: number;
  private readonly k: number;
  private readonly decay: number;
  private readonly toneDecay: number;
  private readonly metalTable: Float32Array;
  private readonly metalOffset: number;
  private readonly gl: number;
  private readonly gr: number;

  constructor(
    readonly start: number,
    private readonly o: NoiseDrumOptions,
    gain: number,
    pan: number,
    private readonly rng: Prng,
  ) {
    ({ a1: this.a1, a2: this.a2, a3: this.a3, k: this.k } = svfCoefficients(o.freq, o.q));
    this.decay = t60(o.decay);
    this.tone = o.toneLevel ?? 0;
    this.toneDecay = t60(o.toneDecay ?? 0.1);
    this.metalTable = metalSource();
    this.metalOffset = rng.int(0, this.metalTable.length - 1);
    [this.gl, this.gr] = panGains(pan, gain);
  }

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    const { o, a1, a2, a3, k, decay, toneDecay, gl, gr, rng, metalTable, metalOffset } = this;
    const mask = metalTable.length - 1;
    let { n, amp, tone, tonePhase, ic1, ic2 } = this;
    const gap = Math.round((o.burstGap ?? 0.011) * SAMPLE_RATE);
    const bursts = o.bursts ?? 1;
    const metal = o.metal ?? 0;
    const toneInc = (o.tone ?? 0) / SAMPLE_RATE;
    for (let i = offset, end = offset + count; i < end; i++) {
      if (bursts > 1 && n > 0 && n % gap === 0 && n / gap < bursts) amp = 1;
      let x = rng.signed();
      if (metal > 0) x = x * (1 - metal) + metalTable[(metalOffset + n) & mask]! * metal;
      const v3 = x - ic2;
      const v1 = a1 * ic1 + a2 * v3;
      const v2 = ic2 + a2 * ic1 + a3 * v3;
      ic1 = 2 * v1 - ic1;
      ic2 = 2 * v2 - ic2;
      const filtered = o.highpass ? x - k * v1 - v2 : v1 * k;
      let s = filtered * amp;
      amp *= decay;
      if (tone > 1e-4) {
        s += tone * sinCycles(tonePhase);
        tonePhase += toneInc;
        tone *= toneDecay;
      }
      l[i] = l[i]! + s * gl;
      r[i] = r[i]! + s * gr;
      n++;
    }
    this.n = n;
    this.amp = amp;
    this.tone = tone;
    this.tonePhase = tonePhase - Math.floor(tonePhase);
    this.ic1 = ic1;
    this.ic2 = ic2;
    // −60 dB is inaudible under a mix; rendering drum tails further only costs time.
    return amp > 1e-3 || tone > 1e-3 || n < bursts * gap;
  }
}
