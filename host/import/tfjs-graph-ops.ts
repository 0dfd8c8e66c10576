// The unweighted ops of a TF.js graph on computed tensors: elementwise arithmetic (a constant
// operand folds into the layer before, or becomes a Rescaling or constantOp layer), pooling,
// reductions, and the shape ops (reshape, pad, slice, gather, concat, split, transpose, tile,
// resize, depth-to-space). Axes are TF's, over the whole tensor; axis 0 is the batch, which no op
// may change.
import { EdgetuneError, ModelFormatError } from '../core/errors';
import { layers } from '../layers/index';
import type { Layer } from '../layers/layer';
import { UnsupportedOpError } from './errors';
import { attrBool, attrInt, attrInts, attrText, factory, type GraphNodeDef, paddingAttr, requireNhwc, spatialAttr } from './tfjs-graph-attrs';
import type { GraphContext, Pending, Value } from './tfjs-graph';
import { constIn, foldable, foldBias, foldScale, perChannel, tensor, tensorIn } from './tfjs-graph-conv';
import { type Const, refuseDataDependent, sizeOf, stridedSliceMasks, stridedSliceSpec, stridesOf } from './tfjs-fold';
import { dataInputs } from './tfjs-graph-attrs';

type Factory = Record<string, unknown>;
const BATCH = 2 ** 30; // the batch size in a static shape computation (unknown, never sliced)

// A layer from a factory; a config the layer refuses (e.g. an option this build lacks) is an
// UnsupportedOpError naming the node.
function make(g: GraphContext, d: GraphNodeDef, kind: string, options: Factory): Layer {
  const f = kind in layers ? (layers as unknown as Record<string, (o: Factory) => Layer>)[kind] : factory<Factory>(d, g.file, kind);
  try {
    return f({ ...options, name: g.layerName(d.name) });
  } catch (e) {
    if (e instanceof EdgetuneError) throw new UnsupportedOpError(d.op, d.name, g.file, (e as Error).message);
    throw e;
  }
}

function layerOf(g: GraphContext, d: GraphNodeDef, kind: string, options: Factory, inputs: Pending[], weights?: Record<string, Float32Array>): Value {
  return tensor(g.add(d.name, make(g, d, kind, options), inputs, weights));
}

// A per-sample axis index (1-based, Keras style) of a TF axis over a tensor of `rank` (with batch).
function axisOf(g: GraphContext, d: GraphNodeDef, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a <= 0 || a >= rank) throw new UnsupportedOpError(d.op, d.name, g.file, `axis ${axis} of a rank-${rank} tensor (the batch axis 0 cannot be ${a === 0 ? 'changed' : 'outside the tensor'})`);
  return a;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((s, i) => s === b[i]);

// A reshape of x; one that follows another reshape read by nothing else replaces it.
const reshapeTo = (g: GraphContext, d: GraphNodeDef, x: Pending, shape: number[], node = d.name): Value => {
  if (x.layer && (x.layer.kind === 'reshape' || x.layer.kind === 'flatten') && g.readerCount(x.node) === 1) x = x.inputs[0];
  if (sameShape(shape, x.shape)) return tensor(x);
  const layer = shape.length === 1 ? layers.flatten({ name: g.layerName(node) }) : layers.reshape(shape, { name: g.layerName(node) });
  return tensor(g.add(node, layer, [x]));
};

// A value of node d with no per-sample axes left, held as shape [1]: marked so that ExpandDims
// gives it one axis, as TF.js does, not two (only a pending this node created is marked).
const scalarOf = (d: GraphNodeDef, v: Value): Value => {
  if (v.kind === 'tensor' && sameShape(v.p.shape, [1]) && v.p.node.startsWith(d.name)) v.p.scalar = true;
  return v;
};

// Values whose TF shape lost the batch axis of a batch the file fixes to 1 (Unpack or Squeeze on
// axis 0: the one sample). They keep their batch axis here (the same values), and an ExpandDims
// on axis 0 gives TF's batch axis back: nothing to do.
const batchDropped = new WeakSet<Value>();

const CONST_OPS: Record<string, [string, string]> = { // op -> [constantOp op for x (.) c, for c (.) x]
  Add: ['add', 'add'], AddV2: ['add', 'add'], BiasAdd: ['add', 'add'], Sub: ['sub', 'rsub'], Mul: ['mul', 'mul'],
  RealDiv: ['div', 'rdiv'], Div: ['div', 'rdiv'], Maximum: ['max', 'max'], Minimum: ['min', 'min'],
};
const TENSOR_OPS: Record<string, string> = { Add: 'add', AddV2: 'add', Sub: 'subtract', Mul: 'multiply', RealDiv: 'divide', Div: 'divide', Maximum: 'maximum', Minimum: 'minimum', Atan2: 'atan2' };
const UNARY: Record<string, string> = {
  Abs: 'abs', Square: 'square', Sqrt: 'sqrt', Rsqrt: 'rsqrt', Exp: 'exp', Log: 'log', Reciprocal: 'reciprocal', Inv: 'reciprocal', Floor: 'floor',
  Ceil: 'ceil', Round: 'round', Sign: 'sign', Sin: 'sin', Cos: 'cos', Softplus: 'softplus', Softsign: 'softsign', Erf: 'erf',
};
const REDUCE: Record<string, string> = { Mean: 'mean', Sum: 'sum', Max: 'max', Min: 'min' };

export function convertTensorOp(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value | Value[] | null {
  const file = g.file;
  switch (d.op) {
    case 'Identity': case 'StopGradient': case 'Snapshot': case 'NoOp':
      return ins[0] ?? null;
    case 'IdentityN':
      return ins;
    case 'Cast': {
      const to = d.attr?.DstT?.type ?? 'DT_FLOAT';
      const from = d.attr?.SrcT?.type ?? 'DT_FLOAT';
      if (/FLOAT|HALF|DOUBLE/.test(to) || !/FLOAT|HALF|DOUBLE/.test(from)) return tensor(tensorIn(g, d, ins, 0)); // the model computes in float32
      throw new UnsupportedOpError(d.op, d.name, file, `a cast of a computed float tensor to ${to} (rounding has no gradient)`);
    }
    case 'Add': case 'AddV2': case 'BiasAdd': case 'Sub': case 'Mul': case 'RealDiv': case 'Div': case 'Maximum': case 'Minimum': case 'SquaredDifference': case 'Atan2':
      return binary(g, d, ins);
    case 'AddN': {
      const xs = ins.map((_, i) => tensorIn(g, d, ins, i));
      return xs.length === 1 ? tensor(xs[0]) : layerOf(g, d, 'add', {}, xs);
    }
    case 'Neg':
      return withConstant(g, d, 'Mul', tensorIn(g, d, ins, 0), { name: `${d.name}/-1`, shape: [], dtype: 'float32', values: Float32Array.of(-1) }, false);
    case 'MaxPool': case 'AvgPool': {
      requireNhwc(d, file);
      const options = { poolSize: spatialAttr(d, 'ksize', file), strides: spatialAttr(d, 'strides', file), padding: paddingAttr(d, file) };
      return layerOf(g, d, d.op === 'MaxPool' ? 'maxPooling2d' : 'averagePooling2d', options, [tensorIn(g, d, ins, 0)]);
    }
    case 'Mean': case 'Sum': case 'Max': case 'Min':
      return reduce(g, d, ins);
    case 'Reshape':
      return reshapeOp(g, d, tensorIn(g, d, ins, 0), Array.from(constIn(g, d, ins, 1, 'shape').values));
    case 'ExpandDims': {
      const x = tensorIn(g, d, ins, 0);
      const at = constIn(g, d, ins, 1, 'axis').values[0];
      if (batchDropped.has(ins[0]) && (at === 0 || at === -(x.shape.length + 1))) return tensor(x);
      const a = axisOf(g, d, constIn(g, d, ins, 1, 'axis').values[0], (x.scalar ? 0 : x.shape.length) + 2);
      if (x.scalar) return tensor(g.add(d.name, layers.flatten({ name: g.layerName(d.name) }), [x])); // [batch] -> [batch, 1]
      const shape = [...x.shape];
      shape.splice(a - 1, 0, 1);
      return reshapeTo(g, d, x, shape);
    }
    case 'Squeeze': {
      const x = tensorIn(g, d, ins, 0);
      const rank = x.shape.length + 1;
      // The batch axis is kept even when the graph squeezes it (a fixed batch of 1): same values.
      const axes = (attrInts(d, 'squeeze_dims', file) ?? []).map((a) => (a < 0 ? a + rank : a)).filter((a) => a !== 0);
      const shape = x.shape.filter((s, i) => (axes.length ? !axes.includes(i + 1) : s !== 1));
      if (axes.some((a) => x.shape[a - 1] !== 1)) throw new ModelFormatError(`${file}: node '${d.name}': squeezes axes [${axes}] of [batch, ${x.shape}], not all of size 1`, file, d.name);
      const y = shape.length ? reshapeTo(g, d, x, shape) : scalarOf(d, reshapeTo(g, d, x, [1]));
      if ((attrInts(d, 'squeeze_dims') ?? []).some((a) => a === 0 || a === -rank)) batchDropped.add(y);
      return y;
    }
    case 'Pad': case 'PadV2': case 'MirrorPad':
      return pad(g, d, ins);
    case 'ResizeBilinear': case 'ResizeNearestNeighbor':
      return resize(g, d, ins);
    case 'ConcatV2': {
      const n = ins.length - 1;
      const xs = ins.slice(0, n).map((_, i) => tensorIn(g, d, ins, i));
      const rank = xs[0].shape.length + 1;
      const axis = axisOf(g, d, constIn(g, d, ins, n, 'axis').values[0], rank);
      if (n === 1) return tensor(xs[0]);
      return layerOf(g, d, 'concatenate', { axis: axis === rank - 1 ? -1 : axis }, xs);
    }
    case 'Pack': {
      const xs = ins.map((_, i) => tensorIn(g, d, ins, i));
      const rank = xs[0].shape.length + 2;
      const axis = axisOf(g, d, attrInt(d, 'axis', 0), rank);
      const expanded = xs.map((x, k) => { const s = [...x.shape]; s.splice(axis - 1, 0, 1); return (reshapeTo(g, d, x, s, `${d.name}/expand_${k}`) as { p: Pending }).p; });
      if (xs.length === 1) return tensor(expanded[0]);
      return layerOf(g, d, 'concatenate', { axis: axis === rank - 1 ? -1 : axis }, expanded);
    }
    case 'Unpack': case 'Split': case 'SplitV':
      return split(g, d, ins);
    case 'StridedSlice': case 'Slice':
      return slice(g, d, ins);
    case 'GatherV2': {
      const x = tensorIn(g, d, ins, 0);
      const idx = constIn(g, d, ins, 1, 'indices');
      const axis = axisOf(g, d, ins[2] ? constIn(g, d, ins, 2, 'axis').values[0] : 0, x.shape.length + 1);
      if (attrInt(d, 'batch_dims', 0) !== 0) throw new UnsupportedOpError(d.op, d.name, file, 'batch_dims other than 0');
      const gathered = layerOf(g, d, 'gather', { indices: Array.from(idx.values), axis }, [x]) as { kind: 'tensor'; p: Pending };
      if (idx.shape.length === 1) return gathered;
      const shape = [...x.shape.slice(0, axis - 1), ...idx.shape, ...x.shape.slice(axis)];
      return reshapeTo(g, d, gathered.p, shape, `${d.name}/reshape`);
    }
    case 'GatherNd':
      return gatherNd(g, d, ins);
    case 'Transpose': {
      const x = tensorIn(g, d, ins, 0);
      const perm = Array.from(constIn(g, d, ins, 1, 'perm').values);
      if (perm[0] !== 0 || perm.length !== x.shape.length + 1) throw new UnsupportedOpError(d.op, d.name, file, `perm [${perm}] (the batch axis must stay first)`);
      if (perm.every((p, i) => p === i)) return tensor(x);
      return layerOf(g, d, 'permute', { dims: perm.slice(1) }, [x]);
    }
    case 'Tile': case 'BroadcastTo': {
      const x = tensorIn(g, d, ins, 0);
      const v = Array.from(constIn(g, d, ins, 1, d.op === 'Tile' ? 'multiples' : 'shape').values);
      if (v.length !== x.shape.length + 1) throw new UnsupportedOpError(d.op, d.name, file, `[${v}] over [batch, ${x.shape}] (changes the rank)`);
      const multiples = d.op === 'Tile' ? v.slice(1) : v.slice(1).map((s, i) => (x.shape[i] === s ? 1 : x.shape[i] === 1 ? s : -1));
      if (multiples.includes(-1) || (d.op === 'Tile' && v[0] !== 1)) throw new UnsupportedOpError(d.op, d.name, file, `[${v}] over [batch, ${x.shape}]`);
      if (multiples.every((m) => m === 1)) return tensor(x);
      return layerOf(g, d, 'tile', { multiples }, [x]);
    }
    case 'DepthToSpace': case 'SpaceToDepth': {
      requireNhwc(d, file);
      return layerOf(g, d, d.op === 'DepthToSpace' ? 'depthToSpace' : 'spaceToDepth', { blockSize: attrInt(d, 'block_size', 2) }, [tensorIn(g, d, ins, 0)]);
    }
    default:
      if (d.op in UNARY) return layerOf(g, d, 'unary', { op: UNARY[d.op] }, [tensorIn(g, d, ins, 0)]);
      return null;
  }
}

// The per-sample shape of a constant operand broadcast against x (its batch entry, if any, is 1).
function constShape(g: GraphContext, d: GraphNodeDef, c: Const, x: Pending): number[] {
  const rank = x.shape.length + 1;
  if (c.shape.length > rank || (c.shape.length === rank && c.shape[0] !== 1)) {
    throw new UnsupportedOpError(d.op, d.name, g.file, `constant '${c.name}' of shape [${c.shape}] broadcast over [batch, ${x.shape}] (it would change the batch)`);
  }
  return c.shape.length === rank ? c.shape.slice(1) : [...c.shape];
}

function binary(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const [a, b] = ins;
  if (!a || !b) throw new ModelFormatError(`${g.file}: node '${d.name}' (${d.op}) needs two inputs`, g.file, d.name);
  if (d.op === 'BiasAdd') requireNhwc(d, g.file);
  if (a.kind === 'tensor' && b.kind === 'tensor') {
    const [x, y] = [tensorIn(g, d, ins, 0), tensorIn(g, d, ins, 1)];
    // Ranks that differ put the lower one's batch against an axis of the other: per sample only when
    // that axis has size 1, and then TF's result equals the per-sample broadcast at batch 1 only.
    const [hi, lo] = x.shape.length > y.shape.length ? [x, y] : [y, x];
    if (hi.shape.length !== lo.shape.length && ((g.fixedBatch ?? 1) !== 1 || hi.shape[hi.shape.length - lo.shape.length - 1] !== 1)) {
      throw new UnsupportedOpError(d.op, d.name, g.file, `broadcasting [batch, ${x.shape}] with [batch, ${y.shape}] (ranks differ, so the batch axes would not line up)`);
    }
    if (d.op === 'SquaredDifference') {
      const diff = g.add(`${d.name}/sub`, make(g, { ...d, name: `${d.name}/sub` }, 'subtract', {}), [x, y]);
      return layerOf(g, d, 'unary', { op: 'square' }, [diff]);
    }
    return layerOf(g, d, TENSOR_OPS[d.op] ?? 'add', {}, [x, y]);
  }
  const constFirst = a.kind === 'const';
  const x = tensorIn(g, d, ins, constFirst ? 1 : 0);
  const c = constIn(g, d, ins, constFirst ? 0 : 1, 'operand');
  if (d.op === 'SquaredDifference') {
    const diff = (withConstant(g, { ...d, op: 'Sub', name: `${d.name}/sub` }, 'Sub', x, c, false) as { p: Pending }).p;
    return layerOf(g, d, 'unary', { op: 'square' }, [diff]);
  }
  return withConstant(g, d, d.op, x, c, constFirst);
}

// x (.) c or c (.) x: folded into the layer before (bias, per-channel scale), a Rescaling layer
// (per-channel affine), or a constantOp layer holding the constant.
function withConstant(g: GraphContext, d: GraphNodeDef, op: string, x: Pending, c: Const, constFirst: boolean): Value {
  const ch = x.shape[x.shape.length - 1];
  if (op === 'BiasAdd' && (c.shape.length !== 1 || c.shape[0] !== ch)) throw new ModelFormatError(`${g.file}: node '${d.name}': bias '${c.name}' has shape [${c.shape}], not [${ch}]`, g.file, c.name);
  const v = perChannel(c, ch, x.shape.length + 1);
  const linear = op === 'Add' || op === 'AddV2' || op === 'BiasAdd' || op === 'Sub' || op === 'Mul' || ((op === 'RealDiv' || op === 'Div') && !constFirst);
  if (v && linear) {
    const negate = op === 'Sub' && constFirst; // c - x = -1 * x + c
    const isScale = op === 'Mul' || op === 'RealDiv' || op === 'Div';
    const scale = isScale ? (op === 'Mul' ? v : v.map((t) => 1 / t)) : new Float32Array(ch).fill(negate ? -1 : 1);
    if (!negate && foldable(g, x)) {
      if (isScale) foldScale(g, d, x, scale);
      else foldBias(g, d, x, c, op === 'Sub' ? -1 : 1);
      x.node = d.name;
      return tensor(x);
    }
    const offset = isScale ? new Float32Array(ch) : op === 'Sub' && !negate ? v.map((t) => -t) : v;
    return tensor(g.add(d.name, layers.rescaling(Array.from(scale), { name: g.layerName(d.name), offset: Array.from(offset) }), [x], { scale, offset }));
  }
  const kind = CONST_OPS[op];
  if (!kind) throw new UnsupportedOpError(d.op, d.name, g.file, `a constant operand '${c.name}'`);
  const shape = constShape(g, d, c, x);
  const value = Float32Array.from(c.values);
  return layerOf(g, d, 'constantOp', { op: kind[constFirst ? 1 : 0], value, shape }, [x], { value }); // a weight too (non-trainable)
}

function reduce(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const x = tensorIn(g, d, ins, 0);
  const rank = x.shape.length + 1;
  const axes = [...new Set(Array.from(constIn(g, d, ins, 1, 'axes').values, (a) => axisOf(g, d, a, rank)))].sort((p, q) => p - q);
  const keep = attrBool(d, 'keep_dims');
  if (d.op === 'Mean' && rank === 4 && axes.length === 2 && axes[0] === 1 && axes[1] === 2) { // global spatial pooling
    const pooled = g.add(keep ? `${d.name}/pool` : d.name, layers.globalAveragePooling2d({ name: g.layerName(keep ? `${d.name}/pool` : d.name) }), [x]);
    return keep ? reshapeTo(g, d, pooled, [1, 1, x.shape[2]]) : tensor(pooled);
  }
  if (!axes.length) return tensor(x);
  return layerOf(g, d, 'reduce', { op: REDUCE[d.op], axis: axes, keepdims: keep }, [x]);
}

// Reshape: the first entry of the target is the batch (-1, or the fixed batch), unless the target
// has the size of one sample (a reshape that also folds a batch of 1: same values).
function reshapeOp(g: GraphContext, d: GraphNodeDef, x: Pending, target: number[]): Value {
  const n = sizeOf(x.shape);
  const infer = (t: number[]) => {
    const known = sizeOf(t.filter((v) => v !== -1));
    return t.filter((v) => v === -1).length <= 1 && t.every((v) => v === -1 || v >= 0) ? t.map((v) => (v === -1 ? n / known : v)) : null;
  };
  const rest = infer(target.slice(1));
  if (target.length >= 2 && (target[0] === -1 || target[0] === 1) && rest && sizeOf(rest) === n && rest.every(Number.isInteger)) return reshapeTo(g, d, x, rest);
  const whole = infer(target);
  if (target[0] !== -1 && whole && sizeOf(whole) === n && whole.every(Number.isInteger)) return reshapeTo(g, d, x, whole.length ? whole : [1]);
  throw new UnsupportedOpError(d.op, d.name, g.file, `target shape [${target}] of [batch, ${x.shape}] (the batch must stay the first axis)`);
}

function pad(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const x = tensorIn(g, d, ins, 0);
  const p = Array.from(constIn(g, d, ins, 1, 'paddings').values);
  // -inf (before a max pool, as ONNX exports write it) becomes the lowest float: the same maximum.
  const value = d.op === 'PadV2' ? Math.min(Math.max(constIn(g, d, ins, 2, 'constant value').values[0], -3.4028234663852886e38), 3.4028234663852886e38) : 0;
  const mode = d.op === 'MirrorPad' ? attrText(d, 'mode', g.file).toLowerCase() : 'constant';
  if (p.length !== 2 * (x.shape.length + 1) || p[0] || p[1]) throw new UnsupportedOpError(d.op, d.name, g.file, `paddings [${p}] of [batch, ${x.shape}] (the batch cannot be padded)`);
  const pairs = x.shape.map((_, i) => [p[2 * i + 2], p[2 * i + 3]] as [number, number]);
  if (pairs.every(([a, b]) => !a && !b)) return tensor(x);
  if (x.shape.length === 3 && mode === 'constant' && value === 0 && !pairs[2][0] && !pairs[2][1]) {
    return tensor(g.add(d.name, layers.zeroPadding2d({ name: g.layerName(d.name), padding: [pairs[0], pairs[1]] }), [x]));
  }
  return layerOf(g, d, 'pad', { paddings: pairs, mode, ...(mode === 'constant' ? { constantValue: value } : {}) }, [x]);
}

function resize(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const x = tensorIn(g, d, ins, 0);
  const [height, width] = Array.from(constIn(g, d, ins, 1, 'size').values);
  const align = attrBool(d, 'align_corners');
  const half = attrBool(d, 'half_pixel_centers');
  if (d.op === 'ResizeBilinear' && half && !align) return layerOf(g, d, 'resizing', { height, width }, [x]); // Keras Resizing
  const coordinateTransform = align ? 'align_corners' : half ? 'half_pixel' : 'asymmetric';
  // TF nearest: floor(x * scale), round(x * (in-1)/(out-1)), floor((x + 0.5) * scale) = round-half-up of the half-pixel source.
  const nearest = d.op === 'ResizeNearestNeighbor' ? { interpolation: 'nearest', nearestMode: align || half ? 'round_prefer_ceil' : 'floor' } : { interpolation: 'bilinear' };
  return layerOf(g, d, 'resizing', { height, width, coordinateTransform, ...nearest }, [x]);
}

// A static slice of x (per-sample begin, end, strides) then a reshape to the op's output shape.
function sliceTo(g: GraphContext, d: GraphNodeDef, x: Pending, begin: number[], end: number[], strides: number[], out: number[], node = d.name): Pending {
  let y = x;
  if (begin.some((b, i) => b !== 0 || end[i] !== x.shape[i] || strides[i] !== 1)) {
    y = g.add(node, make(g, { ...d, name: node }, 'slice', { begin, end, strides }), [x]);
  }
  return (reshapeTo(g, d, y, out, `${node}/reshape`) as { p: Pending }).p;
}

function slice(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  const x = tensorIn(g, d, ins, 0);
  const full = [BATCH, ...x.shape];
  const v = (k: number, what: string) => Array.from(constIn(g, d, ins, k, what).values);
  if (d.op === 'Slice') {
    const begin = v(1, 'begin');
    const size = v(2, 'size').map((s, i) => (s === -1 ? full[i] - begin[i] : s));
    if (begin[0] !== 0 || (size[0] !== BATCH && size[0] !== 1)) throw new UnsupportedOpError(d.op, d.name, g.file, `begin [${begin}] size [${size}] slices the batch`);
    const b = begin.slice(1);
    const e = b.map((s, i) => s + size[i + 1]);
    return tensor(sliceTo(g, d, x, b, e, b.map(() => 1), size.slice(1)));
  }
  const masks = stridedSliceMasks(d);
  const spec = stridedSliceSpec(full, v(1, 'begin'), v(2, 'end'), v(3, 'strides'), masks);
  if (typeof spec === 'string') throw new UnsupportedOpError(d.op, d.name, g.file, spec);
  const batchShrunk = spec.out.length < full.length && spec.sliced[0] === 1 && spec.out[0] !== BATCH;
  const batchKept = spec.begin[0] === 0 && spec.strides[0] === 1 && (spec.sliced[0] === BATCH ? spec.out[0] === BATCH : batchShrunk);
  if (!batchKept || spec.strides.some((s) => s < 0)) throw new UnsupportedOpError(d.op, d.name, g.file, `a slice of the batch axis or a negative stride (begin [${spec.begin}], strides [${spec.strides}] of [batch, ${x.shape}])`);
  // A shrunk batch (x[0] of a fixed batch of 1) keeps its batch axis: the same values.
  const out = spec.out[0] === BATCH ? spec.out.slice(1) : spec.out;
  const y = tensor(sliceTo(g, d, x, spec.begin.slice(1), spec.end.slice(1), spec.strides.slice(1), out.length ? out : [1]));
  return out.length ? y : scalarOf(d, y);
}

// Unpack on the batch axis: the samples as separate tensors. Per sample that is the sample itself
// when the file fixes the batch to 1 (movenet reads its one image so); any other batch is refused.
function unpackBatch(g: GraphContext, d: GraphNodeDef, x: Pending): Value[] {
  const num = attrInt(d, 'num', 1);
  if (g.fixedBatch !== 1 || num !== 1) {
    throw new UnsupportedOpError(d.op, d.name, g.file, `unpacks the batch axis of [${g.fixedBatch ?? 'batch'}, ${x.shape}] into ${num} tensors (a layer acts per sample; only a batch the file fixes to 1 unpacks to its one sample)`);
  }
  const v = tensor(x);
  batchDropped.add(v);
  return [v];
}

function split(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value[] {
  const xi = d.op === 'Split' ? 1 : 0;
  const x = tensorIn(g, d, ins, xi);
  const rank = x.shape.length + 1;
  if (d.op === 'Unpack' && [0, -rank].includes(attrInt(d, 'axis', 0))) return unpackBatch(g, d, x);
  const axis = axisOf(g, d, d.op === 'Unpack' ? attrInt(d, 'axis', 0) : constIn(g, d, ins, d.op === 'Split' ? 0 : 2, 'axis').values[0], rank);
  const dim = x.shape[axis - 1];
  let sizes: number[];
  if (d.op === 'Unpack') sizes = new Array<number>(dim).fill(1);
  else if (d.op === 'Split') sizes = new Array<number>(attrInt(d, 'num_split', 1)).fill(dim / attrInt(d, 'num_split', 1));
  else {
    const s = Array.from(constIn(g, d, ins, 1, 'sizes').values);
    const rest = dim - s.filter((t) => t !== -1).reduce((p, q) => p + q, 0);
    sizes = s.map((t) => (t === -1 ? rest : t));
  }
  if (sizes.some((s) => !Number.isInteger(s) || s < 0) || sizes.reduce((p, q) => p + q, 0) !== dim) throw new ModelFormatError(`${g.file}: node '${d.name}': sizes [${sizes}] do not split axis ${axis} of [batch, ${x.shape}]`, g.file, d.name);
  let start = 0;
  return sizes.map((n, k) => {
    const begin = x.shape.map((_, i) => (i === axis - 1 ? start : 0));
    const end = x.shape.map((s, i) => (i === axis - 1 ? start + n : s));
    start += n;
    const sliced = x.shape.map((s, i) => (i === axis - 1 ? n : s));
    const out = d.op === 'Unpack' ? sliced.filter((_, i) => i !== axis - 1) : sliced;
    return tensor(sliceTo(g, d, x, begin, end, begin.map(() => 1), out.length ? out : [1], `${d.name}:${k}`));
  });
}

// GatherNd with constant indices: TF indexes from the batch axis, so every row must pick sample 0 of
// a batch fixed to 1 in the file; the rest of each row is a static per-sample position (a gather
// over the flattened leading axes).
function gatherNd(g: GraphContext, d: GraphNodeDef, ins: Value[]): Value {
  if (ins[1]?.kind !== 'const') refuseDataDependent(d, g.file, dataInputs(d).map((i) => i.name), true);
  const x = tensorIn(g, d, ins, 0);
  const idx = constIn(g, d, ins, 1, 'indices');
  const k = idx.shape[idx.shape.length - 1];
  const rows = idx.values.length / Math.max(k, 1);
  const lead = x.shape.slice(0, k - 1);
  const picks: number[] = [];
  const st = stridesOf(lead);
  for (let r = 0; r < rows; r++) {
    if (idx.values[r * k] !== 0) picks.push(-1);
    else picks.push(lead.reduce((o, s, j) => o + idx.values[r * k + 1 + j] * st[j], 0));
  }
  if (g.fixedBatch !== 1 || k < 2 || k - 1 > x.shape.length || picks.includes(-1)) {
    throw new UnsupportedOpError(d.op, d.name, g.file, `indices [${idx.shape}] that do not all pick sample 0 of a batch fixed to 1, then a static position`);
  }
  const flat = (reshapeTo(g, d, x, [sizeOf(lead), ...x.shape.slice(k - 1)], `${d.name}/flat`) as { p: Pending }).p;
  const gathered = (layerOf(g, d, 'gather', { indices: picks, axis: 1 }, [flat]) as { p: Pending }).p;
  const rowsShape = idx.shape.length > 2 && idx.shape[0] === 1 ? idx.shape.slice(1, -1) : idx.shape.slice(0, -1);
  return reshapeTo(g, d, gathered, [...rowsShape, ...x.shape.slice(k - 1)], `${d.name}/reshape`);
}
