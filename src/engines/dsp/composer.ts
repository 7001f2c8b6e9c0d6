/**
 * Procedural composition, one bar at a time so that a ten-minute piece costs no more memory than a short one:
 * a diatonic chord progression, a bass line, drums in the time signature, a motif-based melody, arranged in
 * sections (intro, A, B, breakdown, outro). All choices come from the seeded PRNG, in a fixed order.
 */
import type { Prng } from './prng.js';
import type { Style } from './style.js';
import { degreePitch, diatonicChord, nearestDegree, nearestInClasses, tonicNear, voiceChord, chordClasses, type Chord, type Key } from './theory.js';

export type DrumPart = 'kick' | 'snare' | 'clap' | 'hat' | 'openhat' | 'ride' | 'tom' | 'crash' | 'shaker';
export type TonalPart = 'chords' | 'melody' | 'bass' | 'pad';
export type Part = DrumPart | TonalPart;

export interface ScoreEvent {
  /** Start in seconds from the beginning of the piece. */
  time: number;
  /** Held length in seconds (drums: ignored). */
  dur: number;
  part: Part;
  /** MIDI pitch (drums: a tuning hint, e.g. for toms). */
  pitch: number;
  /** 0..1 */
  vel: number;
}

export interface SongSpec {
  style: Style;
  key: Key;
  bpm: number;
  beatsPerBar: number;
  seconds: number;
}

type Section = 'intro' | 'A' | 'B' | 'break' | 'outro';

// Progressions as scale degrees (0 = I/i). Minor ones lean on VI, III and VII, as most minor pop does.
const PROGRESSIONS: Record<'major' | 'minor', number[][]> = {
  major: [
    [0, 4, 5, 3],
    [0, 5, 3, 4],
    [5, 3, 0, 4],
    [0, 3, 5, 4],
    [0, 3, 0, 4],
    [1, 4, 0, 5],
  ],
  minor: [
    [0, 5, 2, 6],
    [0, 3, 6, 2],
    [0, 6, 5, 6],
    [0, 3, 4, 0],
    [0, 5, 3, 4],
    [5, 6, 0, 0],
  ],
};
const JAZZ_PROGRESSIONS: Record<'major' | 'minor', number[][]> = {
  major: [
    [1, 4, 0, 0],
    [1, 4, 0, 5],
    [0, 5, 1, 4],
    [2, 5, 1, 4],
  ],
  minor: [
    [1, 4, 0, 0],
    [0, 3, 1, 4],
    [0, 5, 1, 4],
  ],
};

/** How a bar of n beats falls into groups of two and three (accents, kick and snare placement). */
export function beatGroups(n: number): number[] {
  switch (n) {
    case 2: return [2];
    case 3: return [3];
    case 4: return [2, 2];
    case 5: return [3, 2];
    case 6: return [3, 3];
    case 7: return [2, 2, 3];
    case 8: return [3, 3, 2];
    case 9: return [3, 3, 3];
    case 10: return [3, 3, 2, 2];
    case 11: return [3, 3, 3, 2];
    default: {
      const groups = Array.from({ length: Math.floor(n / 3) }, () => 3);
      const rest = n - 3 * groups.length;
      // 3+…+3+1 would leave a lone beat: make the last two groups 2+2 instead.
      if (rest === 1) groups.splice(-1, 1, 2, 2);
      else if (rest === 2) groups.push(2);
      return groups;
    }
  }
}

interface MotifNote {
  pos: number;
  dur: number;
  /** Scale steps from the phrase's first note. */
  step: number;
  rest: boolean;
}

export class Composer {
  readonly beat: number;
  readonly barSeconds: number;
  readonly totalBars: number;
  private readonly groups: number[];
  /** Beat positions where a group starts (strong beats) and where its backbeat falls. */
  private readonly downbeats: number[];
  private readonly backbeats: number[];
  private readonly progressionA: number[];
  private readonly progressionB: number[];
  private readonly introBars: number;
  private readonly outroBars: number;
  private readonly tonicMidi: number;
  private bar = 0;
  private prevVoicing: number[] | null = null;
  private prevMelody: number;
  private motif: MotifNote[] = [];
  private readonly rng: { drums: Prng; bass: Prng; chords: Prng; melody: Prng; form: Prng };

  constructor(
    readonly spec: SongSpec,
    rng: Prng,
  ) {
    const { style, key, bpm, beatsPerBar, seconds } = spec;
    this.rng = { drums: rng.fork('drums'), bass: rng.fork('bass'), chords: rng.fork('chords'), melody: rng.fork('melody'), form: rng.fork('form') };
    this.beat = 60 / bpm;
    this.barSeconds = this.beat * beatsPerBar;
    this.totalBars = Math.max(1, Math.ceil(seconds / this.barSeconds));
    this.groups = beatGroups(beatsPerBar);
    this.downbeats = [];
    this.backbeats = [];
    let at = 0;
    for (const g of this.groups) {
      this.downbeats.push(at);
      this.backbeats.push(at + (g === 2 ? 1 : 2));
      at += g;
    }
    const pool = style.genre === 'jazz' ? JAZZ_PROGRESSIONS[key.mode] : PROGRESSIONS[key.mode];
    const form = this.rng.form;
    this.progressionA = form.pick(pool);
    this.progressionB = form.pick(pool.filter((p) => p !== this.progressionA));
    this.introBars = this.totalBars >= 16 ? 4 : this.totalBars >= 8 ? 2 : 0;
    this.outroBars = this.totalBars >= 16 ? 2 : this.totalBars >= 8 ? 1 : 0;
    this.tonicMidi = tonicNear(key, 62);
    this.prevMelody = this.tonicMidi + 12;
  }

  private section(bar: number): Section {
    if (bar < this.introBars) return 'intro';
    if (bar >= this.totalBars - this.outroBars) return 'outro';
    const phrase = Math.floor((bar - this.introBars) / 8);
    return (['A', 'B', 'A', 'break'] as const)[phrase % 4]!;
  }

  /** Chords of a bar: one or two, with the beat where each starts. */
  private chordsOf(bar: number, section: Section): Array<{ chord: Chord; at: number; len: number }> {
    const { style, key, beatsPerBar } = this.spec;
    const prog = section === 'B' ? this.progressionB : this.progressionA;
    const rel = bar - this.introBars;
    const changes = style.changesPerBar;
    const out: Array<{ chord: Chord; at: number; len: number }> = [];
    const len = beatsPerBar / changes;
    for (let c = 0; c < changes; c++) {
      const idx = (((rel * changes + c) % prog.length) + prog.length) % prog.length;
      const degree = prog[idx]!;
      out.push({ chord: diatonicChord(key, degree, style.voicing, style.genre === 'jazz' || (style.genre === 'pop' && idx === prog.length - 1)), at: c * len, len });
    }
    return out;
  }

  /** Seconds from the bar start of a position in beats, with swing applied to off-beat eighths and sixteenths. */
  private place(pos: number): number {
    const swing = this.spec.style.swing;
    const whole = Math.floor(pos);
    const frac = pos - whole;
    let f = frac;
    if (Math.abs(frac - 0.5) < 1e-6) f = swing;
    else if (Math.abs(frac - 0.25) < 1e-6) f = swing / 2;
    else if (Math.abs(frac - 0.75) < 1e-6) f = swing + (1 - swing) / 2;
    return (whole + f) * this.beat;
  }

  /** The next bar's events in time order, or null when the piece is over. */
  nextBar(): ScoreEvent[] | null {
    if (this.bar >= this.totalBars) return null;
    const bar = this.bar++;
    const section = this.section(bar);
    const start = bar * this.barSeconds;
    const events: ScoreEvent[] = [];
    const chords = this.chordsOf(bar, section);
    this.drums(bar, section, start, events);
    this.harmony(section, chords, start, events);
    this.bassLine(bar, section, chords, start, events);
    this.melodyLine(bar, section, chords, start, events);
    events.sort((a, b) => a.time - b.time);
    return events;
  }

  // ---- drums ---------------------------------------------------------------------------------------------

  private hit(events: ScoreEvent[], start: number, pos: number, part: DrumPart, vel: number, loose = true): void {
    const { humanize } = this.spec.style;
    const rng = this.rng.drums;
    // Kicks stay on the grid: they carry the tempo. Everything else may drift by a few milliseconds.
    const jitter = loose && part !== 'kick' ? rng.signed() * 0.006 * humanize : 0;
    const v = Math.max(0.05, Math.min(1, vel * (1 - humanize * 0.15 * rng.next())));
    events.push({ time: Math.max(0, start + this.place(pos) + jitter), dur: 0, part, pitch: 0, vel: v });
  }

  private drums(bar: number, section: Section, start: number, events: ScoreEvent[]): void {
    const { style, beatsPerBar: n } = this.spec;
    const rng = this.rng.drums;
    if (style.drums === 'none' || section === 'outro') return;
    const light = section === 'intro' || section === 'break';
    const phraseEnd = (bar - this.introBars) % 8 === 7 && section !== 'intro';
    const sectionStart = bar === this.introBars || (bar > this.introBars && (bar - this.introBars) % 8 === 0);
    if (sectionStart && !light && style.drums !== 'ambient') this.hit(events, start, 0, 'crash', 0.7);

    switch (style.drums) {
      case 'four': {
        if (section !== 'break') for (let b = 0; b < n; b++) this.hit(events, start, b, 'kick', 1);
        if (!light || section === 'break') for (const b of this.backbeats) this.hit(events, start, b, 'clap', 0.8);
        for (let b = 0; b < n; b++) {
          this.hit(events, start, b + 0.5, 'openhat', 0.55);
          if (!light) for (const s of [0, 0.25, 0.75]) this.hit(events, start, b + s, 'hat', s === 0 ? 0.45 : 0.3);
        }
        break;
      }
      case 'rock':
      case 'pop': {
        for (const d of this.downbeats) this.hit(events, start, d, 'kick', 1);
        if (!light) {
          for (const bb of this.backbeats) {
            this.hit(events, start, bb, 'snare', 0.95);
            if (style.drums === 'pop') this.hit(events, start, bb, 'clap', 0.5);
            // A push into the backbeat now and then; on the half-beat grid like every other hit.
            if (bb - 0.5 > 0 && rng.chance(style.drums === 'rock' ? 0.35 : 0.2)) this.hit(events, start, bb - 0.5, 'kick', 0.8);
          }
        }
        for (let b = 0; b < n; b++) {
          for (const s of [0, 0.5]) this.hit(events, start, b + s, style.drums === 'rock' && section === 'B' ? 'ride' : 'hat', s === 0 ? 0.6 : 0.4);
        }
        break;
      }
      case 'boombap': {
        for (let i = 0; i < this.downbeats.length; i++) {
          const d = this.downbeats[i]!;
          this.hit(events, start, d, 'kick', 1);
          const g = this.groups[i]!;
          if (!light && g >= 2 && rng.chance(0.55)) this.hit(events, start, d + 1.5 < d + g ? d + 1.5 : d + 0.5, 'kick', 0.75);
        }
        if (!light) for (const bb of this.backbeats) this.hit(events, start, bb, 'snare', 0.9);
        for (let b = 0; b < n; b++) {
          for (const s of [0, 0.5]) this.hit(events, start, b + s, 'hat', s === 0 ? 0.5 : 0.32);
          if (!light && rng.chance(0.2)) this.hit(events, start, b + 0.75, 'snare', 0.18);
        }
        break;
      }
      case 'jazz': {
        for (let b = 0; b < n; b++) {
          this.hit(events, start, b, 'ride', 0.55);
          this.hit(events, start, b, 'kick', 0.3);
        }
        for (const bb of this.backbeats) {
          this.hit(events, start, bb + 0.5, 'ride', 0.4);
          this.hit(events, start, bb, 'hat', 0.35);
        }
        if (!light) for (let b = 0; b < n; b++) if (rng.chance(0.3)) this.hit(events, start, b + 0.5, 'snare', 0.25 + 0.2 * rng.next());
        break;
      }
      case 'ambient': {
        this.hit(events, start, 0, 'kick', 0.6);
        if (this.groups.length > 1) this.hit(events, start, this.downbeats[1]!, 'kick', 0.45);
        for (let b = 0; b < n; b++) for (const s of [0, 0.5]) this.hit(events, start, b + s, 'shaker', s === 0 ? 0.3 : 0.2);
        break;
      }
      default:
        break;
    }
    // Fill into the next phrase: sixteenths on the last beat, toms falling in pitch.
    if (phraseEnd && !light && style.drums !== 'ambient' && style.drums !== 'jazz') {
      const last = n - 1;
      for (let i = 0; i < 4; i++) {
        const pos = last + i * 0.25;
        events.push({ time: start + this.place(pos), dur: 0, part: i % 2 === 0 ? 'tom' : 'snare', pitch: 50 - i * 3, vel: 0.6 + 0.1 * i });
      }
    }
  }

  // ---- harmony -------------------------------------------------------------------------------------------

  private harmony(section: Section, chords: Array<{ chord: Chord; at: number; len: number }>, start: number, events: ScoreEvent[]): void {
    const { style } = this.spec;
    const rng = this.rng.chords;
    const low = style.chords === 'pluck' ? 52 : style.chords === 'bell' ? 64 : 55;
    for (const { chord, at, len } of chords) {
      const notes = voiceChord(chord, low, this.prevVoicing);
      this.prevVoicing = notes;
      const t0 = start + this.place(at);
      const chordEnd = start + this.place(at + len);
      // In EDM the pad carries the intro and breakdown; in the drops the stabs have the chords to themselves.
      const padHere = style.pad && !(style.genre === 'edm' && (section === 'A' || section === 'B'));
      if (padHere) {
        // The pad holds root, third and fifth an octave down from the keys, under everything.
        const padNotes = voiceChord({ ...chord, intervals: chord.intervals.slice(0, 3) }, 48, null);
        for (const p of padNotes) events.push({ time: t0, dur: chordEnd - t0, part: 'pad', pitch: p, vel: section === 'break' ? 0.7 : 0.5 });
      }
      if (section === 'outro' && at > 0) continue;
      const strike = (pos: number, dur: number, vel: number, strum = 0) => {
        notes.forEach((p, i) => events.push({ time: start + this.place(pos) + i * strum, dur, part: 'chords', pitch: p, vel: vel * (0.9 + 0.1 * rng.next()) }));
      };
      const comping = section === 'outro' ? 'hold' : style.comping;
      switch (comping) {
        case 'hold':
          strike(at, chordEnd - t0, 0.6, style.humanize * 0.012);
          break;
        case 'beats':
          for (let b = at; b < at + len - 1e-9; b += this.groupLenAt(b)) strike(b, this.groupLenAt(b) * this.beat * 0.95, 0.65, style.chords === 'pluck' ? 0.012 : 0);
          break;
        case 'arp': {
          for (let s = 0, i = 0; s < len - 1e-9; s += 0.5, i++) {
            const p = notes[i % notes.length]! + (Math.floor(i / notes.length) % 2) * 12;
            events.push({ time: start + this.place(at + s), dur: this.beat * 0.9, part: 'chords', pitch: p, vel: 0.55 });
          }
          break;
        }
        case 'stabs': {
          for (let b = Math.ceil(at); b < at + len - 1e-9; b++) {
            const pos = style.genre === 'jazz' ? b + (rng.chance(0.5) ? 0.5 : 0) : b + 0.5;
            if (style.genre === 'jazz' && !rng.chance(0.55)) continue;
            strike(pos, this.beat * (style.genre === 'jazz' ? 0.7 : 0.35), 0.55);
          }
          break;
        }
      }
    }
  }

  private groupLenAt(pos: number): number {
    for (let i = 0; i < this.downbeats.length; i++) {
      const d = this.downbeats[i]!;
      const g = this.groups[i]!;
      if (pos >= d - 1e-9 && pos < d + g - 1e-9) return d + g - pos;
    }
    return 1;
  }

  // ---- bass ----------------------------------------------------------------------------------------------

  private bassLine(bar: number, section: Section, chords: Array<{ chord: Chord; at: number; len: number }>, start: number, events: ScoreEvent[]): void {
    const { style } = this.spec;
    if (section === 'intro' && bar < this.introBars / 2) return;
    const rng = this.rng.bass;
    // A synth bass sits above the kick's fundamental (as in most electronic mixes); the sub goes under it.
    const low = style.bass === 'sub' ? 31 : style.bass === 'synth' ? 40 : 36;
    const note = (pos: number, beats: number, pitch: number, vel: number) =>
      events.push({ time: start + this.place(pos), dur: Math.max(0.05, beats * this.beat * 0.92), part: 'bass', pitch, vel });
    for (let c = 0; c < chords.length; c++) {
      const { chord, at, len } = chords[c]!;
      const root = low + ((((chord.rootClass - low) % 12) + 12) % 12);
      const fifth = root + 7 <= low + 14 ? root + 7 : root - 5;
      const pattern = section === 'outro' || section === 'break' ? 'roots' : style.bassPattern;
      switch (pattern) {
        case 'roots':
        case 'drone':
          note(at, len, root, 0.8);
          break;
        case 'eighths':
          for (let s = 0; s < len - 1e-9; s += 0.5) {
            const last = s >= len - 1;
            note(at + s, 0.5, last && rng.chance(0.5) ? (rng.chance(0.5) ? fifth : root + 12) : root, s % 1 === 0 ? 0.85 : 0.7);
          }
          break;
        case 'offbeat':
          for (let s = 0; s < len - 1e-9; s += 1) note(at + s + 0.5, 0.45, rng.chance(0.15) ? root + 12 : root, 0.85);
          break;
        case 'syncopated': {
          note(at, 1.5, root, 0.9);
          if (len >= 3) note(at + 1.5, 1, rng.chance(0.5) ? fifth : root, 0.7);
          if (len >= 4) note(at + len - 1.5, 1.5, rng.chance(0.3) ? root + 12 : root, 0.75);
          break;
        }
        case 'walking': {
          const next = chords[c + 1]?.chord ?? this.chordsOf(bar + 1, this.section(bar + 1))[0]!.chord;
          const nextRoot = low + ((((next.rootClass - low) % 12) + 12) % 12);
          const tones = chordClasses(chord);
          let p = root;
          for (let b = 0; b < len; b++) {
            if (b === 0) p = root;
            else if (b === len - 1) p = nextRoot + (rng.chance(0.5) ? 1 : -1);
            else p = nearestInClasses(p + (rng.chance(0.6) ? 3 : -2), tones);
            while (p < low - 2) p += 12;
            while (p > low + 16) p -= 12;
            note(at + b, 1, p, b === 0 ? 0.9 : 0.75);
          }
          break;
        }
      }
    }
  }

  // ---- melody --------------------------------------------------------------------------------------------

  private newMotif(beats: number): MotifNote[] {
    const rng = this.rng.melody;
    const density = this.spec.style.melodyDensity;
    const cells: Array<readonly [number[], number]> = [
      [[2], 1.2 / density],
      [[1], 1],
      [[1.5, 0.5], 0.8],
      [[0.5, 0.5], density],
      [[0.5, 0.5, 1], density * 0.8],
      [[0.75, 0.25], density * 0.4],
      [[3], 0.6 / density],
    ];
    const out: MotifNote[] = [];
    let pos = 0;
    let step = 0;
    while (pos < beats - 1e-9) {
      const fitting = cells.filter(([c]) => c.reduce((a, b) => a + b, 0) <= beats - pos + 1e-9);
      const cell = fitting.length > 0 ? rng.weighted(fitting) : [beats - pos];
      for (const dur of cell) {
        const rest = out.length > 0 && rng.chance(0.12);
        out.push({ pos, dur, step, rest });
        // Mostly stepwise, sometimes a leap; pulled back towards where the phrase began.
        const leap = rng.chance(0.2) ? rng.pick([3, 4, -3, -4]) : rng.pick([1, 1, 2, -1, -1, -2, 0]);
        step = Math.max(-5, Math.min(7, step + leap - Math.sign(step) * (rng.chance(0.3) ? 1 : 0)));
        pos += dur;
      }
    }
    return out;
  }

  private melodyLine(bar: number, section: Section, chords: Array<{ chord: Chord; at: number; len: number }>, start: number, events: ScoreEvent[]): void {
    const { style, key, beatsPerBar } = this.spec;
    if (!style.melody || section === 'intro' || section === 'outro' || section === 'break') return;
    const rng = this.rng.melody;
    const inPhrase = (bar - this.introBars) % 4;
    if (inPhrase === 0 || this.motif.length === 0) this.motif = this.newMotif(beatsPerBar);
    const centre = this.tonicMidi + (section === 'B' ? 14 : 12);
    const chordAt = (pos: number) => chords.filter((c) => c.at <= pos + 1e-9).at(-1)!.chord;

    if (inPhrase === 3) {
      // Cadence: land on a chord tone and hold it, leaving the rest of the bar to breathe.
      const tones = chordClasses(chordAt(0));
      const p = nearestInClasses(this.prevMelody, tones);
      events.push({ time: start, dur: Math.min(beatsPerBar, 2.5) * this.beat, part: 'melody', pitch: p, vel: 0.7 });
      this.prevMelody = p;
      return;
    }
    // Bars 1–3 of a phrase: the motif, re-anchored on the current chord so its shape survives the change.
    const firstTones = chordClasses(chordAt(0));
    const anchorPitch = nearestInClasses(inPhrase === 0 ? centre : this.prevMelody + (inPhrase === 2 ? 2 : 0), firstTones);
    const anchor = nearestDegree(key, this.tonicMidi, anchorPitch);
    for (const m of this.motif) {
      if (m.rest) continue;
      let p = degreePitch(key, this.tonicMidi, anchor + m.step);
      const strong = this.downbeats.some((d) => Math.abs(d - m.pos) < 1e-9);
      if (strong) p = nearestInClasses(p, chordClasses(chordAt(m.pos)));
      while (p > centre + 9) p -= 12;
      while (p < centre - 8) p += 12;
      const vel = (strong ? 0.78 : 0.62) * (0.9 + 0.1 * rng.next());
      events.push({ time: start + this.place(m.pos), dur: m.dur * this.beat * 0.9, part: 'melody', pitch: p, vel });
      this.prevMelody = p;
    }
  }
}
