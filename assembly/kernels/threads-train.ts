// The training passes' splits (docs/threads.md), on the pool of assembly/kernels/threads.ts: job
// kinds from TRAIN_KINDS_FROM (threads.ts has its own from 1). As there, tiles
// partition each op's OUTPUT, and each output element is computed by the same code in the same
// order whatever tile holds it, so any thread count gives the same bits.
import { arg, argp, canSplit, runJob, setArg, setArgp, splitThreads, tileStart, tilesFor, ELEMENT_TILE_MIN, GEMM_SPLIT_MIN, ROW_TILE_MIN, TILE_MIN_WORK } from './threads';
import { MR } from './gemm';
import { conv2d_backward_filter_rows, conv2d_backward_input_images } from './conv';
import { depthwise_backward_filter_channels, depthwise_conv2d_backward_input } from './depthwise';
import { max_pool2d_backward_range, max_pool2d_forward, max_pool_values_rows } from './pool';
import { bias_backward_columns } from './elementwise';
import { filter_part, FILTER_PARTS, FILTER_SHARES } from './conv-filter-parts';
import { batchnorm_backward_rows, batchnorm_forward_rows, batchnorm_part_sums, BN_PARTS } from './norm';

// From threads.ts's TRAIN_KINDS_FROM (33), in the order of TRAIN_SPLIT_JOBS (host/runtime/thread-pool.ts):
// 33-39 (7 counters at word 100 of the control block), then 40-47 (8 at word 192).
const JOB_CONV_FILTER: i32 = 33;
const JOB_CONV_INPUT: i32 = 34;
const JOB_MAXPOOL_FORWARD: i32 = 35;
const JOB_MAXPOOL_BACKWARD: i32 = 36;
const JOB_DEPTHWISE_INPUT: i32 = 37;
const JOB_DEPTHWISE_FILTER: i32 = 38;
const JOB_CONV_FILTER_PARTS: i32 = 39;
// From 40: TRAIN_MORE_SPLIT_JOBS.
const JOB_BN_FORWARD_SUMS: i32 = 40;
const JOB_BN_FORWARD_ROWS: i32 = 41;
const JOB_BN_BACKWARD_SUMS: i32 = 42;
const JOB_BN_BACKWARD_ROWS: i32 = 43;

// A tile of one of the kinds above (threads.ts runTile hands over the kinds it does not know).
export function trainTile(kind: i32, args: usize, tile: i32, count: i32, scratch: usize, slot: i32): void {
  switch (kind) {
    case JOB_CONV_FILTER: convFilterTile(args, tile, count, scratch); break;
    case JOB_CONV_INPUT: convInputTile(args, tile, count, scratch, slot); break;
    case JOB_MAXPOOL_FORWARD: maxpoolForwardTile(args, tile, count); break;
    case JOB_MAXPOOL_BACKWARD: maxpoolBackwardTile(args, tile, count); break;
    case JOB_DEPTHWISE_INPUT: depthwiseInputTile(args, tile, count); break;
    case JOB_DEPTHWISE_FILTER: depthwiseFilterTile(args, tile, count); break;
    case JOB_CONV_FILTER_PARTS: convFilterPartsTile(args, tile, count, scratch, slot); break;
    case JOB_BN_FORWARD_SUMS: bnSumsTile(args, tile, count); break;
    case JOB_BN_FORWARD_ROWS: bnRowsTile(args, tile, count); break;
    case JOB_BN_BACKWARD_SUMS: bnSumsTile(args, tile, count); break;
    case JOB_BN_BACKWARD_ROWS: bnRowsTile(args, tile, count); break;
  }
}

// The geometry both convolution jobs carry: three pointers, then B .. OW, the chunk, cols and
// accumulate in words 3 .. 21.
function setConvArgs(p: usize, q: usize, r: usize, B: i32, H: i32, W: i32, C: i32, F: i32, G: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  chunk: i32, cols: usize, accumulate: i32): void {
  setArgp(0, p); setArgp(1, q); setArgp(2, r);
  setArg(3, B); setArg(4, H); setArg(5, W); setArg(6, C); setArg(7, F); setArg(8, G);
  setArg(9, KH); setArg(10, KW); setArg(11, SH); setArg(12, SW); setArg(13, DH); setArg(14, DW);
  setArg(15, PT); setArg(16, PL); setArg(17, OH); setArg(18, OW);
  setArg(19, chunk); setArgp(20, cols); setArg(21, accumulate);
}

// The filter gradient dw (Kg, F) of conv2d_grouped_backward_filter as one job over all its
// chunks, split by rows of dw (each group's tap-channels k, in multiples of 16, at least
// ROW_TILE_MIN a tile): a tile unfolds its own columns of each chunk into the shared cols and
// runs its rows of the chunk's GEMM, so the op has one barrier rather than two a chunk, and each
// dw element is summed over the chunks in the whole call's order (a GEMM row's sums do not
// depend on the rows beside it). db (0: not wanted) goes with it by ranges of columns, each
// column summed whole by one tile. With too few rows for two tiles (a first layer's 3x3 over one
// channel: 9) it runs whole on the driver: split by columns of dw, each tile unfolded every
// position again and read every line of dy (a tile's 16 of 32 floats of a row are half of a
// 128-byte line pair), and the bench CNN's first layer cost 2.4x its CPU time whole (6.6 against
// 2.8 ms; by rows of 4 taps, each tile unfolding only its own, 7.9 ms: each read all of dy), so
// two threads ran it slower than one.
export function conv_filter_split(dw: usize, db: usize, x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, F: i32, G: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  chunk: i32, cols: usize, pack: usize, accumulate: i32): bool {
  if (!canSplit()) return false;
  const Kg = KH * KW * (C / G);
  const work = <f64>B * <f64>(OH * OW) * <f64>Kg * <f64>F;
  if (work < GEMM_SPLIT_MIN) return false;
  // One tile a thread: every tile packs each chunk's dy again, which costs a GEMM of few rows
  // as much as a good part of its multiply-adds.
  const count = min(splitThreads(), tilesFor(Kg / max(MR, ROW_TILE_MIN), work, TILE_MIN_WORK));
  if (count < 2) return false;
  setConvArgs(dw, x, dy, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, accumulate);
  setArgp(22, db);
  runJob(JOB_CONV_FILTER, count, pack);
  return true;
}

const ROW_UNIT = 16;

function convFilterTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const Kg = arg(args, 9) * arg(args, 10) * (arg(args, 6) / arg(args, 8));
  const F = arg(args, 7);
  // Columns of db in multiples of 4.
  const fUnits = F / 4;
  const f0 = tileStart(tile, count, fUnits) * 4;
  const f1 = tile == count - 1 ? F : tileStart(tile + 1, count, fUnits) * 4;
  const db = argp(args, 22);
  if (db) bias_backward_columns(db, argp(args, 2), arg(args, 3) * arg(args, 17) * arg(args, 18), F, f0, f1, arg(args, 21));
  // Rows in multiples of 16 (every tile has at least 32): a tile's columns of each cols row are
  // then whole 64-byte lines, which no other thread writes.
  const units = Kg / ROW_UNIT;
  const k0 = tileStart(tile, count, units) * ROW_UNIT;
  const k1 = tile == count - 1 ? Kg : tileStart(tile + 1, count, units) * ROW_UNIT;
  conv2d_backward_filter_rows(argp(args, 0), argp(args, 1), argp(args, 2), arg(args, 3), arg(args, 4), arg(args, 5),
    arg(args, 6), arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12),
    arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18),
    arg(args, 19), argp(args, 20), pack, arg(args, 21), k0, k1);
}

// The parts of conv2d_backward_filter_parts (conv-filter-parts.ts: a filter gradient with too few
// rows of dw to split by rows) as one job: a tile computes whole parts, each into its own partial
// sum, unfolding into its thread's share of cols; the driver adds the parts in order afterwards.
// Up to FILTER_SHARES threads (one share each).
export function conv_filter_parts_split(x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, F: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  sub: i32, cols: usize, pack: usize): bool {
  if (!canSplit() || splitThreads() > FILTER_SHARES) return false;
  const count = tilesFor(FILTER_PARTS, <f64>B * <f64>(OH * OW) * <f64>(KH * KW * C) * <f64>F, TILE_MIN_WORK);
  if (count < 2) return false;
  setConvArgs(x, dy, 0, B, H, W, C, F, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, sub, cols, 0);
  runJob(JOB_CONV_FILTER_PARTS, count, pack);
  return true;
}

function convFilterPartsTile(args: usize, tile: i32, count: i32, pack: usize, slot: i32): void {
  const p1 = tileStart(tile + 1, count, FILTER_PARTS);
  for (let p = tileStart(tile, count, FILTER_PARTS); p < p1; p++) {
    filter_part(p, argp(args, 0), argp(args, 1), arg(args, 3), arg(args, 4), arg(args, 5), arg(args, 6), arg(args, 7),
      arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16),
      arg(args, 17), arg(args, 18), arg(args, 19), argp(args, 20), pack, slot);
  }
}

// The input gradient of conv2d_grouped_backward_input (not pointwise) split by whole images: a
// tile runs its images' chunks (GEMM into cols, col2im into its images of dx) in its thread's
// 1/threads share of cols, so the op has one barrier rather than two a chunk. Each dx element
// gets its additions in the order of its image's positions whatever the chunks, and each cols
// row is its GEMM row whatever the rows beside it: the same bits.
export function conv_input_split(dx: usize, dy: usize, w: usize, bp: usize, B: i32, H: i32, W: i32, C: i32, F: i32, G: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  chunk: i32, cols: usize, pack: usize, accumulate: i32): bool {
  if (!canSplit() || B < 2) return false;
  const threads = splitThreads();
  // Each thread's share of cols, in MR multiples when it has that many rows.
  let share = chunk / threads;
  if (share >= MR) share &= ~(MR - 1);
  if (share < 1) return false;
  const work = <f64>B * <f64>(OH * OW) * <f64>(KH * KW * C) * <f64>(F / G);
  if (work < GEMM_SPLIT_MIN) return false;
  const count = tilesFor(B, work, TILE_MIN_WORK);
  if (count < 2) return false;
  setConvArgs(dx, dy, w, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, share, cols, accumulate);
  setArgp(22, bp);
  runJob(JOB_CONV_INPUT, count, pack);
  return true;
}

function convInputTile(args: usize, tile: i32, count: i32, pack: usize, slot: i32): void {
  const B = arg(args, 3), C = arg(args, 6), G = arg(args, 8), KH = arg(args, 9), KW = arg(args, 10);
  const share = arg(args, 19);
  const cols = argp(args, 20) + <usize>slot * <usize>share * (<usize>(KH * KW * (C / G)) << 2);
  conv2d_backward_input_images(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 22), B, arg(args, 4), arg(args, 5),
    C, arg(args, 7), G, KH, KW, arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
    arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), share, cols, pack, arg(args, 21),
    tileStart(tile, count, B), tileStart(tile + 1, count, B));
}

// Max pooling forward (assembly/kernels/pool.ts) split by whole images: a tile pools its images
// as a batch of its own, then moves its argmax entries (flat indices into its images) to the
// whole batch's; at inference (no argmax) with fewer images than two a thread, by output rows.
// At least TILE_MIN_WORK window taps a tile.
export function maxpool_forward_split(y: usize, argmax: usize, x: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32): bool {
  if (!canSplit() || B <= 0 || OH <= 0 || OW <= 0) return false;
  const work = <f64>B * <f64>(OH * OW) * <f64>C * <f64>(KH * KW);
  // Inference (no argmax) with fewer images than two a thread: by output rows, whose maxima need no
  // indices moved (resnet18's max pooling at batch 1 ran on the driver 0.115 -> 0.189 ms on 2
  // threads, half its input in the other core's cache).
  const byRows = argmax == 0 && B < splitThreads() * 2 ? 1 : 0;
  const count = tilesFor(byRows ? B * OH : B, work, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, argmax); setArgp(2, x);
  setArg(3, B); setArg(4, H); setArg(5, W); setArg(6, C); setArg(7, KH); setArg(8, KW);
  setArg(9, SH); setArg(10, SW); setArg(11, PT); setArg(12, PL); setArg(13, OH); setArg(14, OW); setArg(15, byRows);
  runJob(JOB_MAXPOOL_FORWARD, count, 0);
  return true;
}

function maxpoolForwardTile(args: usize, tile: i32, count: i32): void {
  const B = arg(args, 3), H = arg(args, 4), W = arg(args, 5), C = arg(args, 6), OH = arg(args, 13), OW = arg(args, 14);
  if (arg(args, 15)) {
    max_pool_values_rows(argp(args, 0), argp(args, 2), H, W, C, arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10),
      arg(args, 11), arg(args, 12), OH, OW, tileStart(tile, count, B * OH), tileStart(tile + 1, count, B * OH));
    return;
  }
  const b0 = tileStart(tile, count, B), b1 = tileStart(tile + 1, count, B);
  const out = <usize>(b0 * OH * OW * C) << 2;
  const argmax = argp(args, 1);
  max_pool2d_forward(argp(args, 0) + out, argmax ? argmax + out : 0, argp(args, 2) + (<usize>(b0 * H * W * C) << 2), b1 - b0, H, W, C,
    arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), OH, OW);
  if (argmax) addToIndices(argmax + out, (b1 - b0) * OH * OW * C, b0 * H * W * C);
}

// a (n) i32 += base where a >= 0 (an empty window's -1 stays).
function addToIndices(a: usize, n: i32, base: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vb = i32x4.splat(base);
    const none = i32x4.splat(-1);
    for (; i + 4 <= n; i += 4) {
      const p = a + (<usize>i << 2);
      const v = v128.load(p);
      v128.store(p, i32x4.add(v, v128.and(vb, i32x4.gt_s(v, none))));
    }
  }
  for (; i < n; i++) {
    const p = a + (<usize>i << 2);
    const v = load<i32>(p);
    if (v >= 0) store<i32>(p, v + base);
  }
}

// Max pooling backward (the argmax scatter). By whole images when the batch is known: a tile
// scatters its images' entries into its images' part of dx (max_pool2d_forward names inputs of
// an entry's own image; the range still bounds every write), so each tile reads only its share of
// argmax and dy. Otherwise by ranges of dx, one a thread: every tile reads all of argmax (a window
// may name any input element), so more tiles would read it more often.
export function maxpool_backward_split(dx: usize, dy: usize, argmax: usize, count: i32, inputCount: i32, accumulate: i32, images: i32): bool {
  if (!canSplit() || count <= 0 || inputCount < 8) return false;
  const work = <f64>count + <f64>inputCount;
  const byImages = images >= 2 && count % images == 0 && inputCount % images == 0;
  const tiles = byImages ? tilesFor(images, work, ELEMENT_TILE_MIN) : min(splitThreads(), <i32>(work / ELEMENT_TILE_MIN));
  if (tiles < 2) return false;
  setArgp(0, dx); setArgp(1, dy); setArgp(2, argmax); setArg(3, count); setArg(4, inputCount); setArg(5, accumulate);
  setArg(6, byImages ? images : 0);
  runJob(JOB_MAXPOOL_BACKWARD, tiles, 0);
  return true;
}

function maxpoolBackwardTile(args: usize, tile: i32, count: i32): void {
  const entries = arg(args, 3), inputCount = arg(args, 4), images = arg(args, 6);
  if (images) {
    const b0 = tileStart(tile, count, images), b1 = tileStart(tile + 1, count, images);
    const per = entries / images, inPer = inputCount / images;
    const at = <usize>(b0 * per) << 2;
    max_pool2d_backward_range(argp(args, 0), argp(args, 1) + at, argp(args, 2) + at, (b1 - b0) * per, b0 * inPer, b1 * inPer, arg(args, 5));
    return;
  }
  const units = inputCount >> 2;
  const d0 = tileStart(tile, count, units) * 4;
  const d1 = tile == count - 1 ? inputCount : tileStart(tile + 1, count, units) * 4;
  max_pool2d_backward_range(argp(args, 0), argp(args, 1), argp(args, 2), entries, d0, d1, arg(args, 5));
}

// Depthwise backward (assembly/kernels/conv.ts): the input gradient by whole images (a tile runs
// the kernel on its images as a batch of their own), the filter and bias gradients by ranges of
// input channels (16 floats of each dw row at least when there are that many, so two threads
// never write one cache line), each element summed over every position in the whole call's order.
export function depthwise_input_split(dx: usize, dy: usize, w: usize, B: i32, H: i32, W: i32, C: i32, M: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32): bool {
  if (!canSplit() || B < 2) return false;
  const count = tilesFor(B, <f64>B * <f64>(OH * OW) * <f64>(C * M) * <f64>(KH * KW), TILE_MIN_WORK);
  if (count < 2) return false;
  setDepthwiseArgs(dx, dy, w, 0, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, accumulate);
  runJob(JOB_DEPTHWISE_INPUT, count, 0);
  return true;
}

function depthwiseInputTile(args: usize, tile: i32, count: i32): void {
  const B = arg(args, 4), H = arg(args, 5), W = arg(args, 6), C = arg(args, 7), M = arg(args, 8), OH = arg(args, 17), OW = arg(args, 18);
  const b0 = tileStart(tile, count, B), b1 = tileStart(tile + 1, count, B);
  depthwise_conv2d_backward_input(argp(args, 0) + (<usize>(b0 * H * W * C) << 2), argp(args, 1) + (<usize>(b0 * OH * OW * C * M) << 2), argp(args, 2),
    b1 - b0, H, W, C, M, arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
    arg(args, 15), arg(args, 16), OH, OW, arg(args, 19));
}

// Input channels a depthwise filter tile holds a multiple of.
// @ts-ignore: decorator
@inline function depthwiseChannelUnit(C: i32, M: i32): i32 {
  return C * M >= 32 ? max(1, 16 / M) : 1;
}

export function depthwise_filter_split(dw: usize, db: usize, x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, M: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32): bool {
  if (!canSplit() || dw == 0 || B <= 0 || OH <= 0 || OW <= 0) return false;
  const count = tilesFor(C / depthwiseChannelUnit(C, M), <f64>B * <f64>(OH * OW) * <f64>(C * M) * <f64>(KH * KW), TILE_MIN_WORK);
  if (count < 2) return false;
  setDepthwiseArgs(dw, x, dy, db, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, accumulate);
  runJob(JOB_DEPTHWISE_FILTER, count, 0);
  return true;
}

function depthwiseFilterTile(args: usize, tile: i32, count: i32): void {
  const B = arg(args, 4), C = arg(args, 7), M = arg(args, 8), OH = arg(args, 17), OW = arg(args, 18);
  const unit = depthwiseChannelUnit(C, M), units = C / unit;
  const c0 = tileStart(tile, count, units) * unit;
  const c1 = tile == count - 1 ? C : tileStart(tile + 1, count, units) * unit;
  const db = argp(args, 3);
  if (db) bias_backward_columns(db, argp(args, 2), B * OH * OW, C * M, c0 * M, c1 * M, arg(args, 19));
  depthwise_backward_filter_channels(argp(args, 0), argp(args, 1), argp(args, 2), B, arg(args, 5), arg(args, 6), C, M,
    arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16),
    OH, OW, arg(args, 19), c0, c1);
}

function setDepthwiseArgs(p: usize, q: usize, r: usize, s: usize, B: i32, H: i32, W: i32, C: i32, M: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32): void {
  setArgp(0, p); setArgp(1, q); setArgp(2, r); setArgp(3, s);
  setArg(4, B); setArg(5, H); setArg(6, W); setArg(7, C); setArg(8, M); setArg(9, KH); setArg(10, KW);
  setArg(11, SH); setArg(12, SW); setArg(13, DH); setArg(14, DW); setArg(15, PT); setArg(16, PL); setArg(17, OH); setArg(18, OW);
  setArg(19, accumulate);
}

// Batch norm in training by rows (norm.ts): the parts' sums as one job of whole parts, and the
// elementwise pass over rows 2 .. M-1 by ranges of 16 rows (64 bytes a channel: whole lines), so
// each thread reads and writes the rows the op before it wrote on the same thread. `which`: 0 the
// forward pass (out = y), 1 the backward (out = dx, with dy, mean, invstd and gamma).
export function bn_sums_split(out: usize, x: usize, M: i32, C: i32, which: i32, dy: usize, mean: usize, invstd: usize, gamma: usize): bool {
  if (!canSplit()) return false;
  const count = tilesFor(BN_PARTS, <f64>M * <f64>C, ELEMENT_TILE_MIN);
  if (count < 2) return false;
  setBnArgs(out, x, M, C, dy, mean, invstd, gamma);
  runJob(which ? JOB_BN_BACKWARD_SUMS : JOB_BN_FORWARD_SUMS, count, 0);
  return true;
}

function setBnArgs(out: usize, x: usize, M: i32, C: i32, dy: usize, mean: usize, invstd: usize, gamma: usize): void {
  setArgp(0, out); setArgp(1, x); setArg(2, M); setArg(3, C); setArgp(4, dy); setArgp(5, mean); setArgp(6, invstd); setArgp(7, gamma);
}

function bnSumsTile(args: usize, tile: i32, count: i32): void {
  const p1 = tileStart(tile + 1, count, BN_PARTS);
  for (let p = tileStart(tile, count, BN_PARTS); p < p1; p++) {
    batchnorm_part_sums(argp(args, 0), argp(args, 1), argp(args, 4), argp(args, 5), argp(args, 6), arg(args, 2), arg(args, 3), p);
  }
}

const BN_ROW_UNIT = 16;

export function bn_rows_split(out: usize, x: usize, M: i32, C: i32, which: i32, dy: usize, mean: usize, invstd: usize, gamma: usize): bool {
  if (!canSplit()) return false;
  const count = tilesFor(M / BN_ROW_UNIT, <f64>M * <f64>C, ELEMENT_TILE_MIN);
  if (count < 2) return false;
  setBnArgs(out, x, M, C, dy, mean, invstd, gamma);
  runJob(which ? JOB_BN_BACKWARD_ROWS : JOB_BN_FORWARD_ROWS, count, 0);
  return true;
}

function bnRowsTile(args: usize, tile: i32, count: i32): void {
  const M = arg(args, 2), units = M / BN_ROW_UNIT;
  const r0 = tile == 0 ? 2 : tileStart(tile, count, units) * BN_ROW_UNIT;
  const r1 = tile == count - 1 ? M : tileStart(tile + 1, count, units) * BN_ROW_UNIT;
  const dy = argp(args, 4);
  if (dy) batchnorm_backward_rows(argp(args, 0), dy, argp(args, 1), argp(args, 5), argp(args, 6), argp(args, 7), arg(args, 3), r0, r1);
  else batchnorm_forward_rows(argp(args, 0), argp(args, 1), arg(args, 3), r0, r1);
}
