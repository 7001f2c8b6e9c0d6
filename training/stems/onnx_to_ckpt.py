"""Recover a training checkpoint from an exported model (for warm starts when the .pt files are gone).

  /usr/bin/python3 training/stems/onnx_to_ckpt.py models/stems/hookwave-stems-v2.onnx /work/data/stems/runs/v2_from_onnx.pt

(hookwave-stems-v1, recovered this way from git history, re-exports to the identical file: same sha256.)

export.py keeps the BatchNormalization nodes (no fusing: the Linear layers sit before a reshape), so every
parameter and running statistic is stored as is (the detail path's convolutions too: it has no batch norm to
fuse). Named initializers map by name; the Linear weights of
fc1, blocks.*.lin and fc2 are exported transposed as anonymous MatMul operands, which map by the order of
their MatMul nodes in the graph (the forward order fc1, blocks.0..9, fc2). The result is verified by
exporting it again and comparing every initializer.
"""
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import N_BINS, StemsNet  # noqa: E402


def initializers(path):
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    matmul = [n.input[1] for n in m.graph.node if n.op_type == 'MatMul' and n.input[1] in init]
    return init, matmul


def main():
    src, dst = sys.argv[1], sys.argv[2]
    init, matmul = initializers(src)
    hidden = init['bn1.weight'].shape[0]
    detail = init['detail.net.0.weight'].shape[0] if 'detail.net.0.weight' in init else 0  # v6 on: conv detail path
    low = init['low.net.0.weight'].shape[0] if 'low.net.0.weight' in init else 0  # v19 on: low-register path
    model = StemsNet(hidden=hidden, detail=detail, low=low)
    sd = model.state_dict()
    linear = ['fc1.weight'] + ['blocks.%d.lin.weight' % i for i in range(len(model.blocks))] + ['fc2.weight']
    if len(matmul) != len(linear):
        raise SystemExit('expected %d MatMul weights, found %d' % (len(linear), len(matmul)))
    new = {}
    for k, v in sd.items():
        if k.endswith('num_batches_tracked'):
            new[k] = v
        elif k in linear:
            w = init[matmul[linear.index(k)]].T
            assert w.shape == tuple(v.shape), (k, w.shape, v.shape)
            new[k] = torch.from_numpy(np.ascontiguousarray(w))
        else:
            w = init[k]
            assert w.shape == tuple(v.shape), (k, w.shape, v.shape)
            new[k] = torch.from_numpy(w.copy())
    model.load_state_dict(new)
    model.eval()
    # verify: export again, every initializer must come back identical
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, 'x.onnx')
        torch.onnx.export(model, torch.rand(1, 2, N_BINS, 200) * 50, p, opset_version=17, input_names=['mag'],
                          output_names=['masks'], dynamic_axes={'mag': {0: 'batch', 3: 'frames'},
                                                                 'masks': {0: 'batch', 4: 'frames'}},
                          do_constant_folding=True)
        init2, matmul2 = initializers(p)
    named = [k for k in init if k not in matmul]
    diff = max(float(np.abs(init[k] - init2[k]).max()) for k in named)
    diff = max(diff, max(float(np.abs(init[a] - init2[b]).max()) for a, b in zip(matmul, matmul2)))
    if diff != 0:
        raise SystemExit('re-export differs from %s: max abs %g' % (src, diff))
    torch.save({'model': model.state_dict(), 'hidden': hidden, 'detail': detail, 'low': low, 'step': 'from ' + os.path.basename(src)}, dst)
    print('%s -> %s: %d tensors, re-export identical' % (src, dst, len(new)))


if __name__ == '__main__':
    main()
