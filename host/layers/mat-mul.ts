// The product of two computed tensors (TF BatchMatMulV2 / MatMul, ONNX MatMul, keras.ops.matmul):
// per sample a [..., M, K] . b [..., K, N] -> [..., M, N], transposeA / transposeB (TF's adj_x /
// adj_y) reading a as [..., K, M] and b as [..., N, K]. The leading axes broadcast (NumPy rules,
// right-aligned). Keras has the op but no layer: saved as edgetune>MatMul.
//
// Lowering: one batched_gemm op (assembly/kernels/gemm.ts, the packed GEMM per matrix) over the
// stack of products when each operand's leading axes are either the output's or all 1; else one
// op per output matrix. Backward: da = dc . op(b)^T and db = op(a)^T . dc as strided products
// (transposed ones give the transposed layout), summed over the matrices an operand was broadcast
// to (the kernel accumulates a c stride of 0; repeated targets of per-matrix ops accumulate).
import { optionNames } from '../core/options';
import { broadcastShapes } from '../compile/broadcast-lowering';
import { sizeOf } from '../compile/graph';
import { at } from '../compile/nd-copy';
import { gradTarget, needScratch, SCRATCH, type BackwardArgs, type ForwardArgs, type ProgramBuilder, type Ref } from '../compile/program';
import { gemmScratchBytes } from '../compile/gemm-scratch';
import { flag, LAYER_OPTION_NAMES, pending, type LayerOptions } from './config';
import type { LayerDef } from './def';
import { kerasBase, noTfjsCounterpart } from './keras-json';
import { Layer } from './layer';

export interface MatMulOptions extends LayerOptions { transposeA?: boolean; transposeB?: boolean }

export function matMul(options: MatMulOptions = {}): Layer {
  const where = pending('mat_mul', options);
  return new Layer(MAT_MUL, { transposeA: flag(where, 'transposeA', options.transposeA, false), transposeB: flag(where, 'transposeB', options.transposeB, false) }, options);
}

// A matrix operand of one product: where matrix (i, p) is, in floats, relative to its start.
interface Mat { rs: number; cs: number }
// One strided product c (m,n; row stride ldc) [+]= a . b, stacked: sx is the stride between the
// matrices of x within a sample (0: broadcast), px its floats per sample.
interface Product { m: number; n: number; k: number; a: Mat; b: Mat; ldc: number }
interface Operand { ref: Ref; lead: readonly number[]; matrix: number; sample: number }

const lead = (s: readonly number[]) => s.slice(0, -2);

// Row-major index into `shape` (right-aligned against `space`, axes of extent 1 broadcast) of the
// multi-index of flat position i of `space`.
function broadcastIndex(space: readonly number[], shape: readonly number[], i: number): number {
  let at = 0;
  let stride = 1;
  for (let k = space.length - 1, j = shape.length - 1; k >= 0; k--, j--) {
    const idx = i % space[k];
    i = Math.floor(i / space[k]);
    if (j >= 0) { if (shape[j] !== 1) at += idx * stride; stride *= shape[j]; }
  }
  return at;
}

// c = a . b over the output's leading axes `space`: one op when each operand's leading axes are
// the whole space or all 1 (stride per matrix or 0), else one op per output matrix.
function emitStack(p: ProgramBuilder, layer: string, space: readonly number[], c: Operand, a: Operand, b: Operand, g: Product, accumulate: number): void {
  const total = sizeOf(space);
  const stride = (o: Operand): number | null => {
    if (sizeOf(o.lead) === 1) return 0;
    return sizeOf(o.lead) === total && o.lead.length <= space.length ? o.matrix : null;
  };
  const dims = { m: g.m, n: g.n, k: g.k, rsa: g.a.rs, csa: g.a.cs, rsb: g.b.rs, csb: g.b.cs, ldc: g.ldc, pa: a.sample, pb: b.sample, pc: c.sample, pack: SCRATCH };
  const [sa, sb, sc] = [a, b, c].map(stride);
  if (sa !== null && sb !== null && sc !== null) {
    p.emit('batched_gemm', layer, { c: c.ref, a: a.ref, b: b.ref, pack: SCRATCH }, { ...dims, count: total, sa, sb, sc, accumulate });
    return;
  }
  const written = new Set<number>();
  for (let i = 0; i < total; i++) {
    const [ia, ib, ic] = [a, b, c].map((o) => broadcastIndex(space, o.lead, i) * o.matrix);
    p.emit('batched_gemm', layer, { c: at(c.ref, ic), a: at(a.ref, ia), b: at(b.ref, ib), pack: SCRATCH },
      { ...dims, count: 1, sa: 0, sb: 0, sc: 0, accumulate: accumulate || written.has(ic) ? 1 : 0 });
    written.add(ic);
  }
}

// The shapes of one product: op(a) (M,K) and op(b) (K,N) as strided matrices.
function geometry(layer: Layer, aShape: readonly number[], bShape: readonly number[]) {
  const [r, c] = aShape.slice(-2);
  const [s, t] = bShape.slice(-2);
  const ta = layer.config.transposeA as boolean, tb = layer.config.transposeB as boolean;
  const m = ta ? c : r, k = ta ? r : c, n = tb ? s : t;
  const opA: Mat = ta ? { rs: 1, cs: m } : { rs: k, cs: 1 };
  const opB: Mat = tb ? { rs: 1, cs: k } : { rs: n, cs: 1 };
  return { m, n, k, ta, tb, opA, opB };
}

function forward({ ctx, p, node, layer, inputs, shape, count }: ForwardArgs) {
  const [a, b] = inputs;
  const { m, n, k, opA, opB } = geometry(layer, a.shape, b.shape);
  const y = p.activation(node.name, count * ctx.batch);
  needScratch(ctx, gemmScratchBytes(m, n, k));
  emitStack(p, layer.name, lead(shape), { ref: y, lead: lead(shape), matrix: m * n, sample: count },
    { ref: a.region, lead: lead(a.shape), matrix: m * k, sample: sizeOf(a.shape) },
    { ref: b.region, lead: lead(b.shape), matrix: k * n, sample: sizeOf(b.shape) }, { m, n, k, a: opA, b: opB, ldc: n }, 0);
  return { region: y, shape };
}

function backward({ ctx, p, g, layer, inputNodes, values, v, dy, needsInputGrad }: BackwardArgs): void {
  if (!needsInputGrad) return;
  const [a, b] = inputNodes.map((x) => values[x.id]);
  const { m, n, k, ta, tb, opA, opB } = geometry(layer, a.shape, b.shape);
  const space = lead(v.shape);
  const c: Operand = { ref: dy, lead: space, matrix: m * n, sample: sizeOf(v.shape) };
  const A: Operand = { ref: a.region, lead: lead(a.shape), matrix: m * k, sample: sizeOf(a.shape) };
  const B: Operand = { ref: b.region, lead: lead(b.shape), matrix: k * n, sample: sizeOf(b.shape) };
  const dcT: Mat = { rs: 1, cs: n }; // dc^T (N,M)
  const dc: Mat = { rs: n, cs: 1 };
  needScratch(ctx, Math.max(gemmScratchBytes(m, k, n), gemmScratchBytes(k, m, n), gemmScratchBytes(k, n, m), gemmScratchBytes(n, k, m)));
  const da = gradTarget(p, g, inputNodes[0], A.sample * ctx.batch);
  const dA = { ...A, ref: da.region };
  // da (M,K) = dc . op(b)^T; transposed, da (K,M) = op(b) . dc^T.
  if (!ta) emitStack(p, layer.name, space, dA, c, B, { m, n: k, k: n, a: dc, b: { rs: opB.cs, cs: opB.rs }, ldc: k }, da.accumulate);
  else emitStack(p, layer.name, space, dA, B, c, { m: k, n: m, k: n, a: opB, b: dcT, ldc: m }, da.accumulate);
  const db = gradTarget(p, g, inputNodes[1], B.sample * ctx.batch);
  const dB = { ...B, ref: db.region };
  // db (K,N) = op(a)^T . dc; transposed, db (N,K) = dc^T . op(a).
  if (!tb) emitStack(p, layer.name, space, dB, A, c, { m: k, n, k: m, a: { rs: opA.cs, cs: opA.rs }, b: dc, ldc: n }, db.accumulate);
  else emitStack(p, layer.name, space, dB, c, A, { m: n, n: k, k: m, a: dcT, b: opA, ldc: k }, db.accumulate);
}

export const MAT_MUL: LayerDef = {
  kind: 'matMul',
  snake: 'mat_mul',
  get options() { return optionNames<MatMulOptions>()([...LAYER_OPTION_NAMES, 'transposeA', 'transposeB']); },
  multiInput: true,
  outputShape(layer, shapes, fail) {
    if (shapes.length !== 2) throw fail(`needs exactly two inputs, got ${shapes.length}`);
    const [a, b] = shapes;
    if (a.length < 2 || b.length < 2) throw fail(`needs inputs of at least two axes per sample (matrices), got [${a}] and [${b}]`);
    const { m, n, k, ta, tb } = geometry(layer, a, b);
    const kb = tb ? b[b.length - 1] : b[b.length - 2];
    if (k !== kb) throw fail(`inner sizes differ: [${a}]${ta ? ' transposed' : ''} . [${b}]${tb ? ' transposed' : ''} (${k} vs ${kb})`);
    return [...broadcastShapes([lead(a), lead(b)], fail), m, n];
  },
  forward,
  backward,
  kerasClasses: ['edgetune>MatMul'],
  toTfjs: /* @__PURE__ */ noTfjsCounterpart('edgetune>MatMul'),
  toKeras: (l) => ({ class_name: 'edgetune>MatMul', config: { ...kerasBase(l), transpose_a: l.config.transposeA, transpose_b: l.config.transposeB } }),
  fromKeras: (c, r) => matMul({ ...r.base, transposeA: c.transpose_a, transposeB: c.transpose_b }),
};
