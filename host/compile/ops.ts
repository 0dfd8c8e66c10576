// The plan's ops: the op table (op-table.ts: opcode, typed arguments, kernel call) plus which bytes
// each op touches (OP_FOOTPRINTS). Ops are plain records; `encodeOps` turns them into the i32 word
// stream that assembly/interp/run.ts executes, and `opFootprint` lets a test or a loader check that every
// kernel call stays inside its regions without trusting the planner.
import { evalSize, parseSize } from './size-expr';
import { FILTER_PARTS, FILTER_SHARES } from './conv-scratch';
import { OP_SPECS, type OpName } from './op-table';

export { CLIP_MODE, HEADER, OP_SPECS, OPT_KIND, type OpName } from './op-table';

export interface PlanOp {
  op: OpName;
  args: Record<string, number>;
  // The layer (or 'loss', 'optimizer') this op belongs to, for messages and `inspect`.
  layer: string;
  // f32 values after the named arguments (a schedule's parameters); counted in nargs.
  tail?: number[];
}

export function opWords(op: PlanOp): number {
  return 2 + OP_SPECS[op.op].args.length + (op.tail?.length ?? 0);
}

export function encodeOps(ops: readonly PlanOp[]): Int32Array {
  let total = 0;
  for (const op of ops) total += opWords(op);
  const words = new Int32Array(total);
  const f32 = new Float32Array(words.buffer);
  let w = 0;
  for (const op of ops) {
    const spec = OP_SPECS[op.op];
    words[w++] = spec.code;
    words[w++] = spec.args.length + (op.tail?.length ?? 0);
    spec.args.forEach((name, i) => {
      const v = op.args[name];
      if (v === undefined) throw new Error(`plan op ${op.op} (${op.layer}) is missing argument '${name}'`);
      if (spec.types[i] === 'f32') f32[w++] = v;
      else words[w++] = v;
    });
    for (const v of op.tail ?? []) f32[w++] = v;
  }
  return words;
}

export interface Access {
  arg: string;
  start: number;
  bytes: number;
  write: boolean;
}

// What each op touches, as data (one source for the host's opFootprint and verifyPlan and for the
// WASI module's verifier, which scripts/op-footprints.mjs generates from this table). Per pointer
// argument: its name, the floats it spans as a size expression over the op's arguments and the
// batch B (host/compile/size-expr.ts; the arithmetic the kernels do), and its access:
//   'r' read; 'w' write (never weights or state); 'p' write that may update trainable weights
//   (the optimizer and constraints); 's' write that may update non-trainable state (BN moving
//   statistics). A trailing '?' on the name: 0 means "not wanted" and the kernel skips it;
//   any other pointer of 0 is refused. `disjoint`: [written, read] pairs that must not share a
//   region (kernels that read one buffer while scattering into another).
export type AccessMode = 'r' | 'w' | 'p' | 's';
export interface OpFootprintSpec {
  access: [arg: string, floats: string, mode: AccessMode][];
  disjoint?: [string, string][];
  // Element operations of one call, where the loops are not bounded by what the op touches
  // (contractions, windows, and strided ops whose strides may be 0); default: the floats of
  // every access (opWork).
  work?: string;
}

// A plan's step may do at most this many element operations per program (verifyPlan and the
// WASI verifier): about 2^42, an hour of a phone core. Zero strides, a huge k or a huge window
// make valid ops loop this long over a few bytes; no legitimate plan comes near (a ResNet-50
// training step at batch 64 does about 2^39.5).
export const PLAN_WORK_LIMIT = 2 ** 42;
// One op's work as a size expression (host/compile/size-expr.ts), for both verifiers.
export function opWork(spec: OpFootprintSpec): string {
  return spec.work ?? (spec.access.length ? spec.access.map(([, floats]) => `(${floats})`).join(' + ') : '0');
}

const ROWS_N = 'rows * B * n';
const ROWS_C = 'rows * B * c';
const CONV_IN = 'B * h * w_ * c';
const CONV_OUT = 'B * oh * ow * f';
const POOL_IN = 'B * h * w_ * c';
const POOL_OUT = 'B * oh * ow * c';
const DEPTH_OUT = 'B * oh * ow * c * m';
// Element operations of the window ops: every output element visits its window.
const DEPTH_WORK = `${DEPTH_OUT} * kh * kw`;
const POOL_WORK = 'B * oh * ow * c * kh * kw';
const GROUPED_WORK = 'B * oh * ow * f * kh * kw * c / groups';
const CONV_DIRECT = 'kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w_';
// A grouped kernel (KH, KW, C/G, F); the kernels read floor(C/G) input channels per group.
const GROUPED_W = 'kh * kw * c / groups * f';
// A grouped convolution unfolds one group's channels at a time (host/compile/conv-lowering.ts convChunk).
const GROUPED_SCRATCH: OpFootprintSpec['access'] = [
  ['cols', `${CONV_DIRECT} ? 0 : convCols(chunkRows, kh, kw, c / groups) / 4`, 'w'],
  ['pack', 'convPack(chunkRows, kh, kw, c / groups, f / groups) / 4', 'w'],
];
const CONV_SCRATCH: OpFootprintSpec['access'] = [
  ['cols', `${CONV_DIRECT} ? 0 : convCols(chunkRows, kh, kw, c) / 4`, 'w'],
  ['pack', 'convPack(chunkRows, kh, kw, c, f) / 4', 'w'],
];
const LOSS = (p: string): OpFootprintSpec => ({ access: [['dx?', ROWS_N, 'w'], [p, ROWS_N, 'r'], ['y', ROWS_N, 'r']] });
// The floats a strided operand of broadcast spans over [B, n1..n5].
const STRIDED = (s: string) => `(B - 1) * ${s}0 + (n1 - 1) * ${s}1 + (n2 - 1) * ${s}2 + (n3 - 1) * ${s}3 + (n4 - 1) * ${s}4 + (n5 - 1) * ${s}5 + 1`;
const PRELU_X = 'B * d0 * d1 * d2 * d3';
const PRELU_ALPHA = '(shared & 1 ? 1 : d0) * (shared & 2 ? 1 : d1) * (shared & 4 ? 1 : d2) * (shared & 8 ? 1 : d3)';
// A (k, n) weight in GEMM panels (gemm_pack_b), and gemm_f32_packed's scratch (one packed band of a).
const PACKED = (n: string, k: string) => `(${k}) * ceil((${n}) / 8) * 8`;
const PACKED_SCRATCH = (k: string) => `min(${k}, 256) * 4`;
// conv2d_winograd's scratch in bytes (winograd_f23_scratch, assembly/kernels/winograd.ts).
const WINOGRAD_SCRATCH = '64 * (max(tiles, 1) + 1) * (c + f + 6)';
// conv2d_winograd_i8's (winograd_i8_scratch, assembly/kernels/winograd-i8.ts): fb at most f and
// 128, the widest block of channels ceil(c / blocks), blocks = ceil(c / cb), cb from 8 to 256.
const WINOGRAD_I8_FB = 'min(min(fb, f), 128)';
const WINOGRAD_I8_CW = 'ceil(c / ceil(c / min(max(cb, 8), 256)))';
const WINOGRAD_I8_SCRATCH = `(127 + 3072 + 4 * ceil(${WINOGRAD_I8_CW} / 4) * 4 + 64 * max(tiles, 1) * (ceil(${WINOGRAD_I8_CW} / 4) * 4 + ceil(${WINOGRAD_I8_FB} / 4) * 4) + ` +
  `64 * ${WINOGRAD_I8_CW} * ceil(${WINOGRAD_I8_FB} / 8) * 8 + 16 * ${WINOGRAD_I8_CW})`;
const GM = '(batchFlags & 1 ? m * B : m)';
const GN = '(batchFlags & 2 ? n * B : n)';
const GK = '(batchFlags & 4 ? k * B : k)';

// A strided access of the N-D copy: sum over the axes of (d_k - 1) * |s_k|, plus one.
const ND_EXTENT = (side: string) => ['(B - 1) * abs(' + side + '0)', ...[1, 2, 3, 4, 5].map((k) => `(d${k} - 1) * abs(${side}${k})`), '1'].join(' + ');

// Built in a pure function: the spreads of shared access lists below would otherwise make a bundler
// keep the table in every app, and only the verifier and opFootprint read it (not planning).
export const OP_FOOTPRINTS: Record<OpName, OpFootprintSpec> = /* @__PURE__ */ (() => ({
  gemm: {
    work: `${GM} * ${GN} * ${GK}`,
    access: [
      ['a', `(${GM} - 1) * rsa + (${GK} - 1) * csa + 1`, 'r'],
      ['b', `(${GK} - 1) * rsb + (${GN} - 1) * csb + 1`, 'r'],
      ['c', `(${GM} - 1) * ldc + ${GN}`, 'w'],
      ['pack', `gemmScratch(${GM}, ${GN}, ${GK}) / 4`, 'w'],
    ],
    disjoint: [['c', 'a'], ['c', 'b']],
  },
  pack_b: { work: 'n * k', access: [['bp', PACKED('n', 'k'), 'w'], ['b', '(k - 1) * rsb + (n - 1) * csb + 1', 'r']], disjoint: [['bp', 'b']] },
  gemm_packed: {
    work: 'm * B * n * k',
    access: [
      ['a', '(m * B - 1) * rsa + (k - 1) * csa + 1', 'r'], ['bp', PACKED('n', 'k'), 'r'], ['bias?', 'n', 'r'],
      ['c', '(m * B - 1) * ldc + n', 'w'], ['pack', PACKED_SCRATCH('k'), 'w'],
    ],
    disjoint: [['c', 'a'], ['c', 'bp']],
  },
  conv2d_forward_packed: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['wp', PACKED('f', 'kh * kw * c'), 'r'], ['b?', 'f', 'r'],
      ['cols', `${CONV_DIRECT} ? 0 : convCols(chunkRows, kh, kw, c) / 4`, 'w'], ['pack', PACKED_SCRATCH('kh * kw * c'), 'w'],
    ],
    disjoint: [['y', 'x']],
  },
  winograd_pack: {
    work: '16 * c * f',
    access: [['u', `16 * ${PACKED('f', 'c')}`, 'w'], ['w', '9 * c * f', 'r'], ['tmp', 'c * f', 'w']],
    disjoint: [['u', 'w'], ['tmp', 'w']],
  },
  conv2d_winograd: {
    work: 'B * oh * ow * f * 9 * c',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['u', `16 * ${PACKED('f', 'c')}`, 'r'], ['b?', 'f', 'r'],
      ['scratch', `${WINOGRAD_SCRATCH} / 4`, 'w'],
    ],
    disjoint: [['y', 'x']],
  },
  conv2d_winograd_i8: {
    work: 'B * oh * ow * f * 9 * c',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['q', '9 * c * f / 4', 'r'], ['scale', 'f', 'r'], ['b?', 'f', 'r'],
      ['scratch', `${WINOGRAD_I8_SCRATCH} / 4`, 'w'],
    ],
    disjoint: [['y', 'x']],
  },
  conv_gap: {
    work: 'B * f * kh * kw * c + B * h * w_ * kw * c',
    access: [
      ['y', 'B * f', 'w'], ['x', CONV_IN, 'r'], ['wp', PACKED('f', 'kh * kw * c'), 'r'], ['b?', 'f', 'r'],
      ['scratch', '(B * kh + 1) * kw * c', 'w'], ['pack', PACKED_SCRATCH('kh * kw * c'), 'w'],
    ],
    disjoint: [['y', 'x'], ['y', 'scratch']],
  },
  // qp is int8 panels: a byte a weight.
  conv_gap_i8: {
    work: 'B * f * kh * kw * c + B * h * w_ * kw * c',
    access: [
      ['y', 'B * f', 'w'], ['x', CONV_IN, 'r'], ['qp', `(${PACKED('f', 'kh * kw * c')}) / 4`, 'r'], ['scale', 'f', 'r'], ['b?', 'f', 'r'],
      ['scratch', '(B * kh + 1) * kw * c', 'w'], ['pack', 'gemmScratch(B, f, kh * kw * c) / 4', 'w'],
    ],
    disjoint: [['y', 'x'], ['y', 'scratch']],
  },
  maxpool_add: {
    work: POOL_WORK, access: [['y', POOL_OUT, 'w'], ['x', POOL_IN, 'r'], ['s', POOL_OUT, 'r']], disjoint: [['y', 'x'], ['y', 's']],
  },
  sepconv: {
    work: 'B * oh * ow * c * (kh * kw + f)',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['wd', 'kh * kw * c', 'r'], ['bd?', 'c', 'r'], ['wp', PACKED('f', 'c'), 'r'], ['b?', 'f', 'r'],
      ['band', 'bandRows * ow * c', 'w'], ['pack', PACKED_SCRATCH('c'), 'w'],
    ],
    disjoint: [['y', 'x'], ['y', 'band']],
  },
  // qd and qp are int8: a byte a weight.
  sepconv_i8: {
    work: 'B * oh * ow * c * (kh * kw + f)',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['qd', 'kh * kw * c / 4', 'r'], ['sd', 'c', 'r'], ['bd?', 'c', 'r'],
      ['qp', `(${PACKED('f', 'c')}) / 4`, 'r'], ['sp', 'f', 'r'], ['b?', 'f', 'r'],
      ['wf', 'sepconvI8Wf(kh, kw, c, f) / 4', 'w'], ['band', 'bandRows * ow * c', 'w'], ['pack', 'sepconvI8Pack(bandRows * ow, f, c) / 4', 'w'],
    ],
    disjoint: [['y', 'x'], ['y', 'band'], ['y', 'wf']],
  },
  bias_fill: { access: [['y', ROWS_N, 'w'], ['b', 'n', 'r']] },
  batched_gemm: {
    work: 'B * count * m * n * k',
    access: [
      ['a', '(B - 1) * pa + (count - 1) * sa + (m - 1) * rsa + (k - 1) * csa + 1', 'r'],
      ['b', '(B - 1) * pb + (count - 1) * sb + (k - 1) * rsb + (n - 1) * csb + 1', 'r'],
      ['c', '(B - 1) * pc + (count - 1) * sc + (m - 1) * ldc + n', 'w'],
      ['pack', 'gemmScratch(m, n, k) / 4', 'w'],
    ],
    disjoint: [['c', 'a'], ['c', 'b']],
  },
  bias_backward: { access: [['db', 'n', 'w'], ['dy', ROWS_N, 'r']] },
  relu_forward: { access: [['y', 'count * B', 'w'], ['x', 'count * B', 'r']] },
  relu_backward: { access: [['dx', 'count * B', 'w'], ['dy', 'count * B', 'r'], ['y', 'count * B', 'r']] },
  softmax_forward: { access: [['y', ROWS_N, 'w'], ['x', ROWS_N, 'r']] },
  softmax_backward: { access: [['dx', ROWS_N, 'w'], ['dy', ROWS_N, 'r'], ['y', ROWS_N, 'r']] },
  fill: { access: [['y', 'perSample ? count * B : count', 'w']] },
  copy: { access: [['y', 'count * B', 'w'], ['x', 'count * B', 'r']] },
  xent_logits_sparse: { access: [['dx?', ROWS_N, 'w'], ['x', ROWS_N, 'r'], ['labels', 'rows * B', 'r']] },
  xent_logits_dense: LOSS('x'),
  xent_probs: { access: [['dx?', ROWS_N, 'w'], ['p', ROWS_N, 'r'], ['y', `sparse ? rows * B : ${ROWS_N}`, 'r']] },
  accuracy: { access: [['x', ROWS_N, 'r'], ['y', `sparse ? rows * B : ${ROWS_N}`, 'r']] },
  check_loss: { access: [] },
  grad_norm: { access: [['g', 'count', 'r']] },
  check_grads: { access: [] },
  // The slots a kind needs may not be 0 (the kernel would update memory from address 0): slot 1
  // is optional only for SGD (no momentum), slot 2 for RMSprop (no momentum) and SGD/Adagrad (unused),
  // slot 3 always (RMSprop's centered mean, Adam's amsgrad maximum). Kinds: assembly/interp/opcodes.ts OPT_*.
  apply_gradients: {
    access: [
      ['w', 'count', 'p'], ['g', 'count', 'r'],
      ['s1?', 'kind == 0 ? count : 0', 'w'], ['s1', 'kind == 0 ? 0 : count', 'w'],
      ['s2?', 'kind <= 2 ? count : 0', 'w'], ['s2', 'kind <= 2 ? 0 : count', 'w'], ['s3?', 'count', 'w'],
    ],
  },
  schedule: { access: [] },
  act_forward: { access: [['y', 'count * B', 'w'], ['x', 'count * B', 'r']] },
  act_backward: { access: [['dx', 'count * B', 'w'], ['dy', 'count * B', 'r'], ['x?', 'count * B', 'r'], ['y?', 'count * B', 'r']] },
  conv2d_forward: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [
      ['y', `pool ? ${CONV_OUT} / 4 : ${CONV_OUT}`, 'w'], ['chunkOut', 'pool ? chunkRows * f : 0', 'w'], ['x', CONV_IN, 'r'],
      ['w', 'kh * kw * c * f', 'r'], ['b?', 'f', 'r'], ...CONV_SCRATCH,
    ],
    disjoint: [['y', 'x']],
  },
  conv2d_backward_filter: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [['dy', CONV_OUT, 'r'], ['x', CONV_IN, 'r'], ['dw?', 'kh * kw * c * f', 'w'], ['db?', 'f', 'w'], ...CONV_SCRATCH],
    disjoint: [['dw', 'dy'], ['dw', 'x']],
  },
  conv2d_backward_filter_parts: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [
      ['dy', CONV_OUT, 'r'], ['x', CONV_IN, 'r'], ['dw?', 'kh * kw * c * f', 'w'], ['db?', 'f', 'w'],
      ['parts', `${FILTER_PARTS} * ceil(kh * kw * c * f / 16) * 16 + ${FILTER_SHARES} * sub * kh * kw * c`, 'w'], ['pack', 'gemmScratch(kh * kw * c, f, sub) / 4', 'w'],
    ],
    disjoint: [['dw', 'dy'], ['dw', 'x']],
  },
  conv2d_backward_input: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [['dy', CONV_OUT, 'r'], ['dx?', CONV_IN, 'w'], ['w', 'kh * kw * c * f', 'r'], ...CONV_SCRATCH],
    disjoint: [['dx', 'dy']],
  },
  depthwise_forward: { work: DEPTH_WORK, access: [['y', DEPTH_OUT, 'w'], ['x', CONV_IN, 'r'], ['w', 'kh * kw * c * m', 'r'], ['b?', 'c * m', 'r']], disjoint: [['y', 'x']] },
  depthwise_backward_input: { work: DEPTH_WORK, access: [['dy', DEPTH_OUT, 'r'], ['dx?', CONV_IN, 'w'], ['w', 'kh * kw * c * m', 'r']], disjoint: [['dx', 'dy']] },
  depthwise_backward_filter: { work: DEPTH_WORK, access: [['dy', DEPTH_OUT, 'r'], ['x', CONV_IN, 'r'], ['dw?', 'kh * kw * c * m', 'w'], ['db?', 'c * m', 'w']] },
  maxpool_forward: { work: POOL_WORK, access: [['y', POOL_OUT, 'w'], ['argmax?', POOL_OUT, 'w'], ['x', POOL_IN, 'r']], disjoint: [['y', 'x']] },
  maxpool_backward: { access: [['dx?', 'B * inputCount', 'w'], ['dy', 'B * count', 'r'], ['argmax', 'B * count', 'r']], disjoint: [['dx', 'dy']] },
  avgpool_forward: { work: POOL_WORK, access: [['y', POOL_OUT, 'w'], ['x', POOL_IN, 'r']], disjoint: [['y', 'x']] },
  avgpool_backward: { work: POOL_WORK, access: [['dx?', POOL_IN, 'w'], ['dy', POOL_OUT, 'r']], disjoint: [['dx', 'dy']] },
  gap_forward: { access: [['y', 'B * c', 'w'], ['x', 'B * hw * c', 'r']], disjoint: [['y', 'x']] },
  gap_backward: { access: [['dx', 'B * hw * c', 'w'], ['dy', 'B * c', 'r']], disjoint: [['dx', 'dy']] },
  bn_forward_train: {
    access: [
      ['y', ROWS_C, 'w'], ['x', ROWS_C, 'r'], ['mean', 'c', 'w'], ['invstd', 'c', 'w'], ['newMean', 'c', 'w'], ['newVar', 'c', 'w'],
      ['gamma?', 'c', 'r'], ['beta?', 'c', 'r'], ['movingMean', 'c', 'r'], ['movingVar', 'c', 'r'],
    ],
  },
  bn_forward_infer: { access: [['y', ROWS_C, 'w'], ['x', ROWS_C, 'r'], ['gamma?', 'c', 'r'], ['beta?', 'c', 'r'], ['movingMean', 'c', 'r'], ['movingVar', 'c', 'r']] },
  bn_backward_train: {
    access: [
      ['dx?', ROWS_C, 'w'], ['dy', ROWS_C, 'r'], ['x', ROWS_C, 'r'], ['dgamma?', 'c', 'w'], ['dbeta?', 'c', 'w'], ['mean', 'c', 'r'],
      ['invstd', 'c', 'r'], ['gamma?', 'c', 'r'],
    ],
    disjoint: [['dx', 'dy'], ['dx', 'x']],
  },
  bn_backward_infer: { access: [['dx', ROWS_C, 'w'], ['dy', ROWS_C, 'r'], ['gamma?', 'c', 'r'], ['movingVar', 'c', 'r']] },
  dropout_forward: { access: [['y', 'count * B', 'w'], ['mask', 'count * B / 4', 'w'], ['x', 'count * B', 'r']] },
  dropout_backward: { access: [['dx', 'count * B', 'w'], ['dy', 'count * B', 'r'], ['mask', 'count * B / 4', 'r']] },
  copy_strided: { work: 'rows * B * cols', access: [['y', '(rows * B - 1) * ldy + cols', 'w'], ['x', '(rows * B - 1) * ldx + cols', 'r']], disjoint: [['y', 'x']] },
  reg_penalty: { access: [['w', 'count', 'r']] },
  reg_gradient: { access: [['g', 'count', 'w'], ['w', 'count', 'r']] },
  max_norm: { access: [['w', 'rows * cols', 'p']] },
  non_neg: { access: [['w', 'count', 'p']] },
  unit_norm: { access: [['w', 'rows * cols', 'p']] },
  bn_fold: {
    access: [
      ['wf', 'k * f', 'w'], ['bf', 'f', 'w'], ['w', 'k * f', 'r'], ['b?', 'f', 'r'], ['gamma?', 'f', 'r'], ['beta?', 'f', 'r'],
      ['movingMean', 'f', 'r'], ['movingVar', 'f', 'r'],
    ],
  },
  optimizer_init: { access: [] },
  step_done: { access: [] },
  nadam_prep: { access: [] },
  commit_state: { access: [['y', 'count', 's'], ['x', 'count', 'r']], disjoint: [['y', 'x']] },
  output_metrics: { access: [['m', '4 * output + 6', 'w']] },
  axpy: { access: [['y', 'count * B', 'w'], ['x', 'count * B', 'r']] },
  mul: { access: [['y', 'count * B', 'w'], ['a', 'count * B', 'r'], ['b', 'count * B', 'r']] },
  zero_pad2d_forward: { access: [['y', 'B * (h + pt + pb) * (w_ + pl + pr) * c', 'w'], ['x', CONV_IN, 'r']] },
  zero_pad2d_backward: { access: [['dy', 'B * (h + pt + pb) * (w_ + pl + pr) * c', 'r'], ['dx', CONV_IN, 'w']] },
  resize_bilinear_forward: { access: [['y', POOL_OUT, 'w'], ['x', CONV_IN, 'r']] },
  resize_bilinear_backward: { access: [['dy', POOL_OUT, 'r'], ['dx', CONV_IN, 'w']] },
  channel_affine: { access: [['y', ROWS_C, 'w'], ['x', ROWS_C, 'r'], ['scale', 'c', 'r'], ['offset', 'c', 'r']] },
  channel_scale_backward: { access: [['dx', ROWS_C, 'w'], ['dy', ROWS_C, 'r'], ['scale', 'c', 'r']] },
  interleave2: {
    work: 'rows * B * n * 2',
    access: [['y', '(rows * B - 1) * ldy + 2 * n', 'w'], ['a', '(rows * B - 1) * lda + n', 'r'], ['b', '(rows * B - 1) * ldb + n', 'r']],
    disjoint: [['y', 'a'], ['y', 'b']],
  },
  nd_copy: { work: 'B * d1 * d2 * d3 * d4 * d5', access: [['y', ND_EXTENT('ys'), 'w'], ['x', ND_EXTENT('xs'), 'r']] },
  broadcast: { work: 'B * n1 * n2 * n3 * n4 * n5', access: [['y', STRIDED('sy'), 'w'], ['g?', 'B * n1 * n2 * n3 * n4 * n5', 'r'], ['a?', STRIDED('sa'), 'r'], ['b?', STRIDED('sb'), 'r']] },
  softmax_axis_forward: { access: [['y', 'outer * B * n * inner', 'w'], ['x', 'outer * B * n * inner', 'r']] },
  softmax_axis_backward: { access: [['dx', 'outer * B * n * inner', 'w'], ['dy', 'outer * B * n * inner', 'r'], ['y', 'outer * B * n * inner', 'r']] },
  unary_forward: { access: [['y', 'count * B', 'w'], ['x', 'count * B', 'r']] },
  unary_backward: { access: [['dx', 'count * B', 'w'], ['dy', 'count * B', 'r'], ['x', 'count * B', 'r']] },
  resize_forward: { access: [['y', POOL_OUT, 'w'], ['x', CONV_IN, 'r']], disjoint: [['y', 'x']] },
  resize_backward: { access: [['dy', POOL_OUT, 'r'], ['dx', CONV_IN, 'w']], disjoint: [['dx', 'dy']] },
  prelu_forward: { access: [['y', PRELU_X, 'w'], ['x', PRELU_X, 'r'], ['alpha', PRELU_ALPHA, 'r']] },
  // q is int8: rows * ch bytes.
  dequantize_i8: { access: [['y', 'rows * ch', 'w'], ['q', 'rows * ch / 4', 'r'], ['scale', 'ch', 'r']] },
  // q is int8 (1 byte a weight: a quarter of the floats).
  gemm_i8: {
    access: [
      ['a', '(m * B - 1) * rsa + (k - 1) * csa + 1', 'r'], ['q', '((k - 1) * rsq + n) / 4', 'r'], ['scale', 'n', 'r'],
      ['c', '(m * B - 1) * ldc + n', 'w'], ['pack', 'gemmScratch(m * B, n, k) / 4', 'w'],
    ],
    disjoint: [['c', 'a']],
  },
  conv2d_forward_i8: {
    access: [
      ['y', `pool ? ${CONV_OUT} / 4 : ${CONV_OUT}`, 'w'], ['chunkOut', 'pool ? chunkRows * f : 0', 'w'], ['x', CONV_IN, 'r'],
      ['q', 'kh * kw * c * f / 4', 'r'], ['scale', 'f', 'r'], ['b?', 'f', 'r'], ...CONV_SCRATCH,
    ],
    disjoint: [['y', 'x']],
  },
  depthwise_forward_i8: {
    access: [['y', DEPTH_OUT, 'w'], ['x', CONV_IN, 'r'], ['q', 'kh * kw * c * m / 4', 'r'], ['scale', 'c * m', 'r'], ['b?', 'c * m', 'r']],
    disjoint: [['y', 'x']],
  },
  depthwise_forward_i8_wide: {
    access: [
      ['y', DEPTH_OUT, 'w'], ['x', CONV_IN, 'r'], ['q', 'kh * kw * c * m / 4', 'r'], ['scale', 'c * m', 'r'], ['b?', 'c * m', 'r'],
      ['wf', 'kh * kw * c * m', 'w'],
    ],
    disjoint: [['y', 'x']],
  },
  // bp is int8 panels: a byte a weight.
  pack_b_i8: { work: 'n * k', access: [['bp', `(${PACKED('n', 'k')}) / 4`, 'w'], ['q', '((k - 1) * rsq + n) / 4', 'r']], disjoint: [['bp', 'q']] },
  gemm_i8_packed: {
    work: 'm * B * n * k',
    access: [
      ['a', '(m * B - 1) * rsa + (k - 1) * csa + 1', 'r'], ['bp', `(${PACKED('n', 'k')}) / 4`, 'r'], ['scale', 'n', 'r'], ['bias?', 'n', 'r'],
      ['c', '(m * B - 1) * ldc + n', 'w'], ['pack', 'gemmScratch(m * B, n, k) / 4', 'w'],
    ],
    disjoint: [['c', 'a'], ['c', 'bp']],
  },
  // bp is int8 k-pair panels: roundUp(n, 8) * roundUp(k, 2) bytes.
  pack_b_q8: { work: 'n * k', access: [['bp', 'q8PackedBytes(n, k) / 4', 'w'], ['q', '((k - 1) * rsq + n) / 4', 'r']], disjoint: [['bp', 'q']] },
  gemm_q8: {
    work: 'm * B * n * k',
    access: [
      ['a', '(m * B - 1) * rsa + k', 'r'], ['bp', 'q8PackedBytes(n, k) / 4', 'r'], ['scale', 'n', 'r'], ['bias?', 'n', 'r'],
      ['c', '(m * B - 1) * ldc + n', 'w'], ['scratch', 'q8ScratchBytes(k) / 4', 'w'],
    ],
    disjoint: [['c', 'a'], ['c', 'bp']],
  },
  conv2d_q8: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['bp', 'q8PackedBytes(f, kh * kw * c) / 4', 'r'], ['scale', 'f', 'r'], ['b?', 'f', 'r'],
      ['cols', `${CONV_DIRECT} ? 0 : convCols(chunkRows, kh, kw, c) / 4`, 'w'], ['scratch', 'q8ScratchBytes(kh * kw * c) / 4', 'w'],
    ],
    disjoint: [['y', 'x']],
  },
  // qd is int8, bp int8 k-pair panels.
  sepconv_q8: {
    work: 'B * oh * ow * c * (kh * kw + f)',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['qd', 'kh * kw * c / 4', 'r'], ['sd', 'c', 'r'], ['bd?', 'c', 'r'],
      ['bp', 'q8PackedBytes(f, c) / 4', 'r'], ['ks', 'f', 'r'], ['b?', 'f', 'r'],
      ['wf', 'kh * kw * c', 'w'], ['band', 'bandRows * ow * c', 'w'], ['q8', 'q8ScratchBytes(c) / 4', 'w'],
    ],
    disjoint: [['y', 'x'], ['y', 'band'], ['y', 'wf']],
  },
  expand_depthwise: {
    work: 'B * (h * w_ * c * e + oh * ow * e * kh * kw)',
    access: [
      ['y', 'B * oh * ow * e', 'w'], ['x', 'B * h * w_ * c', 'r'], ['wp', PACKED('e', 'c'), 'r'], ['be?', 'e', 'r'],
      ['wd', 'kh * kw * e', 'r'], ['bd?', 'e', 'r'], ['band', 'bandBytes / 4', 'w'], ['pack', PACKED_SCRATCH('c'), 'w'],
    ],
    disjoint: [['y', 'x'], ['y', 'band'], ['x', 'band']],
  },
  conv2d_forward_i8_packed: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [
      ['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['bp', `(${PACKED('f', 'kh * kw * c')}) / 4`, 'r'], ['scale', 'f', 'r'], ['b?', 'f', 'r'],
      ['cols', `${CONV_DIRECT} ? 0 : convCols(chunkRows, kh, kw, c) / 4`, 'w'], ['pack', 'gemmScratch(B * oh * ow, f, kh * kw * c) / 4', 'w'],
    ],
    disjoint: [['y', 'x']],
  },
  prelu_backward: {
    access: [['dx?', PRELU_X, 'w'], ['dalpha?', PRELU_ALPHA, 'w'], ['dy', PRELU_X, 'r'], ['x', PRELU_X, 'r'], ['alpha', PRELU_ALPHA, 'r']],
    disjoint: [['dalpha', 'dy'], ['dalpha', 'x'], ['dalpha', 'alpha']],
  },
  conv2d_grouped_forward: {
    work: GROUPED_WORK,
    access: [['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['w', GROUPED_W, 'r'], ['b?', 'f', 'r'], ...GROUPED_SCRATCH],
    disjoint: [['y', 'x']],
  },
  conv2d_grouped_backward_filter: {
    work: GROUPED_WORK,
    access: [['dy', CONV_OUT, 'r'], ['x', CONV_IN, 'r'], ['dw?', GROUPED_W, 'w'], ['db?', 'f', 'w'], ...GROUPED_SCRATCH],
    disjoint: [['dw', 'dy'], ['dw', 'x']],
  },
  conv2d_grouped_backward_input: {
    work: GROUPED_WORK,
    access: [['dy', CONV_OUT, 'r'], ['dx?', CONV_IN, 'w'], ['w', GROUPED_W, 'r'], ...GROUPED_SCRATCH],
    disjoint: [['dx', 'dy']],
  },
  avgpool_include_pad_forward: { work: POOL_WORK, access: [['y', POOL_OUT, 'w'], ['x', POOL_IN, 'r']], disjoint: [['y', 'x']] },
  avgpool_include_pad_backward: { work: POOL_WORK, access: [['dx?', POOL_IN, 'w'], ['dy', POOL_OUT, 'r']], disjoint: [['dx', 'dy']] },
  depthwise_forward_clamp: {
    work: DEPTH_WORK,
    access: [['y', DEPTH_OUT, 'w'], ['x', CONV_IN, 'r'], ['w', 'kh * kw * c * m', 'r'], ['b?', 'c * m', 'r']], disjoint: [['y', 'x']],
  },
  widen_i8: { work: 'count', access: [['y', 'count', 'w'], ['q', 'count / 4', 'r']], disjoint: [['y', 'q']] },
  conv2d_direct_i8: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['qf', 'kh * kw * c * f', 'r'], ['scale', 'f', 'r'], ['b?', 'f', 'r'], ['zero', 'c', 'w']],
    disjoint: [['y', 'x']],
  },
  conv2d_direct: {
    work: 'B * oh * ow * f * kh * kw * c',
    access: [['y', CONV_OUT, 'w'], ['x', CONV_IN, 'r'], ['w', 'kh * kw * c * f', 'r'], ['b?', 'f', 'r'], ['zero', 'c', 'w']],
    disjoint: [['y', 'x']],
  },
  mse: LOSS('p'),
  bce_logits: LOSS('x'),
  bce_probs: LOSS('p'),
  loss_weighted: { access: [['dx?', ROWS_N, 'w'], ['x', ROWS_N, 'r'], ['y', `sparse ? rows * B : ${ROWS_N}`, 'r'], ['sw', 'B', 'r']] },
}))();

// The byte ranges an op reads and writes when run with `batch` rows, from its arguments alone
// (OP_FOOTPRINTS). A pointer argument of 0 means "not wanted" (access omitted); an access of no
// bytes is omitted too.
export function opFootprint(op: PlanOp, batch: number): Access[] {
  const a = op.args;
  const env = (name: string) => (name === 'B' ? batch : a[name]);
  const out: Access[] = [];
  for (const [name, floats, mode] of OP_FOOTPRINTS[op.op].access) {
    const arg = name.replace('?', '');
    const bytes = 4 * evalSize(parseSize(floats), env);
    if (a[arg] !== 0 && bytes > 0) out.push({ arg, start: a[arg], bytes, write: mode !== 'r' });
  }
  return out;
}
