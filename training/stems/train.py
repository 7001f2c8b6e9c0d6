"""Train the hookwave stems model on 2 CPU cores; resumable.

  nice -n 19 /usr/bin/python3 training/stems/train.py --data /work/data/stems --run /work/data/stems/runs/v1

Resume: run the same command again; it continues from <run>/last.pt (model, optimiser, step, rng).
<run>/best.pt holds the checkpoint with the best validation mean SDR (validation songs are rendered from
TRAINING sources with their own seeds; the held-out set is never looked at here).
"""
import argparse
import glob
import json
import math
import os
import sys
import time

import numpy as np
import scipy.io.wavfile as wavfile
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import HOP, IN_BINS, N_FFT, SR, STEMS, StemsNet, band_sum, istft, stft  # noqa: E402


def log(run, msg):
    line = time.strftime('%H:%M:%S ') + msg
    print(line, flush=True)
    with open(os.path.join(run, 'train.log'), 'a') as f:
        f.write(line + '\n')


class Songs:
    """Training songs as int16 memmaps; the folder is re-scanned so songs rendered meanwhile join in."""

    def __init__(self, root):
        self.root = root
        self.songs = []
        self.cache = {}
        self.rescan()

    def rescan(self):
        ds = sorted(d for d in glob.glob(os.path.join(self.root, 'song*')) if os.path.exists(os.path.join(d, 'meta.json')))
        self.songs = ds

    def stem(self, d, s):
        k = (d, s)
        if k not in self.cache:
            _, x = wavfile.read(os.path.join(d, s + '.wav'), mmap=True)
            self.cache[k] = x
        return self.cache[k]

    def length(self, d):
        return self.stem(d, 'drums').shape[0]


def sample_batch(songs, rng, batch, seg):
    out = np.zeros((batch, 4, 2, seg), np.float32)
    for b in range(batch):
        same = rng.random() < 0.4
        d0 = songs.songs[rng.integers(len(songs.songs))]
        for si, s in enumerate(STEMS):
            d = d0 if same else songs.songs[rng.integers(len(songs.songs))]
            n = songs.length(d)
            a = int(rng.integers(0, max(1, n - seg)))
            x = songs.stem(d, s)[a:a + seg].T.astype(np.float32) / 32768.0
            g = rng.uniform(0.25, 1.25)
            if rng.random() < 0.5:
                x = x[::-1]
            if s == 'vocals' and rng.random() < 0.1:
                g = 0.0
            out[b, si, :, :x.shape[1]] = x * g
        out[b] *= 10 ** (rng.uniform(-9, 5) / 20)
    return torch.from_numpy(out)


def loss_terms(X_mag, S_mag):
    """Band sums that make the full-resolution magnitude MSE computable at the masks' row resolution:
    sum_k (m |X_k| - |S_k|)^2 = m^2 sum|X_k|^2 - 2 m sum|X_k||S_k| + sum|S_k|^2 over the bins k of a row."""
    A = band_sum(X_mag.pow(2)).unsqueeze(1)  # [B,1,C,R,T]
    Bx = band_sum(X_mag.unsqueeze(1) * S_mag)  # [B,S,C,R,T]
    Cs = S_mag.pow(2).sum(dim=(0, 2, 3, 4))  # [S]
    return A, Bx, Cs


def loss_fn(masks, A, Bx, Cs):
    """Per-stem MSE on magnitudes (exact, full resolution), normalised by each stem's energy in the batch
    (a batch-level 1/SNR), so quiet stems (bass, vocals) weigh as much as loud ones. masks [B,S,C,R,T]."""
    err = (masks * (masks * A - 2 * Bx)).sum(dim=(0, 2, 3, 4)) + Cs
    floor = 1e-3 * A.sum()
    per = err / (Cs + floor)
    return per.mean(), per.detach()


def sdr(ref, est):
    num = np.sum(ref.astype(np.float64) ** 2)
    den = np.sum((ref.astype(np.float64) - est) ** 2)
    return 10 * np.log10((num + 1e-12) / (den + 1e-12))


def load_song(d, ext='wav'):
    st = []
    for s in STEMS:
        p = os.path.join(d, s + '.' + ext)
        sr, x = wavfile.read(p)
        x = x.astype(np.float32)
        if x.dtype != np.float32 or np.abs(x).max() > 2:
            pass
        st.append(x.T)
    st = np.stack(st)
    if st.dtype != np.float32:
        st = st.astype(np.float32)
    return st


@torch.no_grad()
def validate(model, val_dirs, max_sec=None):
    model.eval()
    res = {s: [] for s in STEMS}
    for d in val_dirs:
        sr, _ = wavfile.read(os.path.join(d, 'drums.wav'), mmap=True)
        st = np.stack([wavfile.read(os.path.join(d, s + '.wav'))[1].T.astype(np.float32) / 32768.0 for s in STEMS])
        if max_sec:
            st = st[..., :int(max_sec * SR)]
        mix = st.sum(0)
        X = stft(torch.from_numpy(mix))  # [C, F, T]
        m = model(X.abs().unsqueeze(0))[0]  # [S, C, F, T]
        est = istft(m * X.unsqueeze(0), mix.shape[-1]).numpy()
        for si, s in enumerate(STEMS):
            if np.sum(st[si] ** 2) > 1e-6 * np.sum(mix ** 2):
                res[s].append(sdr(st[si], est[si]))
    model.train()
    return {s: float(np.mean(v)) if v else float('nan') for s, v in res.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/work/data/stems')
    ap.add_argument('--run', default='/work/data/stems/runs/v1')
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--seconds', type=float, default=4.0)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--lr-steps', type=int, nargs='*', default=[8000, 14000], help='halve the learning rate at these steps')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--val-every', type=int, default=300)
    ap.add_argument('--val-seconds', type=float, default=12.0, help='first N seconds of each validation song')
    ap.add_argument('--ckpt-minutes', type=float, default=5.0)
    ap.add_argument('--max-steps', type=int, default=10 ** 9)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    os.makedirs(args.run, exist_ok=True)
    songs = Songs(os.path.join(args.data, 'train'))
    val_dirs = sorted(d for d in glob.glob(os.path.join(args.data, 'val', 'song*')) if os.path.exists(os.path.join(d, 'meta.json')))
    seg = int(args.seconds * SR)
    model = StemsNet(hidden=args.hidden)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=1e-5)
    step = 0
    best = -1e9
    rng = np.random.default_rng(args.seed)
    last = os.path.join(args.run, 'last.pt')
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        step, best = ck['step'], ck['best']
        rng = np.random.default_rng([args.seed, step])
        log(args.run, 'resumed from %s at step %d (best val %.2f)' % (last, step, best))
    else:
        # input statistics (Open-Unmix style learnt affine, initialised from data)
        acc = []
        for _ in range(8):
            x = sample_batch(songs, rng, 8, seg).sum(1)
            acc.append(torch.log1p(stft(x).abs()[:, :, :model.in_bins, :]).permute(1, 2, 0, 3).reshape(2 * model.in_bins, -1))
        a = torch.cat(acc, 1)
        with torch.no_grad():
            model.input_mean.copy_(-a.mean(1, keepdim=True))
            model.input_scale.copy_(1.0 / (a.std(1, keepdim=True) + 1e-2))
        json.dump(vars(args), open(os.path.join(args.run, 'args.json'), 'w'), indent=1)
        log(args.run, 'new run: %d training songs, %d validation songs, %.2fM params' % (
            len(songs.songs), len(val_dirs), sum(p.numel() for p in model.parameters()) / 1e6))
    sched_gamma = 0.5
    t_ckpt = time.time()
    t0 = time.time()
    run_loss = None

    def save(path, extra=None):
        ck = {'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'best': best,
              'args': vars(args), 'hidden': args.hidden}
        if extra:
            ck.update(extra)
        torch.save(ck, path + '.tmp')
        os.replace(path + '.tmp', path)

    while step < args.max_steps:
        if step % 200 == 0:
            songs.rescan()
        # step-wise LR: halve at each of --lr-steps
        lr = args.lr * (sched_gamma ** sum(step >= s for s in args.lr_steps))
        for g in opt.param_groups:
            g['lr'] = lr
        y = sample_batch(songs, rng, args.batch, seg)
        with torch.no_grad():
            S = stft(y)[..., :IN_BINS, :]  # [B, 4, 2, F, T]; the model neither reads nor is trained above 16 kHz
            X = S.sum(1)
            Xm = X.abs()
            A, Bx, Cs = loss_terms(Xm, S.abs())
        masks = model.forward_rows(Xm)
        loss, per = loss_fn(masks, A, Bx, Cs)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        run_loss = per if run_loss is None else 0.98 * run_loss + 0.02 * per
        if step % 25 == 0:
            log(args.run, 'step %d loss %s lr %.1e songs %d %.2fs/step' % (
                step, ' '.join('%s=%.3f' % (s, v) for s, v in zip(STEMS, run_loss.tolist())), lr,
                len(songs.songs), (time.time() - t0) / 25))
            t0 = time.time()
        if step % args.val_every == 0 and val_dirs:
            tv = time.time()
            v = validate(model, val_dirs, max_sec=args.val_seconds)
            mean = float(np.nanmean(list(v.values())))
            log(args.run, 'VAL step %d %s mean=%.2f (%.0fs)' % (step, ' '.join('%s=%.2f' % kv for kv in v.items()), mean,
                                                               time.time() - tv))
            if mean > best:
                best = mean
                save(os.path.join(args.run, 'best.pt'), {'val': v})
                log(args.run, 'new best %.2f -> best.pt' % best)
            save(last)
            t_ckpt = time.time()
            t0 = time.time()
        if time.time() - t_ckpt > args.ckpt_minutes * 60:
            save(last)
            t_ckpt = time.time()


if __name__ == '__main__':
    main()
