// ONNX test models in the layout a PyTorch export has (NCHW, Conv weights OIHW, Linear as Gemm with
// transB = 1, BatchNorm epsilon 1e-5, symbolic batch 'N'), built with scripts/onnx-writer.mjs from
// weights generated here.
// @ts-expect-error: plain JavaScript module without types
import { DataType, float16Tensor, node, onnxModel, tensor, typedTensor, valueInfo } from '../scripts/onnx-writer.mjs';
import { randomArray } from './support/harness';

let seed = 1;
const rnd = (n: number, scale = 0.5) => randomArray(n, seed++, -scale, scale);
const positive = (n: number) => randomArray(n, seed++, 0.5, 1.5);
const conv = (nodes: unknown[], inits: unknown[], name: string, x: string, cin: number, cout: number, k: number, attrs: Record<string, unknown> = {}, group = 1) => {
  inits.push(tensor(`${name}.weight`, [cout, cin / group, k, k], rnd(cout * (cin / group) * k * k)));
  inits.push(tensor(`${name}.bias`, [cout], rnd(cout, 0.1)));
  nodes.push(node('Conv', [x, `${name}.weight`, `${name}.bias`], [name], { kernel_shape: [k, k], group, ...attrs }, `/${name}/Conv`));
  return name;
};

// Conv-BN-ReLU-MaxPool, depthwise (multiplier 2) + LeakyReLU, two branches added, a channel
// concat, a stride-2 convolution with Keras-'same' asymmetric pads, AveragePool, Flatten (CHW
// order) and two Gemms to a softmax. Input [N, 3, 12, 12].
export function pytorchCnn(): Uint8Array {
  seed = 11;
  const nodes: unknown[] = [];
  const inits: unknown[] = [];
  conv(nodes, inits, 'conv1', 'input', 3, 8, 3, { pads: [1, 1, 1, 1] });
  inits.push(tensor('bn1.weight', [8], positive(8)), tensor('bn1.bias', [8], rnd(8, 0.2)), tensor('bn1.running_mean', [8], rnd(8, 0.2)), tensor('bn1.running_var', [8], positive(8)));
  nodes.push(node('BatchNormalization', ['conv1', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var'], ['bn1'], { epsilon: { f: 1e-5 }, momentum: { f: 0.9 } }, '/bn1/BatchNormalization'));
  nodes.push(node('Relu', ['bn1'], ['relu1'], {}, '/relu1/Relu'));
  nodes.push(node('MaxPool', ['relu1'], ['pool1'], { kernel_shape: [2, 2], strides: [2, 2] }, '/pool1/MaxPool'));
  conv(nodes, inits, 'dw', 'pool1', 8, 16, 3, { pads: [1, 1, 1, 1] }, 8);
  nodes.push(node('LeakyRelu', ['dw'], ['lrelu'], { alpha: { f: 0.1 } }, '/lrelu/LeakyRelu'));
  conv(nodes, inits, 'pw', 'lrelu', 16, 8, 1);
  nodes.push(node('Relu', ['pw'], ['a'], {}, '/a/Relu'));
  conv(nodes, inits, 'c3', 'lrelu', 16, 8, 3, { pads: [1, 1, 1, 1] });
  nodes.push(node('Tanh', ['c3'], ['b'], {}, '/b/Tanh'));
  nodes.push(node('Add', ['a', 'b'], ['sum'], {}, '/Add'));
  nodes.push(node('Concat', ['sum', 'pool1'], ['cat'], { axis: 1 }, '/Concat'));
  conv(nodes, inits, 'down', 'cat', 16, 12, 3, { pads: [0, 0, 1, 1], strides: [2, 2] });
  nodes.push(node('Sigmoid', ['down'], ['sig'], {}, '/Sigmoid'));
  nodes.push(node('AveragePool', ['sig'], ['avg'], { kernel_shape: [2, 2], strides: [1, 1] }, '/AveragePool'));
  nodes.push(node('Flatten', ['avg'], ['flat'], { axis: 1 }, '/Flatten'));
  inits.push(tensor('fc1.weight', [10, 48], rnd(480, 0.3)), tensor('fc1.bias', [10], rnd(10, 0.1)));
  nodes.push(node('Gemm', ['flat', 'fc1.weight', 'fc1.bias'], ['fc1'], { transB: 1, alpha: { f: 1 }, beta: { f: 1 } }, '/fc1/Gemm'));
  nodes.push(node('Relu', ['fc1'], ['relu2'], {}, '/relu2/Relu'));
  inits.push(tensor('fc2.weight', [5, 10], rnd(50, 0.5)), tensor('fc2.bias', [5], rnd(5, 0.1)));
  nodes.push(node('Gemm', ['relu2', 'fc2.weight', 'fc2.bias'], ['logits'], { transB: 1 }, '/fc2/Gemm'));
  nodes.push(node('Softmax', ['logits'], ['probs'], { axis: 1 }, '/Softmax'));
  return onnxModel({ name: 'torch_jit', nodes, initializers: inits, inputs: [valueInfo('input', ['N', 3, 12, 12])], outputs: [valueInfo('probs', ['N', 5])] });
}

// GlobalAveragePool + Reshape(-1) + MatMul/Add (a bias added after MatMul) + Gemm without transB
// scaled by alpha/beta; weights in float16 (raw and typed), in float_data, the shape in int64_data.
export function mixedEncodings(): Uint8Array {
  seed = 77;
  const nodes: unknown[] = [];
  const inits: unknown[] = [];
  inits.push(float16Tensor('conv.weight', [6, 2, 3, 3], rnd(108)), float16Tensor('conv.bias', [6], rnd(6, 0.1), { typed: true }));
  nodes.push(node('Cast', ['conv.weight'], ['conv.weight.f32'], { to: DataType.FLOAT }, 'cast_w'));
  nodes.push(node('Cast', ['conv.bias'], ['conv.bias.f32'], { to: DataType.FLOAT }, 'cast_b'));
  nodes.push(node('Conv', ['x', 'conv.weight.f32', 'conv.bias.f32'], ['c'], { kernel_shape: [3, 3], strides: [2, 2] }, 'conv'));
  nodes.push(node('Relu', ['c'], ['r'], {}, 'relu'));
  nodes.push(node('GlobalAveragePool', ['r'], ['gap'], {}, 'gap'));
  inits.push(typedTensor('shape', [2], new BigInt64Array([0n, -1n]), DataType.INT64));
  nodes.push(node('Reshape', ['gap', 'shape'], ['flat'], {}, 'reshape'));
  inits.push(typedTensor('mm.weight', [6, 4], rnd(24), DataType.FLOAT), tensor('mm.bias', [4], rnd(4, 0.2)));
  nodes.push(node('MatMul', ['flat', 'mm.weight'], ['mm'], {}, 'matmul'));
  nodes.push(node('Add', ['mm', 'mm.bias'], ['mmb'], {}, 'bias_add'));
  nodes.push(node('Sigmoid', ['mmb'], ['s'], {}, 'sigmoid'));
  inits.push(tensor('g.weight', [4, 3], rnd(12)), tensor('g.bias', [1, 3], rnd(3, 0.2)));
  nodes.push(node('Gemm', ['s', 'g.weight', 'g.bias'], ['y'], { alpha: { f: 0.5 }, beta: { f: 2 } }, 'gemm'));
  return onnxModel({ name: 'mixed', nodes, initializers: inits, inputs: [valueInfo('x', ['batch', 2, 9, 9])], outputs: [valueInfo('y', ['batch', 3])] });
}

// One-node variations for the bad-input tests.
export function withNode(op: string, attrs: Record<string, unknown> = {}, inputShape: (number | string)[] = ['N', 4]): Uint8Array {
  return onnxModel({
    nodes: [node(op, ['x'], ['y'], attrs, `my_${op.toLowerCase()}`)],
    inputs: [valueInfo('x', inputShape)],
    outputs: [valueInfo('y', inputShape)],
  });
}

export function badGemmWeight(): Uint8Array {
  return onnxModel({
    nodes: [node('Gemm', ['x', 'W', 'b'], ['y'], { transB: 1 }, 'fc')],
    initializers: [tensor('W', [3, 5], rnd(15)), tensor('b', [3], rnd(3))],
    inputs: [valueInfo('x', ['N', 4])],
    outputs: [valueInfo('y', ['N', 3])],
  });
}

export function groupedConv(): Uint8Array {
  return onnxModel({
    nodes: [node('Conv', ['x', 'W'], ['y'], { kernel_shape: [1, 1], group: 3 }, 'grouped')],
    initializers: [tensor('W', [3, 2, 1, 1], rnd(6))],
    inputs: [valueInfo('x', ['N', 4, 5, 5])],
    outputs: [valueInfo('y', ['N', 3, 5, 5])],
  });
}

// A small MLP (Gemm transB=1 + ReLU + Gemm + Softmax) on [N, 12].
export function pytorchMlp(): Uint8Array {
  seed = 5;
  return onnxModel({
    nodes: [
      node('Gemm', ['x', 'fc1.weight', 'fc1.bias'], ['h'], { transB: 1 }, '/fc1/Gemm'),
      node('Relu', ['h'], ['hr'], {}, '/relu/Relu'),
      node('Gemm', ['hr', 'fc2.weight', 'fc2.bias'], ['z'], { transB: 1 }, '/fc2/Gemm'),
      node('Softmax', ['z'], ['p'], { axis: -1 }, '/Softmax'),
    ],
    initializers: [tensor('fc1.weight', [16, 12], rnd(192)), tensor('fc1.bias', [16], rnd(16, 0.1)), tensor('fc2.weight', [4, 16], rnd(64)), tensor('fc2.bias', [4], rnd(4, 0.1))],
    inputs: [valueInfo('x', ['N', 12])],
    outputs: [valueInfo('p', ['N', 4])],
  });
}

// What PyTorch exports beyond the Keras vocabulary: symmetric explicit pads on a stride-2
// convolution (not Keras 'same': a zeroPadding2d in front), a bias-less conv followed by Mul and
// Add of per-channel constants (folded into its weights), AveragePool counting its padding, a
// product of two tensors (x * sigmoid(x)), and BatchNormalization then a constant scale.
export function pytorchExtras(): Uint8Array {
  seed = 303;
  const nodes: unknown[] = [];
  const inits: unknown[] = [];
  inits.push(tensor('c1.weight', [6, 3, 3, 3], rnd(162)));
  nodes.push(node('Conv', ['x', 'c1.weight'], ['c1'], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }, '/c1/Conv'));
  inits.push(tensor('scale', [6, 1, 1], positive(6)), tensor('shift', [1, 6, 1, 1], rnd(6, 0.3)));
  nodes.push(node('Mul', ['c1', 'scale'], ['scaled'], {}, '/Mul'));
  nodes.push(node('Add', ['shift', 'scaled'], ['shifted'], {}, '/Add'));
  nodes.push(node('Sigmoid', ['shifted'], ['gate'], {}, '/Sigmoid'));
  nodes.push(node('Mul', ['shifted', 'gate'], ['swish'], {}, '/Mul_1'));
  nodes.push(node('AveragePool', ['swish'], ['avg'], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1], count_include_pad: 1 }, '/AveragePool'));
  inits.push(tensor('bn.weight', [6], positive(6)), tensor('bn.bias', [6], rnd(6, 0.2)), tensor('bn.mean', [6], rnd(6, 0.2)), tensor('bn.var', [6], positive(6)));
  nodes.push(node('BatchNormalization', ['avg', 'bn.weight', 'bn.bias', 'bn.mean', 'bn.var'], ['bn'], { epsilon: { f: 1e-5 } }, '/bn/BatchNormalization'));
  inits.push(tensor('half', [], [0.5]));
  nodes.push(node('Mul', ['bn', 'half'], ['bnh'], {}, '/Mul_2'));
  nodes.push(node('GlobalAveragePool', ['bnh'], ['gap'], {}, '/GlobalAveragePool'));
  nodes.push(node('Flatten', ['gap'], ['flat'], {}, '/Flatten'));
  inits.push(tensor('fc.weight', [4, 6], rnd(24)), tensor('fc.bias', [4], rnd(4, 0.1)));
  nodes.push(node('Gemm', ['flat', 'fc.weight', 'fc.bias'], ['y'], { transB: 1 }, '/fc/Gemm'));
  return onnxModel({ name: 'extras', nodes, initializers: inits, inputs: [valueInfo('x', ['N', 3, 12, 12])], outputs: [valueInfo('y', ['N', 4])] });
}

// Input normalization as exported graphs carry it: (x - mean) / std per channel on the input
// (rescaling layers: nothing to fold into), a constant minus a tensor, and Sub of two tensors.
export function normalizedInput(): Uint8Array {
  seed = 404;
  const nodes: unknown[] = [];
  const inits: unknown[] = [];
  inits.push(tensor('mean', [1, 3, 1, 1], [0.485, 0.456, 0.406]), tensor('std', [1, 3, 1, 1], [0.229, 0.224, 0.225]));
  nodes.push(node('Sub', ['x', 'mean'], ['centered'], {}, '/Sub'));
  nodes.push(node('Div', ['centered', 'std'], ['normed'], {}, '/Div'));
  conv(nodes, inits, 'conv', 'normed', 3, 4, 3, { pads: [1, 1, 1, 1] });
  nodes.push(node('Relu', ['conv'], ['r'], {}, '/Relu'));
  inits.push(tensor('one', [], [1]));
  nodes.push(node('Sub', ['one', 'r'], ['inv'], {}, '/Sub_1'));
  nodes.push(node('Sub', ['r', 'inv'], ['diff'], {}, '/Sub_2'));
  nodes.push(node('GlobalAveragePool', ['diff'], ['gap'], {}, '/GlobalAveragePool'));
  nodes.push(node('Flatten', ['gap'], ['y'], {}, '/Flatten'));
  return onnxModel({ name: 'normalized', nodes, initializers: inits, inputs: [valueInfo('x', ['N', 3, 8, 8])], outputs: [valueInfo('y', ['N', 4])] });
}

// A tf2onnx-style export of a Keras model: NHWC input transposed to NCHW for the convolution and
// back to NHWC before the flatten (so the Gemm reads HWC order).
export function nhwcExport(): Uint8Array {
  seed = 505;
  const nodes: unknown[] = [];
  const inits: unknown[] = [];
  nodes.push(node('Transpose', ['x'], ['x_nchw'], { perm: [0, 3, 1, 2] }, 'transpose_in'));
  conv(nodes, inits, 'conv', 'x_nchw', 3, 5, 3, { pads: [1, 1, 1, 1] });
  nodes.push(node('Relu', ['conv'], ['r'], {}, 'relu'));
  nodes.push(node('Transpose', ['r'], ['r_nhwc'], { perm: [0, 2, 3, 1] }, 'transpose_out'));
  nodes.push(node('Flatten', ['r_nhwc'], ['flat'], { axis: 1 }, 'flatten'));
  inits.push(tensor('fc.kernel', [10 * 10 * 5, 4], rnd(2000, 0.1)), tensor('fc.bias', [4], rnd(4, 0.1)));
  nodes.push(node('Gemm', ['flat', 'fc.kernel', 'fc.bias'], ['z'], {}, 'dense'));
  nodes.push(node('Softmax', ['z'], ['p'], { axis: -1 }, 'softmax'));
  return onnxModel({ name: 'keras_nhwc', nodes, initializers: inits, inputs: [valueInfo('x', ['unk__1', 10, 10, 3])], outputs: [valueInfo('p', ['unk__1', 4])] });
}
