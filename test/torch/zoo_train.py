"""One fine-tuning step of a torchvision CNN in PyTorch autograd: the reference of test/zoo-train.test.ts.

usage: zoo_train.py OUT_DIR NAME=PREFIX,PREFIX,... ...

Per model NAME (built and given BatchNorm statistics by export.py, then BatchNorm momentum 0.1, PyTorch's
default), it writes in OUT_DIR:
  NAME.onnx   torch.onnx.export, opset 13, dynamic batch, eval mode, with TrainingMode.PRESERVE: the zoo's
              default export (TrainingMode.EVAL) folds every BatchNormalization into its convolution,
              which leaves nothing to train in batch-statistics mode; PRESERVE keeps them as nodes.
  NAME.bin    float32 little-endian tensors, indexed by NAME.json
  NAME.json   the input, labels, loss, the trainable ONNX nodes and the tensors' offsets
The modules whose names start with a PREFIX are fine-tuned: their parameters train and their BatchNorms run
in training mode (batch statistics); every other module is frozen: no gradient, BatchNorm in eval mode, as
Keras runs a BatchNormalization whose layer is not trainable. Dropout and StochasticDepth stay in eval mode
(the eval-mode export holds no Dropout node). One step: cross-entropy on the logits, plain SGD (lr 0.1, no
momentum), computed in float64 from the exported float32 weights.

PyTorch updates running_var with the unbiased batch variance (n / (n - 1)); ONNX's BatchNormalization and
Keras use the biased one. Besides PyTorch's own running_var the file has `running_var_biased`, PyTorch's
update with that factor undone, which is what an ONNX or Keras runtime computes.
"""
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import build, randomise_batch_norm  # noqa: E402

SIZE = 64
BATCH = 2
LR = 0.1
LABELS = [3, 917]


def is_norm(m):
    return isinstance(m, torch.nn.modules.batchnorm._BatchNorm)


def trains(name, prefixes):
    return any(name == p or name.startswith(p + '.') for p in prefixes)


class Blob:
    def __init__(self):
        self.parts, self.index, self.offset = [], {}, 0

    def add(self, key, t):
        a = np.ascontiguousarray(t.detach().cpu().numpy() if torch.is_tensor(t) else t, dtype='<f4')
        self.index[key] = {'shape': list(a.shape), 'offset': self.offset}
        self.parts.append(a.tobytes())
        self.offset += a.size


def export_model(model, path):
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, opset_version=13,
                      input_names=['input'], output_names=['output'],
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}},
                      training=torch.onnx.TrainingMode.PRESERVE)


# The ONNX nodes holding a trainable parameter, with their initializers (PyTorch's parameter and buffer
# names: the eval-mode export without folding keeps them).
def trainable_nodes(path, trainable):
    import onnx
    nodes = []
    for n in onnx.load(path).graph.node:
        if n.op_type in ('Conv', 'Gemm', 'BatchNormalization') and any(i in trainable for i in n.input):
            nodes.append({'node': n.name, 'op': n.op_type, 'inputs': list(n.input[1:])})
    return nodes


# Trains the modules under the prefixes (BatchNorm in training mode), freezes the rest (eval mode,
# no gradient); returns the trained parameters and BatchNorms by name.
def fine_tune_mode(model, prefixes):
    model.eval()
    norms = {n: m for n, m in model.named_modules() if is_norm(m) and trains(n, prefixes)}
    for m in norms.values():
        m.train()
    for n, p in model.named_parameters():
        p.requires_grad_(trains(n, prefixes))
    return {n: p for n, p in model.named_parameters() if p.requires_grad}, norms


def gradients(model, prefixes, x):
    trainable, _ = fine_tune_mode(model, prefixes)
    F.cross_entropy(model(x), torch.tensor(LABELS)).backward()
    return {n: p.grad for n, p in trainable.items()}


def run(out_dir, name, prefixes):
    model = build(name)
    randomise_batch_norm(model, SIZE)
    for m in model.modules():
        if is_norm(m):
            m.momentum = 0.1  # export.py leaves None (a cumulative average), which exports momentum 1
    path = f'{out_dir}/{name}.onnx'
    export_model(model, path)

    reference = copy.deepcopy(model)  # float32: its gradients measure float32's own rounding
    trainable, norms = fine_tune_mode(model.double(), prefixes)
    if not trainable or not norms:
        raise SystemExit(f'{name}: no trainable parameter or BatchNorm under {prefixes}')

    blob = Blob()
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(BATCH, 3, SIZE, SIZE, generator=g) * 2 - 1)
    blob.add('x', x)
    for n, p in trainable.items():
        blob.add(f'{n}:before', p)
    counts, var_before = {}, {}
    for n, m in norms.items():
        var_before[n] = m.running_var.detach().numpy().copy()
        blob.add(f'{n}.running_mean:before', m.running_mean)
        blob.add(f'{n}.running_var:before', m.running_var)
        m.register_forward_pre_hook(lambda mod, inp, n=n: counts.__setitem__(n, inp[0].numel() // inp[0].shape[1]))

    opt = torch.optim.SGD(list(trainable.values()), lr=LR, momentum=0)
    opt.zero_grad()
    loss = F.cross_entropy(model(x.double()), torch.tensor(LABELS))
    loss.backward()
    for n, p in trainable.items():
        blob.add(f'{n}:grad', p.grad)
    for n, grad in gradients(reference, prefixes, x).items():
        blob.add(f'{n}:grad32', grad)
    opt.step()
    for n, p in trainable.items():
        blob.add(f'{n}:after', p)
    for n, m in norms.items():
        k = 1 - m.momentum
        unbiased_part = m.running_var.detach().numpy() - k * var_before[n]
        blob.add(f'{n}.running_mean:after', m.running_mean)
        blob.add(f'{n}.running_var:after', m.running_var)
        blob.add(f'{n}.running_var_biased:after', k * var_before[n] + unbiased_part * (counts[n] - 1) / counts[n])

    with open(f'{out_dir}/{name}.bin', 'wb') as f:
        f.write(b''.join(blob.parts))
    meta = {'name': name, 'labels': LABELS, 'lr': LR, 'loss': loss.item(), 'prefixes': prefixes,
            'trainableParams': sum(p.numel() for p in trainable.values()),
            'norms': {n: counts[n] for n in norms}, 'nodes': trainable_nodes(path, trainable), 'tensors': blob.index}
    with open(f'{out_dir}/{name}.json', 'w') as f:
        json.dump(meta, f)


def main():
    out_dir, specs = sys.argv[1], sys.argv[2:]
    torch.set_num_threads(1)
    for spec in specs:
        name, _, prefixes = spec.partition('=')
        run(out_dir, name, prefixes.split(','))


if __name__ == '__main__':
    main()
