// The convolution and pooling variants of issue 11 against PyTorch (test/torch/conv_ops.py, run with
// Debian's /usr/bin/python3 and its python3-torch, or $EDGETUNE_PYTHON): grouped conv2d
// (F.conv2d groups), explicit asymmetric pads on conv2d and depthwiseConv2d (F.pad, then an unpadded
// convolution), conv2dTranspose (F.conv_transpose2d with padding, output_padding and groups, and Keras's
// 'same'/'valid' as a cropped full transposed convolution), max/average pooling with padding,
// ceil_mode and count_include_pad. For each: the output, the mean-squared-error loss, its gradients
// for the input and every weight, and the weights after one SGD step, within 1e-5 relative to the
// largest magnitude of each tensor (PyTorch computes in float64 from our float32 values).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { input, layers, model, optimizers, tensor, type Layer } from '../dist/node.js';
import { randomArray } from './support/harness';
import { expectClose, expectNear } from './support/close';

const SCRIPT = new URL('./torch/conv_ops.py', import.meta.url).pathname;
const PYTHON = process.env.EDGETUNE_PYTHON ?? '/usr/bin/python3';
const LR = 0.1;
const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

interface TorchResult { y: number[]; yShape: number[]; loss: number; dx: number[]; dw: number[][] }
interface Case {
  name: string;
  layer: () => Layer;
  xShape: number[]; // NHWC
  torch: Record<string, unknown>; // the op and its PyTorch arguments
}

const pads = (t: number, b: number, l: number, r: number): [[number, number], [number, number]] => [[t, b], [l, r]];

const CASES: Case[] = [
  {
    name: 'conv2d groups 3, 3x3 stride 2, pads 1, bias (RegNet-like block)',
    layer: () => layers.conv2d({ filters: 9, kernelSize: 3, strides: 2, groups: 3, padding: pads(1, 1, 1, 1) }),
    xShape: [2, 7, 6, 6],
    torch: { op: 'conv2d', pads: pads(1, 1, 1, 1), strides: 2, dilation: 1, groups: 3 },
  },
  {
    name: 'conv2d groups 4, 1x1 (ShuffleNet v1 pointwise), no bias',
    layer: () => layers.conv2d({ filters: 8, kernelSize: 1, groups: 4, useBias: false }),
    xShape: [2, 3, 5, 8],
    torch: { op: 'conv2d', pads: pads(0, 0, 0, 0), strides: 1, dilation: 1, groups: 4 },
  },
  {
    name: 'conv2d groups 2, 3x2 dilation 2, asymmetric pads [[0, 2], [1, 0]]',
    layer: () => layers.conv2d({ filters: 4, kernelSize: [3, 2], dilationRate: 2, groups: 2, padding: pads(0, 2, 1, 0) }),
    xShape: [1, 6, 5, 6],
    torch: { op: 'conv2d', pads: pads(0, 2, 1, 0), strides: 1, dilation: 2, groups: 2 },
  },
  {
    name: 'conv2d 1x1 with bottom/right pads only (output larger than input)',
    layer: () => layers.conv2d({ filters: 3, kernelSize: 1, padding: pads(0, 1, 0, 2) }),
    xShape: [2, 3, 4, 2],
    torch: { op: 'conv2d', pads: pads(0, 1, 0, 2), strides: 1, dilation: 1, groups: 1 },
  },
  {
    name: 'depthwiseConv2d multiplier 2, 3x3 stride 2, pads [[1, 0], [0, 2]]',
    layer: () => layers.depthwiseConv2d({ kernelSize: 3, strides: 2, depthMultiplier: 2, padding: pads(1, 0, 0, 2) }),
    xShape: [2, 7, 6, 3],
    torch: { op: 'depthwise', pads: pads(1, 0, 0, 2), strides: 2, dilation: 1 },
  },
  {
    name: 'conv2dTranspose 3x3 stride 2, PyTorch padding 1 and output_padding 1',
    layer: () => layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: pads(1, 1, 1, 1), outputPadding: 1 }),
    xShape: [2, 4, 3, 5],
    torch: { op: 'torch_conv_transpose', strides: 2, padding: 1, outputPadding: 1, dilation: 1 },
  },
  {
    name: 'conv2dTranspose 2x3 strides [2, 1] dilation [1, 2], PyTorch padding 0, no bias',
    layer: () => layers.conv2dTranspose({ filters: 3, kernelSize: [2, 3], strides: [2, 1], dilationRate: [1, 2], useBias: false }),
    xShape: [1, 3, 4, 2],
    torch: { op: 'torch_conv_transpose', strides: [2, 1], padding: 0, outputPadding: 0, dilation: [1, 2] },
  },
  {
    name: 'conv2dTranspose groups 2, 3x3 stride 2, PyTorch padding 1 and output_padding 1 (ONNX ConvTranspose group)',
    layer: () => layers.conv2dTranspose({ filters: 6, kernelSize: 3, strides: 2, padding: pads(1, 1, 1, 1), outputPadding: 1, groups: 2 }),
    xShape: [2, 4, 3, 4],
    torch: { op: 'torch_conv_transpose', strides: 2, padding: 1, outputPadding: 1, dilation: 1, groups: 2 },
  },
  {
    name: 'conv2dTranspose groups 3 (one channel each), 2x2 stride 2, no bias',
    layer: () => layers.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 2, groups: 3, useBias: false }),
    xShape: [1, 3, 2, 3],
    torch: { op: 'torch_conv_transpose', strides: 2, padding: 0, outputPadding: 0, dilation: 1, groups: 3 },
  },
  // Keras 'same', 4x4 stride 2: output 2I, TF pads max(k - s, 0) = 2 split 1 / 1.
  {
    name: "conv2dTranspose Keras 'same' 4x4 stride 2 (output 2x input)",
    layer: () => layers.conv2dTranspose({ filters: 2, kernelSize: 4, strides: 2, padding: 'same' }),
    xShape: [2, 3, 4, 3],
    torch: { op: 'conv_transpose', strides: 2, dilation: 1, top: 1, left: 1, outH: 6, outW: 8 },
  },
  // Keras 'same' 3x3 stride 2: total pad 1, all of it after (top 0), output 2I.
  {
    name: "conv2dTranspose Keras 'same' 3x3 stride 2, relu",
    layer: () => layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
    xShape: [1, 3, 3, 2],
    torch: { op: 'conv_transpose', strides: 2, dilation: 1, top: 0, left: 0, outH: 6, outW: 6 },
  },
  // Keras 'valid' with outputPadding 1: (I - 1)*s + k + 1.
  {
    name: "conv2dTranspose Keras 'valid' 3x3 stride 2, outputPadding 1",
    layer: () => layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, outputPadding: 1 }),
    xShape: [2, 3, 2, 3],
    torch: { op: 'conv_transpose', strides: 2, dilation: 1, top: 0, left: 0, outH: 8, outW: 6 },
  },
  {
    name: 'maxPooling2d 3x3 stride 2 pads 1, ceilMode',
    layer: () => layers.maxPooling2d({ poolSize: 3, strides: 2, padding: pads(1, 1, 1, 1), ceilMode: true }),
    xShape: [2, 8, 7, 3],
    torch: { op: 'max_pool', kernel: 3, strides: 2, padding: 1, ceilMode: true },
  },
  // (5 + 2 - 2)/3 rounds up to 2, so 3 windows; the third would start at 6 >= 5 + 1: PyTorch drops it.
  {
    name: "maxPooling2d 2x2 stride 3 pads 1, ceilMode (PyTorch's last-window rule)",
    layer: () => layers.maxPooling2d({ poolSize: 2, strides: 3, padding: pads(1, 1, 1, 1), ceilMode: true }),
    xShape: [2, 5, 5, 2],
    torch: { op: 'max_pool', kernel: 2, strides: 3, padding: 1, ceilMode: true },
  },
  {
    name: 'averagePooling2d 3x3 stride 2 pads 1, ceilMode, countIncludePad',
    layer: () => layers.averagePooling2d({ poolSize: 3, strides: 2, padding: pads(1, 1, 1, 1), ceilMode: true, countIncludePad: true }),
    xShape: [2, 6, 7, 3],
    torch: { op: 'avg_pool', kernel: 3, strides: 2, padding: 1, ceilMode: true, countIncludePad: true },
  },
  {
    name: 'averagePooling2d 3x3 stride 2 pads 1, ceilMode, excluding pads',
    layer: () => layers.averagePooling2d({ poolSize: 3, strides: 2, padding: pads(1, 1, 1, 1), ceilMode: true }),
    xShape: [2, 6, 7, 3],
    torch: { op: 'avg_pool', kernel: 3, strides: 2, padding: 1, ceilMode: true, countIncludePad: false },
  },
  {
    name: 'averagePooling2d 2x2 stride 3 pads 1, ceilMode, countIncludePad (last-window rule)',
    layer: () => layers.averagePooling2d({ poolSize: 2, strides: 3, padding: pads(1, 1, 1, 1), ceilMode: true, countIncludePad: true }),
    xShape: [1, 5, 5, 2],
    torch: { op: 'avg_pool', kernel: 2, strides: 3, padding: 1, ceilMode: true, countIncludePad: true },
  },
  {
    name: 'averagePooling2d 3x3 stride 1 pads 1, countIncludePad, floor mode',
    layer: () => layers.averagePooling2d({ poolSize: 3, strides: 1, padding: pads(1, 1, 1, 1), countIncludePad: true }),
    xShape: [2, 4, 5, 2],
    torch: { op: 'avg_pool', kernel: 3, strides: 1, padding: 1, ceilMode: false, countIncludePad: true },
  },
];

interface Prepared { c: Case; layer: Layer; x: Float32Array; weights: Float32Array[]; target: Float32Array; yShape: number[] }

// Our model of the one layer, with random weights; the target has the output's shape.
function prepare(c: Case, i: number): Prepared {
  const layer = c.layer();
  const inp = input({ shape: c.xShape.slice(1) });
  const out = layer.apply(inp);
  const yShape = [c.xShape[0], ...out.shape];
  const weights = layer.weightSpecs.map((s, j) => randomArray(sizeOf(s.shape), 100 * i + j + 7));
  return { c, layer, x: randomArray(sizeOf(c.xShape), 100 * i + 1), weights, target: randomArray(sizeOf(yShape), 100 * i + 2), yShape };
}

function torchReference(cases: Prepared[]): TorchResult[] {
  const json = cases.map((p) => ({
    ...p.c.torch, x: Array.from(p.x), xShape: p.c.xShape, target: Array.from(p.target),
    weights: p.weights.map((w, j) => ({ values: Array.from(w), shape: p.layer.weightSpecs[j].shape })),
  }));
  const out = execFileSync(PYTHON, [SCRIPT], { input: JSON.stringify(json), maxBuffer: 64 << 20, timeout: 300_000 });
  return JSON.parse(out.toString()) as TorchResult[];
}

const peak = (v: ArrayLike<number>) => Math.max(1e-30, ...Array.from(v, Math.abs));
const near = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => expectClose(actual, expected, 0, 1e-5 * peak(expected), what);

describe('convolution and pooling variants match PyTorch: forward, gradients, one SGD step', () => {
  const prepared = CASES.map(prepare);
  let reference: TorchResult[] | undefined;
  const torch = () => (reference ??= torchReference(prepared));

  it.each(prepared.map((p, i) => [p.c.name, i] as const))('%s', (_name, i) => {
    const { layer, x, weights, target, yShape, c } = prepared[i];
    const want = torch()[i];
    const inp = input({ shape: c.xShape.slice(1) });
    const m = model({ inputs: inp, outputs: layer.apply(inp) });
    m.compile({ optimizer: optimizers.sgd({ learningRate: LR }), loss: 'meanSquaredError', batchSize: c.xShape[0] });
    if (weights.length) layer.setWeights(weights);
    expect(yShape).toEqual(want.yShape);
    const xt = tensor(x, c.xShape);
    near(m.predict(xt).data, want.y, 'output');
    const g = m.computeGradients(xt, tensor(target, yShape));
    expectNear(g.loss, want.loss, 1e-5, 0, 'loss');
    near(g.input, want.dx, 'input gradient');
    layer.weightSpecs.forEach((s, j) => near(g.weights.get(`${layer.name}/${s.name}`)!, want.dw[j], `${s.name} gradient`));
    m.trainOnBatch(xt, tensor(target, yShape));
    layer.getWeights().forEach((w, j) => near(w, weights[j].map((v, k) => v - LR * want.dw[j][k]), `${layer.weightSpecs[j].name} after one step`));
  });
});
