"""hookwave stems model: one Open-Unmix-like network that predicts four soft masks at once.

Input : mix magnitude  [batch, 2, 2049, frames]   (|STFT|, n_fft 4096, hop 1024, periodic Hann, no scaling)
Output: masks          [batch, 4, 2, 2049, frames] (stems drums, bass, other, vocals; softmax over stems,
                                                     so the four masks sum to 1 in every bin)

Design (after reading Open-Unmix, Spleeter and Demucs; no code copied):
  * like Open-Unmix: magnitude STFT 4096/1024, input band-limited to 16 kHz (1487 bins) for the encoder,
    a learnt per-bin input affine, a dense bottleneck over (channels x bins), a bidirectional LSTM over
    time, a skip connection around it, and a dense decoder back to all 2049 bins per channel;
  * unlike Open-Unmix (one network per target), one shared trunk and a softmax across the four stems
    (Spleeter-style ratio masks), so stems add back up to the mix by construction and one forward pass
    serves all four stems (a quarter of the compute, which is what lets it run >10x realtime on one core);
  * log1p compression of the magnitude before the affine, so the network sees a level-robust input;
  * (v6) a small convolutional detail path over each bin's time-frequency neighbourhood, added to the mask
    logits (Detail below): the per-bin, HPSS-like cue that a dense bottleneck per frame cannot carry.
The STFT/iSTFT and the multichannel Wiener filter are outside the network (done in numpy/TypeScript).
"""
import torch
import torch.nn as nn

N_FFT = 4096
HOP = 1024
N_BINS = N_FFT // 2 + 1  # 2049
SR = 44100
IN_BINS = 1487  # bins 0..1486 = 0..16 kHz (bin k is k*44100/4096 Hz)
STEMS = ['drums', 'bass', 'other', 'vocals']


FULL_BINS = 768  # masks are predicted per bin below 8.3 kHz ...
BAND = 16  # ... and per band of 16 bins above (masks there are smooth; halves the output layer)


def out_index(n_bins=N_BINS, full=FULL_BINS, band=BAND, top=IN_BINS):
    """Map from the 2049 output bins to the predicted mask rows: one row per bin below `full`, one row per
    band of `band` bins up to `top` (16 kHz), and bins from `top` up use the last band's row (the renders have
    next to no energy there, so the model is neither fed nor trained above 16 kHz)."""
    n_rows = full + (top - full + band - 1) // band
    idx = [k if k < full else min(full + (k - full) // band, n_rows - 1) for k in range(n_bins)]
    return torch.tensor(idx, dtype=torch.long), n_rows


class Block(nn.Module):
    """Residual dilated temporal convolution, kernel 3 (frames t-d, t, t+d; zeros beyond the ends), written
    as one matrix product over the three shifted copies (much faster on CPU than conv1d's backward).
    x: [B, T, H]."""

    def __init__(self, hidden, dilation):
        super().__init__()
        self.d = dilation
        self.lin = nn.Linear(3 * hidden, hidden, bias=False)
        self.bn = nn.BatchNorm1d(hidden)

    def forward(self, x):
        B, T, H = x.shape
        d = self.d
        p = torch.nn.functional.pad(x, (0, 0, d, d))  # [B, T+2d, H]
        z = torch.cat([p[:, 0:T], x, p[:, 2 * d:2 * d + T]], -1)
        y = self.lin(z).reshape(B * T, H)
        return x + torch.relu(self.bn(y)).reshape(B, T, H)


class Detail(nn.Module):
    """A small convolutional path over the (rows x frames) plane of the normalised log-magnitude, whose output is
    added to the trunk's mask logits. The trunk squeezes each frame through 256 numbers, so its logits can only
    follow the spectrum's coarse shape; this path sees each bin's neighbourhood (a 5x5 patch, then +-12 frames
    along time and +-12 rows along frequency), i.e. whether the bin lies on a horizontal ridge (a sustained
    partial: bass, other, vocals) or a vertical one (a hit: drums) - what harmonic/percussive separation uses.
    No batch norm, so the ONNX export keeps every weight under its own name (onnx_to_ckpt.py maps it back).
    Its last layer starts at zero: added to a trained trunk, the model starts out as the trunk alone."""

    def __init__(self, width, channels=2, n_stems=4, reach=()):
        # reach: dilations of further 7x1 layers along frequency (Low's harmonic reach); none for Detail itself
        super().__init__()
        layers = [nn.Conv2d(channels, width, (5, 5), padding=(2, 2)), nn.ReLU(),
                  nn.Conv2d(width, width, (1, 7), dilation=(1, 2), padding=(0, 6)), nn.ReLU(),
                  nn.Conv2d(width, width, (7, 1), dilation=(2, 1), padding=(6, 0)), nn.ReLU()]
        for d in reach:
            layers += [nn.Conv2d(width, width, (7, 1), dilation=(d, 1), padding=(3 * d, 0)), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Conv2d(width, n_stems * channels, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.net.to(memory_format=torch.channels_last)

    def forward(self, x):
        # x: [B, C, rows, T] -> logits [B, S*C, rows, T]. Channels-last: torch 1.13's CPU convolutions with a
        # handful of channels train about twice as fast that way (the ONNX graph is the same)
        return self.net(x.contiguous(memory_format=torch.channels_last))


LOW_ROWS = 256  # the low-register path (Low) covers rows 0-255: bins 0-255, 0-2.76 kHz


class Low(Detail):
    """(v19) A wider convolutional path over the low register only (rows 0-255, 0-2.76 kHz), added to the mask
    logits there like Detail. Where the held-out bass is lost, it goes to `other` (diagnose.py, v18): telling a
    bass line from a low chord or a tom is a matter of the local pattern - a fundamental with its harmonic ladder
    above it, how a note starts and decays - which Detail's 6 channels and the trunk's 256 numbers per frame
    carry only coarsely. Its filters are shared across pitch (a convolution along frequency), so what it learns on
    one bass timbre and register applies to others. Detail's layers, wider, plus one more along frequency reaching
    +-36 rows (dilation 6: harmonics 4-12 bins apart, the spacing of 40-130 Hz fundamentals); its last layer starts
    at zero too, so added to a trained model the model starts out unchanged."""

    def __init__(self, width, channels=2, n_stems=4):
        super().__init__(width, channels, n_stems, reach=(6,))

    def forward(self, x):
        # x: [B, C, rows, T] -> logits for rows 0..LOW_ROWS-1 [B, S*C, LOW_ROWS, T]
        return super().forward(x[:, :, :LOW_ROWS])


def rows_mean(x, full=FULL_BINS, band=BAND):
    """[..., F, T] (F = IN_BINS) -> [..., rows, T]: bins below `full` as they are, the mean of each band above
    (band_sum / band: the last band's padding counts as zeros)"""
    s = band_sum(x, full, band)
    return torch.cat([s[..., :full, :], s[..., full:, :] / band], -2)


class StemsNet(nn.Module):
    def __init__(self, hidden=256, dilations=(1, 2, 4, 8, 16, 32, 1, 2, 4, 8), in_bins=IN_BINS, n_bins=N_BINS,
                 channels=2, n_stems=4, detail=0, low=0):
        super().__init__()
        self.in_bins, self.n_bins, self.channels, self.n_stems = in_bins, n_bins, channels, n_stems
        self.detail = Detail(detail, channels, n_stems) if detail else None
        self.low = Low(low, channels, n_stems) if low else None
        idx, n_rows = out_index(n_bins)
        self.register_buffer('out_idx', idx, persistent=False)
        self.n_rows = n_rows
        self.input_mean = nn.Parameter(torch.zeros(channels * in_bins, 1))
        self.input_scale = nn.Parameter(torch.ones(channels * in_bins, 1))
        self.fc1 = nn.Linear(channels * in_bins, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.blocks = nn.Sequential(*[Block(hidden, d) for d in dilations])
        self.fc2 = nn.Linear(2 * hidden, hidden, bias=False)
        self.bn2 = nn.BatchNorm1d(hidden)
        self.fc3 = nn.Linear(hidden, n_stems * channels * n_rows)

    def forward(self, mag):
        # mag: [B, C, F, T] -> masks [B, S, C, F, T]
        return torch.index_select(self.forward_rows(mag), 3, self.out_idx)

    def forward_rows(self, mag):
        """masks at the predicted resolution [B, S, C, rows, T] (rows = 768 bins + 45 bands)"""
        return self.forward_btscr(mag).permute(0, 2, 3, 4, 1)

    def forward_btscr(self, mag):
        """masks at the predicted resolution in the network's own layout [B, T, S, C, rows] (training uses
        this directly: no permuted copy)"""
        B, C, F, T = mag.shape
        x = torch.log1p(mag[:, :, :self.in_bins, :])
        x = x.reshape(B, C * self.in_bins, T)
        x = (x + self.input_mean) * self.input_scale  # [B, C*Fin, T]
        h = self.fc1(x.transpose(1, 2))
        H = h.shape[-1]
        h = torch.tanh(self.bn1(h.reshape(B * T, H))).reshape(B, T, H)
        l = self.blocks(h)
        y = self.fc2(torch.cat([h, l], -1)).reshape(B * T, H)
        y = torch.relu(self.bn2(y))
        y = self.fc3(y).reshape(B, T, self.n_stems, C, self.n_rows)
        if self.detail is not None or self.low is not None:
            r = rows_mean(x.reshape(B, C, self.in_bins, T))
        if self.detail is not None:
            d = self.detail(r)
            y = y + d.reshape(B, self.n_stems, C, self.n_rows, T).permute(0, 4, 1, 2, 3)
        if self.low is not None:
            d = torch.nn.functional.pad(self.low(r), (0, 0, 0, self.n_rows - LOW_ROWS))
            y = y + d.reshape(B, self.n_stems, C, self.n_rows, T).permute(0, 4, 1, 2, 3)
        return torch.softmax(y, dim=2)


def batch_norms(net):
    """the network's batch-norm layers, in module order (recalibrate.py, train.py --freeze-bn)"""
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def from_checkpoint(ck):
    """the network a checkpoint's weights belong to (v1-v5: no detail path; v1-v18: no low-register path)"""
    return StemsNet(hidden=ck.get('hidden', 256), detail=ck.get('detail', 0), low=ck.get('low', 0))


def band_sum(x, full=FULL_BINS, band=BAND):
    """Sum [..., F, T] (F = IN_BINS) over each output row's bins -> [..., rows, T]."""
    F = x.shape[-2]
    hi = x[..., full:, :]
    n = (F - full + band - 1) // band
    pad = n * band - (F - full)
    if pad:
        hi = torch.cat([hi, hi.new_zeros(hi.shape[:-2] + (pad, hi.shape[-1]))], -2)
    hi = hi.reshape(hi.shape[:-2] + (n, band, hi.shape[-1])).sum(-2)
    return torch.cat([x[..., :full, :], hi], -2)


def stft(x, n_fft=N_FFT, hop=HOP):
    """x: [..., samples] float tensor -> complex [..., bins, frames]; centre=True with zero padding of
    n_fft/2 on both sides (the reflect padding of torch's default is NOT used, to make the TS side simple)."""
    win = torch.hann_window(n_fft, periodic=True, dtype=x.dtype)
    shp = x.shape
    X = torch.stft(x.reshape(-1, shp[-1]), n_fft, hop, window=win, center=True, pad_mode='constant',
                   return_complex=True)
    return X.reshape(shp[:-1] + X.shape[-2:])


def istft(X, length, n_fft=N_FFT, hop=HOP):
    win = torch.hann_window(n_fft, periodic=True, dtype=torch.float32)
    shp = X.shape
    x = torch.istft(X.reshape((-1,) + shp[-2:]), n_fft, hop, window=win, center=True, length=length)
    return x.reshape(shp[:-2] + (length,))
