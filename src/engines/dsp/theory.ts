/**
 * Keys, scales and chords as the composer needs them: pitches are MIDI note numbers, chords are built by
 * stacking thirds inside the key, so every progression stays diatonic unless asked otherwise.
 */
import type { Voicing } from './style.js';

export type Mode = 'major' | 'minor';

export interface Key {
  /** Pitch class of the tonic, 0 = C. */
  tonic: number;
  mode: Mode;
  /** As the client wrote it, normalised: "Eb minor", "C# major". */
  name: string;
}

const SCALES: Record<Mode, number[]> = {
  major: [0, 2, 4, 5, 7, 9, 11],
  minor: [0, 2, 3, 5, 7, 8, 10],
};

const LETTERS: Record<string, number> = { C: 0, D: 2, E: 4, F: 5, G: 7, A: 9, B: 11 };

/** Accepts "A minor", "c# MAJOR", "Eb minor"; null for anything else. */
export function parseKeyscale(text: string): Key | null {
  const m = /^\s*([A-Ga-g])([#b]?)\s+(major|minor)\s*$/i.exec(text);
  if (!m) return null;
  const letter = m[1]!.toUpperCase();
  const accidental = m[2]!;
  const mode = m[3]!.toLowerCase() as Mode;
  const tonic = (LETTERS[letter]! + (accidental === '#' ? 1 : accidental === 'b' ? -1 : 0) + 12) % 12;
  return { tonic, mode, name: `${letter}${accidental} ${mode}` };
}

// Spellings a musician would pick for each tonic when we choose the key ourselves.
const MAJOR_NAMES = ['C', 'Db', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'Ab', 'A', 'Bb', 'B'];
const MINOR_NAMES = ['C', 'C#', 'D', 'Eb', 'E', 'F', 'F#', 'G', 'G#', 'A', 'Bb', 'B'];

export function makeKey(tonic: number, mode: Mode): Key {
  const names = mode === 'major' ? MAJOR_NAMES : MINOR_NAMES;
  return { tonic, mode, name: `${names[tonic]!} ${mode}` };
}

/** MIDI pitch of scale degree `degree` (0-based, may exceed 6 or be negative) with the tonic at `tonicMidi`. */
export function degreePitch(key: Key, tonicMidi: number, degree: number): number {
  const scale = SCALES[key.mode];
  const octave = Math.floor(degree / 7);
  const idx = degree - octave * 7;
  return tonicMidi + 12 * octave + scale[idx]!;
}

/** The MIDI number of the tonic nearest to `around`. */
export function tonicNear(key: Key, around: number): number {
  const base = around - ((((around - key.tonic) % 12) + 12) % 12);
  return around - base > 6 ? base + 12 : base;
}

export interface Chord {
  /** Scale degree of the root (0-based). */
  degree: number;
  /** Semitone offsets of the chord tones above the root pitch, ascending; [0, …]. */
  intervals: number[];
  /** Root pitch class. */
  rootClass: number;
}

/**
 * The diatonic chord on `degree`, stacked in thirds to the size the voicing asks for. In minor keys the fifth
 * degree may be raised to a dominant (harmonic minor) so that cadences pull home.
 */
export function diatonicChord(key: Key, degree: number, voicing: Voicing, dominant = false): Chord {
  const root = degreePitch(key, 0, degree);
  const size = voicing === 'power' ? 0 : voicing === 'triad' ? 3 : voicing === 'seventh' ? 4 : 5;
  let intervals: number[];
  if (size === 0) intervals = [0, 7, 12];
  else {
    intervals = [];
    for (let i = 0; i < size; i++) intervals.push(degreePitch(key, 0, degree + 2 * i) - root);
    if (dominant && key.mode === 'minor' && ((degree % 7) + 7) % 7 === 4) {
      // Raise the third of v to make V (the leading tone of harmonic minor).
      intervals[1] = 4;
    }
    // A ninth over a diminished or minor-second-ninth chord sounds wrong; keep such chords at a seventh.
    if (size === 5 && intervals[4]! - 12 === 1) intervals.pop();
  }
  return { degree, intervals, rootClass: (((key.tonic + root) % 12) + 12) % 12 };
}

/** Pitch classes of a chord. */
export function chordClasses(chord: Chord): number[] {
  return chord.intervals.map((i) => (chord.rootClass + i) % 12);
}

/**
 * Places the chord tones inside [low, low + 12) (ninths and sevenths fold in), choosing the window position
 * closest to the previous voicing so that chords move smoothly rather than jumping in parallel.
 */
export function voiceChord(chord: Chord, low: number, previous: number[] | null): number[] {
  const classes = [...new Set(chordClasses(chord))];
  let best: number[] = [];
  let bestCost = Infinity;
  for (let shift = -4; shift <= 4; shift++) {
    const lo = low + shift;
    const notes = classes.map((pc) => lo + ((((pc - lo) % 12) + 12) % 12)).sort((a, b) => a - b);
    let cost = Math.abs(shift) * 0.2;
    if (previous && previous.length > 0) {
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      cost += Math.abs(mean(notes) - mean(previous));
    }
    if (cost < bestCost) {
      bestCost = cost;
      best = notes;
    }
  }
  return best;
}

/** Nearest pitch to `target` whose pitch class is one of `classes`. */
export function nearestInClasses(target: number, classes: number[]): number {
  let best = target;
  let bestDist = Infinity;
  for (let d = 0; d <= 6; d++) {
    for (const p of [target - d, target + d]) {
      if (classes.includes(((p % 12) + 12) % 12) && d < bestDist) {
        best = p;
        bestDist = d;
      }
    }
    if (bestDist < Infinity) break;
  }
  return best;
}

/** Scale degree (0-based, unbounded) of the scale pitch nearest to `pitch`. */
export function nearestDegree(key: Key, tonicMidi: number, pitch: number): number {
  let lo = Math.floor(((pitch - tonicMidi) * 7) / 12) - 2;
  let best = lo;
  let bestDist = Infinity;
  for (; lo < Math.floor(((pitch - tonicMidi) * 7) / 12) + 3; lo++) {
    const d = Math.abs(degreePitch(key, tonicMidi, lo) - pitch);
    if (d < bestDist) {
      bestDist = d;
      best = lo;
    }
  }
  return best;
}
