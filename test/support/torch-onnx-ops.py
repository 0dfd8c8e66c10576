# Small PyTorch modules, one or a few ONNX ops each, exported by PyTorch's own exporter
# (torch.onnx.export, dynamic batch) and run by PyTorch at batch 1 and 2: the ONNX importer's
# per-op references (test/onnx-torch-ops.test.ts). Usage: torch-onnx-ops.py OUT_DIR
# Writes OUT_DIR/<case>.onnx, <case>.b<batch>.in<i>.bin / .out<i>.bin (float32 LE) and manifest.json.
import json, os, sys, warnings
import torch
import torch.nn as nn
import torch.nn.functional as F

warnings.filterwarnings('ignore')
out_dir = sys.argv[1]
torch.manual_seed(0)


class Fn(nn.Module):
    def __init__(self, f, *mods):
        super().__init__()
        self.mods = nn.ModuleList(mods)
        self.f = f

    def forward(self, *x):
        return self.f(self.mods, *x)


def conv(cin, cout, k=3, **kw):
    return nn.Conv2d(cin, cout, k, padding=k // 2, **kw)


def bn(c):
    b = nn.BatchNorm2d(c)
    b.running_mean.uniform_(-0.5, 0.5)
    b.running_var.uniform_(0.5, 1.5)
    b.weight.data.uniform_(0.5, 1.5)
    b.bias.data.uniform_(-0.2, 0.2)
    return b


class Shuffle(nn.Module):  # torchvision's ShuffleNetV2 stride-1 unit
    def __init__(self, c):
        super().__init__()
        h = c // 2
        self.branch = nn.Sequential(nn.Conv2d(h, h, 1), bn(h), nn.ReLU(), nn.Conv2d(h, h, 3, padding=1, groups=h), bn(h), nn.Conv2d(h, h, 1), nn.ReLU())

    def forward(self, x):
        a, b = x.chunk(2, dim=1)
        y = torch.cat((a, self.branch(b)), dim=1)
        n, c, hh, ww = y.size()
        y = y.view(n, 2, c // 2, hh, ww).transpose(1, 2).contiguous()
        return y.view(n, -1, hh, ww)


class SE(nn.Module):  # torchvision's SqueezeExcitation
    def __init__(self, c, s):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, s, 1), nn.Conv2d(s, c, 1)

    def forward(self, x):
        w = F.adaptive_avg_pool2d(x, 1)
        return x * torch.sigmoid(self.fc2(F.relu(self.fc1(w))))


IMG = [4, 8, 8]
CASES = {
    # name: (module, per-sample input shapes, opset, needs)
    'relu6': (nn.Sequential(conv(4, 6), nn.ReLU6()), [IMG], 13, []),
    'clip': (Fn(lambda m, x: torch.clamp(m[0](x), -0.5, 0.7), conv(4, 4)), [IMG], 13, ['clip']),
    'clip_opset9': (Fn(lambda m, x: torch.clamp(x, -0.5, 0.7)), [IMG], 9, ['clip']),
    'hardsigmoid_hardswish': (nn.Sequential(conv(4, 4), nn.Hardswish(), conv(4, 4), nn.Hardsigmoid()), [IMG], 13, []),
    'activations': (Fn(lambda m, x: F.leaky_relu(x, 0.1) + F.elu(x) + torch.tanh(x) + torch.sigmoid(x) + F.selu(x)), [IMG], 13, []),
    'se_block': (nn.Sequential(conv(4, 8), SE(8, 2)), [IMG], 13, ['multiply-broadcast']),
    'shufflenet_block': (nn.Sequential(conv(4, 8, 1), Shuffle(8)), [IMG], 13, ['slice', 'permute']),
    'maxpool_pads': (nn.Sequential(conv(4, 4), nn.MaxPool2d(3, 2, 1)), [[4, 8, 8]], 13, ['pool-pads']),
    'maxpool_ceil': (nn.Sequential(conv(4, 4), nn.MaxPool2d(3, 2, ceil_mode=True)), [[4, 8, 8]], 13, ['pool-pads']),
    'avgpool_count_pad': (nn.AvgPool2d(3, 2, 1, count_include_pad=True), [[4, 9, 9]], 13, []),
    'avgpool_exclude_pad_same': (nn.AvgPool2d(3, 2, 1, count_include_pad=False), [[4, 9, 9]], 13, []),
    'avgpool_exclude_pad': (nn.AvgPool2d(3, 2, 1, count_include_pad=False), [[4, 8, 8]], 13, ['pool-pads']),
    'avgpool_ceil': (nn.AvgPool2d(2, 2, ceil_mode=True), [[4, 7, 7]], 13, ['pool-pads']),
    'global_pools': (Fn(lambda m, x: F.adaptive_avg_pool2d(x, 1) + F.adaptive_max_pool2d(x, 1)), [IMG], 13, []),
    'grouped_conv': (nn.Sequential(nn.Conv2d(4, 6, 3, padding=1, groups=2), bn(6)), [IMG], 13, ['conv2d-groups']),
    'conv_transpose': (nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1), [IMG], 13, ['conv2dTranspose']),
    'conv_transpose_groups': (nn.Sequential(nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), nn.ConvTranspose2d(6, 6, 2, stride=2, groups=6, bias=False)), [IMG], 13, []),
    'reduce_mean_hw': (Fn(lambda m, x: m[0](x).mean((2, 3)), conv(4, 5)), [IMG], 13, []),
    'reduce_channel': (Fn(lambda m, x: x.sum(1, keepdim=True) * x.amax(1, keepdim=True) + x.mean(-1)[..., None]), [IMG], 13, ['reduce', 'multiply-broadcast']),
    'unary': (Fn(lambda m, x: torch.sqrt(x.abs() + 1) + torch.reciprocal(x.abs() + 1) - torch.exp(-x) + x.pow(2) + (x * x + 1).pow(0.5)), [IMG], 13, ['unary']),
    'prelu': (nn.Sequential(conv(4, 6), nn.PReLU(6)), [IMG], 13, ['prelu']),
    'pad_modes': (Fn(lambda m, x: F.pad(F.pad(x, (1, 2, 0, 1), mode='reflect'), (1, 1, 1, 1), mode='replicate') + 1), [IMG], 13, ['pad']),
    'pad_channels': (Fn(lambda m, x: F.pad(x, (0, 0, 0, 0, 1, 2), value=0.5)), [IMG], 13, ['pad']),
    'slice_split_gather': (Fn(lambda m, x: torch.cat([x[:, 1:3, ::2, 1:7], torch.split(x, [1, 3], 1)[1][:, :2, ::2, :6], x[:, 2:3, ::2, 2:]], 1)), [IMG], 13, ['slice']),
    'gather_channel': (Fn(lambda m, x: x[:, 2] + x[:, 0]), [IMG], 13, ['gather']),
    'transpose_flatten': (Fn(lambda m, x: m[0](x.permute(0, 2, 3, 1).flatten(1)), nn.Linear(8 * 8 * 4, 5)), [IMG], 13, []),
    'pixel_shuffle': (nn.Sequential(conv(4, 8), nn.PixelShuffle(2), nn.PixelUnshuffle(2)), [IMG], 13, ['depthToSpace', 'spaceToDepth']),
    'upsample_nearest': (nn.Sequential(conv(4, 3), nn.Upsample(scale_factor=2, mode='nearest')), [IMG], 13, ['upSampling2d']),
    'upsample_bilinear': (nn.Sequential(conv(4, 3), nn.Upsample(scale_factor=2, mode='bilinear', align_corners=False)), [IMG], 13, ['resizing']),
    'upsample_align_corners': (nn.Upsample(size=(11, 13), mode='bilinear', align_corners=True), [IMG], 13, ['resizing']),
    'softmax_axes': (Fn(lambda m, x: torch.softmax(x, 1) + torch.softmax(x, 2)), [IMG], 13, ['softmax-axis']),
    'concat_one': (Fn(lambda m, x: m[0](torch.cat([x], 1)), conv(4, 4)), [IMG], 13, []),
    'concat_h': (Fn(lambda m, x: torch.cat([x, m[0](x)], 2), conv(4, 4)), [IMG], 13, ['concatenate-axis']),
    'broadcast_binary': (Fn(lambda m, x: (x - x.mean(1, keepdim=True)) / (x.amax((2, 3), keepdim=True).abs() + 1) + torch.maximum(x, x[:, :1]) - torch.minimum(x, x[:, 1:2])),
                         [IMG], 13, ['reduce', 'divide', 'maximum', 'minimum', 'unary']),
    'gelu_softplus': (Fn(lambda m, x: F.gelu(x) + F.softplus(x)), [IMG], 13, ['unary']),
    'flatten_axis2_matmul': (Fn(lambda m, x: m[0](x.flatten(2)), nn.Linear(64, 3)), [IMG], 13, ['permute']),
    'squeeze_unsqueeze': (Fn(lambda m, x: x.mean((2, 3)).unsqueeze(-1).unsqueeze(-1) * x + x[:, :1].squeeze(1).unsqueeze(1)), [IMG], 13, ['multiply-broadcast', 'slice']),
    'transpose_5d': (Fn(lambda m, x: x.view(x.size(0), 2, 2, 8, 8).permute(0, 2, 1, 4, 3).reshape(x.size(0), 4, 8, 8)), [IMG], 13, ['permute']),
    'softmax_last_axis': (Fn(lambda m, x: torch.softmax(x, -1)), [IMG], 13, ['softmax-axis']),
    'softmax_opset11': (nn.Sequential(nn.Flatten(), nn.Linear(256, 10), nn.Softmax(1)), [IMG], 11, []),
    'resize_nearest_sizes': (Fn(lambda m, x: F.interpolate(x, size=(12, 13), mode='nearest')), [IMG], 13, ['resizing']),
    'matmul_computed': (Fn(lambda m, x: m[0](x) @ m[1](x).transpose(1, 2), nn.Linear(6, 3), nn.Linear(6, 3)), [[5, 6]], 13, []),
    'matmul_image_stack': (Fn(lambda m, x: (x @ m[0](x).transpose(2, 3), x.flatten(2) @ x.flatten(2).transpose(1, 2) @ x.flatten(2)), conv(4, 4)), [IMG], 13, ['multi-io']),
    'matmul_rank3': (Fn(lambda m, x: m[0](x) @ torch.ones(3, 2), nn.Linear(6, 3)), [[5, 6]], 13, []),
    'multi_io': (Fn(lambda m, a, b: (m[0](a) + b, m[1](a).flatten(1)), conv(4, 4), nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 3, 1))), [IMG, IMG], 13, ['multi-io']),
}

manifest = {}
only = sys.argv[2:]
for name, (module, shapes, opset, needs) in CASES.items():
    if only and name not in only:
        continue
    module.eval()
    inputs = [torch.randn(2, *s) for s in shapes]
    in_names = [f'in{i}' for i in range(len(shapes))]
    with torch.no_grad():
        probe = module(*inputs)
    n_out = len(probe) if isinstance(probe, tuple) else 1
    out_names = [f'out{i}' for i in range(n_out)]
    path = os.path.join(out_dir, f'{name}.onnx')
    torch.onnx.export(module, tuple(inputs), path, opset_version=opset, input_names=in_names, output_names=out_names,
                      dynamic_axes={k: {0: 'N'} for k in in_names + out_names})
    entry = {'file': f'{name}.onnx', 'needs': needs, 'inputs': [list(s) for s in shapes], 'outputs': []}
    for batch in (1, 2):
        xs = [x[:batch] for x in inputs]
        with torch.no_grad():
            ys = module(*xs)
        ys = ys if isinstance(ys, tuple) else (ys,)
        for i, x in enumerate(xs):
            x.numpy().astype('<f4').tofile(os.path.join(out_dir, f'{name}.b{batch}.in{i}.bin'))
        for i, y in enumerate(ys):
            y.numpy().astype('<f4').tofile(os.path.join(out_dir, f'{name}.b{batch}.out{i}.bin'))
        entry['outputs'] = [list(y.shape[1:]) for y in ys]
    manifest[name] = entry
with open(os.path.join(out_dir, 'manifest.json'), 'w') as f:
    json.dump(manifest, f)
