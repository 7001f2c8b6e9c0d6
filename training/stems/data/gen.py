"""Render songs with four known stems (drums, bass, other, vocals) at 44.1 kHz stereo.

  /usr/bin/python3 training/stems/data/gen.py --split train --out /work/data/stems/train --start 0 --count 400
  /usr/bin/python3 training/stems/data/gen.py --split val   --out /work/data/stems/val   --start 0 --count 12
  /usr/bin/python3 training/stems/data/gen.py --split unseen --out /work/data/stems/unseen --start 0 --count 24 --data-version 2

Song i of a split is fully determined by (split, i): the seed is derived from them, so any song can be
re-rendered on its own and a crashed run resumes by skipping songs whose folder is complete.

Sources (and nothing else): mma grooves driven by random chord charts (stdlib for train, val and heldout;
mma's libraries TRAIN_LIBS for half of data version 7's training songs; UNSEEN_LIBS only for the 'unseen'
validation split), planetblupi MIDI songs 000-006
(007-009 are held out), our own melodies (instrumental leads, and the sung line) and, from data version 9,
through-composed parts of our own composer (composer.py), fluidsynth with
FluidR3_GM / TimGM6mb (MuseScore_General is held out), festival / espeak-ng vocals.
"""
import argparse
import functools
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import scipy.io.wavfile as wavfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bass as BASS  # noqa: E402
import composer as C  # noqa: E402
import left_hand as LH  # noqa: E402
import midi as M  # noqa: E402
import variety as VAR  # noqa: E402
import vocals as V  # noqa: E402

SR = 44100
STEMS = ['drums', 'bass', 'other', 'vocals']
TRAIN_SF = ['/usr/share/sounds/sf2/FluidR3_GM.sf2', '/usr/share/sounds/sf2/TimGM6mb.sf2']
HELDOUT_SF = ['/usr/share/sounds/sf3/MuseScore_General.sf3']
BLUPI = '/usr/share/planetblupi/music/music%03d.mid'
BLUPI_TRAIN = [0, 1, 2, 3, 4, 5, 6]
BLUPI_HELDOUT = [7, 8, 9]
MMA_LIB = '/usr/share/mma/lib/stdlib'

BASS_PROGRAMS = set(range(32, 40))  # GM 33-40 (1-based)
# "other" programs we may substitute (0-based GM): keys, organ, guitars, strings, ensemble, brass, reeds,
# pipes, synth lead/pad, ethnic; no bass, no percussive sfx.
OTHER_PROGRAMS = list(range(0, 32)) + list(range(40, 56)) + list(range(56, 80)) + list(range(80, 96)) + \
    list(range(104, 112))
LEAD_PROGRAMS = [73, 74, 75, 71, 72, 68, 69, 64, 65, 66, 67, 56, 57, 59, 60, 40, 41, 80, 81, 82, 83, 84, 85,
                 86, 87, 16, 17, 18, 19, 22, 24, 25, 26, 27, 29, 30, 0, 4, 5, 11, 13, 78, 79, 52, 53, 54]
DRUM_KITS = [0, 8, 16, 24, 25, 32, 40, 48]


def style_files():
    return sorted(glob.glob(os.path.join(MMA_LIB, '*.mma')))


# mma's other groove libraries, split by library: data version 7 trains on TRAIN_LIBS (keyboard-arranger
# styles, 117 grooves); the 'unseen' split draws its grooves from UNSEEN_LIBS (85 grooves), a validation set of
# arrangements no training song uses (zoom is left out: its patterns are drums only). Before version 7 the
# 'unseen' split drew from all five libraries.
TRAIN_LIBS = ('casio', 'yamaha')
UNSEEN_LIBS = ('alexis', 'kara', 'pflib')


def groove_names(style_file):
    """The grooves a style file defines, without intros, endings, fills and breaks."""
    names = []
    for line in open(style_file, errors='replace'):
        m = re.match(r'\s*DefGroove\s+(\S+)', line, re.I)
        if m and not re.search(r'(intro|end|fill|break)', m.group(1), re.I):
            names.append(m.group(1))
    return names


@functools.lru_cache(maxsize=None)  # read once per process, not once per song
def library_grooves(libs):
    """(library/file, groove) pairs of mma's libraries libs (a tuple)."""
    return tuple(('%s/%s' % (lib, os.path.basename(f)[:-4]), g)
                 for lib in libs
                 for f in sorted(glob.glob(os.path.join(os.path.dirname(MMA_LIB), lib, '*.mma')))
                 for g in groove_names(f))


def library_groove(libs, rng):
    """A groove drawn from mma's libraries libs, and the mma line that loads its own file (in case another
    library defines the name too)."""
    pairs = library_grooves(libs)
    lib_file, groove = pairs[int(rng.integers(len(pairs)))]
    return groove, ['Use %s' % lib_file]


@functools.lru_cache(maxsize=None)  # read once per process, not once per song
def groove_split():
    """Deterministic split of mma style FILES: every 8th file (by sorted name, offset 5) is held out, so
    held-out grooves share no patterns with training grooves."""
    train, held = [], []
    for k, f in enumerate(style_files()):
        (held if k % 8 == 5 else train).extend(groove_names(f))
    return train, held


# ---------------------------------------------------------------- chord charts
QUAL = {'': [0, 4, 7], 'm': [0, 3, 7], '7': [0, 4, 7, 10], 'm7': [0, 3, 7, 10], 'maj7': [0, 4, 7, 11],
        'sus4': [0, 5, 7], 'm7b5': [0, 3, 6, 10], '6': [0, 4, 7, 9], 'dim': [0, 3, 6], 'add9': [0, 4, 7, 14]}
NAMES = ['C', 'Db', 'D', 'Eb', 'E', 'F', 'Gb', 'G', 'Ab', 'A', 'Bb', 'B']
MAJOR_DEG = [(0, ''), (2, 'm'), (4, 'm'), (5, ''), (7, ''), (9, 'm'), (11, 'dim')]
PROGS_MAJOR = [[0, 4, 5, 3], [0, 5, 3, 4], [1, 4, 0, 0], [0, 3, 4, 3], [0, 5, 1, 4], [5, 3, 0, 4], [0, 3, 0, 4],
               [0, 2, 3, 4], [3, 4, 0, 5], [0, 4, 3, 0]]
PROGS_MINOR = [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6], [0, 3, 6, 2], [0, 5, 3, 4]]
MINOR_DEG = [(0, 'm'), (2, 'dim'), (3, ''), (5, 'm'), (7, 'm'), (8, ''), (10, '')]


def make_chart(rng, n_bars):
    key = int(rng.integers(12))
    minor = rng.random() < 0.35
    bars = []
    if rng.random() < 0.12 and not minor:  # 12-bar blues
        pat = [0, 0, 0, 0, 5, 5, 0, 0, 7, 5, 0, 7]
        while len(bars) < n_bars:
            for d in pat:
                bars.append([((key + d) % 12, '7')])
        return key, bars[:n_bars]
    degs = MINOR_DEG if minor else MAJOR_DEG
    progs = PROGS_MINOR if minor else PROGS_MAJOR
    sections = [progs[int(rng.integers(len(progs)))] for _ in range(2)]
    while len(bars) < n_bars:
        prog = sections[int(rng.random() < 0.4)]
        for d in prog:
            iv, q = degs[d]
            if rng.random() < 0.35:
                q = {'': str(rng.choice(['7', 'maj7', '6', 'sus4', 'add9', ''])), 'm': 'm7', 'dim': 'm7b5'}.get(q, q)
            ch = [((key + iv) % 12, q)]
            if rng.random() < 0.15:  # two chords in the bar
                iv2, q2 = degs[int(rng.integers(7))]
                ch.append(((key + iv2) % 12, q2))
            bars.append(ch)
    return key, bars[:n_bars]


def chart_lines(bars):
    out = []
    for k, ch in enumerate(bars):
        names = [NAMES[r] + q for r, q in ch]
        if len(names) == 2:
            out.append('%d %s / %s' % (k + 1, names[0], names[1]))
        else:
            out.append('%d %s' % (k + 1, names[0]))
    return out


def chords_for_melody(bars):
    return [[(r, QUAL[q][:3] if len(QUAL[q]) > 3 and QUAL[q][3] > 11 else QUAL[q]) for r, q in ch] for ch in bars]


# ---------------------------------------------------------------- MIDI splitting
def ts_numerator(mid):
    for tr in mid.tracks:
        for t, b in tr:
            if b[0] == 0xFF and b[1] == 0x58:
                return b[3]
    return 4


def split_midi(mid, rng, randomize=True, lead=None, drum_edit=None):
    """Split into per-stem Midi objects. Notes are classified by channel (10 = drums) and by the program in
    force on their channel at note-on time (GM 33-40 = bass). Non-note events go to every stem, so each
    stem renders with the same controllers/tempo. Pan (CC10) is replaced by a random pan per channel.
    drum_edit (variety.DrumEdit, or variety.KickToTom around one): re-writes the drum hits (data versions 3, 4)."""
    events = []  # (tick, seq, track_index, bytes)
    seq = 0
    for ti, tr in enumerate(mid.tracks):
        for t, b in tr:
            events.append((t, seq, ti, b))
            seq += 1
    events.sort(key=lambda e: (e[0], e[1]))
    prog = [0] * 16
    prog_map = {}  # (ch, old_prog) -> new prog
    pans = {}
    active = {}
    out = {s: [[] for _ in mid.tracks] for s in STEMS[:3]}
    for ch in range(16):
        if ch == 9:
            pans[ch] = int(np.clip(64 + rng.normal(0, 8), 40, 88))
        else:
            pans[ch] = int(rng.integers(8, 120))
    for t, _, ti, b in events:
        st = b[0]
        if st >= 0xF0:
            for s in out:
                out[s][ti].append((t, b))
            continue
        ch, hi = st & 0x0F, st & 0xF0
        if hi == 0xC0:
            p = b[1]
            if ch == 9:
                np_ = int(rng.choice(DRUM_KITS)) if randomize else p
                prog_map.setdefault((ch, p), np_)
            elif randomize:
                if p in BASS_PROGRAMS:
                    prog_map.setdefault((ch, p), int(rng.choice(sorted(BASS_PROGRAMS))) if rng.random() < 0.6 else p)
                else:
                    prog_map.setdefault((ch, p), int(rng.choice(OTHER_PROGRAMS)) if rng.random() < 0.4 else p)
            else:
                prog_map.setdefault((ch, p), p)
            prog[ch] = p
            nb = bytes([st, prog_map[(ch, p)]])
            for s in out:
                out[s][ti].append((t, nb))
            continue
        if hi == 0xB0 and b[1] == 10:
            continue  # our own pan
        if hi in (0x80, 0x90):
            key = (ch, b[1])
            if hi == 0x90 and b[2] > 0:
                stem = 'drums' if ch == 9 else ('bass' if prog[ch] in BASS_PROGRAMS else 'other')
                if stem == 'drums' and drum_edit is not None:
                    hit = drum_edit.note_on(b[1], b[2])
                    if hit is None:  # dropped: its note-off is dropped too
                        active.setdefault(key, []).append(None)
                        continue
                    b = bytes([st, hit[0], hit[1]])
                active.setdefault(key, []).append(stem)
                out[stem][ti].append((t, b))
            else:
                lst = active.get(key)
                stem = lst.pop(0) if lst else None
                if stem:
                    if stem == 'drums' and drum_edit is not None:
                        b = bytes([st, drum_edit.note(b[1]), b[2]])
                    out[stem][ti].append((t, b))
            continue
        for s in out:
            out[s][ti].append((t, b))
    res = {}
    for s in out:
        trs = out[s]
        trs[0] = [(0, bytes([0xB0 | ch, 10, pans[ch]])) for ch in range(16)] + trs[0]
        res[s] = M.Midi(mid.division, trs)
    if lead is not None:
        res['other'].tracks.append(lead)
    return res


def lead_track(notes, ch, program, division, start_tick, rng):
    ev = [(0, bytes([0xC0 | ch, program])), (0, bytes([0xB0 | ch, 7, int(rng.integers(80, 120))])),
          (0, bytes([0xB0 | ch, 10, int(rng.integers(30, 98))]))]
    t = start_tick
    for p, beats, _ in notes:
        d = int(round(beats * division))
        if p is not None:
            vel = int(rng.integers(70, 115))
            ev.append((t, bytes([0x90 | ch, p, vel])))
            ev.append((t + max(1, int(d * 0.92)), bytes([0x80 | ch, p, 0])))
        t += d
    return ev


def scale_tempo(mid, factor):
    for tr in mid.tracks:
        for k, (t, b) in enumerate(tr):
            if b[0] == 0xFF and b[1] == 0x51:
                us = int(((b[3] << 16) | (b[4] << 8) | b[5]) / factor)
                us = max(1, min(us, 0xFFFFFF))
                tr[k] = (t, b[:3] + bytes([(us >> 16) & 255, (us >> 8) & 255, us & 255]))
    if not any(b[0] == 0xFF and b[1] == 0x51 for tr in mid.tracks for t, b in tr):
        us = int(500000 / factor)
        mid.tracks[0].insert(0, (0, bytes([0xFF, 0x51, 3, (us >> 16) & 255, (us >> 8) & 255, us & 255])))


# ---------------------------------------------------------------- rendering
def fluidsynth(mid, sf, path_mid, path_wav, gain, reverb, chorus):
    M.write(path_mid, mid)
    subprocess.run(['fluidsynth', '-ni', '-q', '-O', 'float', '-T', 'wav', '-r', str(SR), '-g', '%.3f' % gain,
                    '-R', '1' if reverb else '0', '-C', '1' if chorus else '0', '-F', path_wav, sf, path_mid],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    sr, x = wavfile.read(path_wav)
    assert sr == SR
    return x.T.astype(np.float32)


def stereo_width(x, w):
    mid = 0.5 * (x[0] + x[1])
    side = 0.5 * (x[0] - x[1]) * w
    return np.stack([mid + side, mid - side])


def song_seed(split, i):
    return int.from_bytes(hashlib.sha256(('%s:%d' % (split, i)).encode()).digest()[:8], 'little')


DATA_VERSION = 3  # 1: the v1 model's songs (train 0-228); 2: + vocal 'air' (V.air) and six more festival voices;
# 3: + drum parts re-written and bass/other tones (variety.py; songs otherwise the same as version 2);
# 4 (opt-in, not in a shipped model): + the kick played on a low tom in 30% of songs (variety.KickToTom);
# 5 (opt-in, not in a shipped model): + instruments re-voiced by SoundFont generator offsets (variety.Timbre) and a
# stem's soundfont drawn on its own in 30% of stems;
# 6 (opt-in): version 3 + new bass material (bass.py: our own bass lines, synthesised basses, non-bass presets
# playing the bass part). Not 4 or 5: the v10 and v11 runs lost held-out bass with them;
# 7 (opt-in): version 3 with half of the mma songs on a groove of TRAIN_LIBS instead of stdlib (new arrangements);
# 8 (opt-in): version 7 with a low-register part added to `other` in half of the mma songs (left_hand.py);
# 9 (opt-in): version 8 with 60% of the mma songs through-composed (composer.py): a chart of its own, and the
# `other` stem replaced by 2-5 lines of our own composer.
# 10 (opt-in): version 9 where a through-composed song with vocals plays its melody and counter-melody in the
# singer's register on voice-like instruments (composer.VOICE_LIKE: reeds, winds, bowed strings, brass, voice presets).


def render_song(split, i, out_root, length=None, data_version=None, soundfonts=None, blupi_pieces=None,
                composed=False):
    """composed: (data version 9) every mma song through-composed, not 60% of them. soundfonts: the list to draw
    this song's soundfont from instead of the split's (same length: the song's other random draws stay the same).
    blupi_pieces: a held-out song i < len(blupi_pieces) plays planetblupi piece blupi_pieces[i] instead of
    BLUPI_HELDOUT[i] (heldout.py's diagnostic of the trained pieces)"""
    heldout = split == 'heldout'
    data_version = data_version or DATA_VERSION
    rng = np.random.default_rng(song_seed(split, i))
    train_g, held_g = groove_split()
    meta = {'split': split, 'index': i}
    if not heldout:
        meta['data_version'] = data_version
    length = length or (30.0 if heldout else float(rng.uniform(30, 45)))
    sf = str(rng.choice(soundfonts or (HELDOUT_SF if heldout else TRAIN_SF)))
    meta['soundfont'] = os.path.basename(sf)
    with tempfile.TemporaryDirectory(prefix='song') as tmp:
        pieces = blupi_pieces or BLUPI_HELDOUT
        use_blupi = (i < len(pieces)) if heldout else (rng.random() < 0.12)
        through_composed = False  # data version 9: composer.py writes this song's chart and `other`
        if split == 'unseen':  # every planetblupi piece is either trained on or held out
            use_blupi = False
        if use_blupi:
            num = pieces[i] if heldout else int(rng.choice(BLUPI_TRAIN))
            mid = M.read(BLUPI % num)
            factor = 1.0 if heldout else float(rng.uniform(0.85, 1.15))
            scale_tempo(mid, factor)
            meta['source'] = 'planetblupi music%03d.mid tempo x%.3f' % (num, factor)
            tm = M.tempo_map(mid)
            bpm = 60e6 / tm[0][1]
            # pitch classes of the song for a melody
            hist = np.zeros(12)
            for tr in mid.tracks:
                for t, b in tr:
                    if b[0] & 0xF0 == 0x90 and b[0] & 0x0F != 9 and b[2] > 0:
                        hist[b[1] % 12] += 1
            pcs = list(np.argsort(-hist)[:7])
            bpb = ts_numerator(mid)
            n_bars = int(length * bpm / 60 / bpb) + 40
            chords = [[(int(pcs[0]), sorted([(p - pcs[0]) % 12 for p in pcs]))] for _ in range(n_bars)]
            end_tick = max((t for tr in mid.tracks for t, b in tr), default=0)
            total = M.tick_to_sec(mid, end_tick)
            start_sec = 0.0 if heldout else float(rng.uniform(0, max(0.0, total - length - 1)))
        else:
            use = []
            if split == 'unseen':
                groove, use = library_groove(UNSEEN_LIBS, rng)
            else:
                groove = str(rng.choice(held_g if heldout else train_g))
                if data_version in (7, 8, 9, 10) and not heldout:
                    # version 7's draws come from their own generator (the rest of the song is version 3's)
                    rng7 = np.random.default_rng([song_seed(split, i), 7])
                    if rng7.random() < 0.5:
                        groove, use = library_groove(TRAIN_LIBS, rng7)
            bpm = float(rng.uniform(72, 160))
            n_bars = 40
            key, bars = make_chart(rng, n_bars)
            # version 9's draws come from their own generator (the rest of the song is version 8's)
            rng9 = np.random.default_rng([song_seed(split, i), 9])
            if data_version in (9, 10) and not heldout and (composed or rng9.random() < 0.6):
                key, bars = C.chart(rng9, n_bars)
                through_composed = True
            # mma humanises timing and velocity with its own random generator, seeded from the clock unless
            # told: RndSeed makes the song a function of (split, i) as documented (it was not before)
            head = ['RndSeed %d' % (song_seed(split, i) % 1000003), 'Tempo %d' % int(bpm)] + use + ['Groove %s' % groove]
            mma = head + chart_lines(bars)
            open(os.path.join(tmp, 's.mma'), 'w').write('\n'.join(mma) + '\n')
            r = subprocess.run(['mma', os.path.join(tmp, 's.mma'), '-f', os.path.join(tmp, 's.mid')],
                               capture_output=True, text=True, timeout=120)
            if r.returncode != 0 and 'Too many chords' in r.stdout + r.stderr:  # 2/4 grooves: one chord a bar
                bars = [ch[:1] for ch in bars]
                mma = head + chart_lines(bars)
                open(os.path.join(tmp, 's.mma'), 'w').write('\n'.join(mma) + '\n')
                r = subprocess.run(['mma', os.path.join(tmp, 's.mma'), '-f', os.path.join(tmp, 's.mid')],
                                   capture_output=True, text=True, timeout=120)
            if r.returncode != 0:
                raise RuntimeError('mma failed: ' + (r.stdout + r.stderr)[-300:].replace('\n', ' '))
            mid = M.read(os.path.join(tmp, 's.mid'))
            bpm = int(bpm)
            meta['source'] = 'mma groove %s, %d bpm, key %s' % (groove, bpm, NAMES[key])
            meta['chart'] = mma
            bpb = ts_numerator(mid)
            chords = chords_for_melody(bars)
            end_tick = max((t for tr in mid.tracks for t, b in tr), default=0)
            total = M.tick_to_sec(mid, end_tick)
            start_sec = float(rng.uniform(0, max(0.0, min(8.0, total - length - 1))))
        beat_sec = 60.0 / bpm
        # align excerpt start to a bar so melodies line up with chords
        start_bar = int(start_sec / (beat_sec * bpb))
        start_sec = start_bar * beat_sec * bpb
        chords = chords[start_bar:] + chords[:start_bar]
        bars_needed = int(length / (beat_sec * bpb)) + 2
        start_tick = int(round(start_bar * bpb * mid.division))  # where the parts written over the chart begin
        has_vocals = (i % 8 != 7) if heldout else (rng.random() < 0.85)
        has_lead = (not heldout and rng.random() < (0.3 if has_vocals else 0.6)) or (heldout and i % 4 == 2)
        lead = None
        if has_lead:
            lo = int(rng.integers(55, 70))
            lnotes = V.melody_notes(chords, bpb, bars_needed, lo, lo + 16, rng, density=0.6)
            lead_prog = int(rng.choice(LEAD_PROGRAMS))
            # melody beat grid assumes constant tempo (true for mma; approximate for planetblupi)
            lead = lead_track(lnotes, 15 if not use_blupi else 14, lead_prog, mid.division, start_tick, rng)
            meta['lead_program'] = lead_prog
        # version 3's draws come from their own generator, so the rest of the song is version 2's
        rng3 = np.random.default_rng([song_seed(split, i), 3])
        v3 = data_version >= 3 and not heldout
        drum_edit = VAR.DrumEdit(rng3) if v3 and rng3.random() < 0.6 else None
        if drum_edit is not None:
            meta['drum_edit'] = {'map': drum_edit.map, 'drop': drum_edit.drop, 'gamma': round(drum_edit.gamma, 3),
                                 'scale': round(drum_edit.scale, 3)}
        # version 4's draw has a generator of its own too, so the rest of the song is version 3's
        rng4 = np.random.default_rng([song_seed(split, i), 4])
        if data_version in (4, 5) and not heldout and rng4.random() < 0.3:
            drum_edit = VAR.KickToTom(rng4, inner=drum_edit)
            meta['kick_to_tom'] = drum_edit.tom
        parts = split_midi(mid, rng, randomize=not heldout, lead=lead, drum_edit=drum_edit)
        # version 6's draws have a generator of their own too (so the rest of the song is version 3's)
        rng6 = np.random.default_rng([song_seed(split, i), 6])
        bass_voice = None
        if data_version == 6 and not heldout:
            meta['bass'] = {}
            if not use_blupi and rng6.random() < 0.35:  # mma songs have a chart to play over
                pattern, bnotes = BASS.line(rng6, chords, bpb, bars_needed)
                program = int(rng6.choice(sorted(BASS_PROGRAMS)))
                track = BASS.line_track(bnotes, mid.division, start_tick, program, rng6)
                parts['bass'] = M.replaced(parts['bass'], [track])
                meta['bass']['line'] = pattern
            u = rng6.random()
            if u < 0.3:
                bass_voice = 'synth'
            elif u < 0.55:
                bass_voice = int(rng6.choice(BASS.LOW_VOICES))
                parts['bass'] = BASS.revoiced(parts['bass'], bass_voice)
                meta['bass']['program'] = bass_voice
        # version 8's draws have a generator of their own too (so the rest of the song is version 7's)
        rng8 = np.random.default_rng([song_seed(split, i), 8])
        if data_version in (8, 9, 10) and not heldout and not use_blupi and rng8.random() < 0.5 \
                and not through_composed:  # a through-composed song may have a left hand of its own
            ch = LH.free_channel(mid)
            if ch is not None:
                pattern, lo, lnotes = LH.part(rng8, chords, bpb, bars_needed)
                program = int(rng8.choice(LH.PROGRAMS))
                parts['other'].tracks.append(LH.track(lnotes, mid.division, start_tick, program, ch, rng8))
                meta['left_hand'] = {'pattern': pattern, 'lowest': lo, 'program': program, 'channel': ch}
        # version 10's draws have a generator of their own too: a song without the pairing is its version 9 render
        rng10 = np.random.default_rng([song_seed(split, i), 10])
        voice_lo = None  # version 10: where the sung line lies, so that other's melodic lines can share it
        if data_version == 10 and through_composed and has_vocals:
            voice_lo = int(rng10.integers(45, 50)) if rng10.random() < 0.5 else int(rng10.integers(55, 62))
            meta['voice_paired'] = voice_lo
        if through_composed:
            lines = C.voices(rng9, chords, bpb, bars_needed, voice_lo)
            parts['other'] = M.replaced(parts['other'], C.tracks(rng9, lines, mid.division, start_tick))
            meta['composed'] = [{'kind': k, 'programs': [p for _, p in progs]} for k, progs, _ in lines]
            meta.pop('lead_program', None)  # the lead went with the rest of mma's `other`
        gain = float(rng.uniform(0.3, 0.6))
        reverb, chorus = bool(rng.random() < 0.7), bool(rng.random() < 0.5)
        if heldout:
            reverb, chorus, gain = True, True, 0.5
        stems = {}
        # render only up to the excerpt's end plus 2 s: fluidsynth would otherwise render the whole MIDI
        # (40 bars of mma, a whole planetblupi song; up to ~20 min per stem) to keep 30-45 s of it. The kept
        # samples are the same either way (the synth's state up to there does not depend on later events).
        # A planetblupi window can start minutes into the song: the MIDI before (start - 4 s) is dropped too
        # (notes only; see M.windowed), so no render is longer than the excerpt + 6 s.
        end_tick = M.sec_to_tick(mid, start_sec + length + 2.0)
        cut_tick = M.sec_to_tick(mid, start_sec - 4.0) if start_sec > 4.0 else 0
        cut_sec = M.tick_to_sec(mid, cut_tick)
        # version 5's draws have a generator of their own too (so the rest of the song is version 4's)
        rng5 = np.random.default_rng([song_seed(split, i), 5])
        timbre, stem_sf = None, {}
        if data_version == 5 and not heldout:
            timbre = VAR.Timbre(rng5, range(16))
            meta['timbre'] = {str(ch): {k: round(v, 1) for k, v in o.items()} for ch, o in timbre.offsets.items()}
            # a stem may come from the other training soundfont than the rest of the song
            for s in ['drums', 'bass', 'other']:
                if rng5.random() < 0.3:
                    stem_sf[s] = str(rng5.choice(TRAIN_SF))
            meta['stem_soundfont'] = {s: os.path.basename(f) for s, f in stem_sf.items()}
        for s in ['drums', 'bass', 'other']:
            part = M.windowed(parts[s], cut_tick, end_tick)
            if timbre is not None:
                part = timbre.apply(part)
            x = fluidsynth(part, stem_sf.get(s, sf), os.path.join(tmp, s + '.mid'),
                           os.path.join(tmp, s + '.wav'), gain, reverb, chorus)
            bass_notes = BASS.notes_sec(part) if s == 'bass' and bass_voice == 'synth' else None
            if bass_notes:
                y, params = BASS.synth(rng6, bass_notes, x.shape[1], SR)
                x = y * (np.sqrt(np.mean(x ** 2)) / (np.sqrt(np.mean(y ** 2)) + 1e-12))
                meta['bass']['synth'] = params
            a = int((start_sec - cut_sec) * SR)
            x = x[:, a:a + int(length * SR)]
            x = np.pad(x, ((0, 0), (0, int(length * SR) - x.shape[1])))
            stems[s] = x
        if v3:
            meta['tone'] = []
            for s, p in (('bass', 0.5), ('other', 0.2)):
                if rng3.random() < p:
                    stems[s] = VAR.tone(stems[s], rng3, SR)
                    meta['tone'].append(s)
        if not heldout:
            stems['other'] = stereo_width(stems['other'], float(rng.uniform(0.3, 1.6)))
            stems['drums'] = stereo_width(stems['drums'], float(rng.uniform(0.5, 1.3)))
        n = int(length * SR)
        if has_vocals:
            if rng.random() < 0.5:
                lo = int(rng.integers(45, 50))
            else:
                lo = int(rng.integers(55, 62))
            lo = lo if voice_lo is None else voice_lo  # version 10's register; rng's draw above stays, as in version 9
            vnotes = V.melody_notes(chords, bpb, bars_needed, lo, lo + 14, rng, density=0.8)
            v2 = data_version >= 2 and not heldout
            voc, engine = V.render_vocals(vnotes, bpm, length, rng, heldout=heldout, use_air=v2,
                                          rng_air=np.random.default_rng([song_seed(split, i), 2]),
                                          train_voices=V.FESTIVAL_TRAIN_VOICES_V2 if v2 else None)
            meta['vocals'] = engine
            stems['vocals'] = voc
        else:
            stems['vocals'] = np.zeros((2, n), np.float32)
            meta['vocals'] = None
    # levels: vocals relative to accompaniment in a plausible range (training re-randomises gains anyway)
    acc = sum(stems[s] for s in ['drums', 'bass', 'other'])
    acc_rms = float(np.sqrt(np.mean(acc ** 2)) + 1e-9)
    if has_vocals:
        v_rms = float(np.sqrt(np.mean(stems['vocals'] ** 2)) + 1e-9)
        stems['vocals'] *= acc_rms / v_rms * 10 ** (rng.uniform(-4, 3) / 20)
    mix = sum(stems[s] for s in STEMS)
    peak = float(np.abs(mix).max()) + 1e-9
    g = min(0.9 / peak, 10 ** (-16 / 20) / (np.sqrt(np.mean(mix ** 2)) + 1e-9))
    d = os.path.join(out_root, '%s%04d' % ('song' if not heldout else 'heldout', i))
    os.makedirs(d + '.tmp', exist_ok=True)
    for s in STEMS:
        y = np.clip(stems[s] * g, -1, 1)
        if heldout:
            wavfile.write(os.path.join(d + '.tmp', s + '.wav'), SR, y.T.astype(np.float32))
            subprocess.run(['ffmpeg', '-loglevel', 'error', '-y', '-i', os.path.join(d + '.tmp', s + '.wav'),
                            '-sample_fmt', 's32', '-c:a', 'flac', os.path.join(d + '.tmp', s + '.flac')], check=True)
            os.remove(os.path.join(d + '.tmp', s + '.wav'))
        else:
            wavfile.write(os.path.join(d + '.tmp', s + '.wav'), SR, (y.T * 32767).round().astype(np.int16))
    meta['length_sec'] = length
    meta['has_vocals'] = has_vocals
    json.dump(meta, open(os.path.join(d + '.tmp', 'meta.json'), 'w'), indent=1)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.rename(d + '.tmp', d)
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--split', default='train', choices=['train', 'val', 'unseen', 'heldout'],
                    help="unseen: validation songs on mma groove libraries no training song uses (UNSEEN_LIBS)")
    ap.add_argument('--out', required=True)
    ap.add_argument('--start', type=int, default=0)
    ap.add_argument('--count', type=int, default=100,
                    help='length of the index range: with --step 2, --count 280 renders 140 songs')
    ap.add_argument('--step', type=int, default=1, help='render start, start+step, ... (for parallel workers)')
    ap.add_argument('--data-version', type=int, default=DATA_VERSION, choices=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                    help='1 reproduces the songs of the v1 model (no vocal air, five festival voices); 2 those of v2-v7 '
                         '(and the validation set); 3 adds drum re-writes and bass/other tones (variety.py); 4 plays the '
                         'kick on a low tom in 30%% of songs; 5 re-voices the instruments (variety.Timbre); 6 is 3 with new '
                         'bass material (bass.py); 7 is 3 with half of the mma songs on grooves of TRAIN_LIBS; 8 is 7 with a '
                         'low-register part (a left hand, low chords) added to other in half of the mma songs (left_hand.py); '
                         '9 is 8 with 60%% of the mma songs through-composed (composer.py); 10 is 9 with the composed melody '
                         'and counter-melody of songs with vocals in the singer\'s register on voice-like instruments')
    ap.add_argument('--composed', action='store_true',
                    help='data version 9 or 10: every mma song through-composed (a validation set of the composer)')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.start, args.start + args.count, args.step):
        d = os.path.join(args.out, '%s%04d' % ('heldout' if args.split == 'heldout' else 'song', i))
        if os.path.exists(os.path.join(d, 'meta.json')):
            continue
        t0 = time.time()
        try:
            render_song(args.split, i, args.out, data_version=args.data_version, composed=args.composed)
            print('%s %d ok %.1fs' % (args.split, i, time.time() - t0), flush=True)
        except Exception as e:  # a failed song is skipped, not fatal
            print('%s %d FAILED %r' % (args.split, i, e), flush=True)


if __name__ == '__main__':
    main()
