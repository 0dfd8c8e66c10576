# PyTorch's reference for edgetune's convolution and pooling variants (test/conv-torch.test.ts):
# reads a JSON list of cases on stdin, writes for each the output, the mean-squared-error loss
# against the case's target, and that loss's gradients with respect to the input and the weights,
# all in edgetune's layouts (NHWC; kernels HWIO, depthwise (KH, KW, C, M), transposed (KH, KW,
# filters, in)). Computed in float64 from the given float32 values.
import json
import sys

import torch
import torch.nn.functional as F


def tensor(values, shape):
    return torch.tensor(values, dtype=torch.float64).reshape(shape)


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def pad_lrtb(x, pads, value=0.0):
    (t, b), (l, r) = pads
    return F.pad(x, (l, r, t, b), value=value)


def crop(full, top, left, out_h, out_w):
    # Rows and columns past the full output (output padding) are zeros.
    grow_h = max(0, top + out_h - full.shape[2])
    grow_w = max(0, left + out_w - full.shape[3])
    full = F.pad(full, (0, grow_w, 0, grow_h))
    return full[:, :, top:top + out_h, left:left + out_w]


def run(case):
    x = tensor(case['x'], case['xShape']).requires_grad_(True)
    weights = [tensor(w['values'], w['shape']).requires_grad_(True) for w in case.get('weights', [])]
    kernel = weights[0] if weights else None
    bias = weights[1] if len(weights) > 1 else None
    op = case['op']
    xt = nchw(x)
    if op == 'conv2d':
        w = kernel.permute(3, 2, 0, 1)  # (F, C/groups, KH, KW)
        y = F.conv2d(pad_lrtb(xt, case['pads']), w, bias, stride=case['strides'], dilation=case['dilation'], groups=case['groups'])
    elif op == 'depthwise':
        kh, kw, c, m = kernel.shape
        w = kernel.reshape(kh, kw, c * m).permute(2, 0, 1).unsqueeze(1)  # (C*M, 1, KH, KW)
        y = F.conv2d(pad_lrtb(xt, case['pads']), w, bias, stride=case['strides'], dilation=case['dilation'], groups=c)
    elif op == 'conv_transpose':
        w = kernel.permute(3, 2, 0, 1)  # (in, filters, KH, KW)
        full = F.conv_transpose2d(xt, w, None, stride=case['strides'], dilation=case['dilation'])
        y = crop(full, case['top'], case['left'], case['outH'], case['outW'])
        if bias is not None:
            y = y + bias.reshape(1, -1, 1, 1)
    elif op == 'torch_conv_transpose':
        # PyTorch's own padding and output_padding arguments, for the layer's explicit pads.
        w = kernel.permute(3, 2, 0, 1)
        y = F.conv_transpose2d(xt, w, bias, stride=case['strides'], padding=case['padding'],
                               output_padding=case['outputPadding'], dilation=case['dilation'], groups=case.get('groups', 1))
    elif op == 'max_pool':
        y = F.max_pool2d(xt, case['kernel'], case['strides'], case['padding'], ceil_mode=case['ceilMode'])
    elif op == 'avg_pool':
        y = F.avg_pool2d(xt, case['kernel'], case['strides'], case['padding'], ceil_mode=case['ceilMode'],
                         count_include_pad=case['countIncludePad'])
    else:
        raise ValueError('unknown op ' + op)
    y = nhwc(y)
    target = tensor(case['target'], list(y.shape))
    loss = ((y - target) ** 2).mean()
    loss.backward()
    flat = lambda t: t.detach().reshape(-1).tolist()
    return {
        'y': flat(y), 'yShape': list(y.shape), 'loss': loss.item(),
        'dx': flat(x.grad), 'dw': [flat(w.grad) for w in weights],
    }


def main():
    cases = json.load(sys.stdin)
    json.dump([run(c) for c in cases], sys.stdout)


if __name__ == '__main__':
    main()
