"""Data version 9: through-composed `other` parts, written by our own composer.

v19 separates `other` 12.95 dB above the mix in the planetblupi pieces it trained on and 7.29 dB in the held-out
ones, in the same held-out timbre (heldout.py --trained-pieces): the question was whether it lacks the writing. The
held-out pieces are through-composed: several independent lines at once (a melody, a counter-melody, inner
voices, arpeggios), across registers, a texture and an orchestration that change from section to section over a
harmony that does not loop. mma's songs repeat a four-bar accompaniment pattern over a looped progression, and
planetblupi gives training seven such pieces. This module writes such pieces over a chart of its own:
- `chart`: sections of 4-8 bars, each with a new progression drawn from a functional-harmony chain (with
  secondary dominants), and a modulation at some section boundaries; mma plays the song's drums and bass over it;
- `voices`: 2-5 lines for the `other` stem: melody, counter-melody (moving against the melody), inner voices
  (voice-led chords in one of several rhythms), arpeggios (several figures), a left hand (left_hand.py); per
  section each line may rest, change octave, change figure, change dynamics, or pass to another instrument.
Everything is a function of the rng passed in.

v22 trained on it (model card, *Training*) and answered no, at the scale two cores allow: 204 such songs moved
`other` on new composed songs by +0.06 dB and not at all on the held-out pieces, and what loses `other` in them is
its lines in the singer's register going to the vocals estimate.
"""
import numpy as np

import bass as BASS
import left_hand as LH
import midi as M
import vocals as V

# chord names as gen.QUAL spells them; degrees of the major and the natural minor scale
MAJOR = [(0, ''), (2, 'm'), (4, 'm'), (5, ''), (7, ''), (9, 'm'), (11, 'dim')]
MINOR = [(0, 'm'), (2, 'dim'), (3, ''), (5, 'm'), (7, ''), (8, ''), (10, '')]
# where a degree goes next (0-based scale degrees), as common practice harmony tends to
NEXT = {0: [3, 4, 5, 1, 2], 1: [4, 6, 4], 2: [5, 3], 3: [4, 0, 1, 4], 4: [0, 5, 3, 0], 5: [1, 3, 4], 6: [0, 0, 2]}
COLOUR = {'': ['7', 'maj7', '6', 'sus4', 'add9'], 'm': ['m7'], 'dim': ['m7b5']}
# programs of the lines: none is a bass (GM 33-40) or a drum-like or effect preset
MELODIC = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 19, 21, 22, 24, 25, 26, 27, 40, 41, 42, 45, 46,
           56, 57, 58, 60, 61, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 79, 80, 81, 82, 85, 104, 105, 108, 109]
SUSTAINED = [16, 17, 18, 19, 20, 21, 22, 23, 40, 41, 42, 48, 49, 50, 51, 52, 53, 54, 56, 57, 60, 61, 68, 69, 70,
             71, 88, 89, 90, 91, 92, 94, 95]
PLUCKED = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 24, 25, 26, 27, 45, 46, 104, 105, 106, 107, 108]
KINDS = ['melody', 'counter', 'inner', 'arp', 'left']
# data version 10: instruments a separator may take for a singer (reeds, winds, bowed strings, brass, accordion,
# harmonica, GM's choir and voice presets, voice-like synth leads); never basses (33-40) or low winds (bassoon)
VOICE_LIKE = [21, 22, 40, 41, 42, 52, 53, 54, 56, 57, 59, 60, 64, 65, 66, 67, 68, 69, 71, 73, 74, 75, 77, 78, 79,
              80, 81, 82, 84, 85]


def chart(rng, n_bars):
    """(key of the first section, bars): bars as gen.make_chart gives them, [[(root_pc, quality)] per bar],
    through-composed"""
    key = int(rng.integers(12))
    first = key
    minor = rng.random() < 0.4
    bars = []
    while len(bars) < n_bars:
        degs = MINOR if minor else MAJOR
        length = int(rng.choice([4, 4, 6, 8]))
        two = rng.random() < 0.3  # a section with two chords in some bars
        d = 0 if rng.random() < 0.6 else int(rng.choice([3, 5, 1]))
        for b in range(length):
            bar = []
            for _ in range(2 if two and rng.random() < 0.5 else 1):
                iv, q = degs[d]
                if rng.random() < 0.3:
                    q = str(rng.choice(COLOUR.get(q, [q])))
                nd = int(rng.choice(NEXT[d]))
                if rng.random() < 0.15 and nd != 0:  # a secondary dominant before the next chord
                    bar.append(((key + iv) % 12, q))
                    iv, q = (degs[nd][0] + 7) % 12, '7'
                bar.append(((key + iv) % 12, q))
                d = nd
            bars.append(bar[:2])
        # close the section on the tonic or the dominant, then perhaps modulate
        bars[-1] = [(key, 'm' if minor else '')] if rng.random() < 0.5 else [((key + 7) % 12, '7')]
        u = rng.random()
        if u < 0.15:
            key = (key + 7) % 12
        elif u < 0.25:
            key = (key + 5) % 12
        elif u < 0.35:
            key, minor = ((key + 9) % 12, True) if not minor else ((key + 3) % 12, False)
        elif u < 0.42:
            key = (key + int(rng.choice([1, 2, -2]))) % 12
    return first, bars[:n_bars]


def sections(rng, n_bars):
    """[(first bar, bars)] covering n_bars"""
    out, b = [], 0
    while b < n_bars:
        n = int(rng.choice([2, 4, 4, 4, 8]))
        out.append((b, min(n, n_bars - b)))
        b += n
    return out


def _fit(notes, beats):
    """notes [(pitches, beats, velocity)] cut or padded with a rest to exactly `beats`"""
    out, t = [], 0.0
    for p, d, v in notes:
        if t >= beats - 1e-6:
            break
        d = min(d, beats - t)
        out.append((p, d, v))
        t += d
    if t < beats - 1e-6:
        out.append(((), beats - t, 0))
    return out


def melody(rng, chords, bpb, n_bars, lo):
    dens = float(rng.uniform(0.55, 0.95))
    return [(() if p is None else (p,), d, int(rng.integers(60, 115)))
            for p, d, _ in V.melody_notes(chords, bpb, n_bars, lo, lo + int(rng.integers(12, 20)), rng, density=dens)]


def pitch_at(notes, beat):
    """the pitch sounding at beat in a single line (None in a rest)"""
    t = 0.0
    for p, d, _ in notes:
        if t <= beat < t + d:
            return p[0] if p else None
        t += d
    return None


def counter(rng, chords, bpb, n_bars, lo, against):
    """a second line that moves against the line against(beat) gives the pitch of (None: a rest; contrary motion,
    chord tones on the beats), in longer notes"""
    hi = lo + 14
    out, prev, t = [], int(rng.integers(lo + 3, hi - 3)), 0.0
    total = bpb * n_bars
    while t < total:
        d = float(rng.choice([0.5, 1, 1, 1.5, 2, 2, 3, 4]))
        d = min(d, total - t, bpb - t % bpb if d > 1 else d)
        if rng.random() < 0.12:
            out.append(((), d, 0))
            t += d
            continue
        root, ivs = V.chord_at(chords, int(t // bpb), t % bpb, bpb)
        pcs = [(root + i) % 12 for i in ivs]
        a, b = against(t), against(max(0.0, t - 1))
        motion = 0 if a is None or b is None else np.sign(a - b)
        cand = [p for p in range(lo, hi + 1) if (p % 12 in pcs or (t % 1 and rng.random() < 0.4))
                and abs(p - prev) <= 7 and (a is None or abs(p - a) > 2)]
        if not cand:
            cand = [p for p in range(lo, hi + 1) if p % 12 in pcs] or [prev]
        c = np.array(cand, float)
        w = np.exp(-np.abs(c - prev) / 3.0) * np.where(np.sign(c - prev) == -motion, 2.5, 1.0)
        prev = int(rng.choice(cand, p=w / w.sum()))
        out.append(((prev,), d, int(rng.integers(55, 105))))
        t += d
    return out


def inner(rng, chords, bpb, n_bars, lo):
    """2-3 voices led to the nearest chord tones at every chord, in one rhythm"""
    n = int(rng.choice([2, 3, 3]))
    rhythm = str(rng.choice(['held', 'halves', 'quarters', 'eighths', 'push', 'offbeat']))
    voices = sorted(int(rng.integers(lo, lo + 12)) + 4 * k for k in range(n))
    step = {'held': bpb, 'halves': bpb / 2, 'quarters': 1.0, 'eighths': 0.5, 'push': 0.5, 'offbeat': 0.5}[rhythm]
    out = []
    for bar in range(n_bars):
        for k in range(int(round(bpb / step))):
            beat = k * step
            root, ivs = V.chord_at(chords, bar, beat, bpb)
            pcs = [(root + i) % 12 for i in ivs]
            used = set()
            for j, v in enumerate(voices):
                cand = [p for p in range(v - 6, v + 7) if p % 12 in pcs and p % 12 not in used] or [v]
                voices[j] = min(cand, key=lambda p: (abs(p - v), p))
                used.add(voices[j] % 12)
            play = True
            if rhythm == 'push':  # beat 1, the and of 2, and 4: a syncopated comp
                play = beat in (0, 1.5, 3) or rng.random() < 0.1
            elif rhythm == 'offbeat':
                play = beat % 1 == 0.5
            vel = int(rng.integers(50, 95)) + (12 if beat == 0 else 0)
            out.append((tuple(voices) if play else (), step, vel))
    return out


def arpeggio(rng, chords, bpb, n_bars, lo):
    step = float(rng.choice([0.25, 0.5, 0.5, 1 / 3, 1.0]))
    figure = str(rng.choice(['up', 'down', 'updown', 'alberti', 'wide']))
    span = int(rng.choice([1, 2]))
    out, base = [], None
    per_bar = int(round(bpb / step))
    for bar in range(n_bars):
        for k in range(per_bar):
            root, ivs = V.chord_at(chords, bar, k * step, bpb)
            base = BASS.near(root, lo, lo + 11, base)
            tones = sorted({base + o * 12 + i for o in range(span) for i in ivs[:3]} | {base + 12 * span})
            if figure == 'up':
                seq = tones
            elif figure == 'down':
                seq = tones[::-1]
            elif figure == 'updown':
                seq = tones + tones[-2:0:-1]
            elif figure == 'alberti':
                seq = [tones[0], tones[2 % len(tones)], tones[1], tones[2 % len(tones)]]
            else:  # wide: root, fifth, tenth, fifth-above-octave...
                seq = [base, base + ivs[min(2, len(ivs) - 1)], base + 12 + ivs[1], base + 19]
            vel = int(rng.integers(55, 100)) + (10 if k == 0 else 0)
            out.append(((seq[(bar * per_bar + k) % len(seq)],), step, min(127, vel)))
    return out


def voices(rng, chords, bpb, n_bars, voice_lo=None):
    """[(kind, [(tick offset in beats, program)], notes)] for 2-5 lines over chords, through-composed by section.
    voice_lo (data version 10): the lowest note of the song's sung line; the melody and the counter-melody then
    play in the singer's register (lowest note within a few semitones of it) on VOICE_LIKE instruments"""
    kinds = ['melody'] + list(rng.choice(KINDS[1:], size=int(rng.integers(1, 5)), replace=False))
    if rng.random() < 0.25:
        kinds = kinds[1:] or ['inner']  # an accompaniment without a melody of its own (the vocals carry one)
    secs = sections(rng, n_bars)
    # which lines play in each section: any may rest after the first, two at least play (one if there is one)
    plays = np.ones((len(secs), len(kinds)), bool)
    for s in range(1, len(secs)):
        plays[s] = rng.random(len(kinds)) >= 0.25
        while plays[s].sum() < min(2, len(kinds)):
            plays[s, int(rng.integers(len(kinds)))] = True
    lines = []
    mel = None
    for j, kind in enumerate(kinds):
        pool = {'melody': MELODIC, 'counter': MELODIC, 'inner': SUSTAINED + PLUCKED[:8], 'arp': PLUCKED,
                'left': LH.PROGRAMS}[kind]
        base_lo = {'melody': (60, 74), 'counter': (48, 62), 'inner': (52, 66), 'arp': (48, 67), 'left': (36, 49)}[kind]
        paired = voice_lo is not None and kind in ('melody', 'counter')
        if paired:
            pool = VOICE_LIKE
            base_lo = (voice_lo - 3, voice_lo + 4) if kind == 'melody' else (voice_lo - 5, voice_lo + 3)
        lo = int(rng.integers(*base_lo))
        prog = int(rng.choice(pool))
        programs = [(0.0, prog)]
        notes = []
        for s, (b0, nb) in enumerate(secs):
            ch = chords[b0:b0 + nb] or chords[-1:]
            if s > 0:
                if rng.random() < 0.3:  # the line passes to another instrument
                    prog = int(rng.choice(pool))
                    programs.append((float(b0 * bpb), prog))
                if rng.random() < 0.3 and kind != 'left' and not paired:  # a paired line stays by the voice
                    lo = int(np.clip(lo + int(rng.choice([-12, 12])), base_lo[0] - 12, base_lo[1] + 12))
            beats = nb * bpb
            if not plays[s, j]:
                notes.append(((), float(beats), 0))
                continue
            if kind == 'melody':
                part = melody(rng, ch, bpb, nb, lo)
            elif kind == 'counter':
                against = (lambda t, o=b0 * bpb: pitch_at(mel, t + o)) if mel else (lambda t: None)
                part = counter(rng, ch, bpb, nb, lo, against)
            elif kind == 'inner':
                part = inner(rng, ch, bpb, nb, lo)
            elif kind == 'arp':
                part = arpeggio(rng, ch, bpb, nb, lo)
            else:
                part = LH.part(rng, ch, bpb, nb)[2]
            g = float(rng.uniform(0.6, 1.15))  # the section's dynamics
            notes += [(p, d, int(np.clip(v * g, 1, 127))) for p, d, v in _fit(part, beats)]
        lines.append((kind, programs, notes))
        if kind == 'melody':
            mel = notes
    return lines


def tracks(rng, lines, division, start_tick):
    """the lines as MIDI tracks, one channel each (0-8, then 10-15: none is the drums' 9)"""
    chans = [c for c in range(16) if c != 9]
    out = []
    for (kind, programs, notes), ch in zip(lines, chans):
        volume = int(rng.integers(60, 115))
        pan = int(rng.integers(16, 112))
        legato = float(rng.uniform(0.55, 0.98)) if kind != 'inner' else float(rng.uniform(0.8, 0.99))
        ev = M.notes_track(notes, division, start_tick, ch, programs[0][1], volume, pan, legato)
        for beat, prog in programs[1:]:
            ev.append((start_tick + int(round(beat * division)) - 1, bytes([0xC0 | ch, prog])))
        out.append(ev)
    return out
