// ONNX's elementwise ops, reductions and softmax. Layout-agnostic ops keep their input's layout; a
// binary op between computed tensors brings the smaller operand into the larger one's layout (so
// an SE block's [C, 1, 1] gate multiplies an NHWC image directly); a constant operand is folded
// into the producing layer's weights where it can be, else a rescaling or constantOp layer.
import { layers } from '../layers/index';
import type { Layer } from '../layers/layer';
import type { Converter, OpFn, Value } from './onnx-convert';
import { axesOf, broadcastShapes, normAxis } from './onnx-fold';
import { broadcastLayout, canonical, compact, constantInLayout, ourAxis, ourShape, preferredPerm, sameList, withLeadingAxes } from './onnx-layout';
import { L } from './onnx-layers';
import type { OnnxNode, OnnxTensor } from './onnx-proto';
import { DTYPE_NAMES, FLOAT } from './onnx-proto';

const keep = (c: Converter, node: OnnxNode, layer: Layer) => {
  const x = c.value(node, node.inputs[0]);
  c.set(node, { ...x, t: c.apply(layer, [x.t]) });
};

const ACTIVATIONS: Record<string, 'relu' | 'sigmoid' | 'tanh' | 'hardSwish'> = { Relu: 'relu', Sigmoid: 'sigmoid', Tanh: 'tanh', HardSwish: 'hardSwish' };
const UNARY: Record<string, string> = {
  Abs: 'abs', Neg: 'neg', Sqrt: 'sqrt', Reciprocal: 'reciprocal', Exp: 'exp', Log: 'log', Floor: 'floor', Ceil: 'ceil', Round: 'round',
  Sign: 'sign', Sin: 'sin', Cos: 'cos', Softplus: 'softplus', Softsign: 'softsign', Erf: 'erf',
};

const activation: OpFn = (c, node) => {
  const name = c.layerName(node);
  const op = node.op;
  if (op in ACTIVATIONS) return keep(c, node, layers.activation(ACTIVATIONS[op], { name }));
  if (op in UNARY) return keep(c, node, L.unary({ op: UNARY[op], name }));
  if (op === 'LeakyRelu') return keep(c, node, layers.leakyRelu({ negativeSlope: c.attr(node, 'alpha', 0.01), name }));
  if (op === 'Elu') return keep(c, node, layers.elu({ alpha: c.attr(node, 'alpha', 1), name }));
  if (op === 'Selu') {
    const alpha = c.attr(node, 'alpha', 1.67326319217681884765625);
    const gamma = c.attr(node, 'gamma', 1.05070102214813232421875);
    if (Math.abs(alpha - 1.6732632) > 1e-6 || Math.abs(gamma - 1.050701) > 1e-6) throw c.fail(node, `Selu with alpha ${alpha}, gamma ${gamma}: only the standard constants are supported`);
    return keep(c, node, layers.activation('selu', { name }));
  }
  if (op === 'HardSigmoid') {
    const alpha = c.attr(node, 'alpha', 0.2);
    const beta = c.attr(node, 'beta', 0.5);
    // PyTorch's Hardsigmoid exports alpha 1/6, beta 1/2: Keras 3's hard_sigmoid
    if (Math.abs(alpha - 1 / 6) < 1e-7 && beta === 0.5) return keep(c, node, layers.activation('hardSigmoid', { name }));
    return keep(c, node, L.unary({ op: 'hardSigmoid', alpha, beta, name }));
  }
  throw c.fail(node, 'not an activation');
};

// Clip: bounds as attributes (opset < 11) or constant inputs (empty: unbounded).
const clip: OpFn = (c, node) => {
  const bound = (i: number, attr: string, fallback: number) => {
    if (c.opset < 11) return c.attr(node, attr, fallback);
    const t = c.optionalConstant(node, i, attr);
    return t ? t.data[0] : fallback;
  };
  const min = bound(1, 'min', -Infinity);
  const max = bound(2, 'max', Infinity);
  const name = c.layerName(node);
  if (min === 0 && max === 6) return keep(c, node, layers.activation('relu6', { name }));
  if (min === 0 && max === Infinity) return keep(c, node, layers.activation('relu', { name }));
  keep(c, node, L.clip({ min, max, name }));
};

const identity: OpFn = (c, node) => c.set(node, c.value(node, node.inputs[0]));

const cast: OpFn = (c, node) => {
  const to = c.attr(node, 'to', FLOAT);
  if (![1, 10, 11, 16].includes(to)) throw c.fail(node, `Cast of a computed tensor to ${DTYPE_NAMES[to] ?? to} would change its values (edgetune computes in float32); only float types are supported`);
  identity(c, node);
};

// Pow with a constant exponent.
const pow: OpFn = (c, node) => {
  const e = c.constant(node, 1, 'exponent');
  if (e.data.length !== 1) throw c.fail(node, 'the exponent must be one constant value');
  const p = e.data[0];
  const name = c.layerName(node);
  if (p === 1) return identity(c, node);
  if (p === 2) {
    const x = c.value(node, node.inputs[0]);
    return c.set(node, { ...x, t: c.apply(layers.multiply({ name }), [x.t, x.t]) });
  }
  const op = p === 0.5 ? 'sqrt' : p === -1 ? 'reciprocal' : p === -0.5 ? 'rsqrt' : null;
  if (!op) throw c.fail(node, `exponent ${p}: only 0.5, 1, 2, -0.5 and -1 are supported`);
  keep(c, node, L.unary({ op, name }));
};

// Whether the layer producing `name` should get a bias so that a later Add of a constant can be
// folded into it (through a chain of single-reader Mul/Add-with-constant nodes).
export function biasWanted(c: Converter, name: string): boolean {
  for (let cur = name; ;) {
    const users = c.consumers.get(cur) ?? [];
    if (users.length !== 1 || !c.soleReader(cur)) return false;
    const u = users[0];
    if (!['Add', 'Mul', 'Sub', 'Div'].includes(u.op) || !u.inputs.some((i) => c.isConst(i) && i !== cur)) return false;
    if (u.op === 'Add' || u.op === 'Sub') return u.inputs[0] === cur || u.op === 'Add';
    cur = u.outputs[0];
  }
}

// A constant's ONNX shape aligned to the per-sample rank (its batch axis dropped), or null when it
// would broadcast the value to a larger shape.
function alignConstant(x: Value, t: OnnxTensor): number[] | null {
  const r = x.shape.length;
  const dims = t.dims.length > r ? t.dims.slice(t.dims.length - r) : [...Array(r - t.dims.length).fill(1), ...t.dims];
  if (t.dims.slice(0, Math.max(t.dims.length - r, 0)).some((d) => d !== 1)) return null;
  const out = broadcastShapes(x.shape, dims);
  return out && sameList(out, x.shape) ? dims : null;
}

type ConstOp = 'add' | 'sub' | 'rsub' | 'mul' | 'div' | 'rdiv' | 'max' | 'min';

// x (op) constant, with x computed. Scalars and per-channel constants (varying along the axis our
// memory keeps last) fold into the producer or become a rescaling; others a constantOp layer.
function constantOperand(c: Converter, node: OnnxNode, tensorName: string, k: OnnxTensor, op: ConstOp): void {
  const x = c.value(node, tensorName);
  const dims = alignConstant(x, k);
  if (!dims) throw c.fail(node, `constant '${k.name}' of shape [${k.dims}] would broadcast [N, ${x.shape}] to a larger shape; not supported`, k.name);
  const varying = dims.flatMap((d, i) => (d !== 1 ? [i] : []));
  const lastAxis = varying.length === 1 ? ourAxis(x.layout, varying[0]) : null;
  const perChannel = varying.length === 0 || (lastAxis !== null && lastAxis === x.layout.perm.length - 1);
  if (!perChannel || op === 'max' || op === 'min' || op === 'rdiv') {
    const l = broadcastLayout(x.layout, dims);
    const value = constantInLayout({ ...k, dims }, l);
    const xt = c.exact(node, x);
    c.set(node, { ...x, t: c.apply(L.constantOp({ op, value, shape: ourShape(l), name: c.layerName(node) }), [xt]) });
    return;
  }
  const values = Array.from(k.data);
  const data = op === 'sub' ? values.map((a) => -a) : op === 'div' ? values.map((a) => 1 / a) : values;
  const kind = op === 'sub' || op === 'add' ? 'add' : op === 'rsub' ? 'rsub' : 'mul';
  const layer = x.t.layer;
  const pending = c.pendingWeights.find(([l]) => l === layer);
  const channels = ourShape(x.layout)[x.layout.perm.length - 1];
  const foldable = kind !== 'rsub' && !!layer && !!pending && c.soleReader(tensorName) && sameList(x.t.shape, ourShape(x.layout)) &&
    ['dense', 'conv2d', 'depthwiseConv2d', 'batchNormalization'].includes(layer.kind) && (kind === 'mul' || layer.kind === 'batchNormalization' || !!pending[1][1]);
  const one = (a: number[]) => (a.length === 1 ? a[0] : a);
  if (!foldable) {
    const scale = kind === 'mul' ? one(data) : kind === 'rsub' ? -1 : 1;
    const offset = kind === 'add' || kind === 'rsub' ? one(data) : 0;
    c.set(node, { ...x, t: c.apply(layers.rescaling(scale, { offset, name: c.layerName(node) }), [x.t]) });
    return;
  }
  const d = (j: number) => (data.length === 1 ? data[0] : data[j]);
  const ws = pending![1];
  if (layer!.kind === 'batchNormalization') {
    const names = layer!.weightSpecs.map((s) => s.name);
    const gamma = ws[names.indexOf('gamma')];
    const beta = ws[names.indexOf('beta')];
    for (let j = 0; j < channels; j++) if (kind === 'mul') { gamma[j] *= d(j); beta[j] *= d(j); } else beta[j] += d(j);
  } else if (kind === 'mul') {
    for (let i = 0; i < ws[0].length; i++) ws[0][i] *= d(i % channels);
    if (ws[1]) for (let j = 0; j < channels; j++) ws[1][j] *= d(j);
  } else {
    for (let j = 0; j < channels; j++) ws[1][j] += d(j);
  }
  c.set(node, x);
}

const BINARY_CONST: Record<string, [ConstOp, ConstOp]> = {
  Add: ['add', 'add'], Sub: ['sub', 'rsub'], Mul: ['mul', 'mul'], Div: ['div', 'rdiv'], Max: ['max', 'max'], Min: ['min', 'min'],
};

const binary: OpFn = (c, node) => {
  if (node.inputs.length !== 2) throw c.fail(node, `${node.inputs.length} operands: only two are supported`);
  const [a, b] = node.inputs;
  if (c.isConst(a) || c.isConst(b)) {
    const first = c.isConst(a);
    constantOperand(c, node, first ? b : a, c.consts.get(first ? a : b)!, BINARY_CONST[node.op][first ? 1 : 0]);
    return;
  }
  let x = c.value(node, a);
  let y = c.value(node, b);
  const out = broadcastShapes(x.shape, y.shape);
  if (!out) throw c.fail(node, `operands [N, ${x.shape}] and [N, ${y.shape}] do not broadcast`);
  // the operand of the output's shape sets the layout; the other follows it
  const ref = sameList(x.shape, out) ? 'x' : sameList(y.shape, out) ? 'y' : null;
  const follow = (v: Value, r: Value): Value => {
    const n = r.shape.length - v.shape.length;
    const aligned = { ...v, shape: [...Array(n).fill(1), ...v.shape], layout: withLeadingAxes(v.layout, n) };
    return c.relayout(node, aligned, broadcastLayout(r.layout, aligned.shape));
  };
  // neither has the output's shape ([1, H, W] + [C, H, 1]): both follow the output's preferred layout
  const target: Value = ref === 'x' ? x : ref === 'y' ? y : { t: x.t, shape: out, layout: canonical(out, preferredPerm(out)) };
  if (ref !== 'x') x = follow(x, target); else x = { ...x, t: c.exact(node, x) };
  if (ref !== 'y') y = follow(y, target); else y = { ...y, t: c.exact(node, y) };
  const name = c.layerName(node);
  const layer = node.op === 'Add' ? layers.add({ name }) : node.op === 'Sub' ? layers.subtract({ name }) : node.op === 'Mul' ? layers.multiply({ name })
    : node.op === 'Div' ? L.divide({ name }) : node.op === 'Max' ? L.maximum({ name }) : L.minimum({ name });
  const t = c.apply(layer, [x.t, y.t]);
  c.set(node, { ...target, t });
};

// The per-sample axes (0-based) of a node's ONNX axes, the batch refused.
function sampleAxes(c: Converter, node: OnnxNode, axes: number[], rank: number): number[] {
  return axes.map((ax) => {
    const a = normAxis(ax, rank + 1, (w) => c.fail(node, w));
    if (a === 0) throw c.fail(node, `axis ${ax} is the batch; edgetune layers act per sample`);
    return a - 1;
  });
}

const REDUCE: Record<string, 'mean' | 'sum' | 'max' | 'min'> = { ReduceMean: 'mean', ReduceSum: 'sum', ReduceMax: 'max', ReduceMin: 'min' };

const reduce: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const keepdims = c.attr(node, 'keepdims', 1) === 1;
  const given = axesOf({ input: (i) => (node.inputs[i] ? c.constant(node, i, 'axes') : undefined), shapeOf: () => undefined, attr: (n, f) => c.attr(node, n, f as never), fail: (w) => c.fail(node, w), opset: c.opset }, 1);
  if (!given?.length && c.attr(node, 'noop_with_empty_axes', 0)) return identity(c, node);
  const axes = sampleAxes(c, node, given?.length ? given : [0, ...x.shape.map((_, i) => i + 1)], x.shape.length);
  const shape = keepdims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
  const name = c.layerName(node);
  if (REDUCE[node.op] === 'mean' && x.shape.length === 3 && sameList([...axes].sort(), [1, 2])) {
    const img = c.image(node, x);
    const t = c.apply(layers.globalAveragePooling2d({ name }), [img.t]);
    c.set(node, c.make(t, shape, shape.length === 3 ? [1, 2, 0] : [0]));
    return;
  }
  const l = x.layout;
  const ours = l.perm.flatMap((e, j) => (axes.includes(l.axisOf[e]) ? [j + 1] : []));
  const xt = c.exact(node, x);
  const t = c.apply(L.reduce({ op: REDUCE[node.op], axis: ours, keepdims, name }), [xt]);
  if (keepdims) {
    c.set(node, { t, shape, layout: compact({ ...l, dims: l.dims.map((d, i) => (axes.includes(l.axisOf[i]) ? 1 : d)) }) });
    return;
  }
  const kept = l.dims.map((_, i) => i).filter((i) => !axes.includes(l.axisOf[i]));
  const newAxis = (a: number) => a - axes.filter((r) => r < a).length;
  if (!kept.length) return c.set(node, c.make(t, shape, []));
  c.set(node, { t, shape, layout: { dims: kept.map((i) => l.dims[i]), axisOf: kept.map((i) => newAxis(l.axisOf[i])), perm: l.perm.filter((e) => kept.includes(e)).map((e) => kept.indexOf(e)) } });
};

const softmax: OpFn = (c, node) => {
  let x = c.value(node, node.inputs[0]);
  const rank = x.shape.length + 1;
  const axis = normAxis(c.attr(node, 'axis', c.opset >= 13 ? -1 : 1), rank, (w) => c.fail(node, w));
  if (axis === 0) throw c.fail(node, 'softmax over the batch axis is not supported');
  if (c.opset < 13 && axis !== rank - 1 && x.shape.slice(axis).some((d) => d !== 1)) {
    throw c.fail(node, `softmax (opset ${c.opset}) over the flattened axes ${axis}..${rank - 1}: only the last axis is supported`);
  }
  let our = ourAxis(x.layout, axis - 1);
  if (our === null) { x = c.inCanonical(node, x); our = ourAxis(x.layout, axis - 1)!; }
  const xt = c.exact(node, x);
  const name = c.layerName(node);
  const layer = our === x.layout.perm.length - 1 ? layers.softmax({ name }) : L.softmax({ axis: our + 1, name });
  c.set(node, { ...x, t: c.apply(layer, [xt]) });
};

const prelu: OpFn = (c, node) => {
  const x = c.value(node, node.inputs[0]);
  const slope = c.constant(node, 1, 'slope');
  const dims = alignConstant(x, slope);
  if (!dims) throw c.fail(node, `slope '${slope.name}' [${slope.dims}] does not broadcast over [N, ${x.shape}]`, slope.name);
  const l = broadcastLayout(x.layout, dims);
  const full = ourShape(x.layout);
  const sharedAxes = ourShape(l).flatMap((d, j) => (d === 1 && full[j] !== 1 ? [j + 1] : []));
  const xt = c.exact(node, x);
  const layer = L.prelu({ ...(sharedAxes.length ? { sharedAxes } : {}), name: c.layerName(node) });
  c.set(node, { ...x, t: c.apply(layer, [xt], [constantInLayout({ ...slope, dims }, l)]) });
};

export const MATH_OPS: Record<string, OpFn> = {
  ...Object.fromEntries(['Relu', 'Sigmoid', 'Tanh', 'HardSwish', 'HardSigmoid', 'LeakyRelu', 'Elu', 'Selu', ...Object.keys(UNARY)].map((op) => [op, activation])),
  Clip: clip, Identity: identity, Dropout: identity, Cast: cast, Pow: pow, PRelu: prelu, Softmax: softmax,
  Add: binary, Sub: binary, Mul: binary, Div: binary, Max: binary, Min: binary,
  ReduceMean: reduce, ReduceSum: reduce, ReduceMax: reduce, ReduceMin: reduce,
};
