"""Minimal Standard MIDI File reader/writer (no third-party deps).

Events are kept as (abs_tick, order, bytes) with running status expanded, so a file can be
split by channel/program and written back as format-1 files with the same timing.
"""
import struct


def _vlq_read(data, i):
    v = 0
    while True:
        b = data[i]
        i += 1
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, i


def _vlq_write(v):
    out = [v & 0x7F]
    v >>= 7
    while v:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    return bytes(reversed(out))


class Midi:
    def __init__(self, division, tracks):
        self.division = division  # ticks per quarter note
        self.tracks = tracks  # list of lists of (abs_tick, bytes)


def read(path):
    data = open(path, 'rb').read()
    assert data[:4] == b'MThd', path
    hl = struct.unpack('>I', data[4:8])[0]
    fmt, ntrk, div = struct.unpack('>HHH', data[8:14])
    if div & 0x8000:
        raise ValueError('SMPTE division not supported')
    i = 8 + hl
    tracks = []
    while i < len(data) and len(tracks) < ntrk:
        tag = data[i:i + 4]
        ln = struct.unpack('>I', data[i + 4:i + 8])[0]
        i += 8
        end = i + ln
        if tag != b'MTrk':
            i = end
            continue
        ev = []
        t = 0
        status = None
        while i < end:
            d, i = _vlq_read(data, i)
            t += d
            b = data[i]
            if b == 0xFF:
                typ = data[i + 1]
                ln2, j = _vlq_read(data, i + 2)
                ev.append((t, bytes(data[i:j + ln2])))
                i = j + ln2
                if typ == 0x2F:
                    break
            elif b in (0xF0, 0xF7):
                ln2, j = _vlq_read(data, i + 1)
                ev.append((t, bytes(data[i:j + ln2])))
                i = j + ln2
            else:
                if b & 0x80:
                    status = b
                    i += 1
                hi = status & 0xF0
                n = 1 if hi in (0xC0, 0xD0) else 2
                ev.append((t, bytes([status]) + bytes(data[i:i + n])))
                i += n
        i = end
        tracks.append([e for e in ev if not (e[1][0] == 0xFF and e[1][1] == 0x2F)])
    return Midi(div, tracks)


def write(path, midi):
    out = [b'MThd', struct.pack('>IHHH', 6, 1, len(midi.tracks), midi.division)]
    for tr in midi.tracks:
        body = bytearray()
        last = 0
        for t, b in sorted(tr, key=lambda e: e[0]):  # stable sort keeps order within a tick
            body += _vlq_write(max(0, t - last))
            last = max(last, t)
            if b[0] in (0xF0, 0xF7):
                body += bytes([b[0]]) + _vlq_write(len(b) - 1) + b[1:]
            else:
                body += b
        body += _vlq_write(0) + b'\xff\x2f\x00'
        out.append(b'MTrk' + struct.pack('>I', len(body)) + bytes(body))
    open(path, 'wb').write(b''.join(out))


def notes_track(notes, division, start_tick, ch, program, volume, pan, legato):
    """A track on channel ch from start_tick: program, volume (CC7) and pan (CC10) at tick 0, then notes
    [(pitches, beats, velocity)] one after another (an empty pitches tuple is a rest), each held for legato x
    its length."""
    ev = [(0, bytes([0xC0 | ch, program])), (0, bytes([0xB0 | ch, 7, volume])), (0, bytes([0xB0 | ch, 10, pan]))]
    t = float(start_tick)
    for pitches, beats, vel in notes:
        d = beats * division
        a = int(round(t))
        for p in pitches:
            ev.append((a, bytes([0x90 | ch, int(p), int(vel)])))
            ev.append((a + max(1, int(d * legato)), bytes([0x80 | ch, int(p), 0])))
        t += d
    return ev


def replaced(midi, tracks):
    """a copy of midi with its channel events removed and tracks added: tempo, time signature and other meta
    events stay (a stem whose part is written anew: bass.py's lines, composer.py's)"""
    kept = [[(t, b) for t, b in tr if b[0] >= 0xF0] for tr in midi.tracks]
    return Midi(midi.division, kept + list(tracks))


def note_name(n):
    return ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'][n % 12] + str(n // 12 - 1)


def tempo_map(midi):
    """[(tick, us_per_quarter)] sorted."""
    tm = []
    for tr in midi.tracks:
        for t, b in tr:
            if b[0] == 0xFF and b[1] == 0x51:
                tm.append((t, (b[3] << 16) | (b[4] << 8) | b[5]))
    tm.sort()
    if not tm or tm[0][0] > 0:
        tm.insert(0, (0, 500000))
    return tm


def tick_to_sec(midi, tick, tm=None):
    tm = tm or tempo_map(midi)
    sec = 0.0
    for k, (t0, us) in enumerate(tm):
        t1 = tm[k + 1][0] if k + 1 < len(tm) else None
        if t1 is None or tick <= t1:
            return sec + (tick - t0) * us / 1e6 / midi.division
        sec += (t1 - t0) * us / 1e6 / midi.division
    return sec


def sec_to_tick(midi, sec, tm=None):
    """inverse of tick_to_sec (the first tick at or after `sec`)"""
    tm = tm or tempo_map(midi)
    t_sec = 0.0
    for k, (t0, us) in enumerate(tm):
        t1 = tm[k + 1][0] if k + 1 < len(tm) else None
        seg = None if t1 is None else (t1 - t0) * us / 1e6 / midi.division
        if seg is None or sec <= t_sec + seg:
            return t0 + int(-(-(sec - t_sec) * 1e6 * midi.division // us))
        t_sec += seg
    return tm[-1][0]


def windowed(midi, cut_tick, end_tick):
    """truncated(), and the part before cut_tick dropped: its notes go, its other events (tempo, programs,
    controllers, pitch bend...) move to tick 0 in their order, so the synth starts in the state it would be
    in at cut_tick; everything after moves back by cut_tick. Notes that began before cut_tick and still
    sound after it are lost, which a pre-roll before the excerpt covers."""
    if cut_tick <= 0:
        return truncated(midi, end_tick)
    tracks = []
    for tr in midi.tracks:
        ev = []
        for t, b in tr:
            if t >= end_tick:
                continue
            if t < cut_tick:
                if b[0] & 0xF0 in (0x80, 0x90) and b[0] < 0xF0:
                    continue
                ev.append((0, b))
            else:
                ev.append((t - cut_tick, b))
        tracks.append(ev)
    return truncated(Midi(midi.division, tracks), end_tick - cut_tick)


def truncated(midi, end_tick):
    """a copy without the events after end_tick, ending there with sustain off, all notes off and all sound
    off on every channel. fluidsynth -F (2.3) keeps rendering after the last event until every voice has
    died, so a note without its note-off on a looped sample (organ, strings, pads) renders for ever (until
    the 600 s timeout: gigabytes of wav and a failed song); silencing every channel at end_tick makes the
    render stop there."""
    tracks = [[(t, b) for t, b in tr if t < end_tick] for tr in midi.tracks]
    stop = []
    for ch in range(16):
        stop += [(end_tick, bytes([0xB0 | ch, 64, 0])), (end_tick, bytes([0xB0 | ch, 123, 0])),
                 (end_tick, bytes([0xB0 | ch, 120, 0]))]
    tracks[0] = tracks[0] + stop
    return Midi(midi.division, tracks)
