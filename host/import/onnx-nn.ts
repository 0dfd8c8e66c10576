// ONNX's layers with weights or windows: Conv (any group), ConvTranspose, MaxPool / AveragePool
// (explicit pads, ceil_mode, count_include_pad), global pools, BatchNormalization, Gemm / MatMul
// (a MatMul + Add of a constant is one dense layer), Resize / Upsample. Convolution weights are
// transposed once, here (OIHW -> HWIO), and a dense layer after a Flatten of an NHWC image gets
// its rows permuted to our memory order, so no transpose runs at inference or training time.
import { layers } from '../layers/index';
import type { Layer } from '../layers/layer';
import type { Converter, OpFn, Value } from './onnx-convert';
import { canonical, IMAGE_PERM, isCanonical, memoryOrder } from './onnx-layout';
import { L, type ResizeMode } from './onnx-layers';
import { biasWanted } from './onnx-math';
import type { OnnxNode } from './onnx-proto';

type Pads = [[number, number], [number, number]];

// 'valid', Keras 'same', or explicit [[top, bottom], [left, right]] pads.
function padding(c: Converter, node: OnnxNode, h: number, w: number, k: number[], s: number[], d: number[]): 'same' | 'valid' | Pads {
  const autoPad = c.attr<string>(node, 'auto_pad', 'NOTSET');
  const total = (n: number, i: number) => Math.max((Math.ceil(n / s[i]) - 1) * s[i] + (k[i] - 1) * d[i] + 1 - n, 0);
  if (autoPad === 'VALID') return 'valid';
  if (autoPad === 'SAME_UPPER') return 'same';
  if (autoPad === 'SAME_LOWER') {
    const [th, tw] = [total(h, 0), total(w, 1)];
    return [[Math.ceil(th / 2), Math.floor(th / 2)], [Math.ceil(tw / 2), Math.floor(tw / 2)]];
  }
  if (autoPad !== 'NOTSET') throw c.fail(node, `auto_pad '${autoPad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER`);
  const pads = c.attr<number[]>(node, 'pads', [0, 0, 0, 0]);
  if (pads.length !== 4 || !pads.every((p) => Number.isInteger(p) && p >= 0)) throw c.fail(node, `pads [${pads}] must be four non-negative integers`);
  if (pads.every((p) => p === 0)) return 'valid';
  const [th, tw] = [total(h, 0), total(w, 1)];
  if (pads[0] === Math.floor(th / 2) && pads[2] === th - Math.floor(th / 2) && pads[1] === Math.floor(tw / 2) && pads[3] === tw - Math.floor(tw / 2)) return 'same';
  return [[pads[0], pads[2]], [pads[1], pads[3]]];
}

// Explicit pads as a zeroPadding2d layer in front (exact for convolutions and for averages that
// count the padding).
function padded(c: Converter, node: OnnxNode, x: Value, p: Pads): Value {
  const t = c.apply(layers.zeroPadding2d({ padding: p, name: c.layerName(node, '_pad') }), [x.t]);
  return c.make(t, [x.shape[0], x.shape[1] + p[0][0] + p[0][1], x.shape[2] + p[1][0] + p[1][1]]);
}

const imageOut = (c: Converter, t: Value['t']): Value => c.make(t, [t.shape[2], t.shape[0], t.shape[1]], IMAGE_PERM);
const pair = (c: Converter, node: OnnxNode, name: string, fallback: number[]): [number, number] => {
  const v = c.attr<number[]>(node, name, fallback);
  if (v.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) throw c.fail(node, `${name} [${v}] must be two positive integers (2-D ${node.op} only)`);
  return [v[0], v[1]];
};

function biasOf(c: Converter, node: OnnxNode, index: number, m: number): Float32Array | null {
  if (node.inputs[index]) {
    const bt = c.constant(node, index, 'bias');
    if (bt.data.length !== m) throw c.fail(node, `bias '${bt.name}' has ${bt.data.length} values, expected ${m}`, bt.name);
    return bt.data.slice();
  }
  return biasWanted(c, node.outputs[0]) ? new Float32Array(m) : null;
}

const conv: OpFn = (c, node) => {
  const x = c.image(node, c.value(node, node.inputs[0]));
  const [ch, h, w] = x.shape;
  const wt = c.constant(node, 1, 'weight');
  if (wt.dims.length !== 4) throw c.fail(node, `weight '${wt.name}' has shape [${wt.dims}], expected [M, C/group, kH, kW] (2-D convolution only)`, wt.name);
  const [m, cg, kh, kw] = wt.dims;
  const group = c.attr(node, 'group', 1);
  if (cg * group !== ch || m % group) throw c.fail(node, `weight '${wt.name}' has shape [${wt.dims}] with group ${group}, but the input has ${ch} channels`, wt.name);
  const ks = c.attr<number[]>(node, 'kernel_shape', [kh, kw]);
  if (ks[0] !== kh || ks[1] !== kw) throw c.fail(node, `kernel_shape [${ks}] does not match weight '${wt.name}' [${wt.dims}]`, wt.name);
  const strides = pair(c, node, 'strides', [1, 1]);
  const dilationRate = pair(c, node, 'dilations', [1, 1]);
  const pads = padding(c, node, h, w, [kh, kw], strides, dilationRate);
  const input = Array.isArray(pads) ? padded(c, node, x, pads) : x;
  const bias = biasOf(c, node, 2, m);
  const common = { kernelSize: [kh, kw] as [number, number], strides, dilationRate, padding: Array.isArray(pads) ? 'valid' as const : pads, useBias: bias !== null, name: c.layerName(node) };
  let layer: Layer;
  const kernel = new Float32Array(wt.data.length);
  if (group === ch && group > 1) {
    // Depthwise: output channel o = ci * mult + j reads input channel ci; [M, 1, kH, kW] -> [kH, kW, C, mult].
    const mult = m / ch;
    for (let ci = 0; ci < ch; ci++) for (let j = 0; j < mult; j++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) {
      kernel[((y * kw + z) * ch + ci) * mult + j] = wt.data[((ci * mult + j) * kh + y) * kw + z];
    }
    layer = layers.depthwiseConv2d({ depthMultiplier: mult, ...common });
  } else {
    // OIHW -> HWIO, I being the channels of one group (Keras's grouped kernel [kH, kW, C/group, M])
    for (let o = 0; o < m; o++) for (let i = 0; i < cg; i++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) {
      kernel[((y * kw + z) * cg + i) * m + o] = wt.data[((o * cg + i) * kh + y) * kw + z];
    }
    layer = group === 1 ? layers.conv2d({ filters: m, ...common }) : L.conv2d({ filters: m, groups: group, ...common });
  }
  c.set(node, imageOut(c, c.apply(layer, [input.t], bias ? [kernel, bias] : [kernel])));
};

// ConvTranspose: weight [C, M/group, kH, kW] -> Conv2DTranspose [kH, kW, M/group, C] (with group > 1
// input channel i of group g = floor(i / (C/group)) feeds outputs g*M/group .. (g+1)*M/group - 1).
const convTranspose: OpFn = (c, node) => {
  const x = c.image(node, c.value(node, node.inputs[0]));
  const wt = c.constant(node, 1, 'weight');
  if (wt.dims.length !== 4) throw c.fail(node, `weight '${wt.name}' has shape [${wt.dims}], expected [C, M/group, kH, kW]`, wt.name);
  const [ci, m, kh, kw] = wt.dims;
  const groups = c.attr(node, 'group', 1);
  if (!Number.isInteger(groups) || groups < 1 || ci % groups !== 0) throw c.fail(node, `group ${groups} does not divide the ${ci} input channels`);
  if (ci !== x.shape[0]) throw c.fail(node, `weight '${wt.name}' [${wt.dims}] does not match the input's ${x.shape[0]} channels`, wt.name);
  if (c.attr<number[] | undefined>(node, 'output_shape', undefined)) throw c.fail(node, 'output_shape is not supported; export with pads and output_padding');
  const strides = pair(c, node, 'strides', [1, 1]);
  const dilationRate = pair(c, node, 'dilations', [1, 1]);
  const p = c.attr<number[]>(node, 'pads', [0, 0, 0, 0]);
  const outputPadding = c.attr<number[]>(node, 'output_padding', [0, 0]) as [number, number];
  if (c.attr<string>(node, 'auto_pad', 'NOTSET') !== 'NOTSET') throw c.fail(node, 'auto_pad is not supported for ConvTranspose; export with explicit pads');
  const kernel = new Float32Array(wt.data.length);
  for (let i = 0; i < ci; i++) for (let o = 0; o < m; o++) for (let y = 0; y < kh; y++) for (let z = 0; z < kw; z++) {
    kernel[((y * kw + z) * m + o) * ci + i] = wt.data[((i * m + o) * kh + y) * kw + z];
  }
  const bias = biasOf(c, node, 2, m * groups);
  const layer = L.conv2dTranspose({
    filters: m * groups, kernelSize: [kh, kw], strides, dilationRate, padding: [[p[0], p[2]], [p[1], p[3]]], outputPadding, useBias: bias !== null,
    ...(groups > 1 ? { groups } : {}), name: c.layerName(node),
  });
  c.set(node, imageOut(c, c.apply(layer, [x.t], bias ? [kernel, bias] : [kernel])));
};

// PyTorch's pooled size (ceil_mode: the last window must start inside the input or left padding).
function pooledSize(n: number, k: number, s: number, before: number, after: number, ceil: boolean): number {
  const span = n + before + after - k;
  let out = (ceil ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  if (ceil && (out - 1) * s >= n + before) out--;
  return out;
}

const pool: OpFn = (c, node) => {
  const x = c.image(node, c.value(node, node.inputs[0]));
  const [, h, w] = x.shape;
  const poolSize = pair(c, node, 'kernel_shape', []);
  const strides = pair(c, node, 'strides', [1, 1]);
  if (c.attr<number[]>(node, 'dilations', [1, 1]).some((d) => d !== 1)) throw c.fail(node, 'dilated pooling is not supported');
  const avg = node.op === 'AveragePool';
  const includePad = avg && c.attr(node, 'count_include_pad', 0) === 1;
  let pads = padding(c, node, h, w, poolSize, strides, [1, 1]);
  const explicit: Pads = pads === 'valid' ? [[0, 0], [0, 0]] : pads === 'same' ? (() => {
    const t = (n: number, i: number) => Math.max((Math.ceil(n / strides[i]) - 1) * strides[i] + poolSize[i] - n, 0);
    return [[Math.floor(t(h, 0) / 2), t(h, 0) - Math.floor(t(h, 0) / 2)], [Math.floor(t(w, 1) / 2), t(w, 1) - Math.floor(t(w, 1) / 2)]] as Pads;
  })() : pads;
  // ceil_mode only matters where it changes the output size
  const ceil = c.attr(node, 'ceil_mode', 0) === 1 &&
    [0, 1].some((i) => pooledSize([h, w][i], poolSize[i], strides[i], explicit[i][0], explicit[i][1], true) !== pooledSize([h, w][i], poolSize[i], strides[i], explicit[i][0], explicit[i][1], false));
  let input = x;
  if (includePad && pads !== 'valid' && !ceil) {
    // an average counting its padding is a zero padding and a 'valid' average
    input = padded(c, node, x, explicit);
    pads = 'valid';
  }
  const base = { poolSize, strides, name: c.layerName(node) };
  let layer: Layer;
  if (!ceil && (pads === 'valid' || (pads === 'same' && !includePad))) {
    layer = avg ? layers.averagePooling2d({ ...base, padding: pads }) : layers.maxPooling2d({ ...base, padding: pads });
  } else {
    const extra = { ceilMode: ceil };
    layer = avg ? L.averagePooling2d({ ...base, padding: explicit, ...extra, countIncludePad: includePad }) : L.maxPooling2d({ ...base, padding: explicit, ...extra });
  }
  c.set(node, imageOut(c, c.apply(layer, [input.t])));
};

const globalPool: OpFn = (c, node) => {
  const x = c.image(node, c.value(node, node.inputs[0]));
  const name = c.layerName(node);
  const t = node.op === 'GlobalAveragePool' ? c.apply(layers.globalAveragePooling2d({ name }), [x.t]) : c.apply(L.reduce({ op: 'max', axis: [1, 2], keepdims: true, name }), [x.t]);
  c.set(node, c.make(t, [x.shape[0], 1, 1], IMAGE_PERM));
};

// Channel (ONNX axis 1) last: BatchNormalization and per-channel weights act on our last axis.
export function channelLast(c: Converter, node: OnnxNode, v: Value): Value {
  const r = v.shape.length;
  return c.inCanonical(node, v, r === 1 ? [0] : [...Array.from({ length: r - 1 }, (_, i) => i + 1), 0]);
}

const batchNorm: OpFn = (c, node) => {
  const x = channelLast(c, node, c.value(node, node.inputs[0]));
  const ch = x.shape[0];
  const ws = ['scale', 'bias', 'mean', 'variance'].map((what, i) => {
    const t = c.constant(node, i + 1, what);
    if (t.data.length !== ch) throw c.fail(node, `${what} '${t.name}' has ${t.data.length} values, expected ${ch} (channels)`, t.name);
    return t.data.slice();
  });
  const layer = layers.batchNormalization({ epsilon: c.attr(node, 'epsilon', 1e-5), momentum: c.attr(node, 'momentum', 0.9), name: c.layerName(node) });
  c.set(node, { ...x, t: c.apply(layer, [x.t], ws) });
};

// A dense layer on the last ONNX axis. A rank-1 input may be any layout (a Flatten of an NHWC
// image): the kernel's rows follow our memory order instead of moving the data.
function dense(c: Converter, node: OnnxNode, xv: Value, kernel: Float32Array, n: number, bias: Float32Array | null, outputOf: OnnxNode = node): void {
  let x = xv;
  const k = x.shape[x.shape.length - 1];
  let w = kernel;
  if (x.shape.length === 1) {
    if (!isCanonical(x.layout, [0])) {
      const order = memoryOrder(x.layout);
      w = new Float32Array(kernel.length);
      for (let p = 0; p < k; p++) w.set(kernel.subarray(order[p] * n, order[p] * n + n), p * n);
    }
    const t = x.t.shape.length === 1 ? x.t : c.apply(layers.flatten({ name: c.layerName(node, '_flatten') }), [x.t]);
    x = { t, shape: x.shape, layout: canonical(x.shape) };
  } else {
    x = c.inCanonical(node, x, x.shape.map((_, i) => i));
  }
  const layer = layers.dense(n, { name: c.layerName(node), useBias: bias !== null });
  const t = c.apply(layer, [x.t], bias ? [w, bias] : [w]);
  const shape = [...x.shape.slice(0, -1), n];
  c.values.set(outputOf.outputs[0], c.make(t, shape, shape.map((_, i) => i)));
}

const gemm: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  if (c.attr(node, 'transA', 0)) throw c.fail(node, 'transA = 1 is not supported (the input is the model\'s activation)');
  if (x.shape.length !== 1) throw c.fail(node, `needs a [N, K] input, got [N, ${x.shape}]`);
  const k = x.shape[0];
  const bt = c.constant(node, 1, 'weight');
  const transB = c.attr(node, 'transB', 0);
  const alpha = c.attr(node, 'alpha', 1);
  const beta = c.attr(node, 'beta', 1);
  if (bt.dims.length !== 2) throw c.fail(node, `weight '${bt.name}' has shape [${bt.dims}], expected rank 2`, bt.name);
  const [r, cols] = bt.dims;
  const wantK = transB ? cols : r;
  const n = transB ? r : cols;
  if (wantK !== k) throw c.fail(node, `weight '${bt.name}' has shape [${bt.dims}]${transB ? ' (transB)' : ''}: ${wantK} inputs, but the input has ${k} features`, bt.name);
  const kernel = new Float32Array(k * n);
  for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) kernel[i * n + j] = alpha * (transB ? bt.data[j * k + i] : bt.data[i * n + j]);
  let bias: Float32Array | null = null;
  if (node.inputs[2]) {
    const ct = c.constant(node, 2, 'bias');
    const size = ct.data.length;
    if (!(size === n || size === 1) || (ct.dims.length === 2 && ct.dims[0] !== 1)) throw c.fail(node, `bias '${ct.name}' has shape [${ct.dims}], expected [${n}]`, ct.name);
    bias = new Float32Array(n);
    for (let j = 0; j < n; j++) bias[j] = beta * ct.data[size === 1 ? 0 : j];
  } else if (biasWanted(c, node.outputs[0])) bias = new Float32Array(n);
  dense(c, node, x, kernel, n, bias);
};

// MatMul of two computed tensors of one rank (NumPy's matmul, leading axes broadcast): a matMul
// layer on both in ONNX's axis order. Ranks that differ would line one's batch up against an axis
// of the other: refused.
function tensorProduct(c: Converter, node: OnnxNode): void {
  const [x, y] = [0, 1].map((i) => c.value(node, node.inputs[i]));
  if (x.shape.length !== y.shape.length || x.shape.length < 2) {
    throw c.fail(node, `a product of two computed tensors [N, ${x.shape}] and [N, ${y.shape}]: only operands of one rank, at least [N, M, K], are supported (the batch axes must line up)`);
  }
  const onnxOrder = x.shape.map((_, i) => i);
  const [xt, yt] = [x, y].map((v) => c.inCanonical(node, v, onnxOrder).t);
  const t = c.apply(layers.matMul({ name: c.layerName(node) }), [xt, yt]);
  c.set(node, c.make(t, [...t.shape], onnxOrder));
}

// MatMul with a constant [K, N]; a following Add of a constant [N] becomes the dense bias.
const matmul: OpFn = (c, node) => {
  if (!c.isConst(node.inputs[1])) return tensorProduct(c, node);
  const x = c.value(node, node.inputs[0]);
  const k = x.shape[x.shape.length - 1];
  const bt = c.constant(node, 1, 'weight');
  if (bt.dims.length !== 2 || bt.dims[0] !== k) throw c.fail(node, `weight '${bt.name}' has shape [${bt.dims}], expected [${k}, units] for an input with ${k} features`, bt.name);
  const n = bt.dims[1];
  const users = c.consumers.get(node.outputs[0]) ?? [];
  const add = users.length === 1 && users[0].op === 'Add' ? users[0] : null;
  const biasName = add ? add.inputs.find((i) => i !== node.outputs[0]) : undefined;
  const bias = biasName !== undefined ? c.consts.get(biasName) : undefined;
  if (add && bias && bias.data.length === n && bias.dims.every((d, i) => i === bias.dims.length - 1 || d === 1) && c.soleReader(node.outputs[0])) {
    dense(c, node, x, bt.data, n, bias.data.slice(), add);
    return;
  }
  dense(c, node, x, bt.data.slice(), n, biasWanted(c, node.outputs[0]) ? new Float32Array(n) : null);
};

// Resize (opset 11+: roi, scales, sizes inputs; 10: scales input) and Upsample (scales).
const resize: OpFn = (c, node) => {
  const x = c.image(node, c.value(node, node.inputs[0]));
  const [ch, h, w] = x.shape;
  const scalesIndex = node.op === 'Upsample' || c.opset < 11 ? 1 : 2;
  const scales = c.optionalConstant(node, scalesIndex, 'scales');
  const sizes = node.op === 'Resize' && c.opset >= 11 ? c.optionalConstant(node, 3, 'sizes') : undefined;
  let oh: number, ow: number;
  if (sizes && sizes.data.length === 4) {
    [oh, ow] = [sizes.data[2], sizes.data[3]];
    if (sizes.data[1] !== ch) throw c.fail(node, `sizes [${Array.from(sizes.data)}] change the channels`);
  } else if (scales && scales.data.length === 4) {
    if (scales.data[0] !== 1 || scales.data[1] !== 1) throw c.fail(node, `scales [${Array.from(scales.data)}] scale the batch or channels`);
    [oh, ow] = [Math.floor(h * scales.data[2]), Math.floor(w * scales.data[3])];
  } else throw c.fail(node, 'needs 4 constant scales or sizes (N, C, H, W)');
  const mode = c.attr<string>(node, 'mode', 'nearest');
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') throw c.fail(node, `mode '${mode}' is not supported (nearest, linear)`);
  const interpolation = mode === 'nearest' ? 'nearest' : 'bilinear';
  const transform = node.op === 'Upsample' || c.opset < 11 ? 'asymmetric' : c.attr<string>(node, 'coordinate_transformation_mode', 'half_pixel');
  if (!['half_pixel', 'align_corners', 'asymmetric', 'pytorch_half_pixel'].includes(transform)) throw c.fail(node, `coordinate_transformation_mode '${transform}' is not supported`);
  const nearestMode = c.attr<string>(node, 'nearest_mode', node.op === 'Upsample' || c.opset < 11 ? 'floor' : 'round_prefer_floor');
  const name = c.layerName(node);
  const integer = Number.isInteger(oh / h) && Number.isInteger(ow / w);
  const layer = integer && interpolation === 'nearest' && transform === 'asymmetric' && nearestMode === 'floor'
    ? L.upSampling2d({ size: [oh / h, ow / w], interpolation: 'nearest', name })
    : L.resizing({ height: oh, width: ow, interpolation, coordinateTransform: transform as ResizeMode, ...(interpolation === 'nearest' ? { nearestMode } : {}), name });
  c.set(node, imageOut(c, c.apply(layer, [x.t])));
};

export const NN_OPS: Record<string, OpFn> = {
  Conv: conv, ConvTranspose: convTranspose, MaxPool: pool, AveragePool: pool, GlobalAveragePool: globalPool, GlobalMaxPool: globalPool,
  BatchNormalization: batchNorm, Gemm: gemm, MatMul: matmul, Resize: resize, Upsample: resize,
};
