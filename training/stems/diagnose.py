"""What a model's stem estimates are made of, on held-out songs: for each estimate, the least-squares gains of
the four true stems in it (its own stem's gain is how much of the target it found; the others are leakage)
and what is left over (artifacts), then the same stem's SDR. With --gain a stem is made louder or quieter in
the mix first: if a stem stays badly separated when it is 12 dB louder, the model does not know the
instrument; if it recovers, the problem was its level. With --mono or --balance a stem is moved in the stereo
image first (centred, or towards one side).

  /usr/bin/python3 training/stems/diagnose.py --ckpt v9.pt --songs heldout0004 heldout0007 [--gain drums=4]

Reported per song and estimate:  SDR  |  gain of each true stem in the estimate  |  residual, dB re the target.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import separate  # noqa: E402
from evaluate import sdr  # noqa: E402
from model import STEMS  # noqa: E402


def decompose(est, stems, present):
    """est [2, N], stems [S, 2, N], present [S] bool -> (gains [S] of each present true stem in est, NaN for
    the absent ones, whose near-silence would make the fit ill-conditioned; residual energy)"""
    A = stems[present].reshape(int(np.sum(present)), -1).T
    g, *_ = np.linalg.lstsq(A, est.reshape(-1), rcond=None)
    gains = np.full(len(stems), np.nan)
    gains[present] = g
    return gains, float(np.sum((est.reshape(-1) - A @ g) ** 2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--heldout', default=os.environ.get('HOOKWAVE_STEMS_HELDOUT', '/work/data/stems/heldout'))
    ap.add_argument('--songs', nargs='+', required=True)
    ap.add_argument('--ext', default='flac')
    ap.add_argument('--gain', action='append', default=[], help='stem=factor, applied to that stem before mixing')
    ap.add_argument('--no-wiener', action='store_true')
    ap.add_argument('--balance', action='append', default=[],
                    help='stem=dB: moves that stem\'s stereo image towards the left (dB > 0) or the right before mixing, '
                         'gains 10^(+-dB/40) on its channels (this raises a centred stem\'s power: by 2 dB at 9 dB, '
                         'so compare with --gain stem=1.26 as v23 did)')
    ap.add_argument('--mono', action='append', default=[], help='stem: that stem made mono (both channels (L+R)/2), '
                    'i.e. centred, before mixing')
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    gains = {s: 1.0 for s in STEMS}
    for g in args.gain:
        name, factor = g.split('=')
        gains[name] = float(factor)
    balance = {name: float(db) for name, db in (b.split('=') for b in args.balance)}
    runner = separate.TorchRunner(args.ckpt)
    for song in args.songs:
        d = os.path.join(args.heldout, song)
        st = np.stack([gains[s] * separate.read_audio(os.path.join(d, s + '.' + args.ext)) for s in STEMS]).astype(np.float64)
        for i, s in enumerate(STEMS):  # where a stem sits in the stereo image (is a centred line taken for the voice?)
            if s in args.mono:
                st[i] = st[i].mean(0, keepdims=True)
            if s in balance:
                st[i] *= 10 ** (np.array([[balance[s]], [-balance[s]]]) / 40)
        mix = st.sum(0)
        est = separate.separate(mix, runner, use_wiener=not args.no_wiener)
        energy = [float(np.sum(x ** 2)) for x in st]
        levels = '  '.join('%s %s' % (s, ('%.1f dB' % (10 * np.log10(e / np.sum(mix ** 2)))) if e >= 1e-6 * np.sum(mix ** 2)
                                      else 'absent') for s, e in zip(STEMS, energy))
        print('%s (stem levels re the mix: %s)' % (song, levels))
        # as evaluate.py: a stem under -60 dB is absent from the song (its estimate is not scored)
        present = np.array([e >= 1e-6 * np.sum(mix ** 2) for e in energy])
        for i, s in enumerate(STEMS):
            if not present[i]:
                continue
            g, residual = decompose(est[i], st, present)
            parts = '  '.join('%s %s' % (t, '-' if np.isnan(x) else '%.3f' % x) for t, x in zip(STEMS, g))
            print('  %-6s SDR %6.2f dB | %s | residual %.1f dB' % (
                s, sdr(st[i], est[i]), parts, 10 * np.log10(residual / energy[i] + 1e-12)), flush=True)


if __name__ == '__main__':
    main()
