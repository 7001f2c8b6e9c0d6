"""Reference outputs of separate.py for the TypeScript port's test (test/stems-model.test.ts).

  /usr/bin/python3 training/stems/reference_fixture.py [--out test/fixtures/stems/reference]

Runs separate.separate() (numpy STFT, chunking, Wiener, iSTFT) on the first 2 s of the CI fixture's mix with
the shipped ONNX model (through onnx_runner.mjs: this machine has no onnxruntime for Python), with a small
core chunk so that the reference crosses several chunk boundaries. Writes 24-bit FLAC (quantisation step
1.2e-7, far below what the test tolerates) and meta.json with the settings. Re-run after replacing the model.
"""
import argparse
import json
import os
import struct
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from separate import read_audio, separate  # noqa: E402

REPO = os.path.join(HERE, '..', '..')
SECONDS = 2.0
CHUNK = 32


class NodeOnnxRunner:
    def __init__(self, model_dir):
        self.proc = subprocess.Popen(['node', os.path.join(HERE, 'onnx_runner.mjs'), model_dir], cwd=REPO,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __call__(self, mag):
        _, c, f, t = mag.shape
        self.proc.stdin.write(struct.pack('<i', t) + np.ascontiguousarray(mag, '<f4').tobytes())
        self.proc.stdin.flush()
        n = 4 * 2 * f * t * 4
        buf = b''
        while len(buf) < n:
            part = self.proc.stdout.read(n - len(buf))
            if not part:
                raise RuntimeError('onnx_runner.mjs stopped')
            buf += part
        return np.frombuffer(buf, '<f4').reshape(1, 4, 2, f, t)

    def close(self):
        self.proc.stdin.write(struct.pack('<i', 0))
        self.proc.stdin.close()
        self.proc.wait()


def write_flac24(path, x):
    subprocess.run(['ffmpeg', '-loglevel', 'error', '-y', '-f', 'f32le', '-ar', '44100', '-ac', '2', '-i', '-',
                    '-sample_fmt', 's32', '-c:a', 'flac', '-compression_level', '12', path],
                   input=np.ascontiguousarray(x.T.astype(np.float32)).tobytes(), check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(REPO, 'test/fixtures/stems/reference'))
    ap.add_argument('--model', default=os.path.join(REPO, 'models/stems'))
    args = ap.parse_args()
    mix = read_audio(os.path.join(REPO, 'test/fixtures/stems/mix.flac'))[:, :int(SECONDS * 44100)]
    runner = NodeOnnxRunner(os.path.abspath(args.model))
    plain = separate(mix, runner, use_wiener=False, chunk=CHUNK)
    wiener = separate(mix, runner, use_wiener=True, chunk=CHUNK)
    runner.close()
    os.makedirs(args.out, exist_ok=True)
    write_flac24(os.path.join(args.out, 'vocals.flac'), plain[3])
    write_flac24(os.path.join(args.out, 'drums.flac'), plain[0])
    write_flac24(os.path.join(args.out, 'vocals-wiener.flac'), wiener[3])
    spec = json.load(open(os.path.join(args.model, 'spec.json')))
    with open(os.path.join(args.out, 'meta.json'), 'w') as f:
        json.dump({'input': 'test/fixtures/stems/mix.flac, first %d samples' % mix.shape[1], 'samples': int(mix.shape[1]),
                   'core_frames': CHUNK, 'context_frames': 80, 'model_sha256': spec['sha256'],
                   'made_by': 'training/stems/reference_fixture.py'}, f, indent=1)


if __name__ == '__main__':
    main()
