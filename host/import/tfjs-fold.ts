// Constant folding for TF.js graph models: a small evaluator for the ops whose inputs are all
// constants (weights, or shapes known at import), so that shape arithmetic (Shape -> StridedSlice
// -> Pack -> Reshape) and arithmetic on weights never become layers. A Shape of a computed tensor
// gives -1 for its batch entry (unknown until run time); ops that would compute with it refuse.
import { ModelFormatError } from '../core/errors';
import { UnsupportedOpError } from './errors';
import { attrBool, attrInt, attrInts, type GraphNodeDef } from './tfjs-graph-attrs';
import type { DecodedWeight } from './tfjs-weights';

export type Const = DecodedWeight;

export const sizeOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, m = 1; i >= 0; i--) { s[i] = m; m *= shape[i]; }
  return s;
}

export function makeConst(name: string, shape: number[], values: ArrayLike<number>, dtype: 'float32' | 'int32'): Const {
  return { name, shape, dtype, values: dtype === 'int32' ? Int32Array.from(values, (v) => Math.trunc(v)) : Float32Array.from(values) };
}

// NumPy broadcasting of two shapes, or null when they do not broadcast.
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

// Reads `src` (of `shape`) at every index of `outShape` that it broadcasts to.
function broadcastTo(src: ArrayLike<number>, shape: readonly number[], outShape: readonly number[]): Float64Array {
  const out = new Float64Array(sizeOf(outShape));
  const st = stridesOf(shape);
  const off = outShape.length - shape.length;
  const idx = new Array<number>(outShape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let i = 0; i < shape.length; i++) if (shape[i] !== 1) s += idx[i + off] * st[i];
    out[k] = src[s];
    for (let i = outShape.length - 1; i >= 0; i--) { if (++idx[i] < outShape[i]) break; idx[i] = 0; }
  }
  return out;
}

const BINARY: Record<string, (a: number, b: number, int: boolean) => number> = {
  Add: (a, b) => a + b, AddV2: (a, b) => a + b, BiasAdd: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b,
  RealDiv: (a, b) => a / b, Div: (a, b, int) => (int ? Math.trunc(a / b) : a / b), FloorDiv: (a, b) => Math.floor(a / b),
  FloorMod: (a, b) => a - Math.floor(a / b) * b, Maximum: (a, b) => Math.max(a, b), Minimum: (a, b) => Math.min(a, b), Pow: (a, b) => Math.pow(a, b),
  SquaredDifference: (a, b) => (a - b) * (a - b),
  Equal: (a, b) => +(a === b), NotEqual: (a, b) => +(a !== b), Greater: (a, b) => +(a > b), GreaterEqual: (a, b) => +(a >= b),
  Less: (a, b) => +(a < b), LessEqual: (a, b) => +(a <= b), LogicalAnd: (a, b) => +(!!a && !!b), LogicalOr: (a, b) => +(!!a || !!b),
};
const UNARY: Record<string, (a: number) => number> = {
  Neg: (a) => -a, Abs: Math.abs, Square: (a) => a * a, Sqrt: Math.sqrt, Rsqrt: (a) => 1 / Math.sqrt(a), Exp: Math.exp, Log: Math.log,
  Reciprocal: (a) => 1 / a, Floor: Math.floor, Ceil: Math.ceil, Round: (a) => { const f = Math.floor(a); const r = a - f; return r > 0.5 || (r === 0.5 && f % 2 !== 0) ? f + 1 : f; },
  Sign: Math.sign, Relu: (a) => Math.max(a, 0), Relu6: (a) => Math.min(Math.max(a, 0), 6), Sigmoid: (a) => 1 / (1 + Math.exp(-a)), Tanh: Math.tanh,
};
const REDUCE: Record<string, [number, (a: number, b: number) => number]> = {
  Sum: [0, (a, b) => a + b], Prod: [1, (a, b) => a * b], Max: [-Infinity, Math.max], Min: [Infinity, Math.min], Mean: [0, (a, b) => a + b],
};

export interface SliceSpec {
  begin: number[]; // per input axis, resolved and clamped
  end: number[];
  strides: number[];
  sliced: number[]; // shape after slicing, before shrink and new axes
  out: number[]; // final shape
}

// tf.stridedSlice's masks resolved against a static shape (ellipsis, new-axis, shrink-axis).
export function stridedSliceSpec(shape: readonly number[], beginIn: number[], endIn: number[], stridesIn: number[], masks: { begin: number; end: number; ellipsis: number; newAxis: number; shrink: number }): SliceSpec | string {
  // Expand the sparse spec to one entry per input axis (new axes recorded by output position).
  const dense: { b: number; e: number; s: number; bm: boolean; em: boolean; shrink: boolean }[] = [];
  const newAxesAfter: number[] = []; // new axis k goes before dense entry newAxesAfter[k]
  const n = beginIn.length;
  let ellipsisSeen = false;
  for (let i = 0; i < n; i++) {
    if (masks.ellipsis & (1 << i)) {
      if (ellipsisSeen) return 'more than one ellipsis';
      ellipsisSeen = true;
      let rest = 0;
      for (let j = i + 1; j < n; j++) if (!(masks.newAxis & (1 << j))) rest++;
      const fill = shape.length - dense.length - rest;
      for (let k = 0; k < fill; k++) dense.push({ b: 0, e: 0, s: 1, bm: true, em: true, shrink: false });
    } else if (masks.newAxis & (1 << i)) newAxesAfter.push(dense.length);
    else dense.push({ b: beginIn[i], e: endIn[i], s: stridesIn[i] ?? 1, bm: !!(masks.begin & (1 << i)), em: !!(masks.end & (1 << i)), shrink: !!(masks.shrink & (1 << i)) });
  }
  while (dense.length < shape.length) dense.push({ b: 0, e: 0, s: 1, bm: true, em: true, shrink: false });
  if (dense.length > shape.length) return `${dense.length} sliced axes of a rank-${shape.length} tensor`;
  const spec: SliceSpec = { begin: [], end: [], strides: [], sliced: [], out: [] };
  for (const [i, t] of dense.entries()) {
    const dim = shape[i];
    if (t.s === 0) return 'a stride of 0';
    const norm = (v: number) => (v < 0 ? v + dim : v);
    let b: number, e: number;
    if (t.shrink) { b = norm(t.b); e = b + 1; if (b < 0 || b >= dim) return `index ${t.b} out of range for axis ${i} of size ${dim}`; } else if (t.s > 0) {
      b = t.bm ? 0 : Math.min(Math.max(norm(t.b), 0), dim);
      e = t.em ? dim : Math.min(Math.max(norm(t.e), 0), dim);
    } else {
      b = t.bm ? dim - 1 : Math.min(Math.max(norm(t.b), -1), dim - 1);
      e = t.em ? -1 : Math.min(Math.max(norm(t.e), -1), dim - 1);
    }
    const len = t.s > 0 ? Math.max(0, Math.ceil((e - b) / t.s)) : Math.max(0, Math.ceil((b - e) / -t.s));
    spec.begin.push(b); spec.end.push(e); spec.strides.push(t.shrink ? 1 : t.s); spec.sliced.push(t.shrink ? 1 : len);
  }
  for (let i = 0, k = 0; i <= dense.length; i++) {
    while (k < newAxesAfter.length && newAxesAfter[k] === i) { spec.out.push(1); k++; }
    if (i < dense.length && !dense[i].shrink) spec.out.push(spec.sliced[i]);
  }
  return spec;
}

// The values of a slice (each axis: begin, count, stride).
function gatherSlice(src: ArrayLike<number>, shape: readonly number[], begin: number[], counts: number[], strides: number[]): Float64Array {
  const out = new Float64Array(sizeOf(counts));
  const st = stridesOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let k = 0; k < out.length; k++) {
    let s = 0;
    for (let i = 0; i < shape.length; i++) s += (begin[i] + idx[i] * strides[i]) * st[i];
    out[k] = src[s];
    for (let i = shape.length - 1; i >= 0; i--) { if (++idx[i] < counts[i]) break; idx[i] = 0; }
  }
  return out;
}

export function stridedSliceMasks(d: GraphNodeDef) {
  return { begin: attrInt(d, 'begin_mask', 0), end: attrInt(d, 'end_mask', 0), ellipsis: attrInt(d, 'ellipsis_mask', 0), newAxis: attrInt(d, 'new_axis_mask', 0), shrink: attrInt(d, 'shrink_axis_mask', 0) };
}

const axisOf = (a: number, rank: number) => (a < 0 ? a + rank : a);

// Evaluates node `d` on constant inputs: its outputs, or null when the op is not one the evaluator
// knows (the caller then maps it onto layers or refuses it).
export function foldOp(d: GraphNodeDef, ins: Const[], file: string): Const[] | null {
  const fail = (what: string) => new ModelFormatError(`${file}: node '${d.name}' (${d.op}): ${what}`, file, d.name);
  const one = (shape: number[], values: ArrayLike<number>, dtype = ins[0]?.dtype ?? 'float32') => [makeConst(d.name, shape, values, dtype)];
  const ints = (k: number) => {
    if (!ins[k]) throw fail(`needs input ${k}, has ${ins.length} inputs`);
    return Array.from(ins[k].values);
  };
  const [x] = ins;
  if (ownKey(BINARY, d.op) && ins.length === 2) {
    const mask = /Equal|Greater|Less|Logical/.test(d.op);
    const shape = broadcastShapes(ins[0].shape, ins[1].shape);
    if (!shape) throw fail(`shapes [${ins[0].shape}] and [${ins[1].shape}] do not broadcast`);
    const a = broadcastTo(ins[0].values, ins[0].shape, shape);
    const b = broadcastTo(ins[1].values, ins[1].shape, shape);
    const int = x.dtype === 'int32';
    const f = BINARY[d.op];
    return one(shape, a.map((v, i) => f(v, b[i], int)), mask ? 'int32' : x.dtype);
  }
  if (ownKey(UNARY, d.op)) return one(x.shape, Array.from(x.values, UNARY[d.op]));
  if (ownKey(REDUCE, d.op)) {
    const axes = new Set(ints(1).map((a) => axisOf(a, x.shape.length)));
    const [init, f] = REDUCE[d.op];
    const keep = attrBool(d, 'keep_dims');
    const kept = x.shape.map((s, i) => (axes.has(i) ? 1 : s));
    const out = new Float64Array(sizeOf(kept)).fill(init);
    const st = stridesOf(kept);
    const idx = new Array<number>(x.shape.length).fill(0);
    for (let k = 0; k < x.values.length; k++) {
      let o = 0;
      for (let i = 0; i < idx.length; i++) if (!axes.has(i)) o += idx[i] * st[i];
      out[o] = f(out[o], x.values[k]);
      for (let i = idx.length - 1; i >= 0; i--) { if (++idx[i] < x.shape[i]) break; idx[i] = 0; }
    }
    if (d.op === 'Mean') { const n = x.values.length / Math.max(out.length, 1); for (let i = 0; i < out.length; i++) out[i] /= n; }
    return one(keep ? kept : x.shape.filter((_, i) => !axes.has(i)), out);
  }
  switch (d.op) {
    case 'Identity': case 'StopGradient': case 'Snapshot':
      return [x];
    case 'IdentityN':
      return ins;
    case 'Cast': {
      const to = d.attr?.DstT?.type ?? 'DT_FLOAT';
      return one(x.shape, x.values, to === 'DT_FLOAT' || to === 'DT_HALF' || to === 'DT_DOUBLE' ? 'float32' : 'int32');
    }
    case 'Shape': return one([x.shape.length], x.shape, 'int32');
    case 'Size': return one([], [sizeOf(x.shape)], 'int32');
    case 'Rank': return one([], [x.shape.length], 'int32');
    case 'Reshape': {
      const target = ints(1);
      const known = target.filter((v) => v !== -1);
      const inferred = target.map((v) => (v === -1 ? x.values.length / Math.max(sizeOf(known), 1) : v));
      if (sizeOf(inferred) !== x.values.length || target.filter((v) => v === -1).length > 1) throw fail(`cannot reshape [${x.shape}] to [${target}]`);
      return one(inferred, x.values);
    }
    case 'ExpandDims': {
      const a = ints(1)[0];
      const shape = [...x.shape];
      shape.splice(a < 0 ? a + x.shape.length + 1 : a, 0, 1);
      return one(shape, x.values);
    }
    case 'Squeeze': {
      const axes = (attrInts(d, 'squeeze_dims') ?? []).map((a) => axisOf(a, x.shape.length));
      return one(x.shape.filter((s, i) => (axes.length ? !axes.includes(i) : s !== 1)), x.values);
    }
    case 'Pack': {
      const axis = axisOf(attrInt(d, 'axis', 0), x.shape.length + 1);
      const shape = [...x.shape];
      shape.splice(axis, 0, ins.length);
      const parts = ins.map((c) => ({ ...c, shape: [...c.shape.slice(0, axis), 1, ...c.shape.slice(axis)] }));
      return one(shape, concatValues(parts, axis), ins.some((c) => c.dtype === 'float32') ? 'float32' : 'int32');
    }
    case 'ConcatV2': {
      const parts = ins.slice(0, -1);
      const axis = axisOf(ins[ins.length - 1].values[0], parts[0].shape.length);
      const shape = [...parts[0].shape];
      shape[axis] = parts.reduce((n, c) => n + c.shape[axis], 0);
      return one(shape, concatValues(parts, axis), parts[0].dtype);
    }
    case 'Unpack': {
      const axis = axisOf(attrInt(d, 'axis', 0), x.shape.length);
      return splitConst(d, x, axis, new Array<number>(x.shape[axis]).fill(1), true);
    }
    case 'Split': {
      const axis = axisOf(ins[0].values[0], ins[1].shape.length);
      const n = attrInt(d, 'num_split', 1);
      return splitConst(d, ins[1], axis, new Array<number>(n).fill(ins[1].shape[axis] / n), false);
    }
    case 'SplitV': {
      const axis = axisOf(ins[2].values[0], x.shape.length);
      const sizes = ints(1);
      const rest = x.shape[axis] - sizes.filter((s) => s !== -1).reduce((a, b) => a + b, 0);
      return splitConst(d, x, axis, sizes.map((s) => (s === -1 ? rest : s)), false);
    }
    case 'Fill': {
      const dims = ints(0).map((v) => (v === -1 ? 1 : v)); // a batch of -1: one row, which broadcasts
      return one(dims, new Float64Array(sizeOf(dims)).fill(ins[1].values[0]), ins[1].dtype);
    }
    case 'ZerosLike': case 'OnesLike':
      return one(x.shape, new Float64Array(x.values.length).fill(d.op === 'OnesLike' ? 1 : 0));
    case 'Range': {
      const [start, limit, delta] = [0, 1, 2].map((k) => ins[k].values[0]);
      const n = Math.max(0, Math.ceil((limit - start) / delta));
      return one([n], Array.from({ length: n }, (_, i) => start + i * delta), ins.some((c) => c.dtype === 'float32') ? 'float32' : 'int32');
    }
    case 'StridedSlice': {
      const spec = stridedSliceSpec(x.shape, ints(1), ints(2), ints(3), stridedSliceMasks(d));
      if (typeof spec === 'string') throw fail(spec);
      return one(spec.out, gatherSlice(x.values, x.shape, spec.begin, spec.sliced, spec.strides));
    }
    case 'Slice': {
      const begin = ints(1);
      const size = ints(2).map((s, i) => (s === -1 ? x.shape[i] - begin[i] : s));
      return one(size, gatherSlice(x.values, x.shape, begin, size, size.map(() => 1)));
    }
    case 'GatherV2': {
      const axis = axisOf(ins[2]?.values[0] ?? 0, x.shape.length);
      const idx = ints(1).map((i) => (i < 0 ? i + x.shape[axis] : i));
      const shape = [...x.shape.slice(0, axis), ...ins[1].shape, ...x.shape.slice(axis + 1)];
      const outer = sizeOf(x.shape.slice(0, axis));
      const inner = sizeOf(x.shape.slice(axis + 1));
      const out = new Float64Array(sizeOf(shape));
      let o = 0;
      for (let a = 0; a < outer; a++) for (const i of idx) for (let k = 0; k < inner; k++) out[o++] = x.values[(a * x.shape[axis] + i) * inner + k];
      return one(shape, out);
    }
    case 'Transpose': {
      const perm = ints(1);
      const shape = perm.map((p) => x.shape[p]);
      const st = stridesOf(x.shape);
      const out = new Float64Array(x.values.length);
      const idx = new Array<number>(shape.length).fill(0);
      for (let k = 0; k < out.length; k++) {
        let s = 0;
        for (let i = 0; i < shape.length; i++) s += idx[i] * st[perm[i]];
        out[k] = x.values[s];
        for (let i = shape.length - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
      }
      return one(shape, out);
    }
    case 'Tile': {
      const m = ints(1);
      const shape = x.shape.map((s, i) => s * m[i]);
      const idx = new Array<number>(shape.length).fill(0);
      const st = stridesOf(x.shape);
      const out = new Float64Array(sizeOf(shape));
      for (let k = 0; k < out.length; k++) {
        let s = 0;
        for (let i = 0; i < shape.length; i++) s += (idx[i] % x.shape[i]) * st[i];
        out[k] = x.values[s];
        for (let i = shape.length - 1; i >= 0; i--) { if (++idx[i] < shape[i]) break; idx[i] = 0; }
      }
      return one(shape, out);
    }
    case 'BroadcastTo': {
      const shape = broadcastShapes(x.shape, ints(1));
      if (!shape) throw fail(`[${x.shape}] does not broadcast to [${ints(1)}]`);
      return one(shape, broadcastTo(x.values, x.shape, shape));
    }
    case 'Where': { // the indices of the non-zero entries, [n, rank]
      const rows: number[] = [];
      x.values.forEach((v, k) => {
        if (!v) return;
        const idx = new Array<number>(x.shape.length);
        for (let i = x.shape.length - 1, r = k; i >= 0; i--) { idx[i] = r % x.shape[i]; r = Math.floor(r / x.shape[i]); }
        rows.push(...idx);
      });
      return one([rows.length / Math.max(x.shape.length, 1), x.shape.length], rows, 'int32');
    }
    case 'SparseToDense': {
      const shape = ints(1);
      const [idx, vals, fill] = [ins[0], ins[2], ins[3].values[0]];
      const out = new Float64Array(sizeOf(shape)).fill(fill);
      const st = stridesOf(shape);
      const rank = idx.shape.length === 2 ? idx.shape[1] : 1;
      const n = idx.shape.length === 0 ? 1 : idx.shape[0];
      for (let r = 0; r < n; r++) {
        let o = 0;
        for (let j = 0; j < rank; j++) o += idx.values[r * rank + j] * st[j];
        out[o] = vals.values.length === 1 ? vals.values[0] : vals.values[r];
      }
      return one(shape, out, vals.dtype);
    }
    case 'Select': case 'SelectV2': {
      const shape = broadcastShapes(broadcastShapes(ins[0].shape, ins[1].shape) ?? [], ins[2].shape);
      if (!shape) throw fail('shapes do not broadcast');
      const [c, a, b] = ins.map((t) => broadcastTo(t.values, t.shape, shape));
      return one(shape, c.map((v, i) => (v ? a[i] : b[i])), ins[1].dtype);
    }
    default:
      return null;
  }
}

function ownKey(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

function concatValues(parts: Const[], axis: number): Float64Array {
  const outer = sizeOf(parts[0].shape.slice(0, axis));
  const rows = parts.map((c) => sizeOf(c.shape.slice(axis)));
  const out = new Float64Array(outer * rows.reduce((a, b) => a + b, 0));
  let o = 0;
  for (let a = 0; a < outer; a++) for (const [k, c] of parts.entries()) for (let i = 0; i < rows[k]; i++) out[o++] = c.values[a * rows[k] + i];
  return out;
}

function splitConst(d: GraphNodeDef, x: Const, axis: number, sizes: number[], squeeze: boolean): Const[] {
  let start = 0;
  return sizes.map((n, k) => {
    const begin = x.shape.map((_, i) => (i === axis ? start : 0));
    const counts = x.shape.map((s, i) => (i === axis ? n : s));
    start += n;
    const shape = squeeze ? counts.filter((_, i) => i !== axis) : counts;
    return makeConst(`${d.name}:${k}`, shape, gatherSlice(x.values, x.shape, begin, counts, counts.map(() => 1)), x.dtype);
  });
}

// The data-dependent ops: their output shape or control flow depends on the data, so they have no
// static layer form. The message suggests the `outputs` cut before them.
const DATA_DEPENDENT = /^(NonMaxSuppression|TopK|Where|ArgMax|ArgMin|Unique|Bincount|TensorArray|TensorList|Switch|Merge|Enter|Exit|LoopCond|NextIteration|While|StatelessWhile|If|StatelessIf|Case|SparseToDense|ScatterNd|DenseBincount|CropAndResize|NonZero)/;

// Control flow: its graph has cycles, so it is refused before it is walked.
export const isLoop = (d: GraphNodeDef): boolean => /^(Switch|Merge|Enter|Exit|LoopCond|NextIteration|TensorArray|TensorList)/.test(d.op);

// Comparisons and logic of computed tensors: boolean masks, as post-processing builds them.
const MASKS = /^(Equal|NotEqual|Greater|GreaterEqual|Less|LessEqual|LogicalAnd|LogicalOr|LogicalNot|IsNan|IsInf|IsFinite)$/;

export function refuseDataDependent(d: GraphNodeDef, file: string, inputs: string[], always = false): void {
  const before = inputs.length ? ` (e.g. { outputs: [${inputs.map((n) => `'${n}'`).join(', ')}] })` : '';
  if (MASKS.test(d.op)) {
    throw new UnsupportedOpError(d.op, d.name, file, `a boolean mask of computed tensors (post-processing; it has no gradient); import the network up to the node before it with the 'outputs' option${before}`);
  }
  if (!always && !DATA_DEPENDENT.test(d.op)) return;
  throw new UnsupportedOpError(d.op, d.name, file, `its result depends on the input data (post-processing such as non-max suppression, top-k or a loop has no static layer form); import the network up to the node before it with the 'outputs' option${before}`);
}

