"""SDR on the held-out set: mix as is vs the model (python reference), per stem.

  /usr/bin/python3 training/stems/evaluate.py --ckpt /work/data/stems/runs/v1/best.pt [--heldout DIR] [--json out.json]
  /usr/bin/python3 training/stems/evaluate.py --ckpt new.pt old.pt --json new.json --json-all both.json

Several checkpoints are measured in one run on the same decoded songs (a fair comparison); --json gets the
FIRST one in the format export.py --metrics copies into spec.json, --json-all all of them by path.

SDR = 10 log10(|s|^2 / |s - s_hat|^2) over the full-length stereo signal of each song, then the mean over
songs (a song without a stem, e.g. no vocals, is left out of that stem's mean). The mix is the sum of the
stored stems. Also reports the model without the Wiener step.
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import separate  # noqa: E402
from model import STEMS  # noqa: E402


def sdr(ref, est):
    ref = ref.astype(np.float64)
    return float(10 * np.log10((np.sum(ref ** 2) + 1e-12) / (np.sum((ref - est) ** 2) + 1e-12)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True, nargs='+')
    ap.add_argument('--heldout', default=os.environ.get('HOOKWAVE_STEMS_HELDOUT', '/work/data/stems/heldout'))
    ap.add_argument('--glob', default='heldout*')
    ap.add_argument('--ext', default='flac')
    ap.add_argument('--json', default=None, help='results of the first --ckpt')
    ap.add_argument('--json-all', default=None, help='results of every --ckpt, keyed by path')
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--wiener', choices=['both', 'off'], default='both',
                    help="off: masks only (half the CPU); the 'model' row then repeats model_no_wiener")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(args.threads)
    runners = [separate.TorchRunner(c) for c in args.ckpt]
    rows = [{k: {s: [] for s in STEMS} for k in ('mix', 'model', 'model_no_wiener')} for _ in runners]
    per_song = [[] for _ in runners]
    t_audio = 0.0
    t_cpu = [0.0 for _ in runners]
    for d in sorted(glob.glob(os.path.join(args.heldout, args.glob))):
        if not os.path.isdir(d):
            continue
        st = np.stack([separate.read_audio(os.path.join(d, s + '.' + args.ext)) for s in STEMS]).astype(np.float64)
        mix = st.sum(0)
        t_audio += mix.shape[1] / separate.SR
        for i, runner in enumerate(runners):
            c0 = time.process_time()
            if args.wiener == 'both':
                est_nw, est = separate.separate_both(mix, runner)
            else:
                est = est_nw = separate.separate(mix, runner, use_wiener=False)
            t_cpu[i] += time.process_time() - c0
            song = {'song': os.path.basename(d)}
            for si, s in enumerate(STEMS):
                if np.sum(st[si] ** 2) < 1e-6 * np.sum(mix ** 2):
                    continue
                rows[i]['mix'][s].append(sdr(st[si], mix))
                rows[i]['model'][s].append(sdr(st[si], est[si]))
                rows[i]['model_no_wiener'][s].append(sdr(st[si], est_nw[si]))
                song[s] = round(rows[i]['model'][s][-1], 2)
            per_song[i].append(song)
            print(args.ckpt[i], song, flush=True)
    results = {}
    for i, c in enumerate(args.ckpt):
        res = {k: {s: round(float(np.mean(v)), 2) for s, v in r.items()} for k, r in rows[i].items()}
        res['mean_over_stems'] = {k: round(float(np.mean([res[k][s] for s in STEMS])), 2)
                                  for k in ('mix', 'model', 'model_no_wiener')}
        res['songs'] = len(per_song[i])
        res['per_song_model'] = per_song[i]
        res['python_reference_cpu_ms_per_second'] = round(1000 * t_cpu[i] / max(t_audio, 1e-9), 1)
        results[c] = res
        print(c)
        print('%-16s %s' % ('', ' '.join('%8s' % s for s in STEMS + ['mean'])))
        for k in ('mix', 'model_no_wiener', 'model'):
            print('%-16s %s %8.2f' % (k, ' '.join('%8.2f' % res[k][s] for s in STEMS), res['mean_over_stems'][k]))
    if args.json:
        json.dump(results[args.ckpt[0]], open(args.json, 'w'), indent=1)
    if args.json_all:
        json.dump(results, open(args.json_all, 'w'), indent=1)


if __name__ == '__main__':
    main()
