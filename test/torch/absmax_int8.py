# Keras 3's int8 layer with the absmax activation quantizer (Dense._int8_call with
# AbsMaxQuantizer(axis=-1)), written in numpy for test/int8-absmax.test.ts: float32 arithmetic
# (IEEE), np.round (half to even), the integer product exact in int64. A conv2d is the same
# product on its im2col rows (each output position's kh*kw*cin patch, zeros where padded).
# stdin: a JSON list of cases; stdout: a JSON list of the outputs, flattened, as float32 values.
import json
import sys

import numpy as np

F = np.float32


def absmax_int8(a, q, ks, b, act):
    amax = np.max(np.abs(a), axis=-1, keepdims=True)
    xs = F(127) / (amax + F(1e-7))
    xq = np.clip(np.round(a * xs), -127, 127).astype(np.int64)
    acc = xq @ q.astype(np.int64)
    assert np.abs(acc).max(initial=0) < 2**31
    y = acc.astype(F) / (xs * ks[None, :])
    if b is not None:
        y = y + b[None, :]
    if act == 'relu':
        y = np.maximum(y, F(0))
    elif act == 'relu6':
        y = np.minimum(np.maximum(y, F(0)), F(6))
    assert y.dtype == F
    return y


def patches(x, kh, kw, sh, sw, padding):
    n, h, w, c = x.shape
    if padding == 'same':
        oh, ow = -(-h // sh), -(-w // sw)
        ph, pw = max((oh - 1) * sh + kh - h, 0), max((ow - 1) * sw + kw - w, 0)
        x = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
    else:
        oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    rows = np.empty((n, oh, ow, kh * kw * c), F)
    for i in range(oh):
        for j in range(ow):
            rows[:, i, j, :] = x[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :].reshape(n, -1)
    return rows.reshape(-1, kh * kw * c), (n, oh, ow)


out = []
for case in json.load(sys.stdin):
    x = np.array(case['x'], F).reshape(case['xShape'])
    q = np.array(case['q'], np.int64)
    ks = np.array(case['ks'], F)
    b = None if case['b'] is None else np.array(case['b'], F)
    n = ks.shape[0]
    if case['kind'] == 'dense':
        y = absmax_int8(x.reshape(-1, x.shape[-1]), q.reshape(-1, n), ks, b, case['act'])
    else:
        rows, _ = patches(x, case['kh'], case['kw'], case['sh'], case['sw'], case['padding'])
        y = absmax_int8(rows, q.reshape(-1, n), ks, b, case['act'])
    out.append([float(v) for v in y.reshape(-1)])
json.dump(out, sys.stdout)
