// Every op of the op table (host/compile/op-table.ts) through the interpreter: plan ops encoded by
// encodeOps exactly as a compiled plan is, run by the kernel module's `run` with a batch of 2 (so
// every "per sample" size is multiplied), and compared with the kernel's naive twin in
// test/reference/ (or a few lines of f64 arithmetic where the kernel is that simple). An op added
// to the table without a case here fails the first test.
import { describe, expect, it } from 'vitest';
import { encodeOps, HEADER, OP_SPECS, OPT_KIND, type OpName } from '../host/compile/ops';
import { expectClose } from './support/close';
import { callSize } from '../host/compile/size-expr';
import { harness, randomArray, type Harness } from './support/harness';
import { gemmReference } from './reference/gemm';
import {
  accuracyCountRef, biasBackwardRef, biasFillRef, reluBackwardRef, reluRef, softmaxBackwardRef, softmaxRef, softmaxXentDenseRef,
  softmaxXentSparseRef, sumsqRef, xentProbsRef,
} from './reference/kernels';
import {
  avgPoolBackwardRef, avgPoolRef, conv2dBackwardFilterRef, conv2dBackwardInputRef, conv2dRef, type ConvGeometry, depthwiseBackwardFilterRef,
  depthwiseBackwardInputRef, depthwiseRef, globalAvgPoolRef, groupedConv2dBackwardFilterRef, groupedConv2dBackwardInputRef, groupedConv2dRef,
  maxPoolBackwardRef, maxPoolRef,
} from './reference/conv';
import {
  ACT, activationGradRef, activationRef, bnBackwardInferenceRef, bnBackwardTrainRef, bnForwardTrainRef, dropoutBackwardRef, l1l2GradientRef,
  l1l2PenaltyRef, maxNormRef, nonNegRef, normalizeRef, unitNormRef,
} from './reference/layers';
import { conv2dI8Twin, depthwiseI8Twin, gemmI8Twin } from './reference/int8';
import { conv2dQ8Twin, gemmQ8Twin } from './reference/q8';
import { nadamU, sgdRef } from './reference/optimizers';
import { exponentialRef } from './reference/schedules';
import { padBackwardRef, padRef, resizeBackwardRef, resizeRef } from './reference/spatial';
import { ndCopyRef } from './reference/nd-copy';
import { BC, bcStrides, broadcastRef, softmaxAxisBackwardRef, softmaxAxisRef } from './reference/broadcast';
import { preluBackwardRef, preluRef, resize2dBackwardRef, resize2dRef, UNARY_KIND_REF, unaryGradRef, unaryRef } from './reference/pointwise';

const B = 2;
type Nums = ArrayLike<number>;

class Ctx {
  h: Harness = harness(64);
  header = this.h.alloc(HEADER.bytes / 4, 0);
  private seed = 1;
  checks: [string, Nums, Nums][] = [];
  input(n: number, lo = -1, hi = 1): { p: number; v: Float32Array } {
    const v = randomArray(n, this.seed++, lo, hi);
    return { p: this.h.put(v), v };
  }
  out(n: number): number { return this.h.alloc(n); }
  // n int8 values in [-127, 127].
  int8(n: number): { p: number; v: Int8Array } {
    const v = Int8Array.from(randomArray(n, this.seed++, -127.99, 127.99), Math.trunc);
    const p = this.h.alloc(Math.ceil(n / 4));
    new Int8Array(this.h.memory.buffer, p, n).set(v);
    return { p, v };
  }
  f32(p: number, n: number): Float32Array { return this.h.read(p, n); }
  i32(p: number, n: number): Int32Array { return new Int32Array(this.h.memory.buffer, p, n).slice(); }
  putI32(data: ArrayLike<number>): number {
    const p = this.h.alloc(data.length);
    new Int32Array(this.h.memory.buffer, p, data.length).set(data);
    return p;
  }
  f64At(field: keyof typeof HEADER): number { return new DataView(this.h.memory.buffer).getFloat64(this.header + HEADER[field], true); }
  f32At(field: keyof typeof HEADER): number { return new DataView(this.h.memory.buffer).getFloat32(this.header + HEADER[field], true); }
  i32At(field: keyof typeof HEADER): number { return new DataView(this.h.memory.buffer).getInt32(this.header + HEADER[field], true); }
  setF32(field: keyof typeof HEADER, v: number): void { new DataView(this.h.memory.buffer).setFloat32(this.header + HEADER[field], v, true); }
  setF64(field: keyof typeof HEADER, v: number): void { new DataView(this.h.memory.buffer).setFloat64(this.header + HEADER[field], v, true); }
  setI32(field: keyof typeof HEADER, v: number): void { new DataView(this.h.memory.buffer).setInt32(this.header + HEADER[field], v, true); }
  // Runs one op through encodeOps and `run`; returns run's status.
  run(op: OpName, args: Record<string, number>, tail?: number[]): number {
    this.setI32('batch', B);
    const words = encodeOps([{ op, args, layer: 'test', tail }]);
    const p = this.h.alloc(words.length, 0);
    new Int32Array(this.h.memory.buffer, p, words.length).set(words);
    return this.h.k.run(p, 1, this.header);
  }
  expect(what: string, actual: Nums, expected: Nums): void { this.checks.push([what, actual, expected]); }
}

const geometry = (o: Partial<ConvGeometry> & { H: number; W: number; KH: number; KW: number }): ConvGeometry => {
  const g = { B, C: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 0, PL: 0, OH: 0, OW: 0, ...o };
  g.OH ||= Math.floor((g.H + 2 * g.PT - g.DH * (g.KH - 1) - 1) / g.SH) + 1;
  g.OW ||= Math.floor((g.W + 2 * g.PL - g.DW * (g.KW - 1) - 1) / g.SW) + 1;
  return g;
};
const convArgs = (g: ConvGeometry, f: number, key: 'f' | 'm' = 'f') => ({
  h: g.H, w_: g.W, c: g.C, [key]: f, kh: g.KH, kw: g.KW, sh: g.SH, sw: g.SW, dh: g.DH, dw_: g.DW, pt: g.PT, pl: g.PL, oh: g.OH, ow: g.OW,
});
const poolArgs = (g: ConvGeometry) => ({ h: g.H, w_: g.W, c: g.C, kh: g.KH, kw: g.KW, sh: g.SH, sw: g.SW, pt: g.PT, pl: g.PL, oh: g.OH, ow: g.OW });
const CONV = geometry({ H: 5, W: 4, KH: 3, KW: 3, PT: 1, PL: 1 });
// Winograd F(2x2, 3x3) takes at least 4 channels; odd output height, padding 1.
const WINO = geometry({ H: 5, W: 4, C: 5, KH: 3, KW: 3, PT: 1, PL: 1 });
const POOL = geometry({ H: 4, W: 6, KH: 2, KW: 2, SH: 2, SW: 2 });
// 3x2 kernel over 4 channels in 2 groups, stride 2, pads top 1 / left 0 and an output row that
// overhangs the bottom (explicit pads); a 3x3 stride-2 ceil-mode window with top/left padding 1.
const GROUPED = geometry({ H: 5, W: 6, C: 4, KH: 3, KW: 2, SH: 2, SW: 1, PT: 1, PL: 0, OH: 3, OW: 5 });
const PADDED_POOL = geometry({ H: 5, W: 6, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, OH: 3, OW: 3 });
const SCRATCH = 8192; // floats, ample for these shapes' cols and GEMM packing
const nIn = (g: ConvGeometry) => g.B * g.H * g.W * g.C;
const nOut = (g: ConvGeometry, f: number) => g.B * g.OH * g.OW * f;
const perChannel = (n: number, c: number, f: (i: number, ch: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i, i % c));
const EPS = 1e-3;

// Regression and binary losses over rows (per sample) x n: [loss term, d term / d input] per element.
function lossCase(c: Ctx, op: 'mse' | 'bce_logits' | 'bce_probs', term: (p: number, z: number) => [number, number]): void {
  const rows = 2, n = 3, m = rows * B;
  const p = op === 'bce_logits' ? c.input(m * n, -3, 3) : c.input(m * n, 0.05, 0.95);
  const y = c.input(m * n, 0, 1);
  const dx = c.out(m * n);
  c.run(op, { dx, [op === 'bce_logits' ? 'x' : 'p']: p.p, y: y.p, rows, n });
  const norm = rows * n;
  let loss = 0;
  const want = Array.from(p.v, (v, i) => { const [l, d] = term(v, y.v[i]); loss += l / norm; return d / norm / B; });
  c.expect(`${op} dx`, c.f32(dx, m * n), want);
  c.expect(`${op} loss`, [c.f64At('lossSum')], [loss]);
}

const CASES: Record<OpName, (c: Ctx) => void> = {
  gemm(c) {
    const m = 3, n = 5, k = 4;
    const a = c.input(m * B * k), b = c.input(k * n);
    const y = c.out(m * B * n);
    c.run('gemm', { c: y, a: a.p, b: b.p, m, n, k, rsa: k, csa: 1, rsb: n, csb: 1, ldc: n, accumulate: 0, pack: c.out(SCRATCH), batchFlags: 1 });
    const want = new Float32Array(m * B * n);
    gemmReference(want, a.v, b.v, m * B, n, k, k, 1, n, 1, n, 0);
    c.expect('c', c.f32(y, m * B * n), want);
  },
  batched_gemm(c) {
    // Per sample 3 products (5,2) = a (5,4) transposed-stored . b (4,2), b broadcast over the
    // stack; then the sum of the three into one matrix (c stride 0), as a broadcast operand's gradient.
    const count = 3, m = 5, n = 2, k = 4;
    const a = c.input(B * count * k * m), b = c.input(B * k * n);
    const y = c.out(B * count * m * n), sum = c.out(B * m * n);
    const args = { count, m, n, k, rsa: 1, csa: m, rsb: n, csb: 1, ldc: n, sa: k * m, sb: 0, pa: count * k * m, pb: k * n, accumulate: 0 };
    c.run('batched_gemm', { c: y, a: a.p, b: b.p, pack: c.out(SCRATCH), ...args, sc: m * n, pc: count * m * n });
    c.run('batched_gemm', { c: sum, a: a.p, b: b.p, pack: c.out(SCRATCH), ...args, sc: 0, pc: m * n });
    const want = new Float32Array(B * count * m * n), wantSum = new Float32Array(B * m * n);
    for (let s = 0; s < B; s++) for (let l = 0; l < count; l++) {
      const av = a.v.subarray((s * count + l) * k * m), bv = b.v.subarray(s * k * n);
      gemmReference(want.subarray((s * count + l) * m * n), av, bv, m, n, k, 1, m, n, 1, n, 0);
      gemmReference(wantSum.subarray(s * m * n), av, bv, m, n, k, 1, m, n, 1, n, l > 0 ? 1 : 0);
    }
    c.expect('c', c.f32(y, B * count * m * n), want);
    c.expect('sum', c.f32(sum, B * m * n), wantSum);
  },
  bias_fill(c) {
    const b = c.input(5), y = c.out(3 * B * 5);
    c.run('bias_fill', { y, b: b.p, rows: 3, n: 5 });
    c.expect('y', c.f32(y, 3 * B * 5), biasFillRef(b.v, 3 * B, 5));
  },
  bias_backward(c) {
    const dy = c.input(3 * B * 5), db = c.out(5);
    c.run('bias_backward', { db, dy: dy.p, rows: 3, n: 5, accumulate: 0 });
    c.expect('db', c.f32(db, 5), biasBackwardRef(dy.v, 3 * B, 5));
  },
  relu_forward(c) {
    const x = c.input(7 * B), y = c.out(7 * B);
    c.run('relu_forward', { y, x: x.p, count: 7 });
    c.expect('y', c.f32(y, 7 * B), reluRef(x.v));
  },
  relu_backward(c) {
    const dy = c.input(7 * B), y = c.input(7 * B, -1, 1), dx = c.out(7 * B);
    const yv = Float32Array.from(y.v, (v) => Math.max(v, 0));
    new Float32Array(c.h.memory.buffer, y.p, 7 * B).set(yv);
    c.run('relu_backward', { dx, dy: dy.p, y: y.p, count: 7, accumulate: 0 });
    c.expect('dx', c.f32(dx, 7 * B), reluBackwardRef(dy.v, yv));
  },
  softmax_forward(c) {
    const x = c.input(3 * B * 5), y = c.out(3 * B * 5);
    c.run('softmax_forward', { y, x: x.p, rows: 3, n: 5 });
    c.expect('y', c.f32(y, 3 * B * 5), softmaxRef(x.v, 3 * B, 5));
  },
  softmax_backward(c) {
    const yv = Float32Array.from(softmaxRef(randomArray(3 * B * 5, 99), 3 * B, 5));
    const dy = c.input(3 * B * 5), dx = c.out(3 * B * 5);
    c.run('softmax_backward', { dx, dy: dy.p, y: c.h.put(yv), rows: 3, n: 5, accumulate: 0 });
    c.expect('dx', c.f32(dx, 3 * B * 5), softmaxBackwardRef(dy.v, yv, 3 * B, 5));
  },
  fill(c) {
    const y = c.out(5 * B);
    c.run('fill', { y, value: 2.5, count: 5, perSample: 1 });
    c.expect('y', c.f32(y, 5 * B), new Array(5 * B).fill(2.5));
  },
  copy(c) {
    const x = c.input(7 * B), y = c.out(7 * B);
    c.run('copy', { y, x: x.p, count: 7, accumulate: 0 });
    c.expect('y', c.f32(y, 7 * B), x.v);
  },
  xent_logits_sparse(c) {
    const x = c.input(3 * B * 5), dx = c.out(3 * B * 5), labels = [0, 4, 2, 1, 3, 3];
    c.run('xent_logits_sparse', { dx, x: x.p, labels: c.putI32(labels), rows: 3, n: 5 });
    const want = softmaxXentSparseRef(x.v, labels, 3 * B, 5, 1 / B);
    c.expect('dx', c.f32(dx, 3 * B * 5), want.dx);
    c.expect('loss', [c.f64At('lossSum')], [want.loss]);
  },
  xent_logits_dense(c) {
    const x = c.input(3 * B * 5), t = Float32Array.from(softmaxRef(randomArray(3 * B * 5, 7), 3 * B, 5)), dx = c.out(3 * B * 5);
    c.run('xent_logits_dense', { dx, x: x.p, y: c.h.put(t), rows: 3, n: 5 });
    const want = softmaxXentDenseRef(x.v, t, 3 * B, 5, 1 / B);
    c.expect('dx', c.f32(dx, 3 * B * 5), want.dx);
    c.expect('loss', [c.f64At('lossSum')], [want.loss]);
  },
  xent_probs(c) {
    const p = Float32Array.from(softmaxRef(randomArray(3 * B * 5, 5), 3 * B, 5));
    const t = Float32Array.from(softmaxRef(randomArray(3 * B * 5, 6), 3 * B, 5));
    const dx = c.out(3 * B * 5);
    c.run('xent_probs', { dx, p: c.h.put(p), y: c.h.put(t), sparse: 0, rows: 3, n: 5 });
    const want = xentProbsRef(p, t, 3 * B, 5, 1 / B);
    c.expect('dx', c.f32(dx, 3 * B * 5), want.dx);
    c.expect('loss', [c.f64At('lossSum')], [want.loss]);
  },
  loss_weighted(c) {
    // Sparse cross-entropy from logits (kind 0), 3 rows per sample: each sample's rows as the
    // unweighted twin with its gradient scaled by w / B, the loss summed as w * loss.
    const x = c.input(3 * B * 5), dx = c.out(3 * B * 5), labels = [0, 4, 2, 1, 3, 3], w = [0.5, 2];
    c.run('loss_weighted', { kind: 0, dx, x: x.p, y: c.putI32(labels), sw: c.h.put(Float32Array.from(w)), sparse: 1, rows: 3, n: 5 });
    const per = [0, 1].map((b) => softmaxXentSparseRef(x.v.subarray(b * 15, b * 15 + 15), labels.slice(b * 3, b * 3 + 3), 3, 5, w[b] / B));
    c.expect('xent dx', c.f32(dx, 3 * B * 5), [...per[0].dx, ...per[1].dx]);
    c.expect('xent loss', [c.f64At('lossSum')], [w[0] * per[0].loss + w[1] * per[1].loss]);
    // Mean squared error (kind 3), 2 rows of 3 per sample, no gradient wanted (dx 0).
    c.setF64('lossSum', 0);
    const p = c.input(2 * 3 * B), y = c.input(2 * 3 * B);
    c.run('loss_weighted', { kind: 3, dx: 0, x: p.p, y: y.p, sw: c.h.put(Float32Array.from(w)), sparse: 0, rows: 2, n: 3 });
    const mse = (b: number) => p.v.subarray(b * 6, b * 6 + 6).reduce((a, v, i) => a + (v - y.v[b * 6 + i]) ** 2, 0) / 6;
    c.expect('mse loss', [c.f64At('lossSum')], [w[0] * mse(0) + w[1] * mse(1)]);
  },
  accuracy(c) {
    const x = c.input(3 * B * 5), labels = [0, 4, 2, 1, 3, 3];
    c.run('accuracy', { x: x.p, y: c.putI32(labels), sparse: 1, rows: 3, n: 5 });
    c.expect('correct', [c.f64At('correct')], [accuracyCountRef(x.v, labels, true, 3 * B, 5)]);
  },
  check_loss(c) {
    c.setF64('lossSum', 1.5);
    const finite = c.run('check_loss', {});
    c.setF64('lossSum', NaN);
    c.expect('status (finite, NaN), failed op', [finite, c.run('check_loss', {}), c.i32At('failedOp')], [0, 1, 0]);
  },
  output_metrics(c) {
    // Two outputs: after each one's loss ops the header holds its sums; m gets them and the
    // weighted total, which the header's loss sum holds after the last.
    const m = c.out(2 + 4 * 2);
    const f64 = () => Array.from(new Float64Array(c.h.memory.buffer, m, 5));
    c.setF64('lossSum', 3.5); c.setF64('correct', 2);
    c.run('output_metrics', { m, output: 0, weight: 0.5, last: 0 });
    const afterFirst = [...f64().slice(0, 3), c.f64At('lossSum'), c.f64At('correct')];
    c.setF64('lossSum', 1.25); c.setF64('correct', 1);
    c.run('output_metrics', { m, output: 1, weight: 2, last: 1 });
    c.expect('after output 0: total, loss 0, correct 0, header loss and correct', afterFirst, [1.75, 3.5, 2, 0, 0]);
    c.expect('after output 1: m and header', [...f64(), c.f64At('lossSum'), c.f64At('correct')], [1.75 + 2.5, 3.5, 2, 1.25, 1, 4.25, 0]);
  },
  grad_norm(c) {
    const g = c.input(9);
    c.setF64('gradNormSq', 0.25);
    c.run('grad_norm', { g: g.p, count: 9 });
    c.expect('gradNormSq', [c.f64At('gradNormSq')], [0.25 + sumsqRef(g.v)]);
  },
  check_grads(c) {
    c.setF64('gradNormSq', 2);
    const finite = c.run('check_grads', {});
    c.setF64('gradNormSq', Infinity);
    c.expect('status (finite, inf), failed op', [finite, c.run('check_grads', {}), c.i32At('failedOp')], [0, 1, 0]);
  },
  apply_gradients(c) {
    const w = c.input(9), g = c.input(9);
    c.setF32('lr', 0.125);
    c.run('apply_gradients', {
      kind: OPT_KIND.sgd, w: w.p, g: g.p, s1: 0, s2: 0, s3: 0, count: 9, clipMode: 0, clip: 0, weightDecay: 0, h1: 0, h2: 0, flags: 0,
    });
    const want = Float64Array.from(w.v);
    sgdRef(want, g.v, null, 0.125, 0, false);
    c.expect('w', c.f32(w.p, 9), want);
  },
  schedule(c) {
    c.setI32('iter', 7);
    c.run('schedule', { kind: 1 }, [0.5, 3, 0.75, 0]);
    c.expect('lr', [c.f32At('lr')], [exponentialRef(0.5, 3, 0.75, false)(7)]);
  },
  act_forward(c) {
    const x = c.input(7 * B, -3, 3), y = c.out(7 * B);
    c.run('act_forward', { kind: ACT.elu, y, x: x.p, count: 7, alpha: 0.5 });
    c.expect('y', c.f32(y, 7 * B), Array.from(x.v, (v) => activationRef(ACT.elu, v, 0.5)));
  },
  act_backward(c) {
    const x = c.input(7 * B, -3, 3), dy = c.input(7 * B), dx = c.out(7 * B);
    c.run('act_backward', { kind: ACT.tanh, dx, dy: dy.p, x: x.p, y: 0, count: 7, alpha: 0, accumulate: 0 });
    c.expect('dx', c.f32(dx, 7 * B), Array.from(x.v, (v, i) => dy.v[i] * activationGradRef(ACT.tanh, v, 0).d));
  },
  conv2d_forward(c) {
    const f = 2, x = c.input(nIn(CONV)), w = c.input(9 * CONV.C * f), b = c.input(f), y = c.out(nOut(CONV, f));
    c.run('conv2d_forward', {
      y, x: x.p, w: w.p, b: b.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), relu: 0, pool: 0, chunkOut: 0,
    });
    c.expect('y', c.f32(y, nOut(CONV, f)), conv2dRef(CONV, f, x.v, w.v, b.v));
  },
  conv2d_backward_filter(c) {
    const f = 2, x = c.input(nIn(CONV)), dy = c.input(nOut(CONV, f)), dw = c.out(9 * CONV.C * f), db = c.out(f);
    c.run('conv2d_backward_filter', {
      dw, db, x: x.p, dy: dy.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), accumulate: 0,
    });
    const want = conv2dBackwardFilterRef(CONV, f, x.v, dy.v);
    c.expect('dw', c.f32(dw, 9 * CONV.C * f), want.dw);
    c.expect('db', c.f32(db, f), want.db);
  },
  // 40 positions in 8 parts of 5, unfolded 4 at a time (a tail of 1 in every part).
  conv2d_backward_filter_parts(c) {
    const f = 3, x = c.input(nIn(WINO)), dy = c.input(nOut(WINO, f)), dw = c.out(9 * WINO.C * f), db = c.out(f);
    c.run('conv2d_backward_filter_parts', {
      dw, db, x: x.p, dy: dy.p, ...convArgs(WINO, f), sub: 4, parts: c.out(SCRATCH), pack: c.out(SCRATCH), accumulate: 0,
    });
    const want = conv2dBackwardFilterRef(WINO, f, x.v, dy.v);
    c.expect('dw', c.f32(dw, 9 * WINO.C * f), want.dw);
    c.expect('db', c.f32(db, f), want.db);
  },
  conv2d_backward_input(c) {
    const f = 2, w = c.input(9 * CONV.C * f), dy = c.input(nOut(CONV, f)), dx = c.out(nIn(CONV));
    c.run('conv2d_backward_input', { dx, dy: dy.p, w: w.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), accumulate: 0 });
    c.expect('dx', c.f32(dx, nIn(CONV)), conv2dBackwardInputRef(CONV, f, dy.v, w.v));
  },
  depthwise_forward(c) {
    const m = 2, x = c.input(nIn(CONV)), w = c.input(9 * CONV.C * m), b = c.input(CONV.C * m), y = c.out(nOut(CONV, CONV.C * m));
    c.run('depthwise_forward', { y, x: x.p, w: w.p, b: b.p, ...convArgs(CONV, m, 'm') });
    c.expect('y', c.f32(y, nOut(CONV, CONV.C * m)), depthwiseRef(CONV, m, x.v, w.v, b.v));
  },
  depthwise_forward_clamp(c) {
    const x = c.input(nIn(CONV), -3, 3), w = c.input(9 * CONV.C), b = c.input(CONV.C), y = c.out(nOut(CONV, CONV.C));
    c.run('depthwise_forward_clamp', { y, x: x.p, w: w.p, b: b.p, ...convArgs(CONV, 1, 'm'), lo: 0, hi: 0.5 });
    c.expect('y', c.f32(y, nOut(CONV, CONV.C)), Array.from(depthwiseRef(CONV, 1, x.v, w.v, b.v), (v) => Math.min(Math.max(v, 0), 0.5)));
  },
  conv2d_direct(c) {
    const f = 3, x = c.input(nIn(CONV), -3, 3), w = c.input(9 * CONV.C * f), b = c.input(f), y = c.out(nOut(CONV, f));
    c.run('conv2d_direct', { y, x: x.p, w: w.p, b: b.p, ...convArgs(CONV, f), lo: 0, hi: 6, zero: c.out(CONV.C) });
    c.expect('y', c.f32(y, nOut(CONV, f)), Array.from(conv2dRef(CONV, f, x.v, w.v, b.v), (v) => Math.min(Math.max(v, 0), 6)));
  },
  depthwise_backward_input(c) {
    const m = 2, w = c.input(9 * CONV.C * m), dy = c.input(nOut(CONV, CONV.C * m)), dx = c.out(nIn(CONV));
    c.run('depthwise_backward_input', { dx, dy: dy.p, w: w.p, ...convArgs(CONV, m, 'm'), accumulate: 0 });
    c.expect('dx', c.f32(dx, nIn(CONV)), depthwiseBackwardInputRef(CONV, m, dy.v, w.v));
  },
  depthwise_backward_filter(c) {
    const m = 2, x = c.input(nIn(CONV)), dy = c.input(nOut(CONV, CONV.C * m)), dw = c.out(9 * CONV.C * m), db = c.out(CONV.C * m);
    c.run('depthwise_backward_filter', { dw, db, x: x.p, dy: dy.p, ...convArgs(CONV, m, 'm'), accumulate: 0 });
    const want = depthwiseBackwardFilterRef(CONV, m, x.v, dy.v);
    c.expect('dw', c.f32(dw, 9 * CONV.C * m), want.dw);
    c.expect('db', c.f32(db, CONV.C * m), want.db);
  },
  maxpool_forward(c) {
    const x = c.input(nIn(POOL)), y = c.out(nOut(POOL, POOL.C)), argmax = c.out(nOut(POOL, POOL.C));
    c.run('maxpool_forward', { y, argmax, x: x.p, ...poolArgs(POOL) });
    const want = maxPoolRef(POOL, x.v);
    c.expect('y', c.f32(y, nOut(POOL, POOL.C)), want.y);
    c.expect('argmax', c.i32(argmax, nOut(POOL, POOL.C)), want.argmax);
  },
  maxpool_add(c) {
    // A padded 3x3 stride-2 pooling plus s, then the ReLU.
    const g = PADDED_POOL, n = nOut(g, g.C), x = c.input(nIn(g)), s = c.input(n), y = c.out(n);
    c.run('maxpool_add', { y, x: x.p, s: s.p, ...poolArgs(g), relu: 1 });
    const m = maxPoolRef(g, x.v).y;
    c.expect('y', c.f32(y, n), Float64Array.from({ length: n }, (_, i) => Math.max(0, m[i] + s.v[i])));
  },
  maxpool_backward(c) {
    const argmax = maxPoolRef(POOL, randomArray(nIn(POOL), 3)).argmax;
    const count = nOut(POOL, POOL.C) / B, dy = c.input(count * B), dx = c.out(nIn(POOL));
    c.run('maxpool_backward', { dx, dy: dy.p, argmax: c.putI32(argmax), count, inputCount: nIn(POOL) / B, accumulate: 0 });
    c.expect('dx', c.f32(dx, nIn(POOL)), maxPoolBackwardRef(POOL, dy.v, argmax));
  },
  avgpool_forward(c) {
    const x = c.input(nIn(POOL)), y = c.out(nOut(POOL, POOL.C));
    c.run('avgpool_forward', { y, x: x.p, ...poolArgs(POOL) });
    c.expect('y', c.f32(y, nOut(POOL, POOL.C)), avgPoolRef(POOL, x.v));
  },
  avgpool_backward(c) {
    const dy = c.input(nOut(POOL, POOL.C)), dx = c.out(nIn(POOL));
    c.run('avgpool_backward', { dx, dy: dy.p, ...poolArgs(POOL), accumulate: 0 });
    c.expect('dx', c.f32(dx, nIn(POOL)), avgPoolBackwardRef(POOL, dy.v));
  },
  conv2d_grouped_forward(c) {
    const f = 4, groups = 2, x = c.input(nIn(GROUPED)), w = c.input(6 * 2 * f), b = c.input(f), y = c.out(nOut(GROUPED, f));
    c.run('conv2d_grouped_forward', {
      y, x: x.p, w: w.p, b: b.p, ...convArgs(GROUPED, f), groups, chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), accumulate: 0,
    });
    c.expect('y', c.f32(y, nOut(GROUPED, f)), groupedConv2dRef(GROUPED, f, groups, x.v, w.v, b.v));
  },
  conv2d_grouped_backward_filter(c) {
    const f = 4, groups = 2, x = c.input(nIn(GROUPED)), dy = c.input(nOut(GROUPED, f)), dw = c.out(6 * 2 * f), db = c.out(f);
    c.run('conv2d_grouped_backward_filter', {
      dw, db, x: x.p, dy: dy.p, ...convArgs(GROUPED, f), groups, chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), accumulate: 0,
    });
    const want = groupedConv2dBackwardFilterRef(GROUPED, f, groups, x.v, dy.v);
    c.expect('dw', c.f32(dw, 6 * 2 * f), want.dw);
    c.expect('db', c.f32(db, f), want.db);
  },
  conv2d_grouped_backward_input(c) {
    const f = 4, groups = 2, w = c.input(6 * 2 * f), dy = c.input(nOut(GROUPED, f)), dx = c.out(nIn(GROUPED));
    c.run('conv2d_grouped_backward_input', {
      dx, dy: dy.p, w: w.p, ...convArgs(GROUPED, f), groups, chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), accumulate: 0,
    });
    c.expect('dx', c.f32(dx, nIn(GROUPED)), groupedConv2dBackwardInputRef(GROUPED, f, groups, dy.v, w.v));
  },
  avgpool_include_pad_forward(c) {
    const x = c.input(nIn(PADDED_POOL)), y = c.out(nOut(PADDED_POOL, PADDED_POOL.C));
    c.run('avgpool_include_pad_forward', { y, x: x.p, ...poolArgs(PADDED_POOL), pb: 0, pr: 1 });
    c.expect('y', c.f32(y, nOut(PADDED_POOL, PADDED_POOL.C)), avgPoolRef(PADDED_POOL, x.v, { PB: 0, PR: 1 }));
  },
  avgpool_include_pad_backward(c) {
    const dy = c.input(nOut(PADDED_POOL, PADDED_POOL.C)), dx = c.out(nIn(PADDED_POOL));
    c.run('avgpool_include_pad_backward', { dx, dy: dy.p, ...poolArgs(PADDED_POOL), pb: 1, pr: 0, accumulate: 0 });
    c.expect('dx', c.f32(dx, nIn(PADDED_POOL)), avgPoolBackwardRef(PADDED_POOL, dy.v, { PB: 1, PR: 0 }));
  },
  gap_forward(c) {
    const x = c.input(B * 6 * 3), y = c.out(B * 3);
    c.run('gap_forward', { y, x: x.p, hw: 6, c: 3 });
    c.expect('y', c.f32(y, B * 3), globalAvgPoolRef(x.v, B, 6, 3));
  },
  gap_backward(c) {
    const dy = c.input(B * 3), dx = c.out(B * 6 * 3);
    c.run('gap_backward', { dx, dy: dy.p, hw: 6, c: 3, accumulate: 0 });
    c.expect('dx', c.f32(dx, B * 18), Array.from({ length: B * 18 }, (_, i) => dy.v[Math.floor(i / 18) * 3 + (i % 3)] / 6));
  },
  bn_forward_train(c) {
    const rows = 3, ch = 4, m = rows * B, x = c.input(m * ch), gamma = c.input(ch), beta = c.input(ch);
    const mm = c.input(ch), mv = c.input(ch, 0.5, 2), want = bnForwardTrainRef(x.v, gamma.v, beta.v, mm.v, mv.v, m, ch, 0.99, EPS);
    const y = c.out(m * ch), mean = c.out(ch), invstd = c.out(ch), newMean = c.out(ch), newVar = c.out(ch);
    c.run('bn_forward_train', {
      y, mean, invstd, newMean, newVar, x: x.p, gamma: gamma.p, beta: beta.p, movingMean: mm.p, movingVar: mv.p, rows, c: ch, momentum: 0.99, epsilon: EPS,
    });
    c.expect('y', c.f32(y, m * ch), want.y);
    c.expect('mean', c.f32(mean, ch), want.mean);
    c.expect('invstd', c.f32(invstd, ch), want.invstd);
    c.expect('newMean', c.f32(newMean, ch), want.movingMean);
    c.expect('newVar', c.f32(newVar, ch), want.movingVar);
    c.expect('the moving statistics themselves (committed later)', [...c.f32(mm.p, ch), ...c.f32(mv.p, ch)], [...mm.v, ...mv.v]);
  },
  bn_forward_infer(c) {
    const rows = 3, ch = 4, m = rows * B, x = c.input(m * ch), gamma = c.input(ch), beta = c.input(ch), mm = c.input(ch), mv = c.input(ch, 0.5, 2);
    const y = c.out(m * ch);
    c.run('bn_forward_infer', { y, x: x.p, gamma: gamma.p, beta: beta.p, movingMean: mm.p, movingVar: mv.p, rows, c: ch, epsilon: EPS });
    c.expect('y', c.f32(y, m * ch), normalizeRef(x.v, mm.v, mv.v, gamma.v, beta.v, m, ch, EPS));
  },
  bn_backward_train(c) {
    const rows = 3, ch = 4, m = rows * B, x = c.input(m * ch), dy = c.input(m * ch), gamma = c.input(ch);
    const fwd = bnForwardTrainRef(x.v, gamma.v, null, new Float32Array(ch), new Float32Array(ch).fill(1), m, ch, 0.99, EPS);
    const mean = Float32Array.from(fwd.mean), invstd = Float32Array.from(fwd.invstd);
    const dx = c.out(m * ch), dgamma = c.out(ch), dbeta = c.out(ch);
    c.run('bn_backward_train', {
      dx, dgamma, dbeta, dy: dy.p, x: x.p, mean: c.h.put(mean), invstd: c.h.put(invstd), gamma: gamma.p, rows, c: ch, accumulate: 0, accumulateParams: 0,
    });
    const want = bnBackwardTrainRef(dy.v, x.v, mean, invstd, gamma.v, m, ch);
    c.expect('dx', c.f32(dx, m * ch), want.dx);
    c.expect('dgamma', c.f32(dgamma, ch), want.dgamma);
    c.expect('dbeta', c.f32(dbeta, ch), want.dbeta);
  },
  bn_backward_infer(c) {
    const rows = 3, ch = 4, m = rows * B, dy = c.input(m * ch), gamma = c.input(ch), mv = c.input(ch, 0.5, 2), dx = c.out(m * ch);
    c.run('bn_backward_infer', { dx, dy: dy.p, gamma: gamma.p, movingVar: mv.p, rows, c: ch, epsilon: EPS, accumulate: 0 });
    c.expect('dx', c.f32(dx, m * ch), bnBackwardInferenceRef(dy.v, new Float32Array(m * ch), gamma.v, new Float32Array(ch), mv.v, m, ch, EPS).dx);
  },
  dropout_forward(c) {
    const n = 40, x = c.input(n * B), y = c.out(n * B), mask = c.out(n * B / 4);
    c.run('dropout_forward', { y, mask, x: x.p, count: n, rate: 0.25, seed: 5 });
    const kept = new Uint8Array(c.h.memory.buffer, mask, n * B).slice();
    expect(kept.some((k) => k === 0) && kept.some((k) => k === 1)).toBe(true);
    c.expect('y', c.f32(y, n * B), dropoutBackwardRef(x.v, kept, 0.25));
  },
  dropout_backward(c) {
    const n = 8, dy = c.input(n * B), dx = c.out(n * B), kept = Uint8Array.from({ length: n * B }, (_, i) => (i * 5) % 3 === 0 ? 0 : 1);
    const mask = c.out(n * B / 4);
    new Uint8Array(c.h.memory.buffer, mask, n * B).set(kept);
    c.run('dropout_backward', { dx, dy: dy.p, mask, count: n, rate: 0.25, accumulate: 0 });
    c.expect('dx', c.f32(dx, n * B), dropoutBackwardRef(dy.v, kept, 0.25));
  },
  copy_strided(c) {
    const rows = 3, cols = 4, x = c.input(rows * B * 5), y = c.out(rows * B * 6);
    c.run('copy_strided', { y, ldy: 6, x: x.p, ldx: 5, rows, cols, accumulate: 0 });
    const got = c.f32(y, rows * B * 6);
    c.expect('y', Array.from({ length: rows * B * cols }, (_, i) => got[Math.floor(i / cols) * 6 + (i % cols)]),
      Array.from({ length: rows * B * cols }, (_, i) => x.v[Math.floor(i / cols) * 5 + (i % cols)]));
  },
  nd_copy(c) {
    // x (B, 3, 4) transposed to y (B, 4, 3) with its last axis reversed; every float of y written.
    const x = c.input(B * 12), y = c.out(B * 12);
    const dims = [B, 1, 1, 1, 4, 3], ys = [12, 0, 0, 0, 3, -1], xs = [12, 0, 0, 0, 1, 4];
    c.run('nd_copy', { y, x: x.p, d1: 1, d2: 1, d3: 1, d4: 4, d5: 3, ...Object.fromEntries(ys.map((s, k) => [`ys${k}`, s])),
      ...Object.fromEntries(xs.map((s, k) => [`xs${k}`, s])), accumulate: 0 });
    c.expect('y', c.f32(y, B * 12), ndCopyRef(new Float64Array(B * 12), 0, ys, x.v, 0, xs, dims, 0));
  },
  interleave2(c) {
    // rows of 5 pairs from a (ld 7) and b (ld 6) at odd offsets, into y (ld 13) at float 1; the rest of y stays NaN.
    const rows = 3, n = 5, a = c.input(rows * B * 7), b = c.input(rows * B * 6), y = c.out(rows * B * 13);
    c.run('interleave2', { y: y + 4, ldy: 13, a: a.p + 8, lda: 7, b: b.p + 4, ldb: 6, rows, n });
    const got = c.f32(y, rows * B * 13), want: number[] = [], at: number[] = [];
    for (let r = 0; r < rows * B; r++) {
      for (let i = 0; i < n; i++) { at.push(r * 13 + 1 + 2 * i, r * 13 + 2 + 2 * i); want.push(a.v[r * 7 + 2 + i], b.v[r * 6 + 1 + i]); }
    }
    c.expect('y', at.map((k) => got[k]), want);
    c.expect('y outside the pairs untouched (NaN)', got.filter((_, k) => !at.includes(k)).map((v) => Number(Number.isNaN(v))), new Array(rows * B * 3).fill(1));
  },
  reg_penalty(c) {
    const w = c.input(9);
    c.run('reg_penalty', { w: w.p, count: 9, l1: 0.01, l2: 0.02 });
    c.expect('penalty', [c.f64At('penalty')], [l1l2PenaltyRef(w.v, Math.fround(0.01), Math.fround(0.02))]);
  },
  reg_gradient(c) {
    const w = c.input(9), g = c.input(9);
    c.run('reg_gradient', { g: g.p, w: w.p, count: 9, l1: 0.01, l2: 0.02 });
    c.expect('g', c.f32(g.p, 9), l1l2GradientRef(w.v, Math.fround(0.01), Math.fround(0.02)).map((d, i) => d + g.v[i]));
  },
  max_norm(c) {
    const w = c.input(12, -2, 2);
    c.run('max_norm', { w: w.p, rows: 3, cols: 4, axis: 0, maxValue: 1 });
    c.expect('w', c.f32(w.p, 12), maxNormRef(w.v, 3, 4, 0, 1));
  },
  non_neg(c) {
    const w = c.input(9);
    c.run('non_neg', { w: w.p, count: 9 });
    c.expect('w', c.f32(w.p, 9), nonNegRef(w.v));
  },
  unit_norm(c) {
    const w = c.input(12);
    c.run('unit_norm', { w: w.p, rows: 3, cols: 4, axis: 1 });
    c.expect('w', c.f32(w.p, 12), unitNormRef(w.v, 3, 4, 1));
  },
  bn_fold(c) {
    const k = 3, f = 4, w = c.input(k * f), b = c.input(f), gamma = c.input(f), beta = c.input(f), mm = c.input(f), mv = c.input(f, 0.5, 2);
    const wf = c.out(k * f), bf = c.out(f);
    c.run('bn_fold', { wf, bf, w: w.p, b: b.p, gamma: gamma.p, beta: beta.p, movingMean: mm.p, movingVar: mv.p, k, f, epsilon: EPS });
    const s = (j: number) => gamma.v[j] / Math.sqrt(mv.v[j] + Math.fround(EPS));
    c.expect('wf', c.f32(wf, k * f), perChannel(k * f, f, (i, j) => w.v[i] * s(j)));
    c.expect('bf', c.f32(bf, f), perChannel(f, f, (j) => (b.v[j] - mm.v[j]) * s(j) + beta.v[j]));
  },
  optimizer_init(c) {
    c.setI32('iter', 9);
    c.run('optimizer_init', { baseLr: 0.25, momentum: 0.875 });
    c.expect('iter, baseLr, lr, momentum, nadamU', [c.i32At('iter'), c.f32At('baseLr'), c.f32At('lr'), c.f32At('momentum'), c.f64At('nadamU')],
      [0, 0.25, 0.25, 0.875, 1]);
  },
  commit_state(c) {
    const x = c.input(7), y = c.out(7 * B);
    c.run('commit_state', { y, x: x.p, count: 7 });
    const got = c.f32(y, 7 * B);
    c.expect('y (count, not per sample)', got.subarray(0, 7), x.v);
    expect(Array.from(got.subarray(7)).every(Number.isNaN), 'nothing past count').toBe(true);
  },
  step_done(c) {
    c.setI32('iter', 41);
    c.run('step_done', {});
    c.expect('iter', [c.i32At('iter')], [42]);
  },
  nadam_prep(c) {
    c.setI32('iter', 2);
    c.setF32('momentum', 0.875);
    c.setF64('nadamU', 0.5);
    c.run('nadam_prep', {});
    c.expect('nadamU', [c.f64At('nadamU')], [0.5 * nadamU(0.875, 3)]);
  },
  axpy(c) {
    const x = c.input(7 * B), y = c.input(7 * B);
    c.run('axpy', { y: y.p, x: x.p, count: 7, alpha: -0.5, accumulate: 1 });
    c.expect('y', c.f32(y.p, 7 * B), Array.from(y.v, (v, i) => v - 0.5 * x.v[i]));
  },
  mul(c) {
    const a = c.input(7 * B), b = c.input(7 * B), y = c.out(7 * B);
    c.run('mul', { y, a: a.p, b: b.p, count: 7, accumulate: 0 });
    c.expect('y', c.f32(y, 7 * B), Array.from(a.v, (v, i) => v * b.v[i]));
  },
  zero_pad2d_forward(c) {
    const [h, w, ch] = [3, 4, 2], x = c.input(B * h * w * ch), y = c.out(B * (h + 3) * (w + 1) * ch);
    c.run('zero_pad2d_forward', { y, x: x.p, h, w_: w, c: ch, pt: 1, pb: 2, pl: 0, pr: 1 });
    c.expect('y', c.f32(y, B * (h + 3) * (w + 1) * ch), padRef(x.v, B, h, w, ch, 1, 2, 0, 1));
  },
  zero_pad2d_backward(c) {
    const [h, w, ch] = [3, 4, 2], dy = c.input(B * (h + 3) * (w + 1) * ch), dx = c.out(B * h * w * ch);
    c.run('zero_pad2d_backward', { dx, dy: dy.p, h, w_: w, c: ch, pt: 1, pb: 2, pl: 0, pr: 1, accumulate: 0 });
    c.expect('dx', c.f32(dx, B * h * w * ch), padBackwardRef(dy.v, B, h, w, ch, 1, 2, 0, 1));
  },
  resize_bilinear_forward(c) {
    const [h, w, ch, oh, ow] = [3, 4, 2, 5, 7], x = c.input(B * h * w * ch), y = c.out(B * oh * ow * ch);
    c.run('resize_bilinear_forward', { y, x: x.p, h, w_: w, c: ch, oh, ow });
    c.expect('y', c.f32(y, B * oh * ow * ch), resizeRef(x.v, B, h, w, ch, oh, ow));
  },
  resize_bilinear_backward(c) {
    const [h, w, ch, oh, ow] = [3, 4, 2, 5, 7], dy = c.input(B * oh * ow * ch), dx = c.out(B * h * w * ch);
    c.run('resize_bilinear_backward', { dx, dy: dy.p, h, w_: w, c: ch, oh, ow, accumulate: 0 });
    c.expect('dx', c.f32(dx, B * h * w * ch), resizeBackwardRef(dy.v, B, h, w, ch, oh, ow));
  },
  channel_affine(c) {
    const rows = 3, ch = 4, x = c.input(rows * B * ch), scale = c.input(ch), offset = c.input(ch), y = c.out(rows * B * ch);
    c.run('channel_affine', { y, x: x.p, scale: scale.p, offset: offset.p, rows, c: ch });
    c.expect('y', c.f32(y, rows * B * ch), perChannel(rows * B * ch, ch, (i, j) => x.v[i] * scale.v[j] + offset.v[j]));
  },
  channel_scale_backward(c) {
    const rows = 3, ch = 4, dy = c.input(rows * B * ch), scale = c.input(ch), dx = c.out(rows * B * ch);
    c.run('channel_scale_backward', { dx, dy: dy.p, scale: scale.p, rows, c: ch, accumulate: 0 });
    c.expect('dx', c.f32(dx, rows * B * ch), perChannel(rows * B * ch, ch, (i, j) => dy.v[i] * scale.v[j]));
  },
  broadcast(c) {
    // The SE block's multiply, x [3, 2, 4] * s [1, 1, 4] per sample, then ds = sum of dy * x over h, w.
    const space = [B, 1, 1, 3, 2, 4], sShape = [B, 1, 1, 1, 1, 4];
    const x = c.input(B * 24), s = c.input(B * 4), y = c.out(B * 24), ds = c.out(B * 4);
    const strides = (name: string, shape: number[]) => Object.fromEntries(bcStrides(shape, space).map((v, i) => [`${name}${i}`, v]));
    const dims = { n1: 1, n2: 1, n3: 3, n4: 2, n5: 4 };
    c.run('broadcast', { op: BC.mul, y, g: 0, a: x.p, b: s.p, ...dims, ...strides('sy', space), ...strides('sa', space), ...strides('sb', sShape), alpha: 1, accumulate: 0 });
    c.expect('y', c.f32(y, B * 24), broadcastRef(BC.mul, space, space, null, x.v, space, s.v, sShape, 1, null));
    c.run('broadcast', { op: BC.gMul, y: ds, g: y, a: x.p, b: 0, ...dims, ...strides('sy', sShape), ...strides('sa', space), ...strides('sb', sShape), alpha: 1, accumulate: 0 });
    c.expect('ds', c.f32(ds, B * 4), broadcastRef(BC.gMul, space, sShape, c.f32(y, B * 24), x.v, space, null, sShape, 1, null));
  },
  softmax_axis_forward(c) {
    const [outer, n, inner] = [3, 4, 5], x = c.input(outer * B * n * inner), y = c.out(outer * B * n * inner);
    c.run('softmax_axis_forward', { y, x: x.p, outer, n, inner });
    c.expect('y', c.f32(y, outer * B * n * inner), softmaxAxisRef(x.v, outer * B, n, inner));
  },
  softmax_axis_backward(c) {
    const [outer, n, inner] = [3, 4, 5], count = outer * B * n * inner, dy = c.input(count), y = c.input(count, 0.01, 0.3), dx = c.out(count);
    c.run('softmax_axis_backward', { dx, dy: dy.p, y: y.p, outer, n, inner, accumulate: 0 });
    c.expect('dx', c.f32(dx, count), softmaxAxisBackwardRef(dy.v, y.v, outer * B, n, inner));
  },
  unary_forward(c) {
    const x = c.input(7 * B, -3, 3), y = c.out(7 * B);
    c.run('unary_forward', { kind: UNARY_KIND_REF.hardSigmoid, y, x: x.p, count: 7, alpha: 0.25, beta: 0.4 });
    c.expect('y', c.f32(y, 7 * B), Array.from(x.v, (v) => unaryRef('hardSigmoid', v, 0.25, Math.fround(0.4))));
  },
  unary_backward(c) {
    const x = c.input(7 * B, -3, 3), dy = c.input(7 * B), dx = c.out(7 * B);
    c.run('unary_backward', { kind: UNARY_KIND_REF.clip, dx, dy: dy.p, x: x.p, count: 7, alpha: -1, beta: 2, accumulate: 0 });
    c.expect('dx', c.f32(dx, 7 * B), Array.from(x.v, (v, i) => dy.v[i] * unaryGradRef('clip', v, -1, 2)));
  },
  resize_forward(c) {
    const g = { b: B, h: 3, w: 4, c: 2, oh: 7, ow: 5, mode: 0, transform: 0, nearestMode: 1 }, x = c.input(B * 3 * 4 * 2), y = c.out(B * 7 * 5 * 2);
    c.run('resize_forward', { y, x: x.p, h: g.h, w_: g.w, c: g.c, oh: g.oh, ow: g.ow, mode: g.mode, transform: g.transform, nearestMode: g.nearestMode });
    c.expect('y', c.f32(y, B * 7 * 5 * 2), resize2dRef(x.v, g));
  },
  resize_backward(c) {
    const g = { b: B, h: 3, w: 4, c: 2, oh: 7, ow: 5, mode: 1, transform: 1, nearestMode: 0 }, dy = c.input(B * 7 * 5 * 2), dx = c.out(B * 3 * 4 * 2);
    c.run('resize_backward', { dx, dy: dy.p, h: g.h, w_: g.w, c: g.c, oh: g.oh, ow: g.ow, mode: g.mode, transform: g.transform, nearestMode: g.nearestMode, accumulate: 0 });
    c.expect('dx', c.f32(dx, B * 3 * 4 * 2), resize2dBackwardRef(dy.v, g));
  },
  prelu_forward(c) {
    const x = c.input(B * 12, -2, 2), alpha = c.input(4), y = c.out(B * 12);
    c.run('prelu_forward', { y, x: x.p, alpha: alpha.p, d0: 1, d1: 1, d2: 3, d3: 4, shared: 4 });
    c.expect('y', c.f32(y, B * 12), preluRef(x.v, alpha.v, [3, 4], [1, 4]));
  },
  prelu_backward(c) {
    const x = c.input(B * 12, -2, 2), alpha = c.input(3), dy = c.input(B * 12), dx = c.out(B * 12), da = c.out(3);
    c.run('prelu_backward', { dx, dalpha: da, dy: dy.p, x: x.p, alpha: alpha.p, d0: 1, d1: 1, d2: 3, d3: 4, shared: 8, accumulate: 0, accumulateAlpha: 0 });
    const want = preluBackwardRef(dy.v, x.v, alpha.v, [3, 4], [3, 1]);
    c.expect('dx', c.f32(dx, B * 12), want.dx);
    c.expect('dalpha', c.f32(da, 3), want.dalpha);
  },
  mse: (c) => lossCase(c, 'mse', (p, z) => [(p - z) ** 2, 2 * (p - z)]),
  bce_logits: (c) => lossCase(c, 'bce_logits', (x, z) => [Math.max(x, 0) - x * z + Math.log1p(Math.exp(-Math.abs(x))), 1 / (1 + Math.exp(-x)) - z]),
  bce_probs: (c) => lossCase(c, 'bce_probs', (p, z) => [-(z * Math.log(p) + (1 - z) * Math.log(1 - p)), (p - z) / (p * (1 - p))]),
  pack_b(c) {
    // The panels pack_b writes are read back by gemm_packed: their product must be the plain one.
    const m = 3, n = 11, k = 5;
    const a = c.input(m * B * k), b = c.input(k * n), bp = c.out(k * 16), y = c.out(m * B * n);
    c.run('pack_b', { bp, b: b.p, n, k, rsb: n, csb: 1 });
    c.run('gemm_packed', { c: y, a: a.p, bp, bias: 0, m, n, k, rsa: k, csa: 1, ldc: n, lo: -Infinity, hi: Infinity, pack: c.out(SCRATCH) });
    const want = new Float32Array(m * B * n);
    gemmReference(want, a.v, b.v, m * B, n, k, k, 1, n, 1, n, 0);
    c.expect('c', c.f32(y, m * B * n), want);
  },
  gemm_packed(c) {
    // b stored transposed (rsb 1, csb k), a bias and a ReLU6 clamp in the epilogue.
    const m = 2, n = 9, k = 6;
    const a = c.input(m * B * k, -2, 2), b = c.input(n * k, -2, 2), bias = c.input(n), bp = c.out(k * 16), y = c.out(m * B * n);
    c.run('pack_b', { bp, b: b.p, n, k, rsb: 1, csb: k });
    c.run('gemm_packed', { c: y, a: a.p, bp, bias: bias.p, m, n, k, rsa: k, csa: 1, ldc: n, lo: 0, hi: 6, pack: c.out(SCRATCH) });
    const want = new Float32Array(m * B * n);
    gemmReference(want, a.v, b.v, m * B, n, k, k, 1, 1, k, n, 0);
    c.expect('c', c.f32(y, m * B * n), Array.from(want, (v, i) => Math.min(6, Math.max(0, v + bias.v[i % n]))));
  },
  conv2d_forward_packed(c) {
    const f = 3, K = 9 * CONV.C, x = c.input(nIn(CONV)), w = c.input(K * f), b = c.input(f), wp = c.out(K * 8), y = c.out(nOut(CONV, f));
    c.run('pack_b', { bp: wp, b: w.p, n: f, k: K, rsb: f, csb: 1 });
    c.run('conv2d_forward_packed', {
      y, x: x.p, wp, b: b.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), lo: 0, hi: Infinity,
    });
    c.expect('y', c.f32(y, nOut(CONV, f)), Array.from(conv2dRef(CONV, f, x.v, w.v, b.v), (v) => Math.max(0, v)));
  },
  winograd_pack(c) {
    // U[xi] = G g G^T per (channel, filter), in gemm_pack_b's panels: here one panel 8 wide per xi.
    const C = 5, f = 6, w = c.input(9 * C * f), u = c.out(16 * C * 8);
    c.run('winograd_pack', { u, w: w.p, c: C, f, tmp: c.out(C * f) });
    const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
    const want = new Float64Array(16 * C * 8);
    for (let xi = 0; xi < 16; xi++) for (let ch = 0; ch < C; ch++) for (let o = 0; o < f; o++) {
      let s = 0;
      for (let k = 0; k < 3; k++) for (let l = 0; l < 3; l++) s += G[xi >> 2][k] * w.v[(k * 3 + l) * C * f + ch * f + o] * G[xi & 3][l];
      want[(xi * C + ch) * 8 + o] = s;
    }
    c.expect('u', c.f32(u, 16 * C * 8), want);
  },
  conv2d_winograd(c) {
    const g = WINO, f = 6, x = c.input(nIn(g)), w = c.input(9 * g.C * f), b = c.input(f), u = c.out(16 * g.C * 8), y = c.out(nOut(g, f));
    c.run('winograd_pack', { u, w: w.p, c: g.C, f, tmp: c.out(g.C * f) });
    c.run('conv2d_winograd', {
      y, x: x.p, u, b: b.p, h: g.H, w_: g.W, c: g.C, f, pt: g.PT, pl: g.PL, oh: g.OH, ow: g.OW, tiles: 3, scratch: c.out(SCRATCH), lo: 0, hi: Infinity,
    });
    c.expect('y', c.f32(y, nOut(g, f)), Array.from(conv2dRef(g, f, x.v, w.v, b.v), (v) => Math.max(0, v)));
  },
  conv2d_winograd_i8(c) {
    const g = WINO, f = 6, x = c.input(nIn(g)), q = c.int8(9 * g.C * f), scale = c.input(f, 10, 200), b = c.input(f), y = c.out(nOut(g, f));
    c.run('conv2d_winograd_i8', {
      y, x: x.p, q: q.p, scale: scale.p, b: b.p, h: g.H, w_: g.W, c: g.C, f, pt: g.PT, pl: g.PL, oh: g.OH, ow: g.OW, tiles: 3, fb: 8, cb: 64,
      scratch: c.out(SCRATCH), lo: 0, hi: Infinity,
    });
    const w = Float64Array.from(q.v, (v, i) => v / scale.v[i % f]);
    c.expect('y', c.f32(y, nOut(g, f)), Array.from(conv2dRef(g, f, x.v, w, b.v), (v) => Math.max(0, v)));
  },
  conv_gap(c) {
    // The mean over positions of a padded 3x3 convolution + bias, from tap sums and one product.
    const f = 3, K = 9 * CONV.C, x = c.input(nIn(CONV)), w = c.input(K * f), b = c.input(f), wp = c.out(K * 8), y = c.out(B * f);
    c.run('pack_b', { bp: wp, b: w.p, n: f, k: K, rsb: f, csb: 1 });
    c.run('conv_gap', { y, x: x.p, wp, b: b.p, ...convArgs(CONV, f), scratch: c.out(SCRATCH), pack: c.out(SCRATCH) });
    const conv = conv2dRef(CONV, f, x.v, w.v, b.v), P = CONV.OH * CONV.OW;
    c.expect('y', c.f32(y, B * f), Float64Array.from({ length: B * f }, (_, i) => {
      let s = 0;
      for (let p = 0; p < P; p++) s += conv[(Math.floor(i / f) * P + p) * f + (i % f)];
      return s / P;
    }));
  },
  conv_gap_i8(c) {
    // conv_gap on a frozen int8 kernel: w = q / scale.
    const f = 3, K = 9 * CONV.C, x = c.input(nIn(CONV)), q = c.int8(K * f), scale = c.input(f, 10, 200), b = c.input(f), qp = c.out(K * 2), y = c.out(B * f);
    c.run('pack_b_i8', { bp: qp, q: q.p, n: f, k: K, rsq: f });
    c.run('conv_gap_i8', { y, x: x.p, qp, scale: scale.p, b: b.p, ...convArgs(CONV, f), scratch: c.out(SCRATCH), pack: c.out(SCRATCH) });
    const w = Float64Array.from(q.v, (v, i) => v / scale.v[i % f]);
    const conv = conv2dRef(CONV, f, x.v, w, b.v), P = CONV.OH * CONV.OW;
    c.expect('y', c.f32(y, B * f), Float64Array.from({ length: B * f }, (_, i) => {
      let s = 0;
      for (let p = 0; p < P; p++) s += conv[(Math.floor(i / f) * P + p) * f + (i % f)];
      return s / P;
    }));
  },
  sepconv(c) {
    // A padded 3x3 depthwise convolution (ReLU6) into a 1x1 convolution of 4 filters, bands of 2 rows.
    const g = CONV, f = 4, x = c.input(nIn(g)), wd = c.input(9 * g.C), bd = c.input(g.C), w = c.input(g.C * f), b = c.input(f);
    const wp = c.out(g.C * 8), y = c.out(nOut(g, f));
    c.run('pack_b', { bp: wp, b: w.p, n: f, k: g.C, rsb: f, csb: 1 });
    c.run('sepconv', {
      y, x: x.p, wd: wd.p, bd: bd.p, wp, b: b.p, ...convArgs(g, f), dlo: 0, dhi: 6, lo: -Infinity, hi: Infinity, bandRows: 2, band: c.out(SCRATCH), pack: c.out(SCRATCH),
    });
    const z = depthwiseRef(g, 1, x.v, wd.v, bd.v).map((v) => Math.min(Math.max(v, 0), 6));
    c.expect('y', c.f32(y, nOut(g, f)), Float64Array.from({ length: nOut(g, f) }, (_, i) => {
      const px = Math.floor(i / f), o = i % f;
      let s = b.v[o];
      for (let ch = 0; ch < g.C; ch++) s += z[px * g.C + ch] * w.v[ch * f + o];
      return s;
    }));
  },
  expand_depthwise(c) {
    // A 1x1 convolution to 6 channels (ReLU6) into a padded 3x3 depthwise convolution (ReLU) over
    // them, bands of 4 expanded rows (2 output rows: each band moves the 2 rows it shares).
    const e = 6, g = CONV, d = { ...CONV, C: e }, x = c.input(nIn(g)), w = c.input(g.C * e), be = c.input(e), wd = c.input(9 * e), bd = c.input(e);
    const wp = c.out(g.C * 8), y = c.out(nOut(d, e));
    c.run('pack_b', { bp: wp, b: w.p, n: e, k: g.C, rsb: e, csb: 1 });
    c.run('expand_depthwise', {
      y, x: x.p, wp, be: be.p, wd: wd.p, bd: bd.p, h: g.H, w_: g.W, c: g.C, e, kh: 3, kw: 3, sh: 1, sw: 1, pt: g.PT, pl: g.PL, oh: g.OH, ow: g.OW,
      elo: 0, ehi: 6, dlo: 0, dhi: Infinity, bandBytes: 16 + 4 * 4 * g.W * e, band: c.out(SCRATCH), pack: c.out(SCRATCH),
    });
    const z = Float64Array.from({ length: nIn(d) }, (_, i) => {
      const px = Math.floor(i / e), o = i % e;
      let s = be.v[o];
      for (let ch = 0; ch < g.C; ch++) s += x.v[px * g.C + ch] * w.v[ch * e + o];
      return Math.min(Math.max(s, 0), 6);
    });
    c.expect('y', c.f32(y, nOut(d, e)), depthwiseRef(d, 1, z, wd.v, bd.v).map((v) => Math.max(v, 0)));
  },
  sepconv_i8(c) {
    // sepconv on int8 kernels: the padded 3x3 depthwise (ReLU6) into a 1x1 of 4 filters, bands of 2 rows.
    const g = CONV, f = 4, x = c.input(nIn(g)), qd = c.int8(9 * g.C), sd = c.input(g.C, 10, 200), bd = c.input(g.C);
    const q = c.int8(g.C * f), sp = c.input(f, 10, 200), b = c.input(f), qp = c.out(2 * g.C), y = c.out(nOut(g, f));
    c.run('pack_b_i8', { bp: qp, q: q.p, n: f, k: g.C, rsq: f });
    c.run('sepconv_i8', {
      y, x: x.p, qd: qd.p, sd: sd.p, bd: bd.p, qp, sp: sp.p, b: b.p, ...convArgs(g, f), dlo: 0, dhi: 6, lo: -Infinity, hi: Infinity, bandRows: 2,
      wf: c.out(callSize('sepconvI8Wf', [3, 3, g.C, f]) / 4), band: c.out(SCRATCH), pack: c.out(SCRATCH),
    });
    const z = depthwiseI8Twin({ ...g, M: 1 }, x.v, qd.v, sd.v, bd.v, 0, 6);
    const want = new Float32Array(nOut(g, f));
    for (let p = 0; p < nOut(g, f) / f; p++) want.set(b.v, p * f);
    gemmI8Twin(want, z, q.v, sp.v, nOut(g, f) / f, f, g.C, g.C, 1, f, f, 1);
    c.expect('y', c.f32(y, nOut(g, f)), want);
  },
  sepconv_q8(c) {
    // The int8 depthwise (ReLU6) under an absmax 1x1 of 5 filters (ReLU), bands of 3 rows: the
    // depthwise twin's rows, each quantized by Keras's absmax (the q8 twin).
    const g = CONV, f = 5, x = c.input(nIn(g)), qd = c.int8(9 * g.C), sd = c.input(g.C, 10, 200), bd = c.input(g.C);
    const q = c.int8(g.C * f), ks = c.input(f, 10, 200), b = c.input(f), bp = c.out(8 * (g.C + 1) / 4), y = c.out(nOut(g, f));
    c.run('pack_b_q8', { bp, q: q.p, n: f, k: g.C, rsq: f });
    c.run('sepconv_q8', {
      y, x: x.p, qd: qd.p, sd: sd.p, bd: bd.p, bp, ks: ks.p, b: b.p, ...convArgs(g, f), dlo: 0, dhi: 6, lo: 0, hi: Infinity, bandRows: 3,
      wf: c.out(9 * g.C), band: c.out(SCRATCH), q8: c.out(SCRATCH),
    });
    const z = depthwiseI8Twin({ ...g, M: 1 }, x.v, qd.v, sd.v, bd.v, 0, 6);
    const want = new Float32Array(nOut(g, f));
    gemmQ8Twin(want, z, q.v, ks.v, b.v, nOut(g, f) / f, f, g.C, f, 0, Infinity);
    c.expect('y', c.f32(y, nOut(g, f)), want);
  },
  dequantize_i8(c) {
    const q = Int8Array.from([-127, 0, 5, 127, -3, 64, 1, -1, 100, -100, 7, 12, 33, -77, 90]); // rows 5, ch 3
    const qp = c.out(4);
    new Int8Array(c.h.memory.buffer, qp, q.length).set(q);
    const scale = c.input(3, 10, 200), y = c.out(15);
    c.run('dequantize_i8', { y, q: qp, scale: scale.p, rows: 5, ch: 3 });
    c.expect('y', c.f32(y, 15), Array.from(q, (v, i) => v / scale.v[i % 3]));
  },
  gemm_i8(c) {
    const m = 3, n = 5, k = 4;
    const a = c.input(m * B * k), q = c.int8(k * n), scale = c.input(n, 10, 200), y = c.out(m * B * n);
    c.run('gemm_i8', { c: y, a: a.p, q: q.p, scale: scale.p, m, n, k, rsa: k, csa: 1, rsq: n, ldc: n, accumulate: 0, pack: c.out(SCRATCH) });
    const want = new Float32Array(m * B * n);
    gemmI8Twin(want, a.v, q.v, scale.v, m * B, n, k, k, 1, n, n, 0);
    c.expect('c', c.f32(y, m * B * n), want);
  },
  conv2d_forward_i8(c) {
    const f = 2, x = c.input(nIn(CONV)), q = c.int8(9 * CONV.C * f), scale = c.input(f, 10, 200), b = c.input(f), y = c.out(nOut(CONV, f));
    c.run('conv2d_forward_i8', {
      y, x: x.p, q: q.p, scale: scale.p, b: b.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), relu: 1, pool: 0, chunkOut: 0,
    });
    c.expect('y', c.f32(y, nOut(CONV, f)), conv2dI8Twin(CONV, f, x.v, q.v, scale.v, b.v, true));
  },
  pack_b_i8(c) {
    // The int8 panels pack_b_i8 writes (k * 8 bytes for n <= 8, a quarter of the floats) are read
    // back by gemm_i8_packed: gemm_i8's product.
    const m = 3, n = 5, k = 6;
    const a = c.input(m * B * k), q = c.int8(k * n), scale = c.input(n, 10, 200), bp = c.out(k * 2), y = c.out(m * B * n);
    c.run('pack_b_i8', { bp, q: q.p, n, k, rsq: n });
    c.run('gemm_i8_packed', { c: y, a: a.p, bp, scale: scale.p, bias: 0, m, n, k, rsa: k, csa: 1, ldc: n, lo: -Infinity, hi: Infinity, pack: c.out(SCRATCH) });
    const want = new Float32Array(m * B * n);
    gemmI8Twin(want, a.v, q.v, scale.v, m * B, n, k, k, 1, n, n, 0);
    c.expect('c', c.f32(y, m * B * n), want);
  },
  gemm_i8_packed(c) {
    // Past one 8-wide panel, a bias and a ReLU6 clamp in the epilogue.
    const m = 2, n = 11, k = 7;
    const a = c.input(m * B * k, -2, 2), q = c.int8(k * n), scale = c.input(n, 10, 200), bias = c.input(n), bp = c.out(k * 4), y = c.out(m * B * n);
    c.run('pack_b_i8', { bp, q: q.p, n, k, rsq: n });
    c.run('gemm_i8_packed', { c: y, a: a.p, bp, scale: scale.p, bias: bias.p, m, n, k, rsa: k, csa: 1, ldc: n, lo: 0, hi: 6, pack: c.out(SCRATCH) });
    const want = Float32Array.from({ length: m * B * n }, (_, i) => bias.v[i % n]);
    gemmI8Twin(want, a.v, q.v, scale.v, m * B, n, k, k, 1, n, n, 1);
    c.expect('c', c.f32(y, m * B * n), Array.from(want, (v) => Math.min(6, Math.max(0, v))));
  },
  conv2d_forward_i8_packed(c) {
    const f = 2, K = 9 * CONV.C, x = c.input(nIn(CONV)), q = c.int8(K * f), scale = c.input(f, 10, 200), b = c.input(f), bp = c.out(K * 2), y = c.out(nOut(CONV, f));
    c.run('pack_b_i8', { bp, q: q.p, n: f, k: K, rsq: f });
    c.run('conv2d_forward_i8_packed', {
      y, x: x.p, bp, scale: scale.p, b: b.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), pack: c.out(SCRATCH), lo: 0, hi: Infinity,
    });
    c.expect('y', c.f32(y, nOut(CONV, f)), conv2dI8Twin(CONV, f, x.v, q.v, scale.v, b.v, true));
  },
  pack_b_q8(c) {
    // The k-pair panels pack_b_q8 writes (roundUp(n, 8) * roundUp(k, 2) bytes) read back by gemm_q8.
    const m = 3, n = 5, k = 7;
    const a = c.input(m * B * k, -2, 2), q = c.int8(k * n), scale = c.input(n, 10, 200), bp = c.out(8 * 8 / 4), y = c.out(m * B * n);
    c.run('pack_b_q8', { bp, q: q.p, n, k, rsq: n });
    c.run('gemm_q8', { c: y, a: a.p, bp, scale: scale.p, bias: 0, m, n, k, rsa: k, ldc: n, lo: -Infinity, hi: Infinity, scratch: c.out(SCRATCH) });
    const want = new Float32Array(m * B * n);
    gemmQ8Twin(want, a.v, q.v, scale.v, null, m * B, n, k, n, -Infinity, Infinity);
    c.expect('c', c.f32(y, m * B * n), want);
  },
  gemm_q8(c) {
    // Past one 8-wide panel, a bias and a ReLU6 clamp in the epilogue; 5 rows a sample (a 4-row tile and one row).
    const m = 5, n = 11, k = 6;
    const a = c.input(m * B * k, -2, 2), q = c.int8(k * n), scale = c.input(n, 10, 200), bias = c.input(n), bp = c.out(16 * 6 / 4), y = c.out(m * B * n);
    c.run('pack_b_q8', { bp, q: q.p, n, k, rsq: n });
    c.run('gemm_q8', { c: y, a: a.p, bp, scale: scale.p, bias: bias.p, m, n, k, rsa: k, ldc: n, lo: 0, hi: 6, scratch: c.out(SCRATCH) });
    const want = new Float32Array(m * B * n);
    gemmQ8Twin(want, a.v, q.v, scale.v, bias.v, m * B, n, k, n, 0, 6);
    c.expect('c', c.f32(y, m * B * n), want);
  },
  conv2d_q8(c) {
    // A padded 3x3 convolution of 3 filters, im2col chunks of 7 positions, ReLU.
    const f = 3, K = 9 * CONV.C, x = c.input(nIn(CONV)), q = c.int8(K * f), scale = c.input(f, 10, 200), b = c.input(f);
    const bp = c.out(8 * (K + 1) / 4), y = c.out(nOut(CONV, f));
    c.run('pack_b_q8', { bp, q: q.p, n: f, k: K, rsq: f });
    c.run('conv2d_q8', { y, x: x.p, bp, scale: scale.p, b: b.p, ...convArgs(CONV, f), chunkRows: 7, cols: c.out(SCRATCH), scratch: c.out(SCRATCH), lo: 0, hi: Infinity });
    c.expect('y', c.f32(y, nOut(CONV, f)), conv2dQ8Twin({ ...CONV, B }, f, x.v, q.v, scale.v, b.v, 0, Infinity));
  },
  widen_i8(c) {
    const n = 21, q = c.int8(n), y = c.out(n);
    c.run('widen_i8', { y, q: q.p, count: n });
    c.expect('y', c.f32(y, n), Float32Array.from(q.v));
  },
  conv2d_direct_i8(c) {
    // q widened by widen_i8, then the direct kernel: conv2d_forward_i8's bits (K <= 256), clamped.
    const f = 3, K = 9 * CONV.C, x = c.input(nIn(CONV)), q = c.int8(K * f), scale = c.input(f, 10, 200), b = c.input(f), qf = c.out(K * f), y = c.out(nOut(CONV, f));
    c.run('widen_i8', { y: qf, q: q.p, count: K * f });
    c.run('conv2d_direct_i8', { y, x: x.p, qf, scale: scale.p, b: b.p, ...convArgs(CONV, f), lo: 0, hi: 0.5, zero: c.out(CONV.C) });
    c.expect('y', c.f32(y, nOut(CONV, f)), conv2dI8Twin(CONV, f, x.v, q.v, scale.v, b.v, false).map((v) => Math.min(Math.max(v, 0), 0.5)));
  },
  depthwise_forward_i8(c) {
    const m = 2, x = c.input(nIn(CONV), -3, 3), q = c.int8(9 * CONV.C * m), scale = c.input(CONV.C * m, 10, 200), b = c.input(CONV.C * m);
    const y = c.out(nOut(CONV, CONV.C * m));
    c.run('depthwise_forward_i8', { y, x: x.p, q: q.p, scale: scale.p, b: b.p, ...convArgs(CONV, m, 'm'), lo: 0, hi: 0.5 });
    c.expect('y', c.f32(y, nOut(CONV, CONV.C * m)), depthwiseI8Twin({ ...CONV, M: m }, x.v, q.v, scale.v, b.v, 0, 0.5));
  },
  depthwise_forward_i8_wide(c) {
    // M = 1, 3x3: q widened into wf, the rows in depthwise.ts's order.
    const x = c.input(nIn(CONV), -3, 3), q = c.int8(9 * CONV.C), scale = c.input(CONV.C, 10, 200), b = c.input(CONV.C);
    const y = c.out(nOut(CONV, CONV.C));
    c.run('depthwise_forward_i8_wide', { y, x: x.p, q: q.p, scale: scale.p, b: b.p, ...convArgs(CONV, 1, 'm'), lo: 0, hi: 0.5, wf: c.out(9 * CONV.C) });
    c.expect('y', c.f32(y, nOut(CONV, CONV.C)), depthwiseI8Twin({ ...CONV, M: 1 }, x.v, q.v, scale.v, b.v, 0, 0.5));
  },
};

describe('the interpreter runs every op of the op table like its naive twin', () => {
  it('every op in the table has a case here', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(OP_SPECS).sort());
  });

  for (const name of Object.keys(OP_SPECS) as OpName[]) {
    it(name, () => {
      const c = new Ctx();
      CASES[name](c);
      expect(c.checks.length, 'the case checks something').toBeGreaterThan(0);
      for (const [what, actual, expected] of c.checks) {
        expect(actual.length, `${name} ${what}: length`).toBe(expected.length);
        expectClose(actual, expected, 1e-5, 1e-6, `${name} ${what}`);
      }
      expect(c.h.brokenGuards(), 'guard words after every buffer').toEqual([]);
    });
  }

  // Micro-batches: a positive lossScale in the header replaces 1 / batch as the loss gradient's scale.
  it('a header lossScale > 0 scales the loss gradient in place of 1 / batch', () => {
    const c = new Ctx();
    const x = c.input(3 * B * 5), dx = c.out(3 * B * 5), labels = [0, 4, 2, 1, 3, 3];
    c.setF32('lossScale', 0.125);
    c.run('xent_logits_sparse', { dx, x: x.p, labels: c.putI32(labels), rows: 3, n: 5 });
    expectClose(c.f32(dx, 3 * B * 5), softmaxXentSparseRef(x.v, labels, 3 * B, 5, 0.125).dx, 1e-6, 1e-7, 'dx');
  });
});
