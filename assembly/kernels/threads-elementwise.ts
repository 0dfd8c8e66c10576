// ReLU, activations, copies, products and channel shuffles split across the thread pool (threads
// build; docs/threads.md): ranges of elements in multiples of 4 (a shuffle: rows), each tile
// calling the same kernel on its range (inside a tile it runs whole), so every element takes the
// vector or scalar path it takes in the whole call and any thread count gives the same bits. Job
// kind JOB_ELEMENTWISE (threads.ts).
import { arg, argf, argp, canSplit, JOB_ELEMENTWISE, offset, runJob, setArg, setArgf, setArgp, splitThreads, tileStart, tilesFor } from './threads';
import { copy_f32, relu_backward, relu_forward } from './elementwise';
import { interleave2_rows } from './nd-copy';
import { mul_range } from './merge';
import { activation_backward, activation_forward, ACT_ELU, ACT_GELU, ACT_GELU_TANH, ACT_SELU, ACT_SIGMOID, ACT_SWISH, ACT_TANH } from './activations';

// The elementwise kernels JOB_ELEMENTWISE runs (elementwise_split's `which`).
export const EW_RELU_FORWARD: i32 = 1;
export const EW_RELU_BACKWARD: i32 = 2;
export const EW_ACT_FORWARD: i32 = 3;
export const EW_ACT_BACKWARD: i32 = 4;
export const EW_COPY: i32 = 5;
export const EW_INTERLEAVE2: i32 = 6;
export const EW_MUL: i32 = 7;

// Below this much work (elements times activationCost) a tile is not worth a wake-up: 32K
// elements of ReLU or a copy, about 6 us here. A split job costs about 2 us with the worker spinning
// (resnet18's 200704-element ReLU run alone 2000 times at real-time priority: 35.5 us on one
// thread, 19.8 on two); and a copy or ReLU left whole pulls both cores' halves of its data to the
// driver and the next split op pulls half back: resnet18's residual sums (a copy, an adding copy,
// a ReLU over 200704 elements) took 0.12 ms on 2 threads whole against 0.10 on one, 0.06 split
// (2026-12-05). At 64K the 100352-element ones of its 28x28 stage stayed whole.
const ACTIVATION_TILE_MIN: f64 = 32768;

// Whether n elements of a ReLU-cheap kernel make two tiles: copy_f32 asks this first, since other
// kernels call it in their inner loops on a few channels.
// @ts-ignore: decorator
@inline export function twoCheapTiles(n: i32): bool {
  return <f64>n >= 2 * ACTIVATION_TILE_MIN;
}

// An activation's cost an element in units of ReLU's (0.2 ns an element forward on one thread
// here, 2026-12-05): the e^x kinds (sigmoid, tanh, elu, selu, swish) cost 1.7 to 2.2 ns, gelu_tanh
// 8.2, gelu (f64 erfc) 18.9; rounded down. Counted as ReLU's, efficientnet_b0's swish layers of
// 94080 elements (0.17 ms, 2 tiles of ReLU's worth) stayed whole: 3.9 ms of its 38 ms forward.
// @ts-ignore: decorator
@inline function activationCost(which: i32, kind: i32): f64 {
  if (which != EW_ACT_FORWARD && which != EW_ACT_BACKWARD) return 1;
  if (kind == ACT_GELU) return 64;
  if (kind == ACT_GELU_TANH) return 32;
  return kind == ACT_SIGMOID || kind == ACT_TANH || kind == ACT_ELU || kind == ACT_SELU || kind == ACT_SWISH ? 8 : 1;
}

// An elementwise kernel over n elements (relu, activations, copies, products; `which`: EW_*)
// split into ranges of multiples of 4. Pointers p0..p3 are the kernel's in order; a 0 pointer (not given) stays 0.
export function elementwise_split(which: i32, p0: usize, p1: usize, p2: usize, p3: usize, n: i32,
  kind: i32, alpha: f32, accumulate: i32): bool {
  if (!canSplit() || n <= 0) return false;
  const count = tilesFor(n >> 2, <f64>n * activationCost(which, kind), ACTIVATION_TILE_MIN);
  if (count < 2) return false;
  setArg(0, which); setArgp(1, p0); setArgp(2, p1); setArgp(3, p2); setArgp(4, p3);
  setArg(5, n); setArg(6, kind); setArgf(7, alpha); setArg(8, accumulate);
  runJob(JOB_ELEMENTWISE, count, 0);
  return true;
}

// Below this many floats written a tile of a channel shuffle (interleave2_split) is not worth a job.
const INTERLEAVE_TILE_MIN: f64 = 4096;

// ShuffleNet's channel shuffle (nd-copy.ts interleave2_f32: rows of n pairs) split by rows, one tile
// a thread, from 8192 floats: a copy costs little (a 28x28x48 shuffle 1.5 us on one thread), but
// left whole on the driver it reads the half of both inputs the worker wrote (its two branches'
// convolutions split by rows) and writes all of the output the next convolution's worker half
// reads back: shufflenet_v2_x0_5's 31 shuffles took 0.047 ms on one thread and 0.144 on two.
export function interleave2_split(y: usize, ldy: i32, a: usize, lda: i32, b: usize, ldb: i32, rows: i32, n: i32): bool {
  if (!canSplit() || rows <= 0 || n <= 0) return false;
  const count = min(splitThreads(), tilesFor(rows, <f64>rows * <f64>n * 2, INTERLEAVE_TILE_MIN));
  if (count < 2) return false;
  setArg(0, EW_INTERLEAVE2); setArgp(1, y); setArgp(2, a); setArgp(3, b);
  setArg(5, rows); setArg(6, n); setArg(9, ldy); setArg(10, lda); setArg(11, ldb);
  runJob(JOB_ELEMENTWISE, count, 0);
  return true;
}

export function elementwiseTile(args: usize, tile: i32, count: i32): void {
  if (arg(args, 0) == EW_INTERLEAVE2) {
    const rows = arg(args, 5);
    interleave2_rows(argp(args, 1), arg(args, 9), argp(args, 2), arg(args, 10), argp(args, 3), arg(args, 11), arg(args, 6),
      tileStart(tile, count, rows), tileStart(tile + 1, count, rows));
    return;
  }
  const n = arg(args, 5);
  const units = n >> 2;
  const i0 = tileStart(tile, count, units) * 4;
  const i1 = tile == count - 1 ? n : tileStart(tile + 1, count, units) * 4;
  const at = <usize>i0 << 2;
  const p0 = offset(argp(args, 1), at), p1 = offset(argp(args, 2), at), p2 = offset(argp(args, 3), at), p3 = offset(argp(args, 4), at);
  const kind = arg(args, 6), alpha = argf(args, 7), accumulate = arg(args, 8);
  switch (arg(args, 0)) {
    case EW_RELU_FORWARD: relu_forward(p0, p1, i1 - i0); break;
    case EW_RELU_BACKWARD: relu_backward(p0, p1, p2, i1 - i0, accumulate); break;
    case EW_ACT_FORWARD: activation_forward(kind, p0, p1, i1 - i0, alpha); break;
    case EW_ACT_BACKWARD: activation_backward(kind, p0, p1, p2, p3, i1 - i0, alpha, accumulate); break;
    case EW_COPY: copy_f32(p0, p1, i1 - i0, accumulate); break;
    case EW_MUL: mul_range(p0, p1, p2, i1 - i0, accumulate); break;
  }
}
