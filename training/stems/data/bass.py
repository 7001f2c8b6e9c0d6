"""Data version 6: bass material the generator never made before.

v13's diagnostic (model card) found held-out bass going into "other": the model does not hear the held-out
soundfont's basses, or planetblupi's held-out bass lines, as bass, and fine-tuning on more of the generator's
bass (mma's lines on the training fonts' GM 33-40 presets) takes it further from them. Bass is a role - the
lowest line of the band - more than a timbre, so this module varies both sides of it:
- line(): our own bass line over the song's chord chart in place of mma's (walking quarters, pumping eighths,
  syncopated sixteenths with ghost notes, long notes, arpeggios, a melodic line);
- LOW_VOICES: the bass part played on a preset that is not a bass (pianos, organs, guitars, low strings,
  brass, reeds, synth leads and pads), in the bass register, an octave or more under where that preset
  usually plays;
- synth(): the bass part's notes synthesised in numpy instead of by a soundfont: subtractive (saw or pulse
  through a low-pass whose cut-off falls after the attack), FM, a sub sine with drive and a pitch drop, and an
  additive plucked string (harmonics that decay faster the higher they are, slightly inharmonic).
"""
import numpy as np
import scipy.signal as ss

import midi as M
import vocals as V

# 0-based GM programs that are not basses but can carry a bass line when played low
LOW_VOICES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 24, 25, 26, 27, 28, 29, 30, 42, 43, 45, 46, 48, 57, 58, 60,
              61, 62, 63, 67, 70, 71, 80, 81, 84, 87, 88, 89, 90, 104, 105, 106, 107]
BASS_CH = 13  # the channel of our own line (mma's tracks and the lead use others; the line's part has no other notes)
PATTERNS = ['walking', 'pump', 'sync', 'long', 'arp', 'melodic']
SYNTHS = ['subtractive', 'fm', 'sub', 'pluck']


def near(pc, lo, hi, prev=None):
    """the pitch of pitch class pc in [lo, hi] nearest to prev (lowest if no prev)"""
    cand = [p for p in range(lo, hi + 1) if p % 12 == pc]
    if not cand:
        return lo + (pc - lo) % 12
    if prev is None:
        return cand[0]
    return min(cand, key=lambda p: abs(p - prev))


def line(rng, chords, bpb, n_bars):
    """(pattern, [(pitch or None, beats, velocity)]) over chords (list per bar of [(root_pc, intervals)])"""
    pattern = str(rng.choice(PATTERNS))
    lo = int(rng.integers(28, 41))  # E1 .. E2
    hi = lo + 19
    notes = []
    if pattern == 'melodic':
        for p, beats, _ in V.melody_notes(chords, bpb, n_bars, lo, hi - 2, rng, density=0.95):
            notes.append((p, beats, int(rng.integers(70, 118))))
        return pattern, notes
    # drawn for pump too, where nothing uses it yet: kept so that the v14 run's songs render as they did
    swing = pattern in ('walking', 'pump') and rng.random() < 0.3
    prev = None
    for bar in range(n_bars):
        if pattern == 'walking':
            for beat in range(bpb):
                root, ivs = V.chord_at(chords, bar, beat, bpb)
                if beat == 0:
                    p = near(root, lo, hi, prev)
                elif beat == bpb - 1:  # approach the next bar's root from a semitone or a step away
                    nroot, _ = V.chord_at(chords, bar + 1, 0, bpb)
                    target = near(nroot, lo, hi, prev)
                    p = int(np.clip(target + int(rng.choice([-2, -1, 1, 2])), lo, hi))
                else:
                    p = near((root + int(rng.choice(ivs))) % 12, lo, hi, prev)
                vel = int(rng.integers(80, 115))
                if swing:
                    notes += [(p, 0.67, vel), (None, 0.33, 0)] if rng.random() < 0.2 else [(p, 1.0, vel)]
                else:
                    notes.append((p, 1.0, vel))
                prev = p
        elif pattern == 'pump':
            octave = rng.random() < 0.5
            for k in range(bpb * 2):
                root, ivs = V.chord_at(chords, bar, k / 2, bpb)
                p = near(root, lo, hi - 12 if octave else hi, prev if k == 0 else None)
                if octave and k % 2 == 1:
                    p += 12
                notes.append((p, 0.5, int(rng.integers(70, 110)) if k % 2 else int(rng.integers(95, 122))))
                prev = p
        elif pattern == 'sync':
            grid = bpb * 4
            hits = rng.random(grid) < 0.45
            hits[0] = True
            k = 0
            while k < grid:
                if not hits[k]:
                    notes.append((None, 0.25, 0))
                    k += 1
                    continue
                length = 1
                while k + length < grid and not hits[k + length] and length < 4 and rng.random() < 0.6:
                    length += 1
                root, ivs = V.chord_at(chords, bar, k / 4, bpb)
                pc = (root + int(rng.choice([0, 0, 0, 7, 12, 10 if 10 in ivs else 7]))) % 12
                p = near(pc, lo, hi, prev)
                if rng.random() < 0.15:  # an octave pop
                    p = min(p + 12, hi + 5)
                ghost = rng.random() < 0.2
                notes.append((p, 0.25 * length, int(rng.integers(30, 55)) if ghost else int(rng.integers(85, 125))))
                prev = p
                k += length
        elif pattern == 'long':  # a note a bar, or two halves (always two where the bar has two chords)
            halves = 2 if len(chords[min(bar, len(chords) - 1)]) > 1 or rng.random() < 0.4 else 1
            for h in range(halves):
                root, _ = V.chord_at(chords, bar, h * bpb / 2, bpb)
                prev = near(root, lo, hi, prev)
                notes.append((prev, bpb / halves, int(rng.integers(75, 110))))
        else:  # arp
            step = 0.5 if rng.random() < 0.7 else 1.0 / 3
            n = int(round(bpb / step))
            root, ivs = V.chord_at(chords, bar, 0, bpb)
            shape = [0] + list(ivs[1:3]) + [12]
            base = near(root, lo, hi - 12, None)
            for k in range(n):
                root_k, ivs_k = V.chord_at(chords, bar, k * step, bpb)
                if root_k != root:
                    root, ivs = root_k, ivs_k
                    shape = [0] + list(ivs[1:3]) + [12]
                    base = near(root, lo, hi - 12, base)
                notes.append((base + shape[k % len(shape)], step, int(rng.integers(70, 112))))
    return pattern, notes


def line_track(notes, division, start_tick, program, rng, ch=BASS_CH):
    """the notes as a MIDI track on channel ch, from start_tick"""
    volume = int(rng.integers(90, 120))
    pan = int(np.clip(64 + rng.normal(0, 6), 48, 80))
    legato = float(rng.uniform(0.6, 0.98))
    return M.notes_track([(() if p is None else (p,), beats, vel) for p, beats, vel in notes], division, start_tick,
                         ch, program, volume, pan, legato)


def revoiced(part, program):
    """a copy of part with every program change set to program (the part holds only the bass notes, so only
    they change voice); a part with no program change gets one at tick 0 on each channel that plays"""
    chans = set()
    tracks = []
    for tr in part.tracks:
        ev = []
        for t, b in tr:
            if b[0] < 0xF0 and b[0] & 0xF0 == 0xC0:
                b = bytes([b[0], program])
            if b[0] < 0xF0 and b[0] & 0xF0 == 0x90:
                chans.add(b[0] & 0x0F)
            ev.append((t, b))
        tracks.append(ev)
    tracks.append([(0, bytes([0xC0 | ch, program])) for ch in sorted(chans)])
    # the extra track sorts after the others at tick 0, so it wins over a tick-0 program change there
    return M.Midi(part.division, tracks)


def notes_sec(part):
    """[(start_s, end_s, pitch, velocity)] of a Midi (note-ons paired with the next note-off of their key)"""
    tm = M.tempo_map(part)
    ev = sorted(((t, k, b) for tr in part.tracks for k, (t, b) in enumerate(tr)
                 if b[0] < 0xF0 and b[0] & 0xF0 in (0x80, 0x90)), key=lambda e: (e[0], e[1]))
    open_, out = {}, []
    for t, _, b in ev:
        key = (b[0] & 0x0F, b[1])
        if b[0] & 0xF0 == 0x90 and b[2] > 0:
            open_.setdefault(key, []).append((t, b[2]))
        elif open_.get(key):
            t0, v = open_[key].pop(0)
            out.append((M.tick_to_sec(part, t0, tm), M.tick_to_sec(part, t, tm), b[1], v))
    return sorted(out)


class Synth:
    """one synthesised bass voice, its parameters drawn once per song"""

    def __init__(self, rng, sr):
        self.sr = sr
        self.kind = str(rng.choice(SYNTHS))
        self.attack = float(rng.uniform(0.002, 0.025))
        self.release = float(rng.uniform(0.03, 0.25))
        self.decay = float(np.exp(rng.uniform(np.log(0.15), np.log(2.0))))
        self.sustain = float(rng.uniform(0.2, 0.9))
        self.drive = float(np.exp(rng.uniform(np.log(0.5), np.log(6.0)))) if rng.random() < 0.5 else 0.0
        if self.kind == 'subtractive':
            self.wave = str(rng.choice(['saw', 'pulse']))
            self.width = float(rng.uniform(0.15, 0.5))
            self.detune = float(rng.uniform(0, 0.012)) if rng.random() < 0.5 else 0.0
            self.fc_lo = float(np.exp(rng.uniform(np.log(120), np.log(900))))
            self.fc_hi = self.fc_lo * float(np.exp(rng.uniform(np.log(1.5), np.log(12))))
            self.fenv = float(np.exp(rng.uniform(np.log(0.03), np.log(0.6))))
        elif self.kind == 'fm':
            self.ratio = float(rng.choice([0.5, 1.0, 1.0, 2.0, 3.0]))
            self.index = float(rng.uniform(0.5, 6.0))
            self.ienv = float(np.exp(rng.uniform(np.log(0.03), np.log(0.8))))
        elif self.kind == 'sub':
            self.drop = float(rng.uniform(0, 12))  # semitones the pitch falls from at the attack
            self.glide = float(rng.uniform(0.01, 0.08))
            self.h2 = float(rng.uniform(0, 0.4))
        else:  # pluck
            self.tilt = float(rng.uniform(0.6, 2.2))  # harmonic k at k**-tilt
            self.odd = float(rng.uniform(0.3, 1.0))  # even harmonics scaled by this (a pick near the middle: < 1)
            self.damp = float(rng.uniform(0.5, 4.0))  # how much faster the upper harmonics die (see _note)
            self.inharm = float(np.exp(rng.uniform(np.log(1e-5), np.log(4e-4))))
            self.base_decay = float(rng.uniform(0.8, 4.0))

    def _note(self, f, dur, vel):
        sr = self.sr
        n = int((dur + self.release) * sr) + 1
        t = np.arange(n) / sr
        if self.kind == 'subtractive':
            x = np.zeros(n)
            for det in ([0.0] if self.detune == 0 else [-self.detune, self.detune]):
                ph = (f * (1 + det) * t) % 1.0
                x += (2 * ph - 1) if self.wave == 'saw' else np.where(ph < self.width, 1.0, -1.0) - (2 * self.width - 1)
            hi = ss.sosfilt(ss.butter(4, min(self.fc_hi, 0.45 * sr) / (sr / 2), output='sos'), x)
            lo = ss.sosfilt(ss.butter(4, self.fc_lo / (sr / 2), output='sos'), x)
            e = np.exp(-t / self.fenv)
            x = lo + e * (hi - lo)
        elif self.kind == 'fm':
            x = np.sin(2 * np.pi * f * t + self.index * np.exp(-t / self.ienv) * np.sin(2 * np.pi * self.ratio * f * t))
        elif self.kind == 'sub':
            fi = f * 2 ** (self.drop / 12 * np.exp(-t / self.glide))
            ph = 2 * np.pi * np.cumsum(fi) / sr
            x = np.sin(ph) + self.h2 * np.sin(2 * ph)
        else:
            k = np.arange(1, 33)[:, None]
            fk = f * k * np.sqrt(1 + self.inharm * k ** 2)
            keep = fk[:, 0] < 0.45 * sr
            amp = k[keep] ** -self.tilt * np.where(k[keep] % 2 == 0, self.odd, 1.0)
            rate = (1 + (k[keep] - 1) * self.damp * f / 200.0) / self.base_decay
            x = (amp * np.exp(-rate * t) * np.sin(2 * np.pi * fk[keep] * t)).sum(0)
        # amplitude envelope: attack, decay to sustain, release after the note's end
        env = np.minimum(1.0, t / self.attack)
        if self.kind != 'pluck':
            env = env * (self.sustain + (1 - self.sustain) * np.exp(-t / self.decay))
        off = t > dur
        env[off] *= np.exp(-(t[off] - dur) / (self.release / 4))
        x = x * env
        if self.drive > 0:
            x = np.tanh(self.drive * x / (np.abs(x).max() + 1e-9)) / np.tanh(self.drive)
        return x * (vel / 127.0) ** 1.5

    def render(self, notes, n):
        """notes [(start_s, end_s, pitch, velocity)] -> mono float64 [n]"""
        y = np.zeros(n)
        for s0, s1, p, v in notes:
            a = int(s0 * self.sr)
            if a >= n:
                continue
            x = self._note(440.0 * 2 ** ((p - 69) / 12), max(0.02, s1 - s0), v)
            b = min(n, a + len(x))
            y[a:b] += x[:b - a]
        return y


def synth(rng, notes, n, sr):
    """(notes (notes_sec) synthesised, [2, n] float32; the voice's parameters for meta.json)"""
    voice = Synth(rng, sr)
    y = voice.render(notes, n)
    pan = float(np.clip(rng.normal(0, 0.12), -0.3, 0.3))
    stereo = np.stack([y * np.sqrt(0.5 - pan / 2) * np.sqrt(2), y * np.sqrt(0.5 + pan / 2) * np.sqrt(2)])
    params = {k: (round(v, 5) if isinstance(v, float) else v) for k, v in vars(voice).items() if k != 'sr'}
    return stereo.astype(np.float32), params
