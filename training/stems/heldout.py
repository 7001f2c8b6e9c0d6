"""Held-out evaluation set and the CI test fixture. Never used for training or for tuning.

  /usr/bin/python3 training/stems/heldout.py [--out /work/data/stems/heldout] [--fixture test/fixtures/stems]

Renders 8 songs x 30 s into <out>/heldout000{0..7}/{drums,bass,other,vocals,mix}.flac (+ meta.json):
  * heldout0000..0002: planetblupi music007, music008, music009 (never in training), as written;
  * heldout0003..0007: mma grooves from style files reserved for evaluation (gen.groove_split(): every 8th
    stdlib style file, offset 5; training never draws from them), random charts;
  * every part rendered with MuseScore_General.sf3 (the held-out timbre set; training uses FluidR3_GM and
    TimGM6mb only), reverb and chorus on, fixed gain;
  * vocals (7 of 8 songs; heldout0007 has none) sung by festival's cmu_us_slt_arctic_hts voice (a female HTS
    voice; training never uses it), with the same vibrato/EQ/reverb post-processing family as training.
Stems are 24-bit flac; mix.flac is their sum. Everything is seeded by (split, index): the same command
re-creates the same files (festival, espeak-ng, fluidsynth and sox are deterministic).
The fixture is a 7 s excerpt of heldout0004 at 16-bit (stems + mix), for the CI SDR-floor test.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen  # noqa: E402
from separate import read_audio  # noqa: E402

STEMS = ['drums', 'bass', 'other', 'vocals']
N_SONGS = 8
FIXTURE_SONG, FIXTURE_START, FIXTURE_SEC = 4, 11.0, 7.0


def write_flac(path, x, bits):
    fmt = 's32' if bits == 24 else 's16'
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-y', '-f', 'f32le', '-ar', '44100', '-ac', '2', '-i', '-',
                    '-sample_fmt', fmt, '-c:a', 'flac', '-compression_level', '12', path],
                   input=np.ascontiguousarray(x.T.astype(np.float32)).tobytes(), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.environ.get('HOOKWAVE_STEMS_HELDOUT', '/work/data/stems/heldout'))
    ap.add_argument('--fixture', default=None, help='also cut the CI fixture into this folder')
    ap.add_argument('--soundfont', default=None,
                    help='diagnostic only: render the same songs with this soundfont instead of MuseScore_General '
                         '(e.g. a training one, to see how much of the held-out gap is timbre); never for the set '
                         'itself or the fixture')
    ap.add_argument('--trained-pieces', action='store_true',
                    help='diagnostic only: instead of the set, the seven planetblupi pieces that training draws windows '
                         'from (000-006), rendered as the held-out pieces are (MuseScore_General, as written, from the '
                         'start, the held-out voice): how much of the held-out pieces\' gap is that they are new pieces')
    args = ap.parse_args()
    if (args.soundfont or args.trained_pieces) and args.fixture:
        ap.error('--soundfont and --trained-pieces make diagnostic sets; cut the fixture from the real one')
    os.makedirs(args.out, exist_ok=True)
    pieces = gen.BLUPI_TRAIN if args.trained_pieces else None
    for i in range(len(pieces) if pieces else N_SONGS):
        d = os.path.join(args.out, 'heldout%04d' % i)
        if not os.path.exists(os.path.join(d, 'mix.flac')):
            gen.render_song('heldout', i, args.out, soundfonts=[args.soundfont] if args.soundfont else None,
                            blupi_pieces=pieces)
            mix = sum(read_audio(os.path.join(d, s + '.flac')) for s in STEMS)
            write_flac(os.path.join(d, 'mix.flac'), mix, 24)
        print(d, json.load(open(os.path.join(d, 'meta.json')))['source'], flush=True)
    if args.fixture:
        os.makedirs(args.fixture, exist_ok=True)
        d = os.path.join(args.out, 'heldout%04d' % FIXTURE_SONG)
        a, n = int(FIXTURE_START * 44100), int(FIXTURE_SEC * 44100)
        parts = {s: read_audio(os.path.join(d, s + '.flac'))[:, a:a + n] for s in STEMS}
        fade = np.ones(n)
        fade[:441] = np.linspace(0, 1, 441)
        fade[-441:] = np.linspace(1, 0, 441)
        q = {}
        for s in STEMS:  # quantise each stem to 16 bit first, so that mix = exact sum of the stored stems
            q[s] = np.clip(np.round(parts[s] * fade * 32768), -32768, 32767) / 32768
            write_flac(os.path.join(args.fixture, s + '.flac'), q[s], 16)
        write_flac(os.path.join(args.fixture, 'mix.flac'), sum(q.values()), 16)
        meta = json.load(open(os.path.join(d, 'meta.json')))
        meta.update({'excerpt_of': 'heldout%04d' % FIXTURE_SONG, 'start_sec': FIXTURE_START, 'seconds': FIXTURE_SEC,
                     'note': 'rendered by training/stems/heldout.py --fixture; held-out timbres (MuseScore_General), '
                             'held-out groove file, held-out voice; 16-bit; 10 ms fades at both ends'})
        json.dump(meta, open(os.path.join(args.fixture, 'meta.json'), 'w'), indent=1)


if __name__ == '__main__':
    main()
