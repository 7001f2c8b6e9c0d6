"""Synthesized vocal lines: festival singing mode (note pitches + durations) and espeak-ng speech/chant,
post-processed with formant shift, vibrato, EQ, saturation and reverb for timbre variety.

Everything is deterministic given the rng passed in (festival and espeak-ng are deterministic programs).
"""
import os
import subprocess
import tempfile

import numpy as np
import scipy.io.wavfile as wavfile
from scipy.signal import resample_poly

from midi import note_name

SR = 44100

# Training voices. cmu_us_slt_arctic_hts is HELD OUT (never used for training), see heldout.py.
FESTIVAL_TRAIN_VOICES = ['kal_diphone', 'ked_diphone', 'lp_diphone', 'suo_fi_lj_diphone', 'upc_ca_ona_hts']
FESTIVAL_HELDOUT_VOICES = ['cmu_us_slt_arctic_hts']
# data version 2 adds these voices (festvox-itapc16k, festvox-suopuhe-mv, festvox-czech-{dita,krb,machac,ph});
# the Czech ones are 32-44.1 kHz, i.e. real energy above 8 kHz, which the 16 kHz voices lack.
FESTIVAL_TRAIN_VOICES_V2 = FESTIVAL_TRAIN_VOICES + ['pc_diphone', 'hy_fi_mv_diphone', 'czech_dita', 'czech_krb',
                                                    'czech_machac', 'czech_ph']
# espeak-ng: languages x variants.
ESPEAK_LANGS = ['en', 'en-us', 'en-gb-scotland', 'de', 'fr', 'es', 'it', 'pt', 'nl', 'sv', 'pl', 'fi', 'cs', 'hu', 'id', 'tr']
ESPEAK_VARIANTS = ['', '+f1', '+f2', '+f3', '+f4', '+f5', '+m1', '+m2', '+m3', '+m4', '+m5', '+m6', '+m7',
                   '+croak', '+klatt', '+klatt2', '+klatt3', '+klatt4', '+whisper', '+Andy', '+anika', '+belinda',
                   '+linda', '+max', '+Alicia', '+grandma', '+john', '+Mr serious', '+steph', '+quincy']

WORDS = ('love night baby oh yeah heart fire light dream day way stay go know time sky rain home free '
         'run fly high low shine soul fall call hold gold wind blue true you me we la na da hey '
         'so far star cold road song sun moon sea sweet dance tonight forever alone away again').split()
SENTENCES = [
    'I walk alone under the city lights tonight', 'we are running out of time and we know it',
    'hold on to the feeling and never let it go', 'the river keeps on rolling down to the sea',
    'every day I think about the way you smile', 'turn it up and let the music take control',
    'yesterday is gone and tomorrow never comes', 'nobody knows the trouble that I have seen',
    'come with me and we will fly across the sky', 'all the stars are shining just for you and me',
    'you can run but you can never hide from love', 'the summer rain is falling on the empty street',
    'listen to the rhythm of the beating heart', 'one more chance to make it right again',
    'stand up and tell the world what you believe', 'the morning sun is rising over the hills',
]


def _run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def _read_mono(path):
    sr, x = wavfile.read(path)
    x = x.astype(np.float32)
    if x.dtype != np.float32 or np.abs(x).max() > 2:
        x = x / 32768.0
    if x.ndim == 2:
        x = x.mean(1)
    return sr, x


def _to_sr(x, sr):
    if sr == SR:
        return x
    g = np.gcd(sr, SR)
    return resample_poly(x, SR // g, sr // g).astype(np.float32)


def festival_sing(notes, bpm, voice, tmp):
    """notes: list of (midi_pitch or None for rest, beats, word). Returns mono float32 at SR."""
    parts = []
    for p, beats, w in notes:
        if p is None:
            parts.append('<REST BEATS="%.3f"></REST>' % beats)
        else:
            parts.append('<PITCH NOTE="%s"><DURATION BEATS="%.3f">%s</DURATION></PITCH>' % (note_name(p), beats, w))
    xml = ('<?xml version="1.0"?>\n<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" '
           '"Singing.v0_1.dtd" []>\n<SINGING BPM="%.2f">\n%s\n</SINGING>\n' % (bpm, '\n'.join(parts)))
    xp = os.path.join(tmp, 'sing.xml')
    wp = os.path.join(tmp, 'sing.wav')
    open(xp, 'w').write(xml)
    _run(['text2wave', '-mode', 'singing', '-eval', '(voice_%s)' % voice, xp, '-o', wp], timeout=300)
    sr, x = _read_mono(wp)
    return _to_sr(x, sr)


def espeak_phrase(text, lang, variant, rate, pitch, prange, tmp):
    wp = os.path.join(tmp, 'es.wav')
    ssml = '<speak><prosody rate="%d%%" pitch="%+d%%" range="%+d%%">%s</prosody></speak>' % (rate, pitch, prange, text)
    _run(['espeak-ng', '-m', '-v', lang + variant, '-w', wp, ssml], timeout=120)
    sr, x = _read_mono(wp)
    return _to_sr(x, sr)


def espeak_chant(notes, bpm, lang, variant, tmp):
    """Sing with espeak-ng: one syllable per note, each resampled to the note's pitch (formants move with it,
    a deliberate timbre variety), time-stretched to the note's duration with sox tempo."""
    out = []
    base = 60  # espeak voices sit roughly around C4..; the exact base is not needed, contour is what matters
    for p, beats, w in notes:
        dur = beats * 60.0 / bpm
        n = int(dur * SR)
        if p is None:
            out.append(np.zeros(n, np.float32))
            continue
        wp = os.path.join(tmp, 'ch.wav')
        wp2 = os.path.join(tmp, 'ch2.wav')
        _run(['espeak-ng', '-v', lang + variant, '-p', '50', '-s', '140', '-w', wp, w], timeout=60)
        sr, x = _read_mono(wp)
        cents = int((p - base) * 100)
        seg_len = max(0.05, len(x) / sr)
        tempo = min(4.0, max(0.25, seg_len / dur))
        _run(['sox', '-D', wp, '-r', str(SR), wp2, 'pitch', str(cents), 'tempo', '%.4f' % tempo], timeout=60)
        _, y = _read_mono(wp2)
        y = y[:n]
        y = np.pad(y, (0, n - len(y)))
        fade = min(len(y) // 4, 441)
        if fade > 0:
            y[:fade] *= np.linspace(0, 1, fade)
            y[-fade:] *= np.linspace(1, 0, fade)
        out.append(y)
    return np.concatenate(out) if out else np.zeros(1, np.float32)


def vibrato(x, rng):
    rate = rng.uniform(4.5, 6.5)
    depth_semitones = rng.uniform(0.05, 0.45)
    # y(t) = x(t + d(t)); instantaneous pitch ratio = 1 + d'(t)
    ratio_dev = 2 ** (depth_semitones / 12) - 1
    amp = ratio_dev / (2 * np.pi * rate)
    t = np.arange(len(x)) / SR
    d = amp * np.sin(2 * np.pi * rate * t + rng.uniform(0, 6.28))
    return np.interp(t + d, t, x).astype(np.float32)


def _sos(kind, hz, order=4):
    from scipy.signal import butter
    return butter(order, hz, btype=kind, fs=SR, output='sos')


def air(x, rng):
    """Bandwidth extension for the 16/22 kHz synthetic voices, whose spectrum stops at 8-11 kHz (a real voice
    has sibilance and breath up to 16 kHz and beyond; so does the held-out 32 kHz voice). Two parts, both
    driven by the voice itself: (1) fricative noise: white noise high-passed at 6.5-8 kHz, amplitude-modulated
    by the envelope of the voice's own 3.5-7.5 kHz band (where the synthetic fricatives are), so the 's' and
    'sh' sounds get a top octave; (2) an exciter: a soft clipper on the 2.5 kHz+ band makes harmonics above
    the voice's bandwidth, high-passed at 7 kHz. Levels random, so the model sees a range of 'air'."""
    from scipy.signal import sosfilt
    n = len(x)
    if n == 0 or not np.any(x):
        return x
    band = sosfilt(_sos('bandpass', [3500, 7500]), x)
    env = sosfilt(_sos('lowpass', 40, 2), np.abs(band))
    env = np.maximum(env, 0)
    noise = sosfilt(_sos('highpass', rng.uniform(6500, 8000)), rng.standard_normal(n))
    if rng.random() < 0.5:
        noise = sosfilt(_sos('lowpass', rng.uniform(12000, 18000), 2), noise)
    fric = noise * env
    e_band = np.sqrt(np.mean(band ** 2)) + 1e-9
    fric *= e_band / (np.sqrt(np.mean(fric ** 2)) + 1e-9) * 10 ** (rng.uniform(-10, 2) / 20)
    hp = sosfilt(_sos('highpass', 2500), x)
    k = 1.0 / (np.max(np.abs(hp)) * rng.uniform(0.1, 0.5) + 1e-9)
    exc = sosfilt(_sos('highpass', 7000), np.tanh(k * hp) / k)
    exc *= e_band / (np.sqrt(np.mean(exc ** 2)) + 1e-9) * 10 ** (rng.uniform(-18, -4) / 20)
    return (x + fric + exc).astype(np.float32)


def sox_process(x, rng, tmp, stereo_reverb=True):
    """Formant shift, EQ, saturation, reverb -> stereo (2, n)."""
    a = os.path.join(tmp, 'vin.wav')
    b = os.path.join(tmp, 'vout.wav')
    wavfile.write(a, SR, x.astype(np.float32))
    eff = []
    # formant shift: speed changes pitch+formants, pitch undoes the pitch part, tempo restores duration
    if rng.random() < 0.6:
        f = rng.uniform(-4.0, 5.0)  # semitones of formant shift
        eff += ['speed', '%.4f' % (2 ** (f / 12)), 'pitch', str(int(-f * 100)), 'rate', str(SR)]
    # broad pitch transposition of the whole line (keeps it in a plausible range)
    if rng.random() < 0.3:
        eff += ['pitch', str(int(rng.choice([-12, -5, 5, 7, 12]) * 100 * rng.choice([0, 1])))]
    for _ in range(rng.integers(0, 4)):
        eff += ['equalizer', '%d' % int(np.exp(rng.uniform(np.log(150), np.log(9000)))), '%.2fq' % rng.uniform(0.5, 2.5),
                '%.1f' % rng.uniform(-9, 9)]
    if rng.random() < 0.3:
        eff += ['overdrive', '%.1f' % rng.uniform(2, 12), '%.1f' % rng.uniform(0, 30)]
    if rng.random() < 0.4:
        eff += ['highpass', str(int(rng.uniform(60, 200)))]
    eff += ['channels', '2']
    if stereo_reverb and rng.random() < 0.75:
        eff += ['reverb', '%d' % rng.uniform(10, 70), '%d' % rng.uniform(20, 80), '%d' % rng.uniform(20, 100),
                '%d' % rng.uniform(30, 100), '%d' % rng.uniform(0, 40)]
    _run(['sox', a, '-r', str(SR), '-b', '32', '-e', 'floating-point', b] + eff, timeout=300)
    sr, y = wavfile.read(b)
    y = y.astype(np.float32)
    if y.ndim == 1:
        y = np.stack([y, y], 1)
    return y.T


def chord_at(chords, bar, beat, beats_per_bar):
    """(root_pc, intervals) in force at beat (from the bar's start) of bar: a bar holds one chord, or two, one
    a half bar each; a bar past the chart's end takes its last"""
    ch = chords[min(bar, len(chords) - 1)]
    half = 0 if beat < beats_per_bar / 2 or len(ch) == 1 else 1
    return ch[min(half, len(ch) - 1)]


def melody_notes(chords, beats_per_bar, n_bars, lo, hi, rng, density=0.75):
    """A sung/lead line over a chord chart.
    chords: list per bar of list of (root_pc, intervals) (1 or 2 chords per bar).
    Returns [(pitch or None, beats, word)]."""
    notes = []
    prev = int(rng.integers(lo + 3, hi - 3))
    scale_pcs = None
    bar = 0
    while bar < n_bars:
        plen = int(rng.choice([1, 2, 2, 4]))
        sing = rng.random() < density
        beats_total = plen * beats_per_bar
        if not sing:
            notes.append((None, float(beats_total), ''))
            bar += plen
            continue
        t = 0.0
        if rng.random() < 0.5:
            lead_rest = float(rng.choice([0.5, 1.0]))
            notes.append((None, lead_rest, ''))
            t += lead_rest
        while t < beats_total - 0.5:
            # chord_at also holds a chart shorter than the excerpt (slow tempo, short groove) at its last bar
            b = min(bar + int(t // beats_per_bar), n_bars - 1)
            root, ivs = chord_at(chords, b, t % beats_per_bar, beats_per_bar)
            pcs = [(root + i) % 12 for i in ivs]
            dur = float(rng.choice([0.5, 0.5, 1, 1, 1, 1.5, 2, 0.25 * 3]))
            dur = min(dur, beats_total - t)
            strong = (t % 1.0) == 0
            cand = [p for p in range(lo, hi + 1)
                    if (p % 12 in pcs if strong or rng.random() < 0.5 else True)
                    and abs(p - prev) <= (7 if strong else 4)]
            if not cand:
                cand = [p for p in range(lo, hi + 1) if p % 12 in pcs] or [prev]
            w = np.exp(-np.abs(np.array(cand) - prev) / 3.0)
            p = int(rng.choice(cand, p=w / w.sum()))
            notes.append((p, dur, str(rng.choice(WORDS))))
            prev = p
            t += dur
        if t < beats_total:
            notes.append((None, beats_total - t, ''))
        bar += plen
    return notes


def render_vocals(notes, bpm, total_sec, rng, heldout=False, use_air=False, rng_air=None, train_voices=None):
    """Returns (2, n) float32 at SR, length total_sec, and the name of the engine used. use_air: add the
    bandwidth extension air() (its own rng_air, so that everything else about the song is unchanged)."""
    n = int(total_sec * SR)
    with tempfile.TemporaryDirectory(prefix='voc') as tmp:
        if heldout:
            engine = 'festival:' + FESTIVAL_HELDOUT_VOICES[0]
            x = festival_sing(notes, bpm, FESTIVAL_HELDOUT_VOICES[0], tmp)
        else:
            r = rng.random()
            if r < 0.55:
                v = str(rng.choice(train_voices or FESTIVAL_TRAIN_VOICES))
                engine = 'festival:' + v
                x = festival_sing(notes, bpm, v, tmp)
            elif r < 0.75:
                lang, var = str(rng.choice(ESPEAK_LANGS)), str(rng.choice(ESPEAK_VARIANTS))
                engine = 'espeak-chant:' + lang + var
                x = espeak_chant(notes, bpm, lang, var, tmp)
            else:
                lang, var = str(rng.choice(ESPEAK_LANGS[:3] + ESPEAK_LANGS)), str(rng.choice(ESPEAK_VARIANTS))
                engine = 'espeak-speech:' + lang + var
                x = np.zeros(n, np.float32)
                t = rng.uniform(0, 2)
                while t < total_sec - 1:
                    y = espeak_phrase(str(rng.choice(SENTENCES)), lang, var, int(rng.uniform(-30, 60)),
                                      int(rng.uniform(-40, 60)), int(rng.uniform(-50, 150)), tmp)
                    i = int(t * SR)
                    y = y[:n - i]
                    x[i:i + len(y)] += y
                    t += len(y) / SR + rng.uniform(0.2, 3.0)
        if rng.random() < 0.6:
            x = vibrato(x, rng)
        x = x[:n]
        if not heldout and use_air and rng_air.random() < 0.85:
            x = air(x, rng_air)
        x = np.pad(x, (0, n - len(x)))
        y = sox_process(x, rng, tmp)
    y = y[:, :n]
    y = np.pad(y, ((0, 0), (0, n - y.shape[1])))
    # pan near centre
    pan = rng.uniform(-0.3, 0.3)
    y[0] *= np.sqrt(0.5 - pan / 2) * np.sqrt(2)
    y[1] *= np.sqrt(0.5 + pan / 2) * np.sqrt(2)
    return y.astype(np.float32), engine
