"""Train the hookwave stems model on 2 CPU cores; resumable.

  nice -n 19 /usr/bin/python3 training/stems/train.py --data /work/data/stems --run /work/data/stems/runs/v1

Resume: run the same command again; it continues from <run>/last.pt (model, optimiser, step, rng).
<run>/best.pt holds the checkpoint with the best validation mean SDR (validation songs are rendered from
TRAINING sources with their own seeds; the held-out set is never looked at here).
"""
import argparse
import copy
import glob
import json
import math
import os
import sys
import time

import numpy as np
import scipy.fft
import scipy.io.wavfile as wavfile
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import BAND, FULL_BINS, HOP, IN_BINS, N_FFT, SR, STEMS, StemsNet, batch_norms, stft  # noqa: E402
import separate  # noqa: E402


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
        self.version = {}
        self.songs_v2_vocals = []
        self.cache = {}
        self.rescan()

    def rescan(self):
        ds = sorted(d for d in glob.glob(os.path.join(self.root, 'song*')) if os.path.exists(os.path.join(d, 'meta.json')))
        self.songs = ds
        for d in ds:  # data version of each song (1 = the v1 renders: no vocal air, five festival voices)
            if d not in self.version:
                m = json.load(open(os.path.join(d, 'meta.json')))
                self.version[d] = m.get('data_version', 1)
        self.songs_v2_vocals = [d for d in ds if self.version[d] >= 2 and json.load(open(os.path.join(d, 'meta.json'))).get('vocals')]

    def stem(self, d, s):
        k = (d, s)
        if k not in self.cache:
            _, x = wavfile.read(os.path.join(d, s + '.wav'), mmap=True)
            self.cache[k] = x
        return self.cache[k]

    def length(self, d):
        return self.stem(d, 'drums').shape[0]


def resampled(x, a, seg, r):
    """seg samples of x [N, C] read from sample a at speed r (linear interpolation) -> [C, seg]. r > 1 plays it
    faster: pitch, tempo and spectral envelope all move up by r. Aliasing lands above 44.1 kHz - 22.05 kHz x r
    (> 18 kHz for r <= 1.18), outside the 16 kHz the model reads."""
    n = min(x.shape[0] - a, int(np.ceil(seg * r)) + 2)
    y = x[a:a + n].astype(np.float32) / 32768.0
    pos = np.arange(seg, dtype=np.float64) * r
    i = np.minimum(pos.astype(np.int64), n - 1)
    f = (pos - i).astype(np.float32)[:, None]
    j = np.minimum(i + 1, n - 1)
    out = y[i] * (1 - f) + y[j] * f
    out[pos > n - 1] = 0
    return out.T


def sample_batch(songs, rng, batch, seg, v2_vocals=0.0, speed=0.0, speed_range=(0.85, 1.18), quiet=0.0, absent=0.0,
                 same_song=0.4, centre=0.0):
    """v2_vocals: in re-mixed excerpts, the probability that the vocals come from a data-version-2 song (vocal
    air, more voices) rather than from any song. speed: the probability that a stem (all stems of a same-song
    excerpt alike, so they stay in time) is played at a random speed in speed_range (log-uniform): new pitches
    and, above all, new timbres - a drum kit tuned up or down, a bass with its formants moved - beyond the two
    training soundfonts. quiet: the probability that one of drums/bass/other (at random) of an excerpt is
    turned down by a further 6-16 dB - a kit or a bass far under the band, as in some held-out songs, which
    the gains above (-12..+2 dB) rarely reach. Drawn after everything else, so quiet=0 gives the batches of
    v1-v8 for a given generator state. absent: the probability that one of drums/bass/other (at random) of an
    excerpt is silent, as in a song with no bass part (three of the eight held-out songs; v9 then hears the
    low notes of the other instruments as bass, and other loses them). Only vocals were ever dropped before
    (10 %), and almost every training song has a bass and a kit. Drawn last (absent=0: the batches of v9).
    same_song: the probability that an excerpt's four stems come from one song, in time, as a listener hears
    them (the rest are re-mixed across songs, as Open-Unmix and Demucs do). A re-mixed bass is in another key
    and tempo than the band it is laid under, so its harmonics never coincide with the chords' - unlike a real
    song's, where the bass plays the chords' roots. v19b tried whole songs only (1.0) to keep the held-out bass:
    it kept none, and a fine-tune lost more (model card, Training). 0.4 gives the batches of v1-v18.
    centre: the probability that an excerpt's `other` stem is made mono (both channels (L+R)/2), so it sits in the
    middle of the image where the voice is. v23's diagnostic found v19 giving a centred `other` line to the vocals
    estimate and separating the same line 4-5 dB better when it is moved aside (model card, Training). Drawn last
    (0: the batches before it)."""
    out = np.zeros((batch, 4, 2, seg), np.float32)
    lr_ = np.log(speed_range)
    for b in range(batch):
        same = rng.random() < same_song
        d0 = songs.songs[rng.integers(len(songs.songs))]
        r0 = float(np.exp(rng.uniform(*lr_))) if rng.random() < speed else 1.0
        for si, s in enumerate(STEMS):
            d = d0 if same else songs.songs[rng.integers(len(songs.songs))]
            if s == 'vocals' and not same and songs.songs_v2_vocals and v2_vocals > 0 and rng.random() < v2_vocals:
                d = songs.songs_v2_vocals[rng.integers(len(songs.songs_v2_vocals))]
            n = songs.length(d)
            r = r0 if same else (float(np.exp(rng.uniform(*lr_))) if rng.random() < speed else 1.0)
            a = int(rng.integers(0, max(1, n - int(seg * r))))
            if r == 1.0:
                x = songs.stem(d, s)[a:a + seg].T.astype(np.float32) / 32768.0
            else:
                x = resampled(songs.stem(d, s), a, seg, r)
            g = rng.uniform(0.25, 1.25)
            if rng.random() < 0.5:
                x = x[::-1]
            if s == 'vocals' and rng.random() < 0.1:
                g = 0.0
            out[b, si, :, :x.shape[1]] = x * g
        out[b] *= 10 ** (rng.uniform(-9, 5) / 20)
        if quiet > 0 and rng.random() < quiet:
            out[b, int(rng.integers(3))] *= 10 ** (-rng.uniform(6, 16) / 20)
        if absent > 0 and rng.random() < absent:
            out[b, int(rng.integers(3))] = 0.0
        if centre > 0 and rng.random() < centre:
            o = STEMS.index('other')
            out[b, o] = out[b, o].mean(0, keepdims=True)
    return out


_WIN = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


def stft_frames_np(y, out):
    """y float32 [..., N] -> out complex64 [..., T, IN_BINS] (T = 1 + N // HOP), the same STFT as model.stft
    (zero padding of N_FFT/2 at both ends, periodic Hann) but in numpy/scipy, bins 0..IN_BINS-1 only, with
    time before frequency. numpy + pocketfft is several times faster than torch 1.13's stft and elementwise
    ops here (torch pays page faults on every large allocation on this machine)."""
    lead = y.shape[:-1]
    N = y.shape[-1]
    T = 1 + N // HOP
    yf = y.reshape(-1, N)
    of = out.reshape((-1, T, IN_BINS))
    pad = np.zeros(N + N_FFT + HOP, np.float32)
    for i in range(yf.shape[0]):
        pad[N_FFT // 2:N_FFT // 2 + N] = yf[i]
        fr = np.lib.stride_tricks.as_strided(pad, (T, N_FFT), (HOP * 4, 4))
        of[i] = scipy.fft.rfft(fr * _WIN, axis=-1)[:, :IN_BINS]
    return out


def band_sum_last(x, full=FULL_BINS, band=BAND):
    """band_sum over the LAST axis (F = IN_BINS) -> [..., rows]"""
    F = x.shape[-1]
    n = (F - full + band - 1) // band
    pad = n * band - (F - full)
    hi = x[..., full:]
    if pad:
        hi = np.concatenate([hi, np.zeros(hi.shape[:-1] + (pad,), hi.dtype)], -1)
    hi = hi.reshape(hi.shape[:-1] + (n, band)).sum(-1)
    return np.concatenate([x[..., :full], hi], -1)


_OCTAVES = np.log2(np.maximum(np.arange(IN_BINS) * SR / N_FFT, 20.0) / 1000.0).astype(np.float32)  # from 1 kHz


def random_eq(rng, shape, p):
    """Gains [*shape, IN_BINS] of a random smooth EQ per stem of each excerpt, applied with probability p: a
    tilt of up to +-1.5 dB per octave around 1 kHz and one or two bell curves of +-8 dB, 0.3-1.5 octaves wide,
    centred between 60 Hz and 12 kHz; at most +-12 dB in all. The held-out timbres (another soundfont, other
    voices) differ from the training ones mostly by such spectral envelopes. Applied to each stem's STFT
    before the mix is summed, so the mix stays the sum of its stems."""
    g = np.ones(tuple(shape) + (IN_BINS,), np.float32)
    for idx in np.ndindex(*shape):
        if rng.random() >= p:
            continue
        db = rng.uniform(-1.5, 1.5) * _OCTAVES
        for _ in range(int(rng.integers(1, 3))):
            c = rng.uniform(np.log2(0.06), np.log2(12.0))
            w = rng.uniform(0.3, 1.5)
            db = db + rng.uniform(-8, 8) * np.exp(-0.5 * ((_OCTAVES - c) / w) ** 2)
        g[idx] = 10 ** (np.clip(db, -12, 12) / 20)
    return g


def batch_tensors(y, eq=None, phase=0.0):
    """y [B, S, C, N] float32 (stems of each excerpt, gains applied), eq None or gains [B, S, IN_BINS] (random_eq)
    -> model input |X| [B, C, F, T] and the
    loss terms in the network's layout [B, T, S, C, rows]: A = band sums of |X|^2, Bx = band sums of |X||S_j|,
    Cs [B, S] = sum |S_j|^2 per excerpt and stem (all over bins 0..IN_BINS-1).
    phase p: Bx = band sums of (1 - p) |X||S_j| + p Re(conj(X) S_j). At p = 1 the loss's error is |m_j X - S_j|^2,
    the error of the masked complex spectrum that the iSTFT turns into the waveform SDR is scored on (the
    phase-sensitive approximation of Erdogan et al., 2015); at 0 it is (m_j|X| - |S_j|)^2 (v1-v20), which
    ignores that a stem's phase differs from the mix's, so it asks for more of a bin where the stems cancel."""
    B, S, C, N = y.shape
    T = 1 + N // HOP
    Z = np.empty((B, S, C, T, IN_BINS), np.complex64)
    stft_frames_np(y, Z)
    if eq is not None:
        Z *= eq[:, :, None, None, :]
    X = Z.sum(1)  # [B, C, T, F]
    Xm = np.abs(X)
    Sm = np.abs(Z)  # [B, S, C, T, F]
    Cs = np.einsum('bsctf,bsctf->bs', Sm, Sm)
    A = band_sum_last(Xm * Xm).transpose(0, 2, 1, 3)[:, :, None]  # [B, T, 1, C, R]
    Sm *= Xm[:, None]
    if phase > 0:
        Sm *= 1 - phase
        Sm += phase * (X.conj()[:, None] * Z).real
    Bx = band_sum_last(Sm).transpose(0, 3, 1, 2, 4)  # [B, T, S, C, R]
    mag = np.ascontiguousarray(Xm.transpose(0, 1, 3, 2))  # [B, C, F, T]
    return (torch.from_numpy(mag), torch.from_numpy(np.ascontiguousarray(A)),
            torch.from_numpy(np.ascontiguousarray(Bx)), torch.from_numpy(Cs.astype(np.float32)))


def loss_btscr(masks, A, Bx, Cs, kind='logratio', floor=3e-3, item_weight=0.0, stem_weights=None):
    """masks, Bx [B,T,S,C,R], A [B,T,1,C,R], Cs [B,S]. err_j = sum over the batch of (m_j|X| - |S_j|)^2 at full
    bin resolution (exact, from the band sums; |m_j X - S_j|^2 when batch_tensors' phase is 1).
    kind 'ratio': err_j / (Cs_j + floor*|X|^2) (v1);
    'logratio': 10 log10((err_j + eps) / (Cs_j + eps)), eps = floor * sum|X|^2, i.e. minus a batch-level
    magnitude SDR per stem (scale-free, so a batch where a stem is almost silent does not spike).
    item_weight w: (1 - w) x that + w x the same ratio taken per excerpt and averaged over the batch. The
    batch-level ratio is dominated by the excerpts where a stem is loud, so a stem that sits 15 dB under the
    band (a quiet kit) hardly counts; per excerpt, every excerpt's stem counts alike.
    stem_weights [S] (mean 1): the stems' shares of the loss; the log-ratio makes them exchange rates in dB."""
    def ratio(err, cs, eps):
        return err / (cs + eps) if kind == 'ratio' else 10 * torch.log10((err + eps) / (cs + eps))

    err_i = (masks * (masks * A - 2 * Bx)).sum(dim=(1, 3, 4)) + Cs  # [B, S]
    err_i = err_i.clamp(min=0)
    eps = floor * A.sum()
    per = ratio(err_i.sum(0), Cs.sum(0), eps)
    if item_weight > 0:
        # An excerpt can be silent through and through (a pause in a song, vocals dropped): then every term is 0
        # and 0/0 poisoned the weights (v9's first run, step ~1950). A floor of the batch's eps / 1e4 keeps it finite.
        eps_i = floor * A.sum(dim=(1, 2, 3, 4))[:, None] + 1e-4 * eps  # [B, 1]
        per = (1 - item_weight) * per + item_weight * ratio(err_i, Cs, eps_i).mean(0)
    loss = per.mean() if stem_weights is None else (per * stem_weights).mean()
    return loss, per.detach()


def sdr(ref, est):
    num = np.sum(ref.astype(np.float64) ** 2)
    den = np.sum((ref.astype(np.float64) - est) ** 2)
    return 10 * np.log10((num + 1e-12) / (den + 1e-12))


class _Runner:
    def __init__(self, model):
        self.model = model

    def __call__(self, mag):
        with torch.no_grad():
            return self.model(torch.from_numpy(mag)).numpy()


@torch.no_grad()
def validate(model, val_dirs, max_sec=None):
    """mean SDR per stem over the validation songs (first max_sec seconds), masks only, through the python
    reference separator (separate.py: numpy STFT, chunked model calls)"""
    modes = [m.training for m in model.modules()]
    model.eval()
    res = {s: [] for s in STEMS}
    for d in val_dirs:
        st = np.stack([wavfile.read(os.path.join(d, s + '.wav'))[1].T.astype(np.float32) / 32768.0 for s in STEMS])
        if max_sec:
            st = st[..., :int(max_sec * SR)]
        mix = st.sum(0)
        est = separate.separate(mix, _Runner(model), use_wiener=False)
        for si, s in enumerate(STEMS):
            if np.sum(st[si] ** 2) > 1e-6 * np.sum(mix ** 2):
                res[s].append(sdr(st[si], est[si]))
    for m, training in zip(model.modules(), modes):  # as it was: --freeze-bn keeps batch norm in eval mode
        m.training = training
    return {s: float(np.mean(v)) if v else float('nan') for s, v in res.items()}


def lr_at(args, step):
    """'step': args.lr halved at each of --lr-steps (v1). 'cosine': linear warm-up over --warmup steps, then
    cosine decay from args.lr to args.lr_min at --total-steps, constant after."""
    if args.sched == 'step':
        return args.lr * (0.5 ** sum(step >= s for s in args.lr_steps))
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    f = min(1.0, (step - args.warmup) / max(1, args.total_steps - args.warmup))
    return args.lr_min + 0.5 * (args.lr - args.lr_min) * (1 + math.cos(math.pi * f))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='/work/data/stems')
    ap.add_argument('--run', default='/work/data/stems/runs/v2')
    ap.add_argument('--batch', type=int, default=6)
    ap.add_argument('--seconds', type=float, default=4.0)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--lr-min', type=float, default=3e-5)
    ap.add_argument('--sched', choices=['cosine', 'step'], default='cosine')
    ap.add_argument('--warmup', type=int, default=100)
    ap.add_argument('--total-steps', type=int, default=4000, help='end of the cosine decay (may be changed on resume)')
    ap.add_argument('--lr-steps', type=int, nargs='*', default=[8000, 14000], help="--sched step: halve the learning rate at these steps")
    ap.add_argument('--loss', choices=['logratio', 'ratio'], default='logratio')
    ap.add_argument('--phase', type=float, default=0.0,
                    help='weight of the phase-sensitive error in the loss (see batch_tensors; 0: magnitudes only, as v1-v20)')
    ap.add_argument('--item-weight', type=float, default=0.0, help='weight of the per-excerpt loss (see loss_btscr; 0: batch-level only, as v1-v8)')
    ap.add_argument('--stem-weights', type=lambda v: [float(x) for x in v.split(',')], default=None,
                    help='drums,bass,other,vocals: weights of the stems in the loss and in the validation score that '
                         'picks best.pt (scaled to mean 1; default: all 1, as v1-v12)')
    ap.add_argument('--floor', type=float, default=3e-3, help='loss floor, as a fraction of the batch mix energy')
    ap.add_argument('--ema', type=float, default=0.997, help='decay of the weight average that is validated and saved in best.pt (0: off)')
    ap.add_argument('--eq', type=float, default=0.0, help='probability of a random EQ curve per stem of an excerpt (random_eq)')
    ap.add_argument('--v2-vocals', type=float, default=0.3, help='see sample_batch')
    ap.add_argument('--same-song', type=float, default=0.4,
                    help='probability that an excerpt is one song as written rather than stems re-mixed across songs (see sample_batch)')
    ap.add_argument('--absent', type=float, default=0.0, help='probability of one instrument stem silent per excerpt (see sample_batch)')
    ap.add_argument('--centre', type=float, default=0.0, help="probability of an excerpt's other stem made mono, centred (see sample_batch)")
    ap.add_argument('--quiet', type=float, default=0.0, help='probability of one instrument stem turned down 6-16 dB more per excerpt (see sample_batch)')
    ap.add_argument('--freeze-bn', action='store_true',
                    help='batch norm in eval mode throughout: every layer normalises by the statistics it starts with '
                         '(--init\'s), which never change; its scale and shift still train (v17)')
    ap.add_argument('--init', default=None, help='start a NEW run from the weights of this checkpoint (fresh optimiser)')
    ap.add_argument('--hidden', type=int, default=256)
    ap.add_argument('--detail', type=int, default=0, help='width of the convolutional detail path (model.Detail; 0: none, as v1-v5)')
    ap.add_argument('--low', type=int, default=0, help='width of the low-register path (model.Low; 0: none, as v1-v18)')
    ap.add_argument('--low-lr-mult', type=float, default=1.0, help="the low-register path's learning rate relative to --lr")
    ap.add_argument('--train-only', choices=['all', 'low'], default='all',
                    help='low: only the low-register path trains; the rest keeps --init\'s weights (v19)')
    ap.add_argument('--detail-lr-mult', type=float, default=1.0, help="the detail path's learning rate relative to --lr")
    ap.add_argument('--speed', type=float, default=0.0, help='probability of a random playback speed per stem (see sample_batch)')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--val-every', type=int, default=300)
    ap.add_argument('--val-seconds', type=float, default=12.0, help='first N seconds of each validation song')
    ap.add_argument('--ckpt-minutes', type=float, default=5.0)
    ap.add_argument('--keep-evals', action='store_true',
                    help='also keep each validated (EMA) model as eval_step<N>.pt, for weight averages along the run')
    ap.add_argument('--max-steps', type=int, default=10 ** 9)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--rescan-every', type=int, default=50, help='steps between re-scans of the song folder (songs rendered meanwhile join in)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    w = None if args.stem_weights is None else np.array(args.stem_weights)
    if w is not None and (len(w) != len(STEMS) or (w < 0).any() or w.sum() <= 0):
        raise SystemExit('--stem-weights needs %d non-negative numbers (%s), e.g. 1.5,2,1,0.5' % (len(STEMS), ','.join(STEMS)))
    stem_w = None if w is None else torch.tensor(w * len(w) / w.sum(), dtype=torch.float32)
    score_name = 'mean' if w is None else 'weighted'

    def score(v):
        """the validation score best.pt is chosen by: mean SDR over the stems, weighted as the loss is"""
        sdrs = [v[s] for s in STEMS]
        return float(np.nanmean(sdrs) if w is None else np.average(sdrs, weights=w))

    os.makedirs(args.run, exist_ok=True)
    songs = Songs(os.path.join(args.data, 'train'))
    val_dirs = sorted(d for d in glob.glob(os.path.join(args.data, 'val', 'song*')) if os.path.exists(os.path.join(d, 'meta.json')))
    seg = int(args.seconds * SR)
    arch = {'hidden': args.hidden, 'detail': args.detail, 'low': args.low}  # what model.from_checkpoint rebuilds the network from
    model = StemsNet(**arch)
    if args.train_only == 'low':
        if not (args.low and args.init and args.freeze_bn):
            raise SystemExit('--train-only low trains a new low-register path on a trained model: it needs --low, --init and --freeze-bn')
        for n, p in model.named_parameters():
            p.requires_grad_(n.startswith('low.'))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    detail_p = [p for n, p in named if n.startswith('detail.')]
    low_p = [p for n, p in named if n.startswith('low.')]
    trunk_p = [p for n, p in named if not n.startswith(('detail.', 'low.'))]
    groups = [{'params': ps, 'mult': mult} for ps, mult in
              ((trunk_p, 1.0), (detail_p, args.detail_lr_mult), (low_p, args.low_lr_mult)) if ps]
    opt = torch.optim.Adam(groups, lr=args.lr, weight_decay=1e-5)
    step = 0
    best = -1e9
    rng = np.random.default_rng(args.seed)
    last = os.path.join(args.run, 'last.pt')
    ema_state = None
    if args.freeze_bn and not (args.init or os.path.exists(last)):
        raise SystemExit('--freeze-bn keeps the statistics a run starts with: it needs --init (a trained checkpoint)')
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['opt'])
        step, best = ck['step'], ck['best']
        ema_state = ck.get('ema')
        rng = np.random.default_rng([args.seed, step])
        log(args.run, 'resumed from %s at step %d (best val %.2f)' % (last, step, best))
    elif args.init:
        ck = torch.load(args.init)
        missing, unexpected = model.load_state_dict(ck['model'], strict=False)
        if unexpected or any(not k.startswith(('detail.', 'low.')) for k in missing):
            raise SystemExit('--init %s does not fit this network: missing %s, unexpected %s' % (args.init, missing, unexpected))
        if missing:  # a new path on a trained model starts at zero (model.Detail, model.Low): the model as it was
            log(args.run, 'new paths (%s) added to the weights of %s' % (
                ', '.join(sorted({k.split('.')[0] for k in missing})), args.init))
        json.dump(vars(args), open(os.path.join(args.run, 'args.json'), 'w'), indent=1)
        log(args.run, 'new run from the weights of %s (step %s): %d training songs, %d validation songs' % (
            args.init, ck.get('step'), len(songs.songs), len(val_dirs)))
        if val_dirs:  # the starting point's score: best.pt is then only replaced by something better than it
            tv = time.time()
            v = validate(model, val_dirs, max_sec=args.val_seconds)
            best = score(v)
            log(args.run, 'VAL (init) step 0 %s %s=%.2f (%.0fs)' % (
                ' '.join('%s=%.2f' % kv for kv in v.items()), score_name, best, time.time() - tv))
            torch.save({'model': model.state_dict(), 'step': 0, 'best': best, 'args': vars(args),
                        **arch, 'val': v, 'init': args.init}, os.path.join(args.run, 'best.pt'))
    else:
        # input statistics (Open-Unmix style learnt affine, initialised from data)
        acc = []
        for _ in range(8):
            x = torch.from_numpy(sample_batch(songs, rng, 8, seg).sum(1))
            acc.append(torch.log1p(stft(x).abs()[:, :, :model.in_bins, :]).permute(1, 2, 0, 3).reshape(2 * model.in_bins, -1))
        a = torch.cat(acc, 1)
        with torch.no_grad():
            model.input_mean.copy_(-a.mean(1, keepdim=True))
            model.input_scale.copy_(1.0 / (a.std(1, keepdim=True) + 1e-2))
        json.dump(vars(args), open(os.path.join(args.run, 'args.json'), 'w'), indent=1)
        log(args.run, 'new run: %d training songs, %d validation songs, %.2fM params' % (
            len(songs.songs), len(val_dirs), sum(p.numel() for p in model.parameters()) / 1e6))
    ema = None
    if args.ema > 0:
        ema = copy.deepcopy(model)
        if ema_state is not None:
            ema.load_state_dict(ema_state)
        ema.eval()
        trained = {n for n, _ in named}  # frozen weights stay bit-exact in the average too
        ema_p = [p for n, p in ema.named_parameters() if n in trained]
        model_p = [p for n, p in model.named_parameters() if n in trained]
    t_ckpt = time.time()
    t0 = time.time()
    c0 = time.process_time()
    run_loss = None

    def save(path, extra=None):
        ck = {'model': model.state_dict(), 'opt': opt.state_dict(), 'step': step, 'best': best,
              'args': vars(args), **arch}
        if ema is not None:
            ck['ema'] = ema.state_dict()
        if extra:
            ck.update(extra)
        torch.save(ck, path + '.tmp')
        os.replace(path + '.tmp', path)

    def save_eval_model(path, extra):
        """a checkpoint whose 'model' is the validated weights (the EMA if on): evaluate/export/separate read it"""
        net = ema if ema is not None else model
        ck = {'model': net.state_dict(), 'step': step, 'best': best, 'args': vars(args), **arch}
        ck.update(extra)
        torch.save(ck, path + '.tmp')
        os.replace(path + '.tmp', path)

    if args.freeze_bn:
        frozen = batch_norms(model)
        for m in frozen:
            m.eval()
        log(args.run, 'batch norm frozen: %d layers keep their starting statistics' % len(frozen))
    while step < args.max_steps:
        if step % args.rescan_every == 0:
            songs.rescan()
        lr = lr_at(args, step)
        for g in opt.param_groups:
            g['lr'] = lr * g.get('mult', 1.0)
        y = sample_batch(songs, rng, args.batch, seg, args.v2_vocals, args.speed, quiet=args.quiet, absent=args.absent,
                         same_song=args.same_song, centre=args.centre)
        mag, A, Bx, Cs = batch_tensors(y, random_eq(rng, y.shape[:2], args.eq) if args.eq > 0 else None, args.phase)
        masks = model.forward_btscr(mag)
        loss, per = loss_btscr(masks, A, Bx, Cs, args.loss, args.floor, args.item_weight, stem_w)
        if not torch.isfinite(loss):  # never let one bad batch into the weights, the EMA or last.pt
            log(args.run, 'step %d: loss %s, batch skipped' % (step, loss.item()))
            continue
        opt.zero_grad()
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        if not torch.isfinite(gnorm):
            log(args.run, 'step %d: gradient norm %s, batch skipped' % (step, gnorm.item()))
            continue
        opt.step()
        step += 1
        if ema is not None:
            with torch.no_grad():
                d = min(args.ema, (1 + step) / (10 + step))
                torch._foreach_mul_(ema_p, d)
                torch._foreach_add_(ema_p, model_p, alpha=1 - d)
                for be, bm in zip(ema.buffers(), model.buffers()):
                    be.copy_(bm)
        run_loss = per if run_loss is None else 0.95 * run_loss + 0.05 * per
        if step % 25 == 0:
            log(args.run, 'step %d loss %s lr %.1e songs %d %.2fs/step %.2f cpu-s/step' % (
                step, ' '.join('%s=%.3f' % (s, v) for s, v in zip(STEMS, run_loss.tolist())), lr,
                len(songs.songs), (time.time() - t0) / 25, (time.process_time() - c0) / 25))
            t0 = time.time()
            c0 = time.process_time()
        if step % args.val_every == 0 and val_dirs:
            tv = time.time()
            v = validate(ema if ema is not None else model, val_dirs, max_sec=args.val_seconds)
            mean = score(v)
            log(args.run, 'VAL%s step %d %s %s=%.2f (%.0fs)' % (' (ema)' if ema is not None else '', step,
                                                                 ' '.join('%s=%.2f' % kv for kv in v.items()),
                                                                 score_name, mean, time.time() - tv))
            save_eval_model(os.path.join(args.run, 'eval_last.pt'), {'val': v})
            if args.keep_evals:
                save_eval_model(os.path.join(args.run, 'eval_step%d.pt' % step), {'val': v})
            if mean > best:
                best = mean
                save_eval_model(os.path.join(args.run, 'best.pt'), {'val': v})
                log(args.run, 'new best %.2f -> best.pt' % best)
            save(last)
            t_ckpt = time.time()
            t0 = time.time()
            c0 = time.process_time()
        if time.time() - t_ckpt > args.ckpt_minutes * 60:
            save(last)
            t_ckpt = time.time()


if __name__ == '__main__':
    main()
