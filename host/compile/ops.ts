// The plan's op vocabulary: for each kernel op, its opcode (assembly/opcodes.ts), its arguments in
// order, and which bytes it touches. Ops are plain records; `encodeOps` turns them into the i32 word
// stream that assembly/run.ts executes, and `opFootprint` lets a test or a loader check that every
// kernel call stays inside its regions without trusting the planner.
import { conv2dPackBytes, convColsBytes } from './conv-scratch';
import { gemmScratchBytes } from './gemm-scratch';

// Per-sample convolution geometry; the batch comes from the step header at run time.
const CONV_GEOMETRY = ['h', 'w_', 'c', 'f', 'kh', 'kw', 'sh', 'sw', 'dh', 'dw_', 'pt', 'pl', 'oh', 'ow'] as const;
const DEPTHWISE_GEOMETRY = ['h', 'w_', 'c', 'm', 'kh', 'kw', 'sh', 'sw', 'dh', 'dw_', 'pt', 'pl', 'oh', 'ow'] as const;
const POOL_GEOMETRY = ['h', 'w_', 'c', 'kh', 'kw', 'sh', 'sw', 'pt', 'pl', 'oh', 'ow'] as const;

export const OP_SPECS = {
  gemm: { code: 1, args: ['c', 'a', 'b', 'm', 'n', 'k', 'rsa', 'csa', 'rsb', 'csb', 'ldc', 'accumulate', 'pack', 'batchFlags'] },
  bias_fill: { code: 2, args: ['y', 'b', 'rows', 'n'] },
  bias_backward: { code: 3, args: ['db', 'dy', 'rows', 'n', 'accumulate'] },
  relu_forward: { code: 4, args: ['y', 'x', 'count'] },
  relu_backward: { code: 5, args: ['dx', 'dy', 'y', 'count', 'accumulate'] },
  softmax_forward: { code: 6, args: ['y', 'x', 'rows', 'n'] },
  softmax_backward: { code: 7, args: ['dx', 'dy', 'y', 'rows', 'n', 'accumulate'] },
  fill: { code: 8, args: ['y', 'value', 'count', 'perSample'] },
  copy: { code: 9, args: ['y', 'x', 'count', 'accumulate'] },
  xent_logits_sparse: { code: 10, args: ['dx', 'x', 'labels', 'rows', 'n'] },
  xent_logits_dense: { code: 11, args: ['dx', 'x', 'y', 'rows', 'n'] },
  xent_probs: { code: 12, args: ['dx', 'p', 'y', 'sparse', 'rows', 'n'] },
  accuracy: { code: 13, args: ['x', 'y', 'sparse', 'rows', 'n'] },
  check_loss: { code: 14, args: [] },
  grad_norm: { code: 15, args: ['g', 'count'] },
  check_grads: { code: 16, args: [] },
  // One fused optimizer pass (clip, weight decay, update) over count parameters; see assembly/optim.ts.
  apply_gradients: { code: 17, args: ['kind', 'w', 'g', 's1', 's2', 's3', 'count', 'clipMode', 'clip', 'weightDecay', 'h1', 'h2', 'flags'] },
  // The step's learning rate from the iteration count; its parameters follow as a float tail.
  schedule: { code: 18, args: ['kind'] },
  act_forward: { code: 19, args: ['kind', 'y', 'x', 'count', 'alpha'] },
  act_backward: { code: 20, args: ['kind', 'dx', 'dy', 'x', 'y', 'count', 'alpha', 'accumulate'] },
  conv2d_forward: { code: 21, args: ['y', 'x', 'w', 'b', ...CONV_GEOMETRY, 'chunkRows', 'cols', 'pack', 'relu', 'pool', 'chunkOut'] },
  conv2d_backward_filter: { code: 22, args: ['dw', 'db', 'x', 'dy', ...CONV_GEOMETRY, 'chunkRows', 'cols', 'pack', 'accumulate'] },
  conv2d_backward_input: { code: 23, args: ['dx', 'dy', 'w', ...CONV_GEOMETRY, 'chunkRows', 'cols', 'pack', 'accumulate'] },
  depthwise_forward: { code: 24, args: ['y', 'x', 'w', 'b', ...DEPTHWISE_GEOMETRY] },
  depthwise_backward_input: { code: 25, args: ['dx', 'dy', 'w', ...DEPTHWISE_GEOMETRY, 'accumulate'] },
  depthwise_backward_filter: { code: 26, args: ['dw', 'db', 'x', 'dy', ...DEPTHWISE_GEOMETRY, 'accumulate'] },
  maxpool_forward: { code: 27, args: ['y', 'argmax', 'x', ...POOL_GEOMETRY] },
  maxpool_backward: { code: 28, args: ['dx', 'dy', 'argmax', 'count', 'inputCount', 'accumulate'] },
  avgpool_forward: { code: 29, args: ['y', 'x', ...POOL_GEOMETRY] },
  avgpool_backward: { code: 30, args: ['dx', 'dy', ...POOL_GEOMETRY, 'accumulate'] },
  gap_forward: { code: 31, args: ['y', 'x', 'hw', 'c'] },
  gap_backward: { code: 32, args: ['dx', 'dy', 'hw', 'c', 'accumulate'] },
  bn_forward_train: { code: 33, args: ['y', 'mean', 'invstd', 'movingMean', 'movingVar', 'x', 'gamma', 'beta', 'rows', 'c', 'momentum', 'epsilon'] },
  bn_forward_infer: { code: 34, args: ['y', 'x', 'gamma', 'beta', 'movingMean', 'movingVar', 'rows', 'c', 'epsilon'] },
  bn_backward_train: { code: 35, args: ['dx', 'dgamma', 'dbeta', 'dy', 'x', 'mean', 'invstd', 'gamma', 'rows', 'c', 'accumulate', 'accumulateParams'] },
  bn_backward_infer: { code: 36, args: ['dx', 'dy', 'gamma', 'movingVar', 'rows', 'c', 'epsilon', 'accumulate'] },
  dropout_forward: { code: 37, args: ['y', 'mask', 'x', 'count', 'rate', 'seed'] },
  dropout_backward: { code: 38, args: ['dx', 'dy', 'mask', 'count', 'rate', 'accumulate'] },
  copy_strided: { code: 39, args: ['y', 'ldy', 'x', 'ldx', 'rows', 'cols', 'accumulate'] },
  reg_penalty: { code: 40, args: ['w', 'count', 'l1', 'l2'] },
  reg_gradient: { code: 41, args: ['g', 'w', 'count', 'l1', 'l2'] },
  max_norm: { code: 42, args: ['w', 'rows', 'cols', 'axis', 'maxValue'] },
  non_neg: { code: 43, args: ['w', 'count'] },
  unit_norm: { code: 44, args: ['w', 'rows', 'cols', 'axis'] },
  bn_fold: { code: 45, args: ['wf', 'bf', 'w', 'b', 'gamma', 'beta', 'movingMean', 'movingVar', 'k', 'f', 'epsilon'] },
  optimizer_init: { code: 46, args: ['baseLr', 'momentum'] },
  step_done: { code: 47, args: [] },
  nadam_prep: { code: 48, args: [] },
  // Merges and spatial re-layouts (importers: Subtract, Multiply, ZeroPadding2D, Resizing).
  axpy: { code: 70, args: ['y', 'x', 'count', 'alpha', 'accumulate'] },
  mul: { code: 71, args: ['y', 'a', 'b', 'count', 'accumulate'] },
  zero_pad2d_forward: { code: 72, args: ['y', 'x', 'h', 'w_', 'c', 'pt', 'pb', 'pl', 'pr'] },
  zero_pad2d_backward: { code: 73, args: ['dx', 'dy', 'h', 'w_', 'c', 'pt', 'pb', 'pl', 'pr', 'accumulate'] },
  resize_bilinear_forward: { code: 74, args: ['y', 'x', 'h', 'w_', 'c', 'oh', 'ow'] },
  resize_bilinear_backward: { code: 75, args: ['dx', 'dy', 'h', 'w_', 'c', 'oh', 'ow', 'accumulate'] },
  channel_affine: { code: 76, args: ['y', 'x', 'scale', 'offset', 'rows', 'c'] },
  channel_scale_backward: { code: 77, args: ['dx', 'dy', 'scale', 'rows', 'c', 'accumulate'] },
  mse: { code: 90, args: ['dx', 'p', 'y', 'rows', 'n'] },
  bce_logits: { code: 91, args: ['dx', 'x', 'y', 'rows', 'n'] },
  bce_probs: { code: 92, args: ['dx', 'p', 'y', 'rows', 'n'] },
} as const;

// apply_gradients kinds and clip modes (assembly/opcodes.ts OPT_*, CLIP_*).
export const OPT_KIND = { sgd: 0, adagrad: 1, rmsprop: 2, adam: 3, adamw: 3, nadam: 4, adamax: 5 } as const;
export const CLIP_MODE = { none: 0, value: 1, norm: 2, globalNorm: 3 } as const;

export type OpName = keyof typeof OP_SPECS;

// Arguments stored as f32 bit patterns; every other argument is an i32 (byte offsets included).
const FLOAT_ARGS = new Set(['value', 'momentum', 'beta1', 'beta2', 'epsilon', 'alpha', 'rate', 'l1', 'l2', 'maxValue', 'clip', 'weightDecay', 'h1', 'h2', 'baseLr']);

// Step-header layout (assembly/opcodes.ts S_*).
export const HEADER = {
  batch: 0, iter: 4, lr: 8, failedOp: 12, gradNormSq: 16, lossSum: 24, correct: 32, penalty: 40,
  baseLr: 48, momentum: 52, nadamU: 56, lrOverride: 64, bytes: 128,
} as const;

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
    for (const name of spec.args) {
      const v = op.args[name];
      if (v === undefined) throw new Error(`plan op ${op.op} (${op.layer}) is missing argument '${name}'`);
      if (FLOAT_ARGS.has(name)) f32[w++] = v;
      else words[w++] = v;
    }
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

// The byte ranges an op reads and writes when run with `batch` rows, derived from its arguments
// alone (the same arithmetic the kernels do). A pointer argument of 0 means "not wanted".
export function opFootprint(op: PlanOp, batch: number): Access[] {
  const a = op.args;
  const out: Access[] = [];
  const span = (arg: string, floats: number, write: boolean) => {
    if (a[arg] !== 0 && floats > 0) out.push({ arg, start: a[arg], bytes: floats * 4, write });
  };
  switch (op.op) {
    case 'gemm': {
      const m = a.m * (a.batchFlags & 1 ? batch : 1);
      const n = a.n * (a.batchFlags & 2 ? batch : 1);
      const k = a.k * (a.batchFlags & 4 ? batch : 1);
      span('a', (m - 1) * a.rsa + (k - 1) * a.csa + 1, false);
      span('b', (k - 1) * a.rsb + (n - 1) * a.csb + 1, false);
      span('c', (m - 1) * a.ldc + n, true);
      const scratch = gemmScratchBytes(m, n, k);
      if (scratch > 0) out.push({ arg: 'pack', start: a.pack, bytes: scratch, write: true });
      break;
    }
    case 'bias_fill':
      span('y', a.rows * batch * a.n, true);
      span('b', a.n, false);
      break;
    case 'bias_backward':
      span('db', a.n, true);
      span('dy', a.rows * batch * a.n, false);
      break;
    case 'relu_forward':
      span('y', a.count * batch, true);
      span('x', a.count * batch, false);
      break;
    case 'relu_backward':
      span('dx', a.count * batch, true);
      span('dy', a.count * batch, false);
      span('y', a.count * batch, false);
      break;
    case 'softmax_forward':
      span('y', a.rows * batch * a.n, true);
      span('x', a.rows * batch * a.n, false);
      break;
    case 'softmax_backward':
      span('dx', a.rows * batch * a.n, true);
      span('dy', a.rows * batch * a.n, false);
      span('y', a.rows * batch * a.n, false);
      break;
    case 'fill':
      span('y', a.count * (a.perSample ? batch : 1), true);
      break;
    case 'copy':
      span('y', a.count * batch, true);
      span('x', a.count * batch, false);
      break;
    case 'xent_logits_sparse':
      span('dx', a.rows * batch * a.n, true);
      span('x', a.rows * batch * a.n, false);
      span('labels', a.rows * batch, false);
      break;
    case 'xent_logits_dense':
      span('dx', a.rows * batch * a.n, true);
      span('x', a.rows * batch * a.n, false);
      span('y', a.rows * batch * a.n, false);
      break;
    case 'xent_probs':
      span('dx', a.rows * batch * a.n, true);
      span('p', a.rows * batch * a.n, false);
      span('y', a.rows * batch * (a.sparse ? 1 : a.n), false);
      break;
    case 'mse':
    case 'bce_probs':
      span('dx', a.rows * batch * a.n, true);
      span('p', a.rows * batch * a.n, false);
      span('y', a.rows * batch * a.n, false);
      break;
    case 'bce_logits':
      span('dx', a.rows * batch * a.n, true);
      span('x', a.rows * batch * a.n, false);
      span('y', a.rows * batch * a.n, false);
      break;
    case 'accuracy':
      span('x', a.rows * batch * a.n, false);
      span('y', a.rows * batch * (a.sparse ? 1 : a.n), false);
      break;
    case 'check_loss':
    case 'check_grads':
    case 'schedule':
    case 'optimizer_init':
    case 'step_done':
    case 'nadam_prep':
      break; // the step header only
    case 'grad_norm':
      span('g', a.count, false);
      break;
    case 'apply_gradients':
      span('w', a.count, true);
      span('g', a.count, false);
      span('s1', a.count, true);
      span('s2', a.count, true);
      span('s3', a.count, true);
      break;
    case 'act_forward':
      span('y', a.count * batch, true);
      span('x', a.count * batch, false);
      break;
    case 'act_backward':
      span('dx', a.count * batch, true);
      span('dy', a.count * batch, false);
      span('x', a.count * batch, false);
      span('y', a.count * batch, false);
      break;
    case 'conv2d_forward':
    case 'conv2d_backward_filter':
    case 'conv2d_backward_input': {
      const input = batch * a.h * a.w_ * a.c;
      const output = batch * a.oh * a.ow * a.f;
      const forward = op.op === 'conv2d_forward';
      const filter = op.op === 'conv2d_backward_filter';
      span(forward ? 'y' : 'dy', forward && a.pool ? output / 4 : output, forward);
      if (forward && a.pool) span('chunkOut', a.chunkRows * a.f, true);
      span(forward || filter ? 'x' : 'dx', input, op.op === 'conv2d_backward_input');
      span(filter ? 'dw' : 'w', a.kh * a.kw * a.c * a.f, filter);
      span(filter ? 'db' : 'b', forward || filter ? a.f : 0, filter);
      const direct = a.kh === 1 && a.kw === 1 && a.sh === 1 && a.sw === 1 && a.pt === 0 && a.pl === 0;
      if (!direct) out.push({ arg: 'cols', start: a.cols, bytes: convColsBytes(a.chunkRows, a.kh, a.kw, a.c), write: true });
      out.push({ arg: 'pack', start: a.pack, bytes: conv2dPackBytes(a.chunkRows, a.kh, a.kw, a.c, a.f), write: true });
      break;
    }
    case 'depthwise_forward':
    case 'depthwise_backward_input':
    case 'depthwise_backward_filter': {
      const input = batch * a.h * a.w_ * a.c;
      const output = batch * a.oh * a.ow * a.c * a.m;
      const forward = op.op === 'depthwise_forward';
      const filter = op.op === 'depthwise_backward_filter';
      span(forward ? 'y' : 'dy', output, forward);
      span(forward || filter ? 'x' : 'dx', input, op.op === 'depthwise_backward_input');
      span(filter ? 'dw' : 'w', a.kh * a.kw * a.c * a.m, filter);
      span(filter ? 'db' : 'b', forward || filter ? a.c * a.m : 0, filter);
      break;
    }
    case 'maxpool_forward':
      span('y', batch * a.oh * a.ow * a.c, true);
      span('argmax', batch * a.oh * a.ow * a.c, true);
      span('x', batch * a.h * a.w_ * a.c, false);
      break;
    case 'maxpool_backward':
      span('dx', batch * a.inputCount, true);
      span('dy', batch * a.count, false);
      span('argmax', batch * a.count, false);
      break;
    case 'avgpool_forward':
      span('y', batch * a.oh * a.ow * a.c, true);
      span('x', batch * a.h * a.w_ * a.c, false);
      break;
    case 'avgpool_backward':
      span('dx', batch * a.h * a.w_ * a.c, true);
      span('dy', batch * a.oh * a.ow * a.c, false);
      break;
    case 'gap_forward':
      span('y', batch * a.c, true);
      span('x', batch * a.hw * a.c, false);
      break;
    case 'gap_backward':
      span('dx', batch * a.hw * a.c, true);
      span('dy', batch * a.c, false);
      break;
    case 'bn_forward_train':
      span('y', a.rows * batch * a.c, true);
      span('x', a.rows * batch * a.c, false);
      for (const arg of ['mean', 'invstd', 'movingMean', 'movingVar']) span(arg, a.c, true);
      for (const arg of ['gamma', 'beta']) span(arg, a.c, false);
      break;
    case 'bn_forward_infer':
      span('y', a.rows * batch * a.c, true);
      span('x', a.rows * batch * a.c, false);
      for (const arg of ['gamma', 'beta', 'movingMean', 'movingVar']) span(arg, a.c, false);
      break;
    case 'bn_backward_train':
      span('dx', a.rows * batch * a.c, true);
      span('dy', a.rows * batch * a.c, false);
      span('x', a.rows * batch * a.c, false);
      for (const arg of ['dgamma', 'dbeta']) span(arg, a.c, true);
      for (const arg of ['mean', 'invstd', 'gamma']) span(arg, a.c, false);
      break;
    case 'bn_backward_infer':
      span('dx', a.rows * batch * a.c, true);
      span('dy', a.rows * batch * a.c, false);
      for (const arg of ['gamma', 'movingVar']) span(arg, a.c, false);
      break;
    case 'dropout_forward':
      span('y', a.count * batch, true);
      span('mask', (a.count * batch) / 4, true); // u8 mask
      span('x', a.count * batch, false);
      break;
    case 'dropout_backward':
      span('dx', a.count * batch, true);
      span('dy', a.count * batch, false);
      span('mask', (a.count * batch) / 4, false);
      break;
    case 'copy_strided':
      span('y', (a.rows * batch - 1) * a.ldy + a.cols, true);
      span('x', (a.rows * batch - 1) * a.ldx + a.cols, false);
      break;
    case 'reg_penalty':
      span('w', a.count, false);
      break;
    case 'reg_gradient':
      span('g', a.count, true);
      span('w', a.count, false);
      break;
    case 'max_norm':
    case 'unit_norm':
      span('w', a.rows * a.cols, true);
      break;
    case 'non_neg':
      span('w', a.count, true);
      break;
    case 'bn_fold':
      span('wf', a.k * a.f, true);
      span('bf', a.f, true);
      span('w', a.k * a.f, false);
      for (const arg of ['b', 'gamma', 'beta', 'movingMean', 'movingVar']) span(arg, a.f, false);
      break;
    case 'axpy':
      span('y', a.count * batch, true);
      span('x', a.count * batch, false);
      break;
    case 'mul':
      span('y', a.count * batch, true);
      span('a', a.count * batch, false);
      span('b', a.count * batch, false);
      break;
    case 'zero_pad2d_forward':
    case 'zero_pad2d_backward': {
      const inner = batch * a.h * a.w_ * a.c;
      const outer = batch * (a.h + a.pt + a.pb) * (a.w_ + a.pl + a.pr) * a.c;
      const forward = op.op === 'zero_pad2d_forward';
      span(forward ? 'y' : 'dy', outer, forward);
      span(forward ? 'x' : 'dx', inner, !forward);
      break;
    }
    case 'channel_affine':
      span('y', a.rows * batch * a.c, true);
      span('x', a.rows * batch * a.c, false);
      span('scale', a.c, false);
      span('offset', a.c, false);
      break;
    case 'channel_scale_backward':
      span('dx', a.rows * batch * a.c, true);
      span('dy', a.rows * batch * a.c, false);
      span('scale', a.c, false);
      break;
    case 'resize_bilinear_forward':
    case 'resize_bilinear_backward': {
      const forward = op.op === 'resize_bilinear_forward';
      span(forward ? 'y' : 'dy', batch * a.oh * a.ow * a.c, forward);
      span(forward ? 'x' : 'dx', batch * a.h * a.w_ * a.c, !forward);
      break;
    }
  }
  return out;
}
