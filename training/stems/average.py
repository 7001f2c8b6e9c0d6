"""Average the weights of checkpoints of one architecture (a "model soup", WiSE-FT-style interpolation).

  /usr/bin/python3 training/stems/average.py --out /work/data/stems/runs/soup.pt A.pt B.pt [C.pt ...] [--weights 0.5,0.25,0.25]

Every floating-point tensor of 'model' (parameters, batch-norm running means and variances) becomes the weighted
mean of the inputs' (equal weights unless --weights); integer tensors (num_batches_tracked) are taken from the
first checkpoint, as are the architecture keys (hidden, detail, low) that evaluate.py and export.py read. The
inputs must share the architecture: the same keys and shapes, checked. Averaging runs that share a starting
point (fine-tunes of one model, or points along one run) keeps them in one basin, where the mean of the
weights is a model of its own and often better than each under a shift of distribution; averaging unrelated
runs gives noise.
"""
import argparse

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    # Comma-separated: a list option would swallow the checkpoints that follow it.
    ap.add_argument('--weights', type=lambda v: [float(w) for w in v.split(',')], default=None,
                    help='one per checkpoint, comma-separated (5,1,1), normalised to sum 1')
    ap.add_argument('ckpts', nargs='+')
    args = ap.parse_args()
    weights = args.weights or [1.0] * len(args.ckpts)
    if len(weights) != len(args.ckpts) or min(weights) < 0 or sum(weights) <= 0:
        raise SystemExit('--weights: one non-negative number per checkpoint, not all zero')
    weights = [w / sum(weights) for w in weights]
    cks = [torch.load(p, map_location='cpu', weights_only=False) for p in args.ckpts]
    first = cks[0]
    for p, ck in zip(args.ckpts[1:], cks[1:]):
        for key in ('hidden', 'detail', 'low'):
            if ck.get(key) != first.get(key):
                raise SystemExit('%s: %s %r, the first checkpoint has %r' % (p, key, ck.get(key), first.get(key)))
        if ck['model'].keys() != first['model'].keys():
            raise SystemExit('%s: not the same tensors as %s' % (p, args.ckpts[0]))
        for k, t in ck['model'].items():
            if t.shape != first['model'][k].shape:
                raise SystemExit('%s: %s has shape %s, the first checkpoint %s' % (p, k, tuple(t.shape), tuple(first['model'][k].shape)))
    model = {}
    for k, t in first['model'].items():
        if t.is_floating_point():
            model[k] = sum(w * ck['model'][k].double() for w, ck in zip(weights, cks)).to(t.dtype)
        else:
            model[k] = t.clone()
    out = {key: first[key] for key in ('hidden', 'detail', 'low', 'args') if key in first}
    out.update({'model': model, 'step': first.get('step', 0), 'averaged_from': list(zip(args.ckpts, weights))})
    torch.save(out, args.out)
    print('%s <- %s' % (args.out, ', '.join('%.3f x %s' % (w, p) for p, w in zip(args.ckpts, weights))))


if __name__ == '__main__':
    main()
