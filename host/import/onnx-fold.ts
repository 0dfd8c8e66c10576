// Constant folding for the ONNX importer: a node whose inputs are all constants (initializers,
// Constant nodes, or shapes known at import) is evaluated here, on the host, and its outputs become
// constants. That removes the shape arithmetic exporters emit (Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape), deduplicated weights (Identity of an initializer), Cast of float16 weights...
//
// Values are float arrays (integers are exact up to 2^24, enough for shapes and indices). The batch
// size is unknown at import: Shape of a computed tensor gives NaN for it, and NaN propagates, so a
// shape that depends on the batch stays recognisable (Reshape reads its first entry as the batch).
import type { OnnxNode, OnnxTensor } from './onnx-proto';
import { DTYPE_NAMES, FLOAT, FLOAT16, DOUBLE } from './onnx-proto';

export const BATCH = NaN;

export type Widen<T> = T extends number ? number : T extends string ? string : T;

export interface FoldContext {
  // constant input i (undefined for an empty optional input)
  input(i: number): OnnxTensor | undefined;
  // the static shape (with the batch as NaN) of input i when it is computed, not constant
  shapeOf(i: number): number[] | undefined;
  attr<T>(name: string, fallback: T): Widen<T>;
  fail(what: string): Error;
  opset: number;
}

const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
const tensor = (name: string, dims: number[], data: ArrayLike<number>, dtype?: number): OnnxTensor => ({ name, dims, data: Float32Array.from(data), dtype });
const INT64 = 7, BOOL = 9;
// Integer types divide with truncation (ONNX Div on int64, as exporters use for shape arithmetic).
export const isFloatType = (dtype: number | undefined) => dtype === undefined || dtype === FLOAT || dtype === FLOAT16 || dtype === DOUBLE || dtype === 16;

// Row-major strides of `dims`.
export function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length);
  for (let i = dims.length - 1, k = 1; i >= 0; i--) { s[i] = k; k *= dims[i]; }
  return s;
}

// NumPy broadcasting of two shapes (right-aligned), or null when they do not broadcast.
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const x = a[a.length - r + i] ?? 1;
    const y = b[b.length - r + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

// `t` broadcast to `dims` (its shape right-aligned against them).
export function broadcastTo(t: { dims: number[]; data: ArrayLike<number> }, dims: readonly number[]): Float32Array {
  const out = new Float32Array(size(dims));
  const pad = dims.length - t.dims.length;
  const src = strides(t.dims);
  const idx = new Array<number>(dims.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let s = 0;
    for (let k = 0; k < t.dims.length; k++) if (t.dims[k] !== 1) s += idx[k + pad] * src[k];
    out[o] = t.data[s];
    for (let k = dims.length - 1; k >= 0; k--) { if (++idx[k] < dims[k]) break; idx[k] = 0; }
  }
  return out;
}

const BINARY: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b, Sub: (a, b) => a - b, Mul: (a, b) => a * b, Div: (a, b) => a / b, Pow: (a, b) => a ** b,
  Max: Math.max, Min: Math.min, Mod: (a, b) => a - Math.floor(a / b) * b, Equal: (a, b) => +(a === b), Less: (a, b) => +(a < b),
  Greater: (a, b) => +(a > b), LessOrEqual: (a, b) => +(a <= b), GreaterOrEqual: (a, b) => +(a >= b), And: (a, b) => +(!!a && !!b), Or: (a, b) => +(!!a || !!b),
};
const UNARY: Record<string, (a: number) => number> = {
  Neg: (a) => -a, Abs: Math.abs, Floor: Math.floor, Ceil: Math.ceil, Round: (a) => { const r = Math.round(a); return Math.abs(a % 1) === 0.5 && r % 2 ? r - 1 : r; },
  Sqrt: Math.sqrt, Reciprocal: (a) => 1 / a, Exp: Math.exp, Log: Math.log, Relu: (a) => Math.max(a, 0), Sigmoid: (a) => 1 / (1 + Math.exp(-a)),
  Tanh: Math.tanh, Not: (a) => +!a, Sign: Math.sign, Identity: (a) => a, Dropout: (a) => a,
};

export const FOLDABLE = new Set([...Object.keys(BINARY), ...Object.keys(UNARY), 'Constant', 'ConstantOfShape', 'Cast', 'Shape', 'Size', 'Gather',
  'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Range', 'Reshape', 'Expand', 'Transpose', 'Where', 'Flatten', 'ReduceProd', 'ReduceSum', 'ReduceMin', 'ReduceMax']);

// The axes of a node: the `axes` attribute (older opsets) or input `i` (opset 13+ for Squeeze,
// Unsqueeze and ReduceSum; 18+ for the other reductions).
export function axesOf(c: FoldContext, i: number): number[] | undefined {
  const fromInput = c.input(i);
  if (fromInput) return Array.from(fromInput.data);
  return c.attr<number[] | undefined>('axes', undefined);
}

export function normAxis(axis: number, rank: number, fail: (what: string) => Error): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

// Start, end and step of one axis of a Slice, clamped as ONNX does (and as Python slicing).
export function sliceRange(start: number, end: number, step: number, dim: number): [number, number, number] {
  if (step === 0 || !Number.isFinite(step)) throw new RangeError('step must be non-zero');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) { s = clamp(s, 0, dim); e = clamp(e, 0, dim); } else { s = clamp(s, 0, dim - 1); e = clamp(e, -1, dim - 1); }
  return [s, e, step];
}

// The per-axis ranges of a Slice node over `dims` (inputs starts, ends, axes, steps from opset 10;
// attributes before).
export function sliceRanges(c: FoldContext, dims: readonly number[]): [number, number, number][] {
  const list = (i: number, attr: string) => { const t = c.opset >= 10 ? c.input(i) : undefined; return t ? Array.from(t.data) : c.attr<number[] | undefined>(attr, undefined); };
  const starts = list(1, 'starts');
  const ends = list(2, 'ends');
  if (!starts || !ends || starts.length !== ends.length) throw c.fail('starts and ends must be constant lists of equal length');
  const axes = list(3, 'axes') ?? starts.map((_, i) => i);
  const steps = (c.opset >= 10 ? list(4, 'steps') : undefined) ?? starts.map(() => 1);
  const ranges: [number, number, number][] = dims.map((d) => [0, d, 1]);
  axes.forEach((ax, i) => {
    const a = normAxis(ax, dims.length, c.fail);
    if (!steps[i]) throw c.fail(`step 0 on axis ${ax}`);
    ranges[a] = sliceRange(starts[i], ends[i], steps[i], dims[a]);
  });
  return ranges;
}

function gather(t: OnnxTensor, indices: OnnxTensor, axis: number, name: string, fail: (w: string) => Error): OnnxTensor {
  const a = normAxis(axis, t.dims.length, fail);
  const outer = size(t.dims.slice(0, a));
  const inner = size(t.dims.slice(a + 1));
  const n = t.dims[a];
  const idx = Array.from(indices.data, (i) => {
    const j = i < 0 ? i + n : i;
    if (!(j >= 0 && j < n)) throw fail(`index ${i} is out of range for an axis of size ${n}`);
    return j;
  });
  const out: number[] = [];
  for (let o = 0; o < outer; o++) for (const j of idx) for (let k = 0; k < inner; k++) out.push(t.data[(o * n + j) * inner + k]);
  return tensor(name, [...t.dims.slice(0, a), ...indices.dims, ...t.dims.slice(a + 1)], out);
}

export function transposeData(data: ArrayLike<number>, dims: readonly number[], perm: readonly number[]): Float32Array {
  const out = new Float32Array(size(dims));
  const src = strides(dims);
  const od = perm.map((p) => dims[p]);
  const idx = new Array<number>(od.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let s = 0;
    for (let k = 0; k < od.length; k++) s += idx[k] * src[perm[k]];
    out[o] = data[s];
    for (let k = od.length - 1; k >= 0; k--) { if (++idx[k] < od[k]) break; idx[k] = 0; }
  }
  return out;
}

function reshapeTarget(target: number[], dims: readonly number[], allowZero: boolean, fail: (w: string) => Error): number[] {
  const out = target.map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  const known = size(out.filter((d) => d !== -1));
  const n = size(dims);
  const resolved = out.map((d) => (d === -1 ? n / known : d));
  if (size(resolved) !== n || !resolved.every((d) => Number.isInteger(d) && d >= 0)) throw fail(`cannot reshape [${dims}] to [${target}]`);
  return resolved;
}

// Evaluates `node`; null when it is not foldable (an input is not constant, or the op is not one
// the evaluator knows).
export function foldNode(node: OnnxNode, c: FoldContext): OnnxTensor[] | null {
  const out = evaluate(node, c);
  // outputs keep the first input's type unless the op set another
  const first = node.inputs[0] ? c.input(0)?.dtype : undefined;
  return out && out.map((t) => (t.dtype === undefined ? { ...t, dtype: first } : t));
}

function evaluate(node: OnnxNode, c: FoldContext): OnnxTensor[] | null {
  const op = node.op;
  const out = node.outputs[0];
  if (!FOLDABLE.has(op)) return null;
  if (op === 'Shape' || op === 'Size') {
    const s = c.input(0)?.dims ?? c.shapeOf(0);
    if (!s) return null;
    if (op === 'Size') return [tensor(out, [], [size(s)], INT64)];
    const r = s.length;
    const start = normClamp(c.attr('start', 0), r);
    const end = normClamp(c.attr('end', r), r);
    const dims = s.slice(start, end);
    return [tensor(out, [dims.length], dims, INT64)];
  }
  if (op === 'Constant') return null; // read by the converter (it knows the attribute forms)
  const ins = node.inputs.map((name, i) => (name ? c.input(i) : undefined));
  if (node.inputs.some((name, i) => name && !ins[i])) return null;
  // A mutated or hand-made file can leave out an input every op below reads.
  const required = op in BINARY ? 2 : 1;
  if (ins.length < required || ins.slice(0, required).some((t) => !t)) throw c.fail(`needs ${required} input${required > 1 ? 's' : ''}, has ${ins.filter((t) => t).length}`);
  const x = ins[0]!;
  if (op in UNARY) return [tensor(out, [...x.dims], Array.from(x.data, UNARY[op]))];
  if (op in BINARY) {
    const y = ins[1]!;
    const dims = broadcastShapes(x.dims, y.dims);
    if (!dims) throw c.fail(`shapes [${x.dims}] and [${y.dims}] do not broadcast`);
    const a = broadcastTo(x, dims);
    const b = broadcastTo(y, dims);
    const integer = !isFloatType(x.dtype) && !isFloatType(y.dtype);
    const f = op === 'Div' && integer ? (p: number, q: number) => Math.trunc(p / q) : BINARY[op];
    const compare = ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual', 'And', 'Or'].includes(op);
    return [tensor(out, dims, a.map((v, i) => f(v, b[i])), compare ? BOOL : undefined)];
  }
  switch (op) {
    case 'Cast': {
      const to = c.attr('to', FLOAT);
      const float = to === FLOAT || to === FLOAT16 || to === DOUBLE || to === 16;
      if (!float && !DTYPE_NAMES[to]) throw c.fail(`Cast to unknown type ${to}`);
      return [tensor(out, [...x.dims], float ? x.data : Array.from(x.data, (v) => (to === BOOL ? +!!v : Math.trunc(v))), to)];
    }
    case 'ConstantOfShape': {
      const v = c.attr<OnnxTensor | undefined>('value', undefined);
      const dims = Array.from(x.data);
      if (!dims.every((d) => Number.isInteger(d) && d >= 0)) throw c.fail(`shape [${dims}] is not static (it depends on the batch size)`);
      return [tensor(out, dims, new Float32Array(size(dims)).fill(v ? v.data[0] : 0), v?.dtype ?? FLOAT)];
    }
    case 'Gather': return [gather(x, ins[1]!, c.attr('axis', 0), out, c.fail)];
    case 'Unsqueeze': {
      const axes = axesOf(c, 1);
      if (!axes) throw c.fail('no axes');
      const r = x.dims.length + axes.length;
      const at = new Set(axes.map((a) => normAxis(a, r, c.fail)));
      const dims: number[] = [];
      for (let i = 0, j = 0; i < r; i++) dims.push(at.has(i) ? 1 : x.dims[j++]);
      return [tensor(out, dims, x.data)];
    }
    case 'Squeeze': {
      const axes = axesOf(c, 1)?.map((a) => normAxis(a, x.dims.length, c.fail));
      return [tensor(out, x.dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)), x.data)];
    }
    case 'Concat': {
      const a = normAxis(c.attr('axis', 0), x.dims.length, c.fail);
      const all = ins.filter((t): t is OnnxTensor => !!t);
      const outer = size(x.dims.slice(0, a));
      const data: number[] = [];
      for (let o = 0; o < outer; o++) for (const t of all) {
        const chunk = size(t.dims.slice(a));
        for (let k = 0; k < chunk; k++) data.push(t.data[o * chunk + k]);
      }
      const dims = [...x.dims];
      dims[a] = all.reduce((n, t) => n + t.dims[a], 0);
      return [tensor(out, dims, data)];
    }
    case 'Slice': {
      const ranges = sliceRanges(c, x.dims);
      let cur: OnnxTensor = x;
      ranges.forEach(([s, e, st], a) => {
        const idx: number[] = [];
        for (let i = s; st > 0 ? i < e : i > e; i += st) idx.push(i);
        if (idx.length !== cur.dims[a] || idx.some((v, i) => v !== i)) cur = gather(cur, tensor('', [idx.length], idx), a, out, c.fail);
      });
      return [tensor(out, [...cur.dims], cur.data)];
    }
    case 'Range': {
      const [start, limit, delta] = ins.map((t) => t!.data[0]);
      const n = Math.max(Math.ceil((limit - start) / delta), 0);
      return [tensor(out, [n], Array.from({ length: n }, (_, i) => start + i * delta))];
    }
    case 'Reshape': return [tensor(out, reshapeTarget(Array.from(ins[1]!.data), x.dims, c.attr('allowzero', 0) === 1, c.fail), x.data)];
    case 'Flatten': {
      const a = normAxis(c.attr('axis', 1), x.dims.length + 1, c.fail);
      return [tensor(out, [size(x.dims.slice(0, a)), size(x.dims.slice(a))], x.data)];
    }
    case 'Expand': {
      const dims = broadcastShapes(x.dims, Array.from(ins[1]!.data));
      if (!dims) throw c.fail(`cannot expand [${x.dims}] to [${Array.from(ins[1]!.data)}]`);
      return [tensor(out, dims, broadcastTo(x, dims))];
    }
    case 'Transpose': {
      const perm = c.attr<number[]>('perm', x.dims.map((_, i) => x.dims.length - 1 - i));
      return [tensor(out, perm.map((p) => x.dims[p]), transposeData(x.data, x.dims, perm))];
    }
    case 'Where': {
      const dims = broadcastShapes(broadcastShapes(x.dims, ins[1]!.dims) ?? [], ins[2]!.dims);
      if (!dims) throw c.fail('operands do not broadcast');
      const [k, a, b] = [x, ins[1]!, ins[2]!].map((t) => broadcastTo(t, dims));
      return [tensor(out, dims, k.map((v, i) => (v ? a[i] : b[i])), ins[1]!.dtype)];
    }
    default: return foldReduce(op, x, c, out);
  }
}

function normClamp(v: number, r: number): number {
  return Math.min(Math.max(v < 0 ? v + r : v, 0), r);
}

function foldReduce(op: string, x: OnnxTensor, c: FoldContext, out: string): OnnxTensor[] {
  const axes = (axesOf(c, 1) ?? x.dims.map((_, i) => i)).map((a) => normAxis(a, x.dims.length, c.fail));
  const keep = c.attr('keepdims', 1) === 1;
  const dims = x.dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const init = op === 'ReduceProd' ? 1 : op === 'ReduceSum' ? 0 : op === 'ReduceMin' ? Infinity : -Infinity;
  const f = op === 'ReduceProd' ? (a: number, b: number) => a * b : op === 'ReduceSum' ? (a: number, b: number) => a + b : op === 'ReduceMin' ? Math.min : Math.max;
  const data = new Float32Array(size(dims)).fill(init);
  const ds = strides(dims);
  const idx = new Array<number>(x.dims.length).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let o = 0;
    for (let k = 0; k < dims.length; k++) if (dims[k] !== 1) o += idx[k] * ds[k];
    data[o] = f(data[o], x.data[i]);
    for (let k = idx.length - 1; k >= 0; k--) { if (++idx[k] < x.dims[k]) break; idx[k] = 0; }
  }
  return [tensor(out, keep ? dims : dims.filter((_, i) => !axes.includes(i)), data)];
}
