"""The ceiling of the shipped kind of separator: SDR when the masks come from the true stems (oracle masks).

  /usr/bin/python3 training/stems/oracle.py [--heldout /work/data/stems/heldout] [--glob 'heldout*'] [--ext flac]

The network outputs per-channel ratio masks that sum to one, at 813 rows (one per bin below 8.3 kHz, one per
16-bin band above; model.out_index), and the engine may run the Wiener step on them. Here the masks are computed
from the true stems instead, so the numbers say how far the mask family itself can go on these songs, whatever
the network: if the goal is near the ceiling, a better network of this kind cannot reach it.

- `irm1`: |S_j| / sum_k |S_k| per channel and bin (the ratio mask of magnitudes, what the loss trains towards);
- `irm2`: |S_j|^2 / sum_k |S_k|^2 (the Wiener-like power ratio);
- `rows`: irm1 at the network's resolution (one value per row: the bins of a band share it);
- `psm`: the phase-sensitive mask Re(S_j conj(X)) / |X|^2 clipped to 0..1, then normalised to sum to one (what
  `train.py --phase 1` trains towards, within the softmax's reach);
- each also through the Wiener step as the engine runs it (separate.wiener_stems, causal statistics).
SDR as in evaluate.py (whole stereo song, mean over the songs that have the stem).
"""
import argparse
import glob
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import separate  # noqa: E402
from evaluate import sdr  # noqa: E402
from model import STEMS, out_index  # noqa: E402


def masks_at_rows(mag, rows, n_rows):
    """mag [S, C, F, T] -> ratio masks [S, C, F, T] that share one value per row: the row's magnitude sums"""
    sums = np.zeros(mag.shape[:2] + (n_rows,) + mag.shape[3:])
    np.add.at(sums, (slice(None), slice(None), rows), mag)
    m = sums / (sums.sum(0, keepdims=True) + 1e-12)
    return m[:, :, rows]


def psm(S, X):
    """S [S, C, F, T] stems' spectra, X the mix's -> phase-sensitive masks, clipped and summing to one"""
    m = np.clip((S * np.conj(X)[None]).real / (np.abs(X[None]) ** 2 + 1e-12), 0, 1)
    return m / np.maximum(m.sum(0, keepdims=True), 1e-12)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--heldout', default=os.environ.get('HOOKWAVE_STEMS_HELDOUT', '/work/data/stems/heldout'))
    ap.add_argument('--glob', default='heldout*')
    ap.add_argument('--ext', default='flac')
    args = ap.parse_args()
    rows, n_rows = out_index()
    rows = rows.numpy()
    res = {k + w: {s: [] for s in STEMS} for k in ('irm1', 'irm2', 'rows', 'psm') for w in ('', ' + wiener')}
    for d in sorted(glob.glob(os.path.join(args.heldout, args.glob))):
        if not os.path.isdir(d):
            continue
        st = np.stack([separate.read_audio(os.path.join(d, s + '.' + args.ext)) for s in STEMS]).astype(np.float64)
        mix = st.sum(0)
        N = mix.shape[1]
        S = np.stack([separate.stft_np(s) for s in st])  # [S, 2, F, T]
        X = S.sum(0)  # the mix's STFT: the transform is linear
        mag = np.abs(S)
        masks = {
            'irm1': mag / (mag.sum(0, keepdims=True) + 1e-12),
            'irm2': mag ** 2 / ((mag ** 2).sum(0, keepdims=True) + 1e-12),
            'rows': masks_at_rows(mag, rows, n_rows),
            'psm': psm(S, X),
        }
        line = {'song': os.path.basename(d)}
        for k, m in masks.items():
            for w in ('', ' + wiener'):
                Y = separate.wiener_stems(m, X, None)[0] if w else m * X[None]
                est = separate.istft_np(Y, N)
                for i, s in enumerate(STEMS):
                    if np.sum(st[i] ** 2) > 1e-6 * np.sum(mix ** 2):
                        v = sdr(st[i], est[i])
                        res[k + w][s].append(v)
                        line['%s%s %s' % (k, w, s)] = round(v, 2)
        print(line, flush=True)
    print('%-16s %8s %8s %8s %8s %8s' % ('oracle', *STEMS, 'mean'))
    for k, r in res.items():
        means = [float(np.mean(r[s])) if r[s] else float('nan') for s in STEMS]
        print('%-16s %8.2f %8.2f %8.2f %8.2f %8.2f' % (k, *means, float(np.mean(means))))


if __name__ == '__main__':
    main()
