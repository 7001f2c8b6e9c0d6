"""Python reference separator: the ground truth that the TypeScript port must match.

  /usr/bin/python3 training/stems/separate.py song.flac outdir/ [--model models/stems/hookwave-stems-v2.onnx | --ckpt best.pt]

Pipeline (all of it is what models/stems/spec.json describes):
 1. decode to 44.1 kHz stereo float32 (mono input: both channels equal);
 2. STFT per channel: n_fft 4096, hop 1024, periodic Hann window w[n] = 0.5 - 0.5 cos(2 pi n / 4096),
    centre convention: the signal is zero-padded with 2048 samples on both sides, frame t covers padded
    samples [t*1024, t*1024 + 4096), frames t = 0 .. floor(N / 1024) (i.e. 1 + N // 1024 frames),
    X[f, t] = sum_n xpad[t*hop + n] w[n] exp(-2 pi i f n / 4096), f = 0..2048 (no normalisation);
 3. the network sees |X| in chunks of frames: core CHUNK frames plus CONTEXT frames of real neighbours on
    each side (zeros beyond the ends of the track, which is also what the convolutions' own padding does).
    The receptive field is +-78 frames, so with CONTEXT = 80 the core output is IDENTICAL to running the
    whole track at once: chunking is exact, no crossfade is needed;
 4. masks [4, 2, 2049, T] (drums, bass, other, vocals; they sum to 1) -> Y_j = m_j * X;
 5. optional multichannel Wiener filter, one EM iteration, per chunk (statistics over the chunk's core
    frames), then the residual X - sum_j Y_j is given back to the stems in proportion to the masks, so the
    stems add up to the mix exactly;
 6. inverse STFT per stem: irfft of each frame, times the window, overlap-added, divided by the overlap-
    added squared window, the first 2048 samples dropped, N samples kept.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import HOP, N_FFT, SR, STEMS  # noqa: E402

CHUNK = 512  # core frames per model call (~11.9 s)
CONTEXT = 80  # frames of context on each side (receptive field is 78)
WIENER_DIAG = 1e-3  # R_j += WIENER_DIAG * trace(R_j)/2 * I
WIENER_EPS = 1e-10  # absolute floor


def window():
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2 * np.pi * n / N_FFT)).astype(np.float64)


def stft_np(x):
    """x [C, N] -> complex128 [C, 2049, 1 + N // HOP]"""
    C, N = x.shape
    T = 1 + N // HOP
    pad = np.zeros((C, N + N_FFT + HOP), np.float64)
    pad[:, N_FFT // 2:N_FFT // 2 + N] = x
    idx = np.arange(T)[:, None] * HOP + np.arange(N_FFT)[None, :]
    frames = pad[:, idx] * window()  # [C, T, n_fft]
    return np.fft.rfft(frames, axis=-1).transpose(0, 2, 1)


def istft_np(X, N):
    """X [..., 2049, T] -> [..., N]"""
    shp = X.shape[:-2]
    T = X.shape[-1]
    w = window()
    fr = np.fft.irfft(np.moveaxis(X, -1, -2), n=N_FFT, axis=-1) * w  # [..., T, n_fft]
    L = (T - 1) * HOP + N_FFT
    out = np.zeros(shp + (L,))
    wsum = np.zeros(L)
    for t in range(T):
        out[..., t * HOP:t * HOP + N_FFT] += fr[..., t, :]
        wsum[t * HOP:t * HOP + N_FFT] += w ** 2
    out = out / np.where(wsum > 1e-10, wsum, 1.0)
    return out[..., N_FFT // 2:N_FFT // 2 + N]


def wiener(Y, X):
    """One EM iteration of the multichannel Wiener filter (norbert-style) on one chunk.
    Y [S, 2, F, T] complex initial estimates (masks * X), X [2, F, T]. Returns [S, 2, F, T]."""
    v = np.mean(np.abs(Y) ** 2, axis=1)  # [S, F, T]
    # spatial covariance per source and frequency: R = sum_t y y^H / sum_t v
    R = np.einsum('sift,sjft->sfij', Y, np.conj(Y)) / (v.sum(-1)[..., None, None] + WIENER_EPS)  # [S, F, 2, 2]
    tr = (R[..., 0, 0].real + R[..., 1, 1].real) / 2
    R = R + (WIENER_DIAG * tr)[..., None, None] * np.eye(2)
    Cxx = np.einsum('sft,sfij->ftij', v, R) + WIENER_EPS * np.eye(2)  # [F, T, 2, 2]
    a, b, c, d = Cxx[..., 0, 0], Cxx[..., 0, 1], Cxx[..., 1, 0], Cxx[..., 1, 1]
    det = a * d - b * c
    x0, x1 = X[0], X[1]
    z0 = (d * x0 - b * x1) / det
    z1 = (-c * x0 + a * x1) / det  # z = Cxx^-1 x
    out = np.empty_like(Y)
    out[:, 0] = v * (R[:, :, 0, 0, None] * z0 + R[:, :, 0, 1, None] * z1)
    out[:, 1] = v * (R[:, :, 1, 0, None] * z0 + R[:, :, 1, 1, None] * z1)
    return out


class TorchRunner:
    def __init__(self, ckpt):
        import torch
        from model import from_checkpoint
        ck = torch.load(ckpt, map_location='cpu')
        self.torch = torch
        self.model = from_checkpoint(ck)
        self.model.load_state_dict(ck['model'])
        self.model.eval()

    def __call__(self, mag):  # mag float32 [1, 2, F, T] -> [1, 4, 2, F, T]
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(mag)).numpy()


def separate(mix, runner, use_wiener=True, chunk=CHUNK, context=CONTEXT):
    """mix [2, N] float -> stems [4, 2, N] float64 (drums, bass, other, vocals); sums to mix."""
    N = mix.shape[1]
    X = stft_np(mix.astype(np.float64))  # [2, F, T]
    T = X.shape[-1]
    mag = np.abs(X).astype(np.float32)
    Y = np.empty((4,) + X.shape, np.complex128)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        a, b = max(0, t0 - context), min(T, t1 + context)
        inp = np.zeros((1, 2, X.shape[1], (t1 - t0) + 2 * context), np.float32)
        inp[0, :, :, context - (t0 - a):context + (t1 - t0) + (b - t1)] = mag[:, :, a:b]
        m = runner(inp)[0][..., context:context + (t1 - t0)].astype(np.float64)  # [4, 2, F, t1-t0]
        Xc = X[:, :, t0:t1]
        Yc = m * Xc[None]
        if use_wiener:
            Yc = wiener(Yc, Xc)
            Yc = Yc + m * (Xc[None] - Yc.sum(0, keepdims=True))  # residual back, in proportion to the masks
        Y[..., t0:t1] = Yc
    return istft_np(Y, N)


def separate_both(mix, runner, chunk=CHUNK, context=CONTEXT):
    """(masks only, masks + Wiener) from ONE model pass and one STFT: exactly separate(use_wiener=False) and
    separate(use_wiener=True), for evaluation at about half the CPU."""
    N = mix.shape[1]
    X = stft_np(mix.astype(np.float64))
    T = X.shape[-1]
    mag = np.abs(X).astype(np.float32)
    Y0 = np.empty((4,) + X.shape, np.complex128)
    Y1 = np.empty((4,) + X.shape, np.complex128)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        a, b = max(0, t0 - context), min(T, t1 + context)
        inp = np.zeros((1, 2, X.shape[1], (t1 - t0) + 2 * context), np.float32)
        inp[0, :, :, context - (t0 - a):context + (t1 - t0) + (b - t1)] = mag[:, :, a:b]
        m = runner(inp)[0][..., context:context + (t1 - t0)].astype(np.float64)
        Xc = X[:, :, t0:t1]
        Yc = m * Xc[None]
        Y0[..., t0:t1] = Yc
        Yw = wiener(Yc, Xc)
        Y1[..., t0:t1] = Yw + m * (Xc[None] - Yw.sum(0, keepdims=True))
    return istft_np(Y0, N), istft_np(Y1, N)


def read_audio(path):
    raw = subprocess.run(['ffmpeg', '-loglevel', 'error', '-i', path, '-f', 'f32le', '-ac', '2', '-ar', str(SR), '-'],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, np.float32).reshape(-1, 2).T.copy()


def write_audio(path, x):
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-y', '-f', 'f32le', '-ar', str(SR), '-ac', '2', '-i', '-', path],
                   input=np.ascontiguousarray(x.T.astype(np.float32)).tobytes(), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('input')
    ap.add_argument('outdir')
    ap.add_argument('--ckpt', required=True, help='torch checkpoint (the ONNX export of the same weights is equivalent)')
    ap.add_argument('--no-wiener', action='store_true')
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    mix = read_audio(args.input)
    stems = separate(mix, TorchRunner(args.ckpt), use_wiener=not args.no_wiener)
    os.makedirs(args.outdir, exist_ok=True)
    for s, y in zip(STEMS, stems):
        write_audio(os.path.join(args.outdir, s + '.flac'), y)


if __name__ == '__main__':
    main()
