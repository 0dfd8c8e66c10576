// The weighted ops of a TF.js graph (convolutions, matmuls, batch norm, transposed convolution)
// and what folds into them: constant operands of BiasAdd / Add / Sub / Mul / RealDiv fold into the
// weights of the layer that produced the other operand (bias += c, kernel and bias *= s per output
// channel), and a fused or following activation becomes that layer's activation, when that layer
// has no other reader. TF's dilated-convolution pattern SpaceToBatchND -> conv -> BatchToSpaceND
// becomes one dilated convolution.
import { ModelFormatError } from '../core/errors';
import { layers } from '../layers/index';
import type { ActivationName } from '../layers/activations';
import { ownEntry } from '../core/lookup';
import { UnsupportedOpError } from './errors';
import { attrBool, attrFloat, attrText, factory, type GraphNodeDef, paddingAttr, requireNhwc, spatialAttr } from './tfjs-graph-attrs';
import type { GraphContext, Pending, Value } from './tfjs-graph';
import { type Const, sizeOf } from './tfjs-fold';
import { checkShape } from './tfjs-weights';

export const ACTIVATIONS: Record<string, ActivationName> = { Relu: 'relu', Relu6: 'relu6', Elu: 'elu', Sigmoid: 'sigmoid', Tanh: 'tanh', LeakyRelu: 'leakyRelu', Softmax: 'softmax' };
const WEIGHTED = new Set(['dense', 'conv2d', 'depthwiseConv2d', 'conv2dTranspose']);

interface Fused { bias: boolean; batchNorm: boolean; activation: string | null; alpha: number }
const NONE: Fused = { bias: false, batchNorm: false, activation: null, alpha: 0.2 };

// A SpaceToBatchND's output: only a convolution may read it.
interface SpaceToBatch { x: Pending; block: [number, number]; pads: [[number, number], [number, number]] }
const spaceToBatch = new WeakMap<object, SpaceToBatch>();
// A convolution read through SpaceToBatchND: BatchToSpaceND's crops trim its padding.
interface DilatedConv { s2b: SpaceToBatch; pad: Pending | null; conv: Pending; chain: Pending[] }
const dilated = new WeakMap<Pending, DilatedConv>(); // keyed by this import's own records: nothing outlives it

export const tensor = (p: Pending): Value => ({ kind: 'tensor', p });

export function tensorIn(g: GraphContext, d: GraphNodeDef, ins: Value[], i: number): Pending {
  const v = ins[i];
  if (!v || v.kind !== 'tensor') throw new UnsupportedOpError(d.op, d.name, g.file, `input ${i} must be a computed tensor, not a constant`);
  if (spaceToBatch.has(v)) throw new UnsupportedOpError(d.op, d.name, g.file, 'it reads a SpaceToBatchND (supported only as the input of a convolution followed by BatchToSpaceND)');
  return v.p;
}

export function constIn(g: GraphContext, d: GraphNodeDef, ins: Value[], i: number, what: string): Const {
  const v = ins[i];
  if (!v || v.kind !== 'const') throw new UnsupportedOpError(d.op, d.name, g.file, `its ${what} (input ${i}) must be a constant`);
  return v.w;
}

// Returns the converted value, or null when the op is not one of this module's.
export function convertWeighted(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value | null {
  const file = g.file;
  switch (d.op) {
    case 'Conv2D':
    case '_FusedConv2D':
    case 'DepthwiseConv2dNative':
    case 'FusedDepthwiseConv2dNative':
      return convolution(g, d, ins);
    case 'SpaceToBatchND': {
      const x = tensorIn(g, d, ins, 0);
      const block = Array.from(constIn(g, d, ins, 1, 'block shape').values);
      const pads = Array.from(constIn(g, d, ins, 2, 'paddings').values);
      if (block.length !== 2 || pads.length !== 4 || x.shape.length !== 3) throw new UnsupportedOpError(d.op, d.name, file, `block shape [${block}] over [batch, ${x.shape}] (only the 2-D spatial form of a dilated convolution)`);
      const v: Value = { kind: 'tensor', p: x };
      spaceToBatch.set(v, { x, block: [block[0], block[1]], pads: [[pads[0], pads[1]], [pads[2], pads[3]]] });
      return v;
    }
    case 'BatchToSpaceND':
      return batchToSpace(g, d, ins);
    case 'MatMul':
    case '_FusedMatMul':
    case 'BatchMatMul':
    case 'BatchMatMulV2':
      return matMul(g, d, ins);
    case 'FusedBatchNorm':
    case 'FusedBatchNormV2':
    case 'FusedBatchNormV3': {
      if (attrBool(d, 'is_training')) throw new UnsupportedOpError(d.op, d.name, file, 'is_training is true (a frozen graph must use moving statistics)');
      requireNhwc(d, file);
      const x = tensorIn(g, d, ins, 0);
      const [scale, offset, mean, variance] = [1, 2, 3, 4].map((k) => constIn(g, d, ins, k, ['scale', 'offset', 'mean', 'variance'][k - 1]));
      return tensor(batchNorm(g, d, d.name, x, scale, offset, mean, variance, attrFloat(d, 'epsilon', 0.001)));
    }
    case 'Conv2DBackpropInput':
      return transposedConv(g, d, ins);
    case 'Prelu':
      return tensor(prelu(g, d, tensorIn(g, d, ins, 0), constIn(g, d, ins, 1, 'alpha'), d.name));
    case 'Relu': case 'Relu6': case 'Elu': case 'Sigmoid': case 'Tanh': case 'LeakyRelu': case 'Softmax':
      return activation(g, d, tensorIn(g, d, ins, 0), d.op, attrFloat(d, 'alpha', 0.2), d.name, false);
    default:
      return null;
  }
}

// The fused ops of _FusedConv2D / FusedDepthwiseConv2dNative / _FusedMatMul.
function fused(g: GraphContext, d: GraphNodeDef): Fused {
  const list = d.attr?.fused_ops?.list?.s ?? [];
  if (!Array.isArray(list)) throw new ModelFormatError(`${g.file}: node '${d.name}': attribute 'fused_ops' is not a list of strings`, g.file, d.name);
  const ops = list.map((s) => attrText(d, 'fused_ops', g.file, s));
  const f: Fused = { ...NONE, alpha: attrFloat(d, 'leakyrelu_alpha', 0.2) };
  for (const [k, op] of ops.entries()) {
    if (k === 0 && op === 'BiasAdd') f.bias = true;
    else if (k === 0 && op === 'FusedBatchNorm') f.batchNorm = true;
    else if (k === ops.length - 1 && ((ownEntry(ACTIVATIONS, op) && op !== 'Softmax') || op === 'Prelu')) f.activation = op;
    else throw new UnsupportedOpError(d.op, d.name, g.file, `fused ops [${ops.join(', ')}] (supported: BiasAdd or FusedBatchNorm, then Relu, Relu6, Elu, LeakyRelu, Sigmoid, Tanh, Prelu)`);
  }
  return f;
}

const samePad = (size: number, k: number, s: number, dil: number): [number, number] => {
  const total = Math.max((Math.ceil(size / s) - 1) * s + (k - 1) * dil + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
};

function convolution(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const file = g.file;
  requireNhwc(d, file);
  const depthwise = d.op.includes('Depthwise');
  const s2b = ins[0] ? spaceToBatch.get(ins[0]) : undefined;
  let x = s2b ? s2b.x : tensorIn(g, d, ins, 0);
  const filter = constIn(g, d, ins, 1, 'filter');
  if (filter.shape.length !== 4 || filter.shape[2] !== x.shape[2]) {
    throw new ModelFormatError(`${file}: node '${d.name}': filter '${filter.name}' has shape [${filter.shape}], which does not fit its input [${x.shape}] (${depthwise ? 'H, W, C, multiplier' : 'HWIO'})`, file, filter.name);
  }
  const f = d.op.startsWith('_') || d.op.startsWith('Fused') ? fused(g, d) : NONE;
  const strides = spatialAttr(d, 'strides', file);
  let dilationRate = spatialAttr(d, 'dilations', file);
  let padding = paddingAttr(d, file);
  let pad: Pending | null = null;
  if (s2b) {
    if (padding !== 'valid' || strides[0] !== 1 || strides[1] !== 1 || dilationRate[0] !== 1 || dilationRate[1] !== 1) throw new UnsupportedOpError(d.op, d.name, file, 'a convolution after SpaceToBatchND must have VALID padding, stride 1 and no dilation');
    dilationRate = s2b.block;
    padding = s2b.pads;
  }
  if (Array.isArray(padding)) { // explicit pads: 'same' when they are SAME's, else a padding layer
    const k = [filter.shape[0], filter.shape[1]];
    const same = [0, 1].every((a) => { const p = samePad(x.shape[a], k[a], strides[a], dilationRate[a]); return p[0] === padding[a][0] && p[1] === padding[a][1]; });
    if (same) padding = 'same';
    else {
      pad = g.add(`${d.name}/pad`, layers.zeroPadding2d({ name: g.layerName(`${d.name}/pad`), padding: padding as [[number, number], [number, number]] }), [x]);
      x = pad;
      padding = 'valid';
    }
  }
  const name = g.layerName(d.name);
  const common = { name, kernelSize: [filter.shape[0], filter.shape[1]] as [number, number], strides, dilationRate, padding: padding as 'same' | 'valid', useBias: false };
  const conv = depthwise
    ? g.add(d.name, layers.depthwiseConv2d({ ...common, depthMultiplier: filter.shape[3] }), [x], { depthwise_kernel: Float32Array.from(filter.values) })
    : g.add(d.name, layers.conv2d({ ...common, filters: filter.shape[3] }), [x], { kernel: Float32Array.from(filter.values) });
  const out = epilogue(g, d, ins, conv, f, 2);
  if (s2b) {
    const chain: Pending[] = [];
    for (let p = out.p; p !== conv; p = p.inputs[0]) chain.unshift(p);
    dilated.set(out.p, { s2b, pad, conv, chain });
  }
  return out;
}

// BatchToSpaceND after a convolution that read SpaceToBatchND: the crops come off the padding.
function batchToSpace(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const y = tensorIn(g, d, ins, 0);
  const info = dilated.get(y);
  const block = Array.from(constIn(g, d, ins, 1, 'block shape').values);
  const crops = Array.from(constIn(g, d, ins, 2, 'crops').values);
  if (!info || block[0] !== info.s2b.block[0] || block[1] !== info.s2b.block[1] || crops.length !== 4) {
    throw new UnsupportedOpError(d.op, d.name, g.file, 'only as the end of a dilated convolution (SpaceToBatchND -> convolution -> BatchToSpaceND with the same block shape)');
  }
  const pads = info.s2b.pads.map((p, a) => [p[0] - crops[2 * a], p[1] - crops[2 * a + 1]]);
  if (pads.some((p) => p[0] < 0 || p[1] < 0)) throw new UnsupportedOpError(d.op, d.name, g.file, `crops [${crops}] larger than the paddings [${info.s2b.pads.flat()}]`);
  const x = info.s2b.x;
  const l = info.conv.layer!;
  const k = l.config.kernelSize as [number, number];
  const rate = info.s2b.block;
  if ([0, 1].every((a) => { const s = samePad(x.shape[a], k[a], 1, rate[a]); return s[0] === pads[a][0] && s[1] === pads[a][1]; })) {
    l.config.padding = 'same';
    info.conv.inputs = [x];
  } else if (pads.every((p) => p[0] === 0 && p[1] === 0)) info.conv.inputs = [x];
  else {
    const pad = info.pad ?? g.add(`${d.name}/pad`, layers.zeroPadding2d({ name: g.layerName(`${d.name}/pad`), padding: [[0, 0], [0, 0]] }), [x]);
    pad.layer!.config.padding = pads;
    pad.shape = pad.layer!.outputShape([x.shape]);
    info.conv.inputs = [pad];
  }
  for (const p of [info.conv, ...info.chain]) p.shape = p.layer!.outputShape(p.inputs.map((i) => i.shape));
  dilated.delete(y);
  y.node = d.name;
  return tensor(y);
}

// BatchMatMul(V2) of two computed tensors of one rank: a matMul layer (adj_x, adj_y its
// transposes), the batch axes lined up. MatMul's operands are 2-D, so a second computed operand
// would have the batch as its rows: refused, as is a fused epilogue on such a product.
function tensorProduct(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const [x, y] = [tensorIn(g, d, ins, 0), tensorIn(g, d, ins, 1)];
  const what = `a product of two computed tensors [batch, ${x.shape}] and [batch, ${y.shape}]`;
  if (!d.op.startsWith('Batch')) throw new UnsupportedOpError(d.op, d.name, g.file, `${what} (${d.op}'s operands are matrices: the second one's rows would be the batch)`);
  if (x.shape.length !== y.shape.length || x.shape.length < 2) throw new UnsupportedOpError(d.op, d.name, g.file, `${what} (ranks differ, so the batch axes would not line up)`);
  const layer = layers.matMul({ name: g.layerName(d.name), transposeA: attrBool(d, 'adj_x'), transposeB: attrBool(d, 'adj_y') });
  return tensor(g.add(d.name, layer, [x, y]));
}

// MatMul / BatchMatMul with a constant right-hand side: a dense layer on the last axis.
function matMul(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const file = g.file;
  if (ins[0]?.kind === 'tensor' && ins[1]?.kind === 'tensor') return tensorProduct(g, d, ins);
  const x = tensorIn(g, d, ins, 0);
  const w = constIn(g, d, ins, 1, 'weights');
  const batched = d.op.startsWith('Batch');
  if (attrBool(d, batched ? 'adj_x' : 'transpose_a')) throw new UnsupportedOpError(d.op, d.name, file, 'a transposed left-hand side');
  const tb = attrBool(d, batched ? 'adj_y' : 'transpose_b');
  const w2 = w.shape.length > 2 && sizeOf(w.shape.slice(0, -2)) === 1 ? w.shape.slice(-2) : w.shape;
  if (x.shape.length < 1 || w2.length !== 2 || w2[tb ? 1 : 0] !== x.shape[x.shape.length - 1]) {
    throw new ModelFormatError(`${file}: node '${d.name}': weights '${w.name}' of shape [${w.shape}]${tb ? ' (transposed)' : ''} do not fit its input [batch, ${x.shape}]`, file, w.name);
  }
  const [k, n] = tb ? [w2[1], w2[0]] : w2;
  let kernel = Float32Array.from(w.values);
  if (tb) { kernel = new Float32Array(k * n); for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) kernel[i * n + j] = w.values[j * k + i]; }
  const f = d.op === '_FusedMatMul' ? fused(g, d) : NONE;
  if (f.batchNorm) throw new UnsupportedOpError(d.op, d.name, file, 'FusedBatchNorm after MatMul');
  const v = g.add(d.name, layers.dense(n, { name: g.layerName(d.name), useBias: false }), [x], { kernel });
  return epilogue(g, d, ins, v, f, 2);
}

// Conv2DBackpropInput(output size, filter [kh, kw, out, in], x): a transposed convolution whose
// pads crop the full output ((in - 1) * stride + k) to the requested size.
function transposedConv(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const file = g.file;
  requireNhwc(d, file);
  const size = Array.from(constIn(g, d, ins, 0, 'output shape').values);
  const filter = constIn(g, d, ins, 1, 'filter');
  const x = tensorIn(g, d, ins, 2);
  if (filter.shape.length !== 4 || filter.shape[3] !== x.shape[2] || size.length !== 4) {
    throw new ModelFormatError(`${file}: node '${d.name}': filter '${filter.name}' of shape [${filter.shape}] or output shape [${size}] does not fit its input [${x.shape}] (H, W, out, in)`, file, filter.name);
  }
  const strides = spatialAttr(d, 'strides', file);
  const dil = spatialAttr(d, 'dilations', file);
  if (dil[0] !== 1 || dil[1] !== 1) throw new UnsupportedOpError(d.op, d.name, file, `dilations [${dil}]`);
  const pads = [0, 1].map((a) => {
    const full = (x.shape[a] - 1) * strides[a] + filter.shape[a];
    const total = full - size[a + 1];
    const padding = paddingAttr(d, file);
    const before = Array.isArray(padding) ? padding[a][0] : padding === 'same' ? Math.floor(Math.max(total, 0) / 2) : 0;
    return [before, total - before] as [number, number];
  }) as [[number, number], [number, number]];
  if (pads.flat().some((p) => p < 0)) throw new UnsupportedOpError(d.op, d.name, file, `output shape [${size}] larger than the full transposed convolution`);
  const make = factory<Record<string, unknown>>(d, file, 'conv2dTranspose');
  const layer = make({ name: g.layerName(d.name), filters: filter.shape[2], kernelSize: [filter.shape[0], filter.shape[1]], strides, padding: pads, useBias: false });
  return tensor(g.add(d.name, layer, [x], { kernel: Float32Array.from(filter.values) }));
}

// Emits the fused epilogue after a convolution or matmul layer p: bias or batch norm, then activation.
function epilogue(g: GraphContext, d: GraphNodeDef, ins: Value[], p: Pending, f: Fused, argBase: number): { kind: 'tensor'; p: Pending } {
  if (f.bias) {
    const b = constIn(g, d, ins, argBase, 'bias');
    checkShape(b, [p.shape[p.shape.length - 1]], `the fused bias of node '${d.name}'`, g.file);
    foldBias(g, d, p, b, 1);
  }
  let out = p;
  if (f.batchNorm) {
    const [scale, offset, mean, variance] = [0, 1, 2, 3].map((k) => constIn(g, d, ins, argBase + k, ['scale', 'offset', 'mean', 'variance'][k]));
    out = batchNorm(g, d, `${d.name}/FusedBatchNorm`, p, scale, offset, mean, variance, attrFloat(d, 'epsilon', 0.001));
  }
  if (f.activation === 'Prelu') out = prelu(g, d, out, constIn(g, d, ins, argBase + (f.bias ? 1 : 4), 'alpha'), `${d.name}/Prelu`);
  else if (f.activation) out = (activation(g, d, out, f.activation, f.alpha, `${d.name}/${f.activation}`, true) as { p: Pending }).p;
  out.node = d.name; // later ops read the fused result by the node's name
  return { kind: 'tensor', p: out };
}

function batchNorm(g: GraphContext, d: GraphNodeDef, node: string, x: Pending, scale: Const, offset: Const, mean: Const, variance: Const, eps: number): Pending {
  const c = x.shape[x.shape.length - 1];
  if (!(eps > 0)) throw new UnsupportedOpError(d.op, d.name, g.file, `epsilon ${eps} (must be positive)`);
  const layer = layers.batchNormalization({ name: g.layerName(node), epsilon: eps });
  const check = (w: Const, what: string) => checkShape(w, [c], `the ${what} of ${d.name}`, g.file);
  return g.add(node, layer, [x], { gamma: check(scale, 'scale'), beta: check(offset, 'offset'), moving_mean: check(mean, 'mean'), moving_variance: check(variance, 'variance') });
}

// Keras PReLU with one alpha per channel (shared over the other per-sample axes).
function prelu(g: GraphContext, d: GraphNodeDef, x: Pending, alpha: Const, node: string): Pending {
  const c = x.shape[x.shape.length - 1];
  const v = perChannel(alpha, c, x.shape.length + 1);
  if (!v) throw new ModelFormatError(`${g.file}: node '${d.name}': PReLU alpha '${alpha.name}' of shape [${alpha.shape}] is not one value per channel of [${x.shape}]`, g.file, alpha.name);
  const make = factory<Record<string, unknown>>(d, g.file, 'prelu');
  const sharedAxes = x.shape.slice(0, -1).map((_, i) => i + 1);
  return g.add(node, make({ name: g.layerName(node), ...(sharedAxes.length ? { sharedAxes } : {}) }), [x], { alpha: v });
}

// An activation op: fused into the layer that produced x when x is that layer's only reader and
// linear, else an activation layer of its own.
export function activation(g: GraphContext, d: GraphNodeDef, x: Pending, op: string, alpha: number, node: string, fusedOp: boolean): Value {
  const name = ACTIVATIONS[op]; // callers pass only its keys
  const l = x.layer;
  const soleReader = fusedOp || g.readerCount(x.node) === 1;
  const fusable = l && soleReader && WEIGHTED.has(l.kind) && l.config.activation === 'linear' && (name !== 'leakyRelu' || Math.abs(alpha - 0.2) < 1e-7) &&
    (name !== 'softmax' || l.kind === 'dense');
  if (fusable) {
    l.config.activation = name;
    x.node = node;
    return tensor(x);
  }
  const layer = name === 'leakyRelu' ? layers.leakyRelu({ name: g.layerName(node), negativeSlope: alpha })
    : name === 'elu' ? layers.elu({ name: g.layerName(node) })
      : layers.activation(name, { name: g.layerName(node) });
  void d;
  return tensor(g.add(node, layer, [x]));
}

// Whether a constant can be folded into the layer that produced x (its only reader is this op).
export function foldable(g: GraphContext, x: Pending): boolean {
  const l = x.layer;
  if (!l || g.readerCount(x.node) !== 1) return false;
  return (WEIGHTED.has(l.kind) && l.config.activation === 'linear') || l.kind === 'batchNormalization' || l.kind === 'rescaling';
}

// Per-channel values of a constant broadcast against a (batch, ..., C) tensor: [C], [1, .., C] or
// a scalar, of no higher rank than the tensor (a higher one would change the output's rank).
export function perChannel(w: Const, c: number, rank: number): Float32Array | null {
  if (w.shape.length > rank) return null;
  if (w.values.length === 1) return new Float32Array(c).fill(w.values[0]);
  const dims = w.shape.filter((x) => x !== 1);
  if (dims.length === 1 && dims[0] === c && w.shape[w.shape.length - 1] === c) return Float32Array.from(w.values);
  return null;
}

// x.bias += sign * c (per output channel).
export function foldBias(g: GraphContext, d: GraphNodeDef, x: Pending, w: Const, sign: number): void {
  const l = x.layer!;
  const c = x.shape[x.shape.length - 1];
  const v = perChannel(w, c, x.shape.length + 1);
  if (!v) throw new ModelFormatError(`${g.file}: node '${d.name}': constant '${w.name}' of shape [${w.shape}] does not broadcast per channel over [${x.shape}]`, g.file, w.name);
  const key = l.kind === 'batchNormalization' ? 'beta' : l.kind === 'rescaling' ? 'offset' : 'bias';
  const bias = x.weights.get(key) ?? new Float32Array(c);
  for (let i = 0; i < c; i++) bias[i] += sign * v[i];
  x.weights.set(key, bias);
  if (WEIGHTED.has(l.kind)) l.config.useBias = true;
}

// x *= s per output channel: the kernel's output columns and the bias (gamma and beta for BN).
export function foldScale(g: GraphContext, d: GraphNodeDef, x: Pending, s: Float32Array): void {
  const l = x.layer!;
  const c = x.shape[x.shape.length - 1];
  const keys = l.kind === 'batchNormalization' ? ['gamma', 'beta'] : l.kind === 'rescaling' ? ['scale', 'offset'] : [l.kind === 'depthwiseConv2d' ? 'depthwise_kernel' : 'kernel', 'bias'];
  // A transposed convolution's kernel is [kh, kw, filters, in]: its output channel is not the last axis.
  const inner = l.kind === 'conv2dTranspose' ? x.inputs[0].shape[x.inputs[0].shape.length - 1] : 1;
  for (const k of keys) {
    const a = x.weights.get(k);
    if (!a) continue;
    const scaled = a.slice();
    const stride = k === 'kernel' ? inner : 1;
    for (let i = 0; i < scaled.length; i++) scaled[i] *= s[Math.floor(i / stride) % c];
    x.weights.set(k, scaled);
  }
  void d;
}
