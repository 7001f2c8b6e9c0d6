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
 5. optional multichannel Wiener filter, one EM iteration, whose statistics at frame t are exponentially
    weighted sums over frames 0..t (time constant WIENER_SECONDS, causal, carried from chunk to chunk, so
    the chunk size does not change the result), then the residual X - sum_j Y_j is given back to the stems
    in proportion to the masks, so the stems add up to the mix exactly;
 6. inverse STFT per stem: irfft of each frame, times the window, overlap-added, divided by the overlap-
    added squared window, the first 2048 samples dropped, N samples kept.
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
from scipy.signal import lfilter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import HOP, N_FFT, SR, STEMS  # noqa: E402

CHUNK = 512  # core frames per model call (~11.9 s)
CONTEXT = 80  # frames of context on each side (receptive field is 78)
WIENER_DIAG = 1e-3  # R_j += WIENER_DIAG * trace(R_j)/2 * I
WIENER_EPS = 1e-10  # absolute floor
# Time constant of the Wiener statistics. On the validation songs (v6, first 40 s) 10 s and 30 s were as good as
# statistics over whole 12 s chunks and 1-3 s were worse; shorter also follows changes of arrangement sooner.
WIENER_SECONDS = 10.0
WIENER_DECAY = float(np.exp(-HOP / (SR * WIENER_SECONDS)))  # per frame


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


def wiener(Y, X, state=None, decay=WIENER_DECAY):
    """One EM iteration of the multichannel Wiener filter (norbert-style) on a run of consecutive frames.
    Y [S, 2, F, T] complex initial estimates (masks * X), X [2, F, T]. Each source's spatial covariance at
    frame t is R_j = sum_{u<=t} decay^(t-u) y y^H / sum_{u<=t} decay^(t-u) v: the sums are carried in `state`
    (None at the track's start). Returns ([S, 2, F, T], state for the next frames)."""
    v = np.mean(np.abs(Y) ** 2, axis=1)  # [S, F, T]
    y0, y1 = Y[:, 0], Y[:, 1]
    terms = np.stack([np.abs(y0) ** 2, np.abs(y1) ** 2, y0 * np.conj(y1), v]).astype(np.complex128)  # [4, S, F, T]
    if state is None:
        state = np.zeros(terms.shape[:-1] + (1,), np.complex128)
    sums, state = lfilter([1.0], [1.0, -decay], terms, axis=-1, zi=state)  # s[t] = terms[t] + decay s[t-1]
    den = sums[3].real + WIENER_EPS
    r00, r11, r01 = sums[0].real / den, sums[1].real / den, sums[2] / den  # [S, F, T]
    load = WIENER_DIAG * (r00 + r11) / 2
    r00, r11 = r00 + load, r11 + load
    # Cxx = sum_j v_j R_j + eps I, then z = Cxx^-1 x (closed-form 2x2)
    a = np.sum(v * r00, 0) + WIENER_EPS
    d = np.sum(v * r11, 0) + WIENER_EPS
    b = np.sum(v * r01, 0)
    det = a * d - (b * np.conj(b)).real
    x0, x1 = X[0], X[1]
    z0 = (d * x0 - b * x1) / det
    z1 = (-np.conj(b) * x0 + a * x1) / det
    out = np.empty_like(Y)
    out[:, 0] = v * (r00 * z0 + r01 * z1)
    out[:, 1] = v * (np.conj(r01) * z0 + r11 * z1)
    return out, state


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


def chunk_masks(X, runner, chunk=CHUNK, context=CONTEXT):
    """The model over the STFT X [2, F, T] in chunks: yields (t0, t1, masks [4, 2, F, t1-t0] float64) for the
    core frames [t0, t1) of each chunk, in order."""
    T = X.shape[-1]
    mag = np.abs(X).astype(np.float32)
    for t0 in range(0, T, chunk):
        t1 = min(T, t0 + chunk)
        a, b = max(0, t0 - context), min(T, t1 + context)
        inp = np.zeros((1, 2, X.shape[1], (t1 - t0) + 2 * context), np.float32)
        inp[0, :, :, context - (t0 - a):context + (t1 - t0) + (b - t1)] = mag[:, :, a:b]
        yield t0, t1, runner(inp)[0][..., context:context + (t1 - t0)].astype(np.float64)


def wiener_stems(m, Xc, state):
    """The Wiener step on masked stems m * Xc, with the residual given back in proportion to the masks so
    the stems add up to the mix. Returns (stems [4, 2, F, T], state for the next frames)."""
    Yw, state = wiener(m * Xc[None], Xc, state)
    return Yw + m * (Xc[None] - Yw.sum(0, keepdims=True)), state


def separate(mix, runner, use_wiener=True, chunk=CHUNK, context=CONTEXT):
    """mix [2, N] float -> stems [4, 2, N] float64 (drums, bass, other, vocals); sums to mix."""
    N = mix.shape[1]
    X = stft_np(mix.astype(np.float64))  # [2, F, T]
    Y = np.empty((4,) + X.shape, np.complex128)
    state = None
    for t0, t1, m in chunk_masks(X, runner, chunk, context):
        Xc = X[:, :, t0:t1]
        if use_wiener:
            Y[..., t0:t1], state = wiener_stems(m, Xc, state)
        else:
            Y[..., t0:t1] = m * Xc[None]
    return istft_np(Y, N)


def separate_both(mix, runner, chunk=CHUNK, context=CONTEXT):
    """(masks only, masks + Wiener) from ONE model pass and one STFT: exactly separate(use_wiener=False) and
    separate(use_wiener=True), for evaluation at about half the CPU."""
    N = mix.shape[1]
    X = stft_np(mix.astype(np.float64))
    Y0 = np.empty((4,) + X.shape, np.complex128)
    Y1 = np.empty((4,) + X.shape, np.complex128)
    state = None
    for t0, t1, m in chunk_masks(X, runner, chunk, context):
        Xc = X[:, :, t0:t1]
        Y0[..., t0:t1] = m * Xc[None]
        Y1[..., t0:t1], state = wiener_stems(m, Xc, state)
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
