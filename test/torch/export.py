"""Exports torchvision CNNs with PyTorch's own ONNX exporter, as a user would, and records PyTorch's
outputs for fixed inputs: the references of test/zoo-torchvision.test.ts and scripts/zoo.mjs.

usage: export.py OUT_DIR NAME[:SIZE] ...

Per model NAME it writes, in OUT_DIR:
  NAME.onnx               opset 13, dynamic batch axis, random weights (seed 0)
  NAME.x1.bin, NAME.x2.bin  the inputs at batch 1 and 2 (float32 NCHW, little-endian)
  NAME.y1.bin, NAME.y2.bin  PyTorch's outputs for them (float32)
  NAME.json               input and output shapes, export time in seconds
BatchNorm statistics are not left at their initial values (mean 0, variance 1, gamma 1, beta 0,
which hide a mis-folded mean or variance): running statistics come from train-mode passes over
random data, after gamma and beta are randomised.
"""
import json
import sys
import time

import torch
import torchvision


def build(name):
    torch.manual_seed(0)
    kwargs = {'aux_logits': False, 'init_weights': True} if name in ('googlenet', 'inception_v3') else {}
    return getattr(torchvision.models, name)(weights=None, **kwargs)


def randomise_batch_norm(model, size):
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in norms:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.2)
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the passes below
        model.train()
        for _ in range(2):
            model(torch.rand(4, 3, size, size, generator=g) * 2 - 1)
    model.eval()
    return len(norms)


def export(out_dir, name, size):
    start = time.perf_counter()
    model = build(name)
    norms = randomise_batch_norm(model, size)
    g = torch.Generator().manual_seed(2)
    xs = {n: torch.rand(n, 3, size, size, generator=g) * 2 - 1 for n in (1, 2)}
    torch.onnx.export(model, xs[1], f'{out_dir}/{name}.onnx', opset_version=13,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}})
    with torch.no_grad():
        ys = {n: model(x) for n, x in xs.items()}
    for n in (1, 2):
        xs[n].numpy().astype('<f4').tofile(f'{out_dir}/{name}.x{n}.bin')
        ys[n].numpy().astype('<f4').tofile(f'{out_dir}/{name}.y{n}.bin')
    meta = {'name': name, 'inputShape': [3, size, size], 'outputShape': list(ys[1].shape[1:]),
            'batchNorms': norms, 'parameters': sum(p.numel() for p in model.parameters()),
            'exportSeconds': round(time.perf_counter() - start, 2)}
    with open(f'{out_dir}/{name}.json', 'w') as f:
        json.dump(meta, f)


def main():
    out_dir, specs = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(1)
    for spec in specs:
        name, _, size = spec.partition(':')
        export(out_dir, name, int(size or 64))


if __name__ == '__main__':
    main()
