"""Data version 8: `other` parts in the low register.

The held-out songs' `other` stem puts 32 % of its energy below 250 Hz (piano left hands, low strings and organs);
the training songs of data version 7 put 20 % there, and mma's chord and arpeggio tracks mostly sit above C3. So
the model hears little of what tells a low chord or a left hand from a bass line: several notes at once, a piano
or organ attack, a register that spans an octave and more. This module adds one such part to a song's `other`
stem, over the song's chord chart, on a preset that is not a bass, starting between C2 and C3:
- block: the chord held (root and fifth, with the octave or the third), a bar or a half bar per chord;
- broken: a piano left hand in eighths (root-fifth-octave-fifth, or Alberti: root-fifth-third-fifth);
- octaves: the root doubled at the octave, in quarters or halves;
- stride: a low root or fifth on the strong beats, the chord an octave up on the others.
The song's own bass part stays as it is: the two lines now share the register, as they do in the held-out songs.
"""
import numpy as np

import bass as BASS
import midi as M
import vocals as V

# 0-based GM programs that play left hands, low chords and pedal notes: pianos, organs, guitars, cello, string
# ensembles, choir, trombone, horn, bassoon, clarinet, pads. Not contrabass (43) or tuba (58): they are basses by role.
PROGRAMS = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 24, 25, 26, 42, 48, 49, 50, 51, 52, 57, 60, 61, 70, 71,
            88, 89, 90, 91]
PATTERNS = ['block', 'broken', 'octaves', 'stride']


def _fifth(ivs):
    return next((i for i in ivs if i in (6, 7, 8)), 7)


def _third(ivs):
    return next((i for i in ivs if i in (3, 4, 5)), 4)


def part(rng, chords, bpb, n_bars):
    """(pattern, lo, [(pitches, beats, velocity)]) over chords (list per bar of [(root_pc, intervals)]); an empty
    pitches tuple is a rest"""
    pattern = str(rng.choice(PATTERNS))
    lo = int(rng.integers(36, 49))  # C2 .. C3
    hi = lo + 11
    notes = []
    prev = None
    for bar in range(n_bars):
        n_chords = len(chords[min(bar, len(chords) - 1)])
        if pattern == 'block':
            halves = 2 if n_chords > 1 or rng.random() < 0.3 else 1
            for h in range(halves):
                root, ivs = V.chord_at(chords, bar, h * bpb / 2, bpb)
                prev = BASS.near(root, lo, hi, prev)
                top = 12 if rng.random() < 0.5 else 12 + _third(ivs)
                notes.append(((prev, prev + _fifth(ivs), prev + top), bpb / halves, int(rng.integers(55, 95))))
        elif pattern == 'broken':
            alberti = rng.random() < 0.4
            for k in range(bpb * 2):
                root, ivs = V.chord_at(chords, bar, k / 2, bpb)
                if k % 4 == 0 or prev is None:
                    prev = BASS.near(root, lo, hi, prev)
                shape = [0, _fifth(ivs), 12 + _third(ivs), _fifth(ivs)] if alberti else [0, _fifth(ivs), 12, _fifth(ivs)]
                vel = int(rng.integers(70, 105)) if k % 4 == 0 else int(rng.integers(50, 85))
                notes.append(((prev + shape[k % 4],), 0.5, vel))
        elif pattern == 'octaves':
            step = 1.0 if rng.random() < 0.6 else 2.0
            for k in range(int(bpb / step)):
                root, _ = V.chord_at(chords, bar, k * step, bpb)
                prev = BASS.near(root, lo, hi, prev)
                notes.append(((prev, prev + 12), step, int(rng.integers(65, 110))))
        else:  # stride
            for beat in range(bpb):
                root, ivs = V.chord_at(chords, bar, beat, bpb)
                if beat % 2 == 0:
                    low = BASS.near(root if beat == 0 or rng.random() < 0.5 else (root + _fifth(ivs)) % 12, lo, hi, prev)
                    prev = low
                    notes.append(((low,), 1.0, int(rng.integers(75, 110))))
                else:
                    base = BASS.near(root, lo + 12, hi + 12)
                    notes.append(((base + _third(ivs), base + _fifth(ivs), base + 12), 1.0, int(rng.integers(55, 90))))
    return pattern, lo, notes


def track(notes, division, start_tick, program, ch, rng):
    """the notes as a MIDI track on channel ch from start_tick (its own volume and a pan near the centre)"""
    volume = int(rng.integers(45, 100))
    pan = int(np.clip(64 + rng.normal(0, 14), 30, 98))
    legato = float(rng.uniform(0.7, 0.98))
    return M.notes_track(notes, division, start_tick, ch, program, volume, pan, legato)


def free_channel(mid):
    """a MIDI channel no track of the song uses (none of the lead's 14 and 15, the drums' 9, bass.py's 13)"""
    used = {b[0] & 0x0F for tr in mid.tracks for t, b in tr if b[0] < 0xF0}
    return next((ch for ch in (12, 11, 10, 8, 7, 6, 5, 4, 3, 2, 1, 0) if ch not in used), None)
