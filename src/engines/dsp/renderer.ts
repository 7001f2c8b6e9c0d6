/**
 * Turns the composer's bars into audio, block by block: starts a voice per note at its exact sample, mixes the
 * voices into a few buses with reverb sends, applies the style's bus effects and a limiter, and fades the ends.
 * Memory holds one block, the sounding voices, about one bar of score and a bounded cache of rendered notes,
 * whatever the length of the piece.
 */
import { Composer, type Part, type ScoreEvent, type SongSpec } from './composer.js';
import { Crackle, Limiter, Reverb, StereoLowpass } from './effects.js';
import { Prng } from './prng.js';
import type { Keys } from './style.js';
import {
  AdditiveVoice,
  Envelope,
  FmVoice,
  midiToHz,
  NoiseDrumVoice,
  ORGAN_PARTIALS,
  pianoPartials,
  PluckVoice,
  SAMPLE_RATE,
  SubBassVoice,
  SubtractiveVoice,
  SweepDrumVoice,
  type Voice,
} from './synth.js';

export const MAX_BLOCK = 8192;

/**
 * Voices render straight into one of a few buses, each with a fixed reverb send, instead of each voice carrying
 * its own send level (which would cost a scratch buffer and an extra pass per voice).
 */
const enum Bus {
  DrumsDry,
  DrumsRoom,
  MusicDry,
  MusicWet,
  Pad,
}
const BUS_SEND = [0, 0.3, 0, 0.45, 0.8];
/** Pads are filtered once on their bus (see SubtractiveOptions.filter). */
const PAD_CUTOFF = 1200;
const BUS_IS_MUSIC = [false, false, true, true, true];

interface Sounding {
  voice: Voice;
  bus: Bus;
}

interface CachedNote {
  left: Float32Array;
  right: Float32Array;
  bus: Bus;
}

/** Velocity is quantised to this many steps for caching; the exact velocity is applied as gain on playback. */
const VELOCITY_STEPS = 12;
const NOISE_VARIANTS = 4;
/** Longer notes are played live (a held pad over several bars would fill the cache for one use). */
const MAX_CACHED_GATE = 4 * SAMPLE_RATE;
/** Gate plus the longest release tail any instrument has, with room to spare. */
const MAX_RECORDED = 10 * SAMPLE_RATE;
/** Cache budget in samples per channel (≈ 45 MB for both channels): bounded whatever the song's length. */
const CACHE_SAMPLES = 6_000_000;

/** FNV-1a: a stable 32-bit seed for each cached note's noise. */
function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Plays a recorded note back at a gain. */
class CachedVoice implements Voice {
  private pos = 0;

  constructor(
    readonly start: number,
    private readonly left: Float32Array,
    private readonly right: Float32Array,
    private readonly gain: number,
  ) {}

  render(l: Float32Array, r: Float32Array, offset: number, count: number): boolean {
    const { left, right, gain } = this;
    const n = Math.min(count, left.length - this.pos);
    for (let i = 0, p = this.pos; i < n; i++, p++) {
      l[offset + i] = l[offset + i]! + left[p]! * gain;
      r[offset + i] = r[offset + i]! + right[p]! * gain;
    }
    this.pos += n;
    return this.pos < left.length;
  }
}

const DRUM_PARTS = new Set<Part>(['kick', 'snare', 'clap', 'hat', 'openhat', 'ride', 'tom', 'crash', 'shaker']);

export class SongRenderer {
  readonly totalFrames: number;
  readonly composer: Composer;
  private rendered = 0;
  private readonly queue: ScoreEvent[] = [];
  private composed = true;
  private readonly sounding: Sounding[] = [];
  private readonly busL = BUS_SEND.map(() => new Float32Array(MAX_BLOCK));
  private readonly busR = BUS_SEND.map(() => new Float32Array(MAX_BLOCK));
  private readonly sendL = new Float32Array(MAX_BLOCK);
  private readonly sendR = new Float32Array(MAX_BLOCK);
  private readonly mixL = new Float32Array(MAX_BLOCK);
  private readonly mixR = new Float32Array(MAX_BLOCK);
  private readonly reverb = new Reverb();
  private readonly lowpass: StereoLowpass | null;
  private readonly crackle: Crackle | null;
  private readonly limiter = new Limiter();
  private readonly padFilter = new StereoLowpass(PAD_CUTOFF, 0.7);
  private readonly voiceRng: Prng;
  private readonly noiseSalt: number;
  /** Parts whose instrument starts from noise (drums, plucked strings). */
  private readonly noisy: Set<Part>;
  private readonly cache = new Map<string, CachedNote>();
  private cachedSamples = 0;
  private readonly recordL = new Float32Array(MAX_RECORDED);
  private readonly recordR = new Float32Array(MAX_RECORDED);
  private readonly fadeIn: number;
  private readonly fadeOut: number;
  /** Sidechain: how far the music is pushed down right now (decays after each kick). */
  private duck = 0;
  private readonly duckDecay = Math.exp(-1 / (0.11 * SAMPLE_RATE));
  private readonly kickOffsets: number[] = [];
  private readonly duckGain = new Float32Array(MAX_BLOCK);
  private readonly busUsed = new Uint8Array(BUS_SEND.length);

  constructor(
    private readonly spec: SongSpec,
    rng: Prng,
  ) {
    this.composer = new Composer(spec, rng.fork('composer'));
    this.voiceRng = rng.fork('voices');
    this.noiseSalt = Math.floor(rng.fork('noise').next() * 4294967296);
    const { style } = spec;
    this.noisy = new Set<Part>(DRUM_PARTS);
    if (style.chords === 'pluck') this.noisy.add('chords');
    if (style.melody === 'pluck') this.noisy.add('melody');
    if (style.bass === 'pick' || style.bass === 'upright') this.noisy.add('bass');
    this.totalFrames = Math.round(spec.seconds * SAMPLE_RATE);
    this.lowpass = spec.style.lowpass ? new StereoLowpass(spec.style.lowpass) : null;
    this.crackle = spec.style.crackle ? new Crackle(rng.fork('crackle')) : null;
    this.fadeIn = Math.round(0.01 * SAMPLE_RATE);
    this.fadeOut = Math.round(Math.min(3, spec.seconds * 0.15) * SAMPLE_RATE);
  }

  get renderedFrames(): number {
    return this.rendered;
  }

  /** The next block as fresh interleaved stereo (the caller may hand it to a pipe), or null at the end. */
  nextBlock(maxFrames = MAX_BLOCK): Float32Array | null {
    const frames = Math.min(maxFrames, MAX_BLOCK, this.totalFrames - this.rendered);
    if (frames <= 0) return null;
    const blockStart = this.rendered;
    const blockEnd = blockStart + frames;
    this.schedule(blockEnd);

    const { busL, busR, sendL, sendR, mixL, mixR } = this;
    // Only buses some voice played into this block are cleared, mixed and sent.
    const used = this.busUsed.fill(0);
    for (const s of this.sounding) {
      if (s.voice.start - blockStart < frames && !used[s.bus]) {
        used[s.bus] = 1;
        busL[s.bus]!.fill(0, 0, frames);
        busR[s.bus]!.fill(0, 0, frames);
      }
    }

    for (let i = this.sounding.length - 1; i >= 0; i--) {
      const s = this.sounding[i]!;
      const offset = Math.max(0, s.voice.start - blockStart);
      if (offset >= frames) continue;
      if (!s.voice.render(busL[s.bus]!, busR[s.bus]!, offset, frames - offset)) this.sounding.splice(i, 1);
    }

    if (used[Bus.Pad]) this.padFilter.process(busL[Bus.Pad]!, busR[Bus.Pad]!, frames);
    if (this.spec.style.sidechain) this.applyDuck(frames);
    sendL.fill(0, 0, frames);
    sendR.fill(0, 0, frames);
    mixL.fill(0, 0, frames);
    mixR.fill(0, 0, frames);
    for (let b = 0; b < busL.length; b++) {
      if (!used[b]) continue;
      const send = BUS_SEND[b]!;
      const l = busL[b]!;
      const r = busR[b]!;
      for (let k = 0; k < frames; k++) {
        mixL[k] = mixL[k]! + l[k]!;
        mixR[k] = mixR[k]! + r[k]!;
      }
      if (send === 0) continue;
      for (let k = 0; k < frames; k++) {
        sendL[k] = sendL[k]! + l[k]! * send;
        sendR[k] = sendR[k]! + r[k]! * send;
      }
    }
    this.reverb.process(sendL, sendR, mixL, mixR, frames, this.spec.style.reverb);
    this.lowpass?.process(mixL, mixR, frames);
    this.crackle?.process(mixL, mixR, frames);
    this.limiter.process(mixL, mixR, frames);

    const out = new Float32Array(frames * 2);
    for (let k = 0; k < frames; k++) {
      out[2 * k] = mixL[k]!;
      out[2 * k + 1] = mixR[k]!;
    }
    // Fades touch only the first 10 ms and the last seconds.
    const fadeOutStart = this.totalFrames - this.fadeOut;
    if (blockStart < this.fadeIn || blockEnd > fadeOutStart) {
      for (let k = 0; k < frames; k++) {
        const n = blockStart + k;
        let g = 1;
        if (n < this.fadeIn) g = n / this.fadeIn;
        if (n >= fadeOutStart) {
          const x = (this.totalFrames - n) / this.fadeOut;
          g *= x * x;
        }
        out[2 * k] = out[2 * k]! * g;
        out[2 * k + 1] = out[2 * k + 1]! * g;
      }
    }
    this.rendered = blockEnd;
    return out;
  }

  /** Starts a voice for every event that begins before `blockEnd`, composing bars as needed. */
  private schedule(blockEnd: number): void {
    const horizon = blockEnd / SAMPLE_RATE + 0.05;
    // Humanised events may start a little before their bar: keep one bar composed ahead.
    while (this.composed) {
      const last = this.queue.at(-1);
      if (last && last.time > horizon + this.composer.barSeconds) break;
      const bar = this.composer.nextBar();
      if (!bar) {
        this.composed = false;
        break;
      }
      this.queue.push(...bar);
    }
    this.kickOffsets.length = 0;
    let kept = 0;
    for (const ev of this.queue) {
      const start = Math.round(ev.time * SAMPLE_RATE);
      if (start >= blockEnd) {
        this.queue[kept++] = ev;
        continue;
      }
      if (start >= this.totalFrames) continue;
      const voice = this.voiceFor(ev, Math.max(start, this.rendered));
      if (voice) this.sounding.push(voice);
      if (ev.part === 'kick') this.kickOffsets.push(Math.max(0, start - this.rendered));
    }
    this.queue.length = kept;
  }

  /** Ducks the music buses under each kick of this block (EDM "pumping"). */
  private applyDuck(frames: number): void {
    const kicks = this.kickOffsets.sort((a, b) => a - b);
    const { duckDecay } = this;
    let next = 0;
    let duck = this.duck;
    const gain = this.duckGain;
    for (let k = 0; k < frames; k++) {
      while (next < kicks.length && kicks[next]! <= k) {
        duck = 0.55;
        next++;
      }
      gain[k] = 1 - duck;
      duck *= duckDecay;
    }
    this.duck = duck;
    for (let b = 0; b < this.busL.length; b++) {
      if (!BUS_IS_MUSIC[b] || !this.busUsed[b]) continue;
      const l = this.busL[b]!;
      const r = this.busR[b]!;
      for (let k = 0; k < frames; k++) {
        l[k] = l[k]! * gain[k]!;
        r[k] = r[k]! * gain[k]!;
      }
    }
  }

  /**
   * Notes repeat (progressions loop, motifs recur, drums play the same hit over and over), and a voice's output
   * depends only on what it plays, not when. So each distinct note (part, pitch, length, velocity step, noise
   * variant) is rendered once, kept in a bounded LRU cache, and mixed in from there the next time: like a
   * sampler of our own synthesis. Notes too long to keep are played live.
   */
  private voiceFor(ev: ScoreEvent, start: number): Sounding | null {
    const gate = Math.max(1, Math.round(ev.dur * SAMPLE_RATE));
    const velStep = Math.max(1, Math.round(ev.vel * VELOCITY_STEPS));
    // Parts with noise in them get a few variants (round robin in effect), so repeated hits are not clones.
    const variant = this.noisy.has(ev.part) ? this.voiceRng.int(0, NOISE_VARIANTS - 1) : 0;
    const key = `${ev.part}|${ev.pitch}|${gate}|${velStep}|${variant}`;
    const stepped = { ...ev, vel: velStep / VELOCITY_STEPS };
    const gain = ev.vel / stepped.vel;
    if (gate > MAX_CACHED_GATE) return this.makeVoice(ev, start, this.voiceRng.split());
    let entry = this.cache.get(key);
    if (entry) {
      // Refresh its place in the LRU order.
      this.cache.delete(key);
      this.cache.set(key, entry);
    } else {
      const made = this.makeVoice(stepped, 0, new Prng(hashKey(key) ^ this.noiseSalt));
      if (!made) return null;
      entry = this.record(made);
      this.cache.set(key, entry);
      this.cachedSamples += entry.left.length;
      for (const [k, old] of this.cache) {
        if (this.cachedSamples <= CACHE_SAMPLES) break;
        this.cache.delete(k);
        this.cachedSamples -= old.left.length;
      }
    }
    return { voice: new CachedVoice(start, entry.left, entry.right, gain), bus: entry.bus };
  }

  /** Renders a voice to its end (at most MAX_RECORDED samples) into fresh buffers. */
  private record(made: Sounding): CachedNote {
    const { recordL, recordR } = this;
    let rendered = 0;
    let alive = true;
    while (alive && rendered < MAX_RECORDED) {
      const n = Math.min(MAX_BLOCK, MAX_RECORDED - rendered);
      alive = made.voice.render(recordL, recordR, rendered, n);
      rendered += n;
    }
    // Drop the tail below −100 dBFS (under a 16-bit LSB): inaudible, yet every cached sample costs a mix per use.
    let length = rendered;
    while (length > 0 && Math.abs(recordL[length - 1]!) < 1e-5 && Math.abs(recordR[length - 1]!) < 1e-5) length--;
    const note: CachedNote = { left: recordL.slice(0, length), right: recordR.slice(0, length), bus: made.bus };
    recordL.fill(0, 0, rendered);
    recordR.fill(0, 0, rendered);
    return note;
  }

  private keys(kind: Keys, start: number, ev: ScoreEvent, gain: number, pan: number, rng: Prng): Voice {
    const f = midiToHz(ev.pitch);
    const gate = Math.max(1, Math.round(ev.dur * SAMPLE_RATE));
    const vel = ev.vel;
    switch (kind) {
      case 'piano':
        return new AdditiveVoice(start, f, pianoPartials(f, vel), new Envelope(0.002, 1e6, 1, 0.22, gate), gain * vel * 0.5, pan);
      case 'organ':
        return new AdditiveVoice(start, f, ORGAN_PARTIALS, new Envelope(0.01, 1, 1, 0.08, gate), gain * vel * 0.3, pan);
      case 'epiano':
        return new FmVoice(start, f, new Envelope(0.002, 3, 0, 0.25, gate), gain * vel * 0.8, pan, 'epiano', vel);
      case 'bell':
        return new FmVoice(start, f, new Envelope(0.001, 3.5, 0, 1.2, gate), gain * vel * 0.5, pan, 'bell', vel);
      case 'pluck':
        return new PluckVoice(start, f, gate, gain * vel * 0.8, pan, vel, rng, { sustain: 2.5, brightness: 0.75 });
      case 'strings':
        return new SubtractiveVoice(start, f, new Envelope(0.3, 2, 0.85, 0.7, gate), gain * vel * 0.55, pan, {
          detune: [-8, 7],
          spread: [-0.5, 0.5],
          cutoffStart: 2600,
          cutoffEnd: 2000,
          cutoffTime: 1,
          resonance: 0.8,
          vibrato: 6,
          vibratoDelay: 0.4,
        });
      case 'synth':
        return new SubtractiveVoice(start, f, new Envelope(0.004, 0.5, 0.55, 0.15, gate), gain * vel * 0.55, pan, {
          detune: [-7, 6],
          spread: [-0.35, 0.35],
          cutoffStart: 6000,
          cutoffEnd: 1600,
          cutoffTime: 0.5,
          resonance: 1.4,
          vibrato: 10,
          vibratoDelay: 0.3,
        });
    }
  }

  /** A live voice for `ev`; `rng` feeds whatever noise the voice needs. */
  private makeVoice(ev: ScoreEvent, start: number, rng: Prng): Sounding | null {
    const { style } = this.spec;
    const drum = (voice: Voice, room: number): Sounding => ({ voice, bus: room >= 0.15 ? Bus.DrumsRoom : Bus.DrumsDry });
    const music = (voice: Voice, wet: number): Sounding => ({ voice, bus: wet >= 0.7 ? Bus.Pad : wet >= 0.2 ? Bus.MusicWet : Bus.MusicDry });
    const v = ev.vel;
    if (DRUM_PARTS.has(ev.part)) {
      switch (ev.part) {
        case 'kick': {
          const k = style.genre === 'edm' ? [48, 170, 0.03, 0.5, 0.25] : style.genre === 'rock' ? [55, 190, 0.022, 0.32, 0.45] : style.genre === 'jazz' ? [62, 120, 0.02, 0.25, 0.1] : [50, 145, 0.035, 0.42, 0.15];
          return drum(new SweepDrumVoice(start, k[0]!, k[1]!, k[2]!, k[3]!, k[4]!, 0.85 * v, 0, rng), 0);
        }
        case 'tom': {
          const f = midiToHz(ev.pitch);
          return drum(new SweepDrumVoice(start, f, f * 1.6, 0.04, 0.4, 0.1, 0.5 * v, (ev.pitch - 45) / 12, rng), 0.2);
        }
        case 'snare':
          return drum(new NoiseDrumVoice(start, { freq: 1500, q: 0.7, highpass: true, decay: style.genre === 'rock' ? 0.28 : 0.2, tone: 190, toneLevel: 0.5, toneDecay: 0.09 }, 0.42 * v, 0.05, rng), 0.3);
        case 'clap':
          return drum(new NoiseDrumVoice(start, { freq: 1300, q: 1.2, decay: 0.16, bursts: 3, burstGap: 0.011 }, 0.6 * v, -0.05, rng), 0.35);
        case 'hat':
          return drum(new NoiseDrumVoice(start, { freq: 7500, q: 0.7, highpass: true, decay: 0.05, metal: 0.3 }, 0.16 * v, 0.3, rng), 0.05);
        case 'openhat':
          return drum(new NoiseDrumVoice(start, { freq: 7000, q: 0.7, highpass: true, decay: 0.28, metal: 0.4 }, 0.12 * v, 0.3, rng), 0.1);
        case 'ride':
          return drum(new NoiseDrumVoice(start, { freq: 5000, q: 0.7, highpass: true, decay: 0.9, metal: 0.7 }, 0.1 * v, -0.35, rng), 0.15);
        case 'crash':
          return drum(new NoiseDrumVoice(start, { freq: 4000, q: 0.7, highpass: true, decay: 1.6, metal: 0.5 }, 0.14 * v, -0.4, rng), 0.3);
        case 'shaker':
          return drum(new NoiseDrumVoice(start, { freq: 6500, q: 1.4, decay: 0.06 }, 0.12 * v, 0.45, rng), 0.2);
        default:
          return null;
      }
    }
    const gate = Math.max(1, Math.round(ev.dur * SAMPLE_RATE));
    switch (ev.part) {
      case 'chords': {
        // Spread chord tones a little across the stereo field, low notes left.
        const pan = Math.max(-0.5, Math.min(0.5, (ev.pitch - 62) / 24));
        return music(this.keys(style.chords, start, ev, 0.16, pan, rng), 0.45);
      }
      case 'melody':
        return style.melody ? music(this.keys(style.melody, start, ev, 0.24, 0.1, rng), 0.4) : null;
      case 'pad':
        return music(
          new SubtractiveVoice(start, midiToHz(ev.pitch), new Envelope(0.6, 2, 0.9, 1.0, gate), 0.07 * v, 0, {
            detune: [-10, 11],
            spread: [-0.8, 0.8],
            cutoffStart: PAD_CUTOFF,
            cutoffEnd: PAD_CUTOFF,
            cutoffTime: 1,
            resonance: 0.7,
            filter: false,
          }),
          0.8,
        );
      case 'bass': {
        const f = midiToHz(ev.pitch);
        switch (style.bass) {
          case 'sub':
            return music(new SubBassVoice(start, f, new Envelope(0.008, 0.8, 0.7, 0.06, gate), 0.42 * v), 0);
          case 'synth':
            return music(
              new SubtractiveVoice(start, f, new Envelope(0.004, 0.3, 0.75, 0.05, gate), 0.36 * v, 0, {
                detune: [0],
                spread: [0],
                cutoffStart: 1800,
                cutoffEnd: 380,
                cutoffTime: 0.2,
                resonance: 1.3,
              }),
              0,
            );
          case 'pick':
            return music(new PluckVoice(start, f, gate, 0.5 * v, 0, v, rng, { sustain: 2, brightness: 0.5 }), 0);
          case 'upright':
            return music(new PluckVoice(start, f, gate, 0.6 * v, 0, v, rng, { sustain: 1.2, brightness: 0.3 }), 0);
        }
        return null;
      }
      default:
        return null;
    }
  }
}
