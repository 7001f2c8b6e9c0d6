"""Recompute a checkpoint's batch-norm statistics over many training batches; the weights stay as they are.

  /usr/bin/python3 training/stems/recalibrate.py --ckpt A.pt --out A_bn.pt [--batches 300] [--data /work/data/stems]

Why: train.py's EMA model copies its batch-norm running means and variances from the live model, whose
momentum (0.1) makes them an average over about the last ten batches of six excerpts - a noisy draw, and one
that belongs to the live weights rather than to the averaged ones (soups likewise average statistics of other
weights). Here they become the plain mean over --batches batches (momentum None, as torch's update_bn does),
drawn by train.py's own sampler with the run's augmentation (--seconds, --eq, --quiet, --v2-vocals), from a
fixed seed: the same command gives the same file.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import SR, batch_norms, from_checkpoint  # noqa: E402
from train import Songs, batch_tensors, random_eq, sample_batch  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--data', default='/work/data/stems')
    ap.add_argument('--batches', type=int, default=300)
    ap.add_argument('--batch', type=int, default=6)
    ap.add_argument('--seconds', type=float, default=4.0)
    ap.add_argument('--eq', type=float, default=0.6)
    ap.add_argument('--quiet', type=float, default=0.3)
    ap.add_argument('--v2-vocals', type=float, default=0.3)
    ap.add_argument('--seed', type=int, default=1234)
    ap.add_argument('--threads', type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ck = torch.load(args.ckpt, map_location='cpu', weights_only=False)
    model = from_checkpoint(ck)
    model.load_state_dict(ck['model'])
    bns = batch_norms(model)
    if not bns:
        raise SystemExit('%s: the network has no batch norm' % args.ckpt)
    before = [m.running_mean.clone() for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative mean over every batch seen
    songs = Songs(os.path.join(args.data, 'train'))
    if not songs.songs:
        raise SystemExit('%s: no rendered songs (song*/meta.json); render some with data/gen.py or pass --data'
                         % os.path.join(args.data, 'train'))
    rng = np.random.default_rng(args.seed)
    seg = int(args.seconds * SR)
    model.train()  # batch statistics update the running ones; no gradient, no weight changes
    with torch.no_grad():
        for _ in range(args.batches):
            y = sample_batch(songs, rng, args.batch, seg, args.v2_vocals, 0.0, quiet=args.quiet)
            mag, _, _, _ = batch_tensors(y, random_eq(rng, y.shape[:2], args.eq) if args.eq > 0 else None)
            model.forward_btscr(mag)
    shift = max(float((m.running_mean - b).abs().mean() / (b.abs().mean() + 1e-12)) for m, b in zip(bns, before))
    out = dict(ck)
    out['model'] = model.state_dict()
    out['bn_recalibrated'] = {'batches': args.batches, 'songs': len(songs.songs), 'seed': args.seed}
    torch.save(out, args.out)
    print('%s <- %s: batch-norm statistics of %d layers over %d batches of %d songs (largest relative mean shift %.3f)'
          % (args.out, args.ckpt, len(bns), args.batches, len(songs.songs), shift))


if __name__ == '__main__':
    main()
