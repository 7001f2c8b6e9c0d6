"""Export a checkpoint to ONNX, write its sha256 and the spec the TypeScript side follows.

  /usr/bin/python3 training/stems/export.py --ckpt /work/data/stems/runs/v2/best.pt --name hookwave-stems-v2

Writes models/stems/<name>.onnx, <name>.onnx.sha256 and models/stems/spec.json, plus a test vector
(/work/data/stems/export/<name>.{in,out}.f32) that training/stems/check_onnx.mjs compares with
onnxruntime-node (max abs difference of the masks must be < 1e-4).
"""
import argparse
import hashlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import FULL_BINS, BAND, HOP, IN_BINS, N_BINS, N_FFT, SR, STEMS, from_checkpoint  # noqa: E402
import separate  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--name', default='hookwave-stems-v2')
    ap.add_argument('--out', default=os.path.join(REPO, 'models', 'stems'))
    ap.add_argument('--vectors', default='/work/data/stems/export')
    ap.add_argument('--metrics', default=None, help='JSON from evaluate.py to copy into spec.json')
    ap.add_argument('--wiener', choices=['on', 'off'], default='off',
                    help='whether the engine should apply the Wiener step with this model (decide from evaluate.py: '
                         'model vs model_no_wiener)')
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(args.ckpt, map_location='cpu')
    model = from_checkpoint(ck)
    model.load_state_dict(ck['model'])
    model.eval()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.vectors, exist_ok=True)
    path = os.path.join(args.out, args.name + '.onnx')
    T = separate.CHUNK + 2 * separate.CONTEXT
    dummy = torch.rand(1, 2, N_BINS, T) * 50
    torch.onnx.export(model, dummy, path, opset_version=17, input_names=['mag'], output_names=['masks'],
                      dynamic_axes={'mag': {0: 'batch', 3: 'frames'}, 'masks': {0: 'batch', 4: 'frames'}},
                      do_constant_folding=True)
    import onnx
    onnx.checker.check_model(onnx.load(path))
    digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()
    open(path + '.sha256', 'w').write('%s  %s\n' % (digest, os.path.basename(path)))
    # test vector: a real-ish magnitude (from a validation song if present, else noise)
    rng = np.random.default_rng(0)
    try:
        import glob
        d = sorted(glob.glob('/work/data/stems/val/song*/'))[0]
        mix = sum(separate.read_audio(os.path.join(d, s + '.wav')) for s in STEMS)[:, :T * HOP]
        mag = np.abs(separate.stft_np(mix))[:, :, :T].astype(np.float32)[None]
    except Exception:
        mag = (rng.random((1, 2, N_BINS, T)) * 50).astype(np.float32)
    with torch.no_grad():
        out = model(torch.from_numpy(mag)).numpy()
    mag.tofile(os.path.join(args.vectors, args.name + '.in.f32'))
    out.astype(np.float32).tofile(os.path.join(args.vectors, args.name + '.out.f32'))
    spec = {
        'name': args.name,
        'file': os.path.basename(path),
        'sha256': digest,
        'opset': 17,
        'sample_rate': SR,
        'channels': 2,
        'mono_input': 'duplicate the channel to stereo before the STFT; average the two output channels',
        'stft': {
            'n_fft': N_FFT, 'hop': HOP,
            'window': 'hann periodic: w[n] = 0.5 - 0.5*cos(2*pi*n/n_fft), n = 0..n_fft-1',
            'center': 'zero-pad n_fft/2 = 2048 samples before and after the signal (zeros, not reflection); '
                      'frame t starts at padded sample t*hop; frames t = 0 .. floor(N/hop) (1 + N//hop frames)',
            'transform': 'X[c,f,t] = sum_n xpad[c, t*hop+n] * w[n] * exp(-2*pi*i*f*n/n_fft), f = 0..n_fft/2 '
                         '(onesided, no normalisation; audio samples are floats in [-1, 1])',
            'istft': 'per frame irfft (n_fft), times w, overlap-add at t*hop, divide by the overlap-added w^2, '
                     'drop the first n_fft/2 samples, keep N samples',
        },
        'model_input': {
            'name': 'mag', 'shape': ['batch', 2, N_BINS, 'frames'], 'dtype': 'float32',
            'meaning': '|X| of the mix, both channels, all %d bins; no log, no scaling (the network applies '
                       'log1p and its learnt per-bin affine itself; it reads only bins 0..%d = 0..16 kHz)' % (N_BINS, IN_BINS - 1),
        },
        'model_output': {
            'name': 'masks', 'shape': ['batch', 4, 2, N_BINS, 'frames'], 'dtype': 'float32',
            'stems': STEMS,
            'meaning': 'soft masks in [0,1] that sum to 1 over the stem axis; Y_j = masks[j] * X (complex X). '
                       'Predicted per bin below bin %d and per band of %d bins above (the model expands them).' % (FULL_BINS, BAND),
        },
        'chunking': {
            'core_frames': separate.CHUNK, 'context_frames': separate.CONTEXT,
            'receptive_field_frames': 78,
            'rule': 'call the model on frames [t0-context, t1+context) (zeros outside the track), keep the '
                    'output frames [t0, t1); chunks tile the track with no overlap. Because the context exceeds '
                    'the receptive field this is exactly equal to one call on the whole track (no crossfade).',
            'trained_on_frames': int(4.0 * SR) // HOP + 1,  # 4 s training excerpts
        },
        'wiener': {
            'enabled': args.wiener == 'on', 'iterations': 1,
            'note': ('enabled=true: the engine applies the step below to the masked stems; chosen on the validation '
                     'songs, where it was better for this checkpoint (the held-out set agrees: heldout_sdr_db, model '
                     'vs model_no_wiener)'
                     if args.wiener == 'on' else
                     'enabled=false: the masks alone (Y_j = m_j * X, which already sum to X) are the output; '
                     'the validation songs measured the Wiener step as worse for this checkpoint'),
            'scope': 'causal: the statistics at frame t are exponentially weighted sums over frames 0..t, carried '
                     'from chunk to chunk, so chunking does not change the result',
            'decay': separate.WIENER_DECAY,
            'time_constant_seconds': separate.WIENER_SECONDS,
            'algorithm': [
                'Y_j = m_j * X (complex, per channel); v_j[f,t] = mean_c |Y_j[c,f,t]|^2',
                'S_j[f,t] = Y_j[:,f,t] Y_j[:,f,t]^H + decay * S_j[f,t-1];  N_j[f,t] = v_j[f,t] + decay * N_j[f,t-1]'
                '   (S_j = 0, N_j = 0 before the first frame)',
                'R_j[f,t] = S_j[f,t] / (N_j[f,t] + eps)   (2x2 Hermitian)',
                'R_j[f,t] += diag_load * (trace(R_j[f,t]) / 2) * I',
                'Cxx[f,t] = sum_j v_j[f,t] R_j[f,t] + eps * I',
                'Y_j[:,f,t] = v_j[f,t] * R_j[f,t] * inverse(Cxx[f,t]) * X[:,f,t]   (closed-form 2x2 inverse)',
                'Y_j += m_j * (X - sum_k Y_k)   (so the stems add up to the mix exactly)',
            ],
            'eps': separate.WIENER_EPS, 'diag_load': separate.WIENER_DIAG,
        },
        'stems_sum_to_mix': True,
        'instrumental': 'mix - vocals',
        'reference_implementation': 'training/stems/separate.py',
    }
    if args.metrics:
        spec['heldout_sdr_db'] = json.load(open(args.metrics))
    json.dump(spec, open(os.path.join(args.out, 'spec.json'), 'w'), indent=1)
    print(path, os.path.getsize(path), digest)


if __name__ == '__main__':
    main()
