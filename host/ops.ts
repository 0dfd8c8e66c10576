// The plan's op vocabulary: for each kernel op, its opcode (assembly/opcodes.ts), its arguments in
// order, and which bytes it touches. Ops are plain records; `encodeOps` turns them into the i32 word
// stream that assembly/run.ts executes, and `opFootprint` lets a test or a loader check that every
// kernel call stays inside its regions without trusting the planner.
import { gemmScratchBytes } from './gemm-scratch';

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
  sgd: { code: 17, args: ['w', 'g', 'v', 'count', 'momentum', 'nesterov'] },
  adam: { code: 18, args: ['w', 'g', 'm', 'v', 'vhat', 'count', 'beta1', 'beta2', 'epsilon'] },
} as const;

export type OpName = keyof typeof OP_SPECS;

// Arguments stored as f32 bit patterns; every other argument is an i32 (byte offsets included).
const FLOAT_ARGS = new Set(['value', 'momentum', 'beta1', 'beta2', 'epsilon']);

// Step-header layout (assembly/opcodes.ts S_*).
export const HEADER = { batch: 0, step: 4, lr: 8, failedOp: 12, gradNormSq: 16, lossSum: 24, correct: 32, bytes: 64 } as const;

export interface PlanOp {
  op: OpName;
  args: Record<string, number>;
  // The layer (or 'loss', 'optimizer') this op belongs to, for messages and `inspect`.
  layer: string;
}

export function opWords(op: PlanOp): number {
  return 2 + OP_SPECS[op.op].args.length;
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
    words[w++] = spec.args.length;
    for (const name of spec.args) {
      const v = op.args[name];
      if (v === undefined) throw new Error(`plan op ${op.op} (${op.layer}) is missing argument '${name}'`);
      if (FLOAT_ARGS.has(name)) f32[w++] = v;
      else words[w++] = v;
    }
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
    case 'accuracy':
      span('x', a.rows * batch * a.n, false);
      span('y', a.rows * batch * (a.sparse ? 1 : a.n), false);
      break;
    case 'check_loss':
    case 'check_grads':
      break;
    case 'grad_norm':
      span('g', a.count, false);
      break;
    case 'sgd':
      span('w', a.count, true);
      span('g', a.count, false);
      span('v', a.count, true);
      break;
    case 'adam':
      span('w', a.count, true);
      span('g', a.count, false);
      span('m', a.count, true);
      span('v', a.count, true);
      span('vhat', a.count, true);
      break;
  }
  return out;
}
