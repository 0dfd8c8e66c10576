// The thread pool's wasm side (threads build only: --enable threads, shared imported memory;
// docs/threads.md). The interpreter stays the single driver of a step: a heavy op (GEMMs, packed,
// implicit-GEMM, Winograd and im2col convolutions, depthwise forward by output rows, the backward
// passes' im2col and col2im, batch norm, the optimizer update, activations; docs/threads.md lists
// each split) is cut into tiles that partition its OUTPUT, published in a control block, claimed by the
// workers (each another instance of this module on the same shared memory, parked in JavaScript's
// Atomics.wait between jobs), and joined by a barrier before the next op.
// No output element is computed by two threads and each one is computed by the same code in the
// same order whatever tile holds it, so any thread count gives the same bits.
//
// Control block at `ctl` (64-byte aligned, outside the plan, host/runtime/thread-pool.ts):
//   0  i64 claim: (generation << 32) | (back << 16) | front: tiles front .. back-1 are unclaimed
//      (front >= back: none, a closed job)
//   8  i32 wake: generation, what parked workers wait on
//   12 i32 done: tiles finished in this generation
//   16 i32 tiles in this generation
//   20 i32 epoch: the attachment; when the host moves it on, workers leave this memory
//   24 i32 workers attached
//   28 i32 job kind (JOB_*)
//   32 i32 per job kind 1..JOB_KINDS (at most 16): jobs split since the executor was made (tests)
//   96 i32 tiles run by workers since the executor was made (tests and inspect)
//   100 i32 per training kind TRAIN_KINDS_FROM.. (at most 7, threads-train.ts): jobs split, as at 32
//   128 i32 per job kind MORE_KINDS_FROM.. (at most 16): jobs split, as at 32
//   192 i32 per training kind TRAIN_KINDS_FROM + 7.. (at most 8: 40..47): jobs split, as at 32
//   224 job arguments (ARG_WORDS i32 or f32 words)
//   CTL_BYTES: worker w's GEMM packing scratch, SCRATCH_BYTES each
import { gemm_f32, GEMM_SCRATCH_FLOATS, MR, NC, NR } from './gemm';
import { gemm_f32_packed } from './gemm-packed';
import { col2im_channel_range, conv2d_chunk, im2colChannels } from './conv';
import { conv2d_igemm_f32 } from './conv-igemm';
import { batchnorm_backward_train_channels, batchnorm_forward_train_channels } from './norm';
import { depthwise_forward_rows } from './depthwise';
import { JOB_SEPCONV, JOB_SEPCONV_I8, JOB_SEPCONV_Q8, sepconvI8Tile, sepconvQ8Tile, sepconvTile } from './sepconv';
import { update_range } from './optim';
import { elementwiseTile } from './threads-elementwise';
import { trainTile } from './threads-train';
import { winogradTile } from './winograd';
import { takeSideWork } from './threads-side';
import { winogradI8Tile } from './winograd-i8';
import { broadcastTile, JOB_BROADCAST } from './broadcast';
import { convDirectTile, JOB_CONV_DIRECT } from './conv-direct';
import { gemmQ8Tile, JOB_GEMM_Q8 } from './gemm-q8';
import { convQ8Tile, JOB_CONV_Q8 } from './conv-q8';
import { expandDepthwiseTile, JOB_EXPAND_DEPTHWISE } from './expand-depthwise';

const CLAIM: usize = 0;
const WAKE: usize = 8;
const DONE: usize = 12;
const TILES: usize = 16;
const ATTACHED: usize = 24;
const KIND: usize = 28;
const WORKER_TILES: usize = 96;
const JOBS: usize = 32;
const MORE_JOBS: usize = 128;
const TRAIN_MORE_JOBS: usize = 192;
const ARGS: usize = 224;
const ARG_WORDS: i32 = 32;
const CTL_BYTES: usize = ARGS + (<usize>ARG_WORDS << 2);
const JOB_GEMM: i32 = 1;
const JOB_CONV_CHUNK: i32 = 2;
const JOB_BN_FORWARD_TRAIN: i32 = 3;
const JOB_BN_BACKWARD_TRAIN: i32 = 4;
const JOB_DEPTHWISE_FORWARD: i32 = 5;
const JOB_UPDATE: i32 = 6;
// ReLU and activations by element ranges (threads-elementwise.ts).
export const JOB_ELEMENTWISE: i32 = 7;
const JOB_GEMM_PACKED: i32 = 8;
const JOB_CONV_PACKED: i32 = 9;
const JOB_CONV_IGEMM: i32 = 10;
const JOB_IM2COL: i32 = 11;
const JOB_COL2IM: i32 = 12;
// A Winograd convolution by groups of tile blocks (winograd.ts winograd_split).
export const JOB_WINOGRAD: i32 = 13;
// The same on a frozen layer's int8 kernel (winograd-i8.ts winograd_i8_split).
export const JOB_WINOGRAD_I8: i32 = 14;
const JOB_KINDS: i32 = 16; // 15, 16: JOB_SEPCONV, JOB_SEPCONV_I8 (sepconv.ts)
// Kinds past the 16 counters at JOBS, their counters at MORE_JOBS: 17 JOB_BROADCAST (broadcast.ts),
// 18 JOB_CONV_DIRECT (conv-direct.ts), 19 JOB_GEMM_Q8 (gemm-q8.ts), 20 JOB_CONV_Q8 (conv-q8.ts).
const MORE_KINDS_FROM: i32 = 17;
// The training passes' kinds (threads-train.ts) from here on, their counters at TRAIN_JOBS (33-39)
// and TRAIN_MORE_JOBS (40-47; 44 and 45 are inference kinds, JOB_SEPCONV_Q8 (sepconv.ts) and
// JOB_EXPAND_DEPTHWISE (expand-depthwise.ts), run below).
export const TRAIN_KINDS_FROM: i32 = 33;
const TRAIN_JOBS: usize = 100;
// Below this many elements a tile of a memory-bound op (batch norm, optimizer) is not worth a
// wake-up (activations: threads-elementwise.ts).
export const ELEMENT_TILE_MIN: f64 = 32768;
// An im2col or col2im (a convolution's backward chunk: a few hundred positions) is a copy; split
// from this many floats a tile, it is mostly run beside the GEMMs around it rather than alone.
const COPY_TILE_MIN: f64 = 16384;
// Below this many multiply-adds a GEMM runs on the driver alone: waking a worker costs more.
export const GEMM_SPLIT_MIN: f64 = 262144;
// Tiles a job has at most per thread: the faster of two unequal cores takes more (docs/threads.md).
const TILES_PER_THREAD = 8;
export const TILE_MIN_WORK: f64 = 131072;
export const ROW_TILE_MIN = 32;
const COL_TILE_MIN = 16;
// Rows a tile of a packed GEMM holds at least (gemm_packed_split), and rows of positions each
// thread's im2col share of conv_packed_split unfolds at once at least.
const PACKED_ROWS_MIN = 8;
const PART_ROWS_MIN = 64;
const PACKED_SUB_MIN = 16;

// The driver's state (per instance: workers keep threads = 1, so their own GEMMs never split).
let ctlBlock: usize = 0;
let threads: i32 = 1;
let inTile: bool = false;

// Bytes the host reserves for the control block and `workers` workers' scratch.
export function threads_region_bytes(workers: i32): usize {
  return CTL_BYTES + ((<usize>workers * <usize>GEMM_SCRATCH_FLOATS) << 2);
}

// Makes this instance a driver splitting heavy ops `count` ways (1: never), with the control
// block at `ctl`.
export function threads_attach(ctl: usize, count: i32): void {
  if (ASC_FEATURE_THREADS) {
    ctlBlock = ctl;
    threads = count;
    // Generation 0 is closed (front 0 = back 0): a worker arriving before the first job finds
    // nothing to claim.
    if (count > 1) atomic.store<i64>(ctl + CLAIM, 0);
  }
}

// A worker's turn: claims and runs tiles of the open job until none is left. The worker's
// JavaScript loop (host/runtime/thread-pool.ts) parks in Atomics.wait between jobs: V8's baseline
// compiler (Liftoff, Node 20) lost a local across memory.atomic.wait32 in a wasm loop, so no wasm
// here waits.
export function threads_run(ctl: usize, worker: i32): void {
  if (ASC_FEATURE_THREADS) runTiles(ctl, ctl + CTL_BYTES + ((<usize>worker * <usize>GEMM_SCRATCH_FLOATS) << 2), worker + 1);
}

// Claims tiles of the current generation until none is left; the claim word carries the
// generation, so a claim can never land in a later job. `slot`: 0 the driver, w + 1 worker w
// (which share of a job's per-thread scratch it uses). The driver claims from the front of the
// tile list and the workers from the back: with two threads of equal speed the driver runs the
// first half of every op's output and the worker the second, so an op mostly reads what the
// same core wrote in the op before (its cache) rather than what the other core wrote; a thread
// that comes late or is descheduled still leaves its tiles to the other.
function runTiles(ctl: usize, scratch: usize, slot: i32): void {
  if (ASC_FEATURE_THREADS) {
    while (true) {
      const word = atomic.load<i64>(ctl + CLAIM);
      const front = <i32>(word & 0xffff), back = <i32>((word >> 16) & 0xffff);
      if (front >= back) return;
      const count = atomic.load<i32>(ctl + TILES);
      const tile = slot == 0 ? front : back - 1;
      if (atomic.cmpxchg<i64>(ctl + CLAIM, word, slot == 0 ? word + 1 : word - 0x10000) != word) continue;
      runTile(ctl, tile, count, scratch, slot);
      if (slot > 0) atomic.add<i32>(ctl + WORKER_TILES, 1);
      // Nobody waits on DONE (the driver spins on it): no notify.
      atomic.add<i32>(ctl + DONE, 1);
    }
  }
}

function runTile(ctl: usize, tile: i32, count: i32, scratch: usize, slot: i32): void {
  const args = ctl + ARGS;
  switch (load<i32>(ctl + KIND)) {
    case JOB_GEMM: gemmTile(args, tile, count, scratch); break;
    case JOB_CONV_CHUNK: convChunkTile(args, tile, count, scratch); break;
    case JOB_BN_FORWARD_TRAIN: bnForwardTile(args, tile, count); break;
    case JOB_BN_BACKWARD_TRAIN: bnBackwardTile(args, tile, count); break;
    case JOB_DEPTHWISE_FORWARD: depthwiseTile(args, tile, count); break;
    case JOB_UPDATE: updateTile(args, tile, count); break;
    case JOB_ELEMENTWISE: elementwiseTile(args, tile, count); break;
    case JOB_GEMM_PACKED: gemmPackedTile(args, tile, count, scratch); break;
    case JOB_CONV_PACKED: convPackedTile(args, tile, count, scratch, slot); break;
    case JOB_CONV_IGEMM: convIgemmTile(args, tile, count, scratch); break;
    case JOB_IM2COL: im2colTile(args, tile, count); break;
    case JOB_COL2IM: col2imTile(args, tile, count); break;
    case JOB_WINOGRAD: winogradTile(args, tile, count, slot); break;
    case JOB_WINOGRAD_I8: winogradI8Tile(args, tile, count, slot); break;
    case JOB_SEPCONV: sepconvTile(args, tile, count, scratch); break;
    case JOB_SEPCONV_I8: sepconvI8Tile(args, tile, count, scratch); break;
    case JOB_BROADCAST: broadcastTile(args, tile, count); break;
    case JOB_CONV_DIRECT: convDirectTile(args, tile, count); break;
    case JOB_GEMM_Q8: gemmQ8Tile(args, tile, count, scratch); break;
    case JOB_CONV_Q8: convQ8Tile(args, tile, count, scratch); break;
    case JOB_SEPCONV_Q8: sepconvQ8Tile(args, tile, count, scratch); break;
    case JOB_EXPAND_DEPTHWISE: expandDepthwiseTile(args, tile, count, scratch, slot); break;
    default: trainTile(load<i32>(ctl + KIND), args, tile, count, scratch, slot);
  }
}

// The thread count this instance splits its ops for (1: it does not).
export function splitThreads(): i32 {
  return threads;
}

// Whether this instance may publish a job now: a driver with workers, not already inside a tile.
// @ts-ignore: decorator
@inline export function canSplit(): bool {
  return ASC_FEATURE_THREADS && threads > 1 && !inTile;
}

// Tiles for `units` units of an op whose whole work is `work` and whose tiles must each be at
// least `tileMin` of it: up to TILES_PER_THREAD a thread; fewer than 2 means run it whole. More
// tiles than threads come in a multiple of the threads: 3 equal tiles on 2 threads leave one
// thread 2 of them while the other waits (at best 1.5x), 2 tiles make 2x; the same bits either
// way, as tiles partition the output.
export function tilesFor(units: i32, work: f64, tileMin: f64): i32 {
  const count = min(min(threads * TILES_PER_THREAD, units), <i32>min(work / tileMin, <f64>0x7fffffff));
  return count > threads ? count - count % threads : count;
}

// The first unit of tile `tile` of `count` over `units` units (the last tile ends at `units`).
// @ts-ignore: decorator
@inline export function tileStart(tile: i32, count: i32, units: i32): i32 {
  return <i32>(<i64>tile * <i64>units / <i64>count);
}

// @ts-ignore: decorator
@inline export function arg(args: usize, i: i32): i32 {
  return load<i32>(args + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline export function argp(args: usize, i: i32): usize {
  return <usize>load<u32>(args + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline export function argf(args: usize, i: i32): f32 {
  return load<f32>(args + (<usize>i << 2));
}
// @ts-ignore: decorator
@inline export function setArg(i: i32, v: i32): void {
  store<i32>(ctlBlock + ARGS + (<usize>i << 2), v);
}
// @ts-ignore: decorator
@inline export function setArgp(i: i32, v: usize): void {
  store<u32>(ctlBlock + ARGS + (<usize>i << 2), <u32>v);
}
// @ts-ignore: decorator
@inline export function setArgf(i: i32, v: f32): void {
  store<f32>(ctlBlock + ARGS + (<usize>i << 2), v);
}

// Publishes a job of `count` tiles (arguments already written), runs tiles itself, waits for all.
export function runJob(kind: i32, count: i32, scratch: usize): void {
  if (ASC_FEATURE_THREADS) {
    const ctl = ctlBlock;
    store<i32>(ctl + KIND, kind);
    const counter = kind >= TRAIN_KINDS_FROM + 7 ? ctl + TRAIN_MORE_JOBS + (<usize>(kind - TRAIN_KINDS_FROM - 7) << 2)
      : kind >= TRAIN_KINDS_FROM ? ctl + TRAIN_JOBS + (<usize>(kind - TRAIN_KINDS_FROM) << 2)
      : kind >= MORE_KINDS_FROM ? ctl + MORE_JOBS + (<usize>(kind - MORE_KINDS_FROM) << 2) : ctl + JOBS + (<usize>(kind - 1) << 2);
    store<i32>(counter, load<i32>(counter) + 1);
    atomic.store<i32>(ctl + DONE, 0);
    atomic.store<i32>(ctl + TILES, count);
    const generation = atomic.load<i32>(ctl + WAKE) + 1;
    atomic.store<i64>(ctl + CLAIM, (<i64>generation << 32) | (<i64>count << 16));
    atomic.store<i32>(ctl + WAKE, generation);
    if (atomic.load<i32>(ctl + ATTACHED) > 0) atomic.notify(ctl + WAKE, count - 1);
    takeSideWork();
    inTile = true;
    runTiles(ctl, scratch, 0);
    inTile = false;
    // Spin until every tile is done (a browser's main thread may not block; the other tiles are
    // already running).
    while (atomic.load<i32>(ctl + DONE) < count) {}
    // Close the generation: a worker still looping over claims finds nothing to take.
    atomic.store<i64>(ctl + CLAIM, <i64>generation << 32);
  }
}

// GEMM split into output tiles. First choice: column blocks of NC, gemm_f32's own blocks, so
// every operand is packed as often as in the whole call (a tile packs its block's b slices once
// and a once, as the whole call does per block). With fewer blocks than threads: rows in MR
// multiples (at least ROW_TILE_MIN a tile; each tile packs all of b again) when b is the smaller
// operand, else columns in NR multiples (at least COL_TILE_MIN; each tile packs a again). Each
// tile keeps the path of the whole call (gemm_f32_rows below MR rows). Up to TILES_PER_THREAD
// tiles a thread, none under TILE_MIN_WORK multiply-adds: more tiles than threads let whoever is
// free take the rest, so a worker woken late or descheduled mid-op costs one small tile, not half
// the op. Returns false (run it whole) when too small to be worth a wake-up.
export function gemm_split(c: usize, a: usize, b: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, csb: i32, ldc: i32, accumulate: i32, pack: usize): bool {
  if (!canSplit()) return false;
  const work = <f64>m * <f64>n * <f64>k;
  if (m <= 0 || n <= 0 || k <= 0 || work < GEMM_SPLIT_MIN) return false;
  let width = NC;
  let count = tilesFor((n + NC - 1) / NC, work, TILE_MIN_WORK);
  if (count < threads) {
    width = m >= n ? 0 : NR;
    count = width == 0 ? tilesFor(m / ROW_TILE_MIN, work, TILE_MIN_WORK) : tilesFor(n / COL_TILE_MIN, work, TILE_MIN_WORK);
    if (count < 2) return false;
  }
  setArgp(0, c); setArgp(1, a); setArgp(2, b);
  setArg(3, m); setArg(4, n); setArg(5, k);
  setArg(6, rsa); setArg(7, csa); setArg(8, rsb); setArg(9, csb);
  setArg(10, ldc); setArg(11, accumulate); setArg(12, width);
  runJob(JOB_GEMM, count, pack);
  return true;
}

function gemmTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const c = argp(args, 0), a = argp(args, 1), b = argp(args, 2);
  const m = arg(args, 3), n = arg(args, 4), k = arg(args, 5);
  const rsa = arg(args, 6), csa = arg(args, 7), rsb = arg(args, 8), csb = arg(args, 9);
  const ldc = arg(args, 10), accumulate = arg(args, 11), width = arg(args, 12);
  if (width == 0) {
    const units = m / MR;
    const i0 = tileStart(tile, count, units) * MR;
    const i1 = tile == count - 1 ? m : tileStart(tile + 1, count, units) * MR;
    gemm_f32(c + (<usize>(i0 * ldc) << 2), a + (<usize>(i0 * rsa) << 2), b, i1 - i0, n, k, rsa, csa, rsb, csb, ldc, accumulate, pack);
  } else {
    const units = (n + width - 1) / width;
    const j0 = tileStart(tile, count, units) * width;
    const j1 = min(n, tileStart(tile + 1, count, units) * width);
    if (j1 > j0) gemm_f32(c + (<usize>j0 << 2), a, b + (<usize>(j0 * csb) << 2), m, j1 - j0, k, rsa, csa, rsb, csb, ldc, accumulate, pack);
  }
}

// gemm_f32_packed (B packed once) split by column blocks of NC when every thread can take two,
// else by bands of rows in MR multiples (at least PACKED_ROWS_MIN rows a tile), else, for a call
// with too few rows (a convolution's chunk of a few positions over a deep K; a batch-1 classifier,
// fewer rows than MR, bound by reading its weights once), by column blocks: the packed panels of
// block jc start at bp + 4*k*jc, so a tile is the same call on a narrower c, bias and bp. Up to
// TILES_PER_THREAD tiles a thread, none under TILE_MIN_WORK; false (run it whole) when too small.
// Column tiles fewer than that are cut in `parts` bands of rows (PART_ROWS_MIN at least), a block's
// bands adjacent in tile order (docs/threads.md: GEMM-1024 and the driver's side work).
export function gemm_packed_split(c: usize, a: usize, bp: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, ldc: i32, accumulate: i32, lo: f32, hi: f32, pack: usize): bool {
  if (!canSplit()) return false;
  const work = <f64>m * <f64>n * <f64>k;
  if (work < GEMM_SPLIT_MIN) return false;
  // Column blocks when there are enough for every thread to take two: each tile then sweeps all
  // rows past one block's panels, which stay in its core's cache (GEMM-1024: 8 blocks). Also when
  // every thread gets the same number of whole blocks and the packed weights are the larger
  // operand (more columns than rows): each thread then reads its share of them rather than all,
  // and no thread waits on an extra band of rows (resnet18's 3x3 convolutions over 256 channels
  // at batch 1: chunks of 28 positions, 7 row units of MR, split 3 and 4 on 2 threads).
  // But by rows when there are more rows than the depth k (and more columns than rows): the
  // weights each thread then reads whole (k x n) weigh less than the output rows (m x n) that
  // a split by columns would leave half in the other core's cache for the next op, which splits
  // by rows or positions (mobilenet_v2's 14x14 expansions, 196 x 576 over k = 96: the depthwise
  // after them ran no faster on 2 threads than on 1, reading the other core's channels). Alternated
  // in one process, on 2 threads at batch 1: mobilenet_v2 8.52 -> 8.38 ms, efficientnet_b0 20.1 ->
  // 19.9, mobilenet_v3_small 3.22 -> 3.19, the others within 0.5%. With fewer rows than k (the
  // 7x7 expansions, 49 x 960 over k = 160), by columns stays faster.
  const blocks = tilesFor((n + NC - 1) / NC, work, TILE_MIN_WORK);
  const evenBlocks = n % NC == 0 && blocks == n / NC && blocks % threads == 0 && n > m;
  let byRows = (blocks >= 2 * threads || evenBlocks) && !(n > m && m > k) ? 0 : 1;
  let count = byRows ? tilesFor(m / PACKED_ROWS_MIN, work, TILE_MIN_WORK) : blocks;
  if (count < 2) {
    byRows = 0;
    count = blocks;
    if (count < 2) return false;
  }
  setArgp(0, c); setArgp(1, a); setArgp(2, bp); setArgp(3, bias);
  setArg(4, m); setArg(5, n); setArg(6, k); setArg(7, rsa); setArg(8, csa); setArg(9, ldc); setArg(10, accumulate);
  const parts = byRows ? 1 : max(1, min(threads * TILES_PER_THREAD / count, min(m / PART_ROWS_MIN, <i32>(work / count / TILE_MIN_WORK))));
  setArgf(11, lo); setArgf(12, hi); setArg(13, byRows); setArg(14, count); setArg(15, parts);
  runJob(JOB_GEMM_PACKED, count * parts, pack);
  return true;
}

function gemmPackedTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const c = argp(args, 0), a = argp(args, 1), bp = argp(args, 2), bias = argp(args, 3);
  const m = arg(args, 4), n = arg(args, 5), k = arg(args, 6);
  const rsa = arg(args, 7), csa = arg(args, 8), ldc = arg(args, 9), accumulate = arg(args, 10);
  const lo = argf(args, 11), hi = argf(args, 12);
  if (arg(args, 13)) {
    const units = m / MR;
    const i0 = tileStart(tile, count, units) * MR;
    const i1 = tile == count - 1 ? m : tileStart(tile + 1, count, units) * MR;
    gemm_f32_packed(c + (<usize>(i0 * ldc) << 2), a + (<usize>(i0 * rsa) << 2), bp, bias, i1 - i0, n, k, rsa, csa, ldc, accumulate, lo, hi, pack);
  } else {
    const units = (n + NC - 1) / NC, blocks = arg(args, 14), parts = arg(args, 15), part = tile % parts;
    const j0 = tileStart(tile / parts, blocks, units) * NC;
    const j1 = min(n, tileStart(tile / parts + 1, blocks, units) * NC);
    const i0 = tileStart(part, parts, m / MR) * MR, i1 = part == parts - 1 ? m : tileStart(part + 1, parts, m / MR) * MR;
    const col = <usize>j0 << 2;
    gemm_f32_packed(c + col + (<usize>(i0 * ldc) << 2), a + (<usize>(i0 * rsa) << 2), bp + <usize>k * col, offset(bias, col), i1 - i0, j1 - j0, k, rsa, csa, ldc, accumulate, lo, hi, pack);
  }
}

// conv2d_forward_packed (not pointwise) split over its N output positions, one job for the whole
// layer: each thread unfolds its tiles' positions into its own 1/threads share of `cols`
// (chunkRows / threads rows, by the slot it runs in), a few at a time, and runs gemm_f32_packed
// on them. A sub-chunk never has fewer than MR rows unless the call has, so every row takes the
// 4-row microkernel it takes in the whole call (and the 1-row one otherwise: the same bits).
// False (per-chunk GEMMs, gemm_packed_split) when a thread's share is under PACKED_SUB_MIN rows.
export function conv_packed_split(y: usize, x: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, lo: f32, hi: f32, pack: usize): bool {
  if (!canSplit()) return false;
  const N = B * OH * OW;
  const K = KH * KW * C;
  const sub = ((chunkRows / threads - (MR - 1)) / MR) * MR;
  if (sub < PACKED_SUB_MIN) return false;
  const work = <f64>N * <f64>K * <f64>F;
  if (work < GEMM_SPLIT_MIN) return false;
  const count = tilesFor(N / ROW_TILE_MIN, work, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, wp); setArgp(3, b);
  setArg(4, B); setArg(5, H); setArg(6, W); setArg(7, C); setArg(8, F); setArg(9, KH); setArg(10, KW);
  setArg(11, SH); setArg(12, SW); setArg(13, DH); setArg(14, DW); setArg(15, PT); setArg(16, PL); setArg(17, OH); setArg(18, OW);
  setArgp(19, cols); setArgf(20, lo); setArgf(21, hi); setArg(22, sub);
  runJob(JOB_CONV_PACKED, count, pack);
  return true;
}

function convPackedTile(args: usize, tile: i32, count: i32, pack: usize, slot: i32): void {
  const B = arg(args, 4), C = arg(args, 7), F = arg(args, 8), KH = arg(args, 9), KW = arg(args, 10);
  const OH = arg(args, 17), OW = arg(args, 18), sub = arg(args, 22);
  const N = B * OH * OW, K = KH * KW * C;
  const units = N / MR;
  const s0 = tileStart(tile, count, units) * MR;
  const s1 = tile == count - 1 ? N : tileStart(tile + 1, count, units) * MR;
  // This thread's share of cols: sub + MR - 1 rows at most.
  const cols = argp(args, 19) + <usize>slot * <usize>(sub + MR - 1) * (<usize>K << 2);
  const y = argp(args, 0), wp = argp(args, 2), b = argp(args, 3), lo = argf(args, 20), hi = argf(args, 21);
  for (let r = s0; r < s1; ) {
    let rows = min(sub, s1 - r);
    if (s1 - r - rows < MR) rows = s1 - r;
    im2colChannels(cols, argp(args, 1), B, arg(args, 5), arg(args, 6), C, 0, C, KH, KW, arg(args, 11), arg(args, 12),
      arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16), OH, OW, r, rows);
    gemm_f32_packed(y + (<usize>r * <usize>F << 2), cols, wp, b, rows, F, K, K, 1, F, 0, lo, hi, pack);
    r += rows;
  }
}

// The implicit-GEMM convolution (conv-igemm.ts) split by whole images: a tile is the same call on
// its images' slices of x and y (each output position's sums do not depend on its row block).
// False (the chunked path, conv_chunk_split) for fewer images than tiles worth a wake-up.
export function conv_igemm_split(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, relu: i32, pack: usize): bool {
  if (!canSplit() || OH * OW < MR) return false;
  const work = <f64>B * <f64>(OH * OW) * <f64>(KH * KW * C) * <f64>F;
  if (work < GEMM_SPLIT_MIN) return false;
  const count = tilesFor(B, work, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, w); setArgp(3, b);
  setArg(4, B); setArg(5, H); setArg(6, W); setArg(7, C); setArg(8, F); setArg(9, KH); setArg(10, KW);
  setArg(11, SH); setArg(12, SW); setArg(13, DH); setArg(14, DW); setArg(15, PT); setArg(16, PL); setArg(17, OH); setArg(18, OW);
  setArg(19, relu);
  runJob(JOB_CONV_IGEMM, count, pack);
  return true;
}

function convIgemmTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const B = arg(args, 4), H = arg(args, 5), W = arg(args, 6), C = arg(args, 7), F = arg(args, 8);
  const OH = arg(args, 17), OW = arg(args, 18);
  const b0 = tileStart(tile, count, B), b1 = tileStart(tile + 1, count, B);
  conv2d_igemm_f32(argp(args, 0) + (<usize>(b0 * OH * OW) * <usize>F << 2), argp(args, 1) + (<usize>(b0 * H * W) * <usize>C << 2),
    argp(args, 2), argp(args, 3), b1 - b0, H, W, C, F, arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12),
    arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16), OH, OW, arg(args, 19), pack);
}

// A convolution's chunk of output positions r0 .. r0+rows-1 (conv2d_chunk: bias, im2col, GEMM,
// ReLU, 2x2 pooling) split into tiles of whole positions: each tile unfolds its own rows into its
// part of `cols` and runs its rows of the GEMM, so the im2col and the epilogue are split too and
// the chunk has one barrier. Tiles hold multiples of `unit` rows (MR, or two output rows when
// pooling) and at least ROW_TILE_MIN. Arguments as conv2d_chunk's, without pack.
export function conv_chunk_split(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, G: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, cols: usize, relu: i32, pool: i32, chunkOut: usize, accumulate: i32,
  r0: i32, rows: i32, pack: usize): bool {
  if (!canSplit()) return false;
  const unit = pool ? 2 * OW : MR;
  const work = <f64>rows * <f64>(KH * KW * C) * <f64>(F / G);
  if (work < GEMM_SPLIT_MIN) return false;
  const count = tilesFor(rows / max(unit, ROW_TILE_MIN), work, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, w); setArgp(3, b);
  setArg(4, B); setArg(5, H); setArg(6, W); setArg(7, C); setArg(8, F); setArg(9, G);
  setArg(10, KH); setArg(11, KW); setArg(12, SH); setArg(13, SW); setArg(14, DH); setArg(15, DW);
  setArg(16, PT); setArg(17, PL); setArg(18, OH); setArg(19, OW);
  setArgp(20, cols); setArg(21, relu); setArg(22, pool); setArgp(23, chunkOut); setArg(24, accumulate);
  setArg(25, r0); setArg(26, rows); setArg(27, unit);
  runJob(JOB_CONV_CHUNK, count, pack);
  return true;
}

function convChunkTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const rows = arg(args, 26), unit = arg(args, 27);
  const units = rows / unit;
  const s0 = tileStart(tile, count, units) * unit;
  const s1 = tile == count - 1 ? rows : tileStart(tile + 1, count, units) * unit;
  const C = arg(args, 7), F = arg(args, 8), G = arg(args, 9), KH = arg(args, 10), KW = arg(args, 11);
  const colsRow = <usize>(KH * KW * (C / G)) << 2;
  conv2d_chunk(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3),
    arg(args, 4), arg(args, 5), arg(args, 6), C, F, G, KH, KW, arg(args, 12), arg(args, 13), arg(args, 14), arg(args, 15),
    arg(args, 16), arg(args, 17), arg(args, 18), arg(args, 19),
    argp(args, 20) + <usize>s0 * colsRow, pack, arg(args, 21), arg(args, 22), argp(args, 23) + (<usize>s0 * <usize>F << 2), arg(args, 24),
    arg(args, 25) + s0, s1 - s0, 0);
}

// Batch-norm training passes (assembly/kernels/norm.ts) split into blocks of channels: each
// channel's statistics, sums and outputs are computed whole by one tile, in the kernel's order.
// Blocks of 16 channels (64 bytes of a row) when there are two, else of 4: two threads writing
// parts of one cache line of each row would pass it back and forth all the way down the rows.
// @ts-ignore: decorator
@inline function bnChannelBlock(C: i32): i32 {
  return C >= 32 ? 16 : 4;
}

export function bn_forward_train_split(y: usize, mean: usize, invstd: usize, newMean: usize, newVar: usize,
  x: usize, gamma: usize, beta: usize, movingMean: usize, movingVar: usize, M: i32, C: i32, momentum: f32, epsilon: f32): bool {
  if (!canSplit() || M <= 0 || C <= 0) return false;
  const block = bnChannelBlock(C);
  const count = tilesFor((C + block - 1) / block, <f64>M * <f64>C, ELEMENT_TILE_MIN);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, mean); setArgp(2, invstd); setArgp(3, newMean); setArgp(4, newVar);
  setArgp(5, x); setArgp(6, gamma); setArgp(7, beta); setArgp(8, movingMean); setArgp(9, movingVar);
  setArg(10, M); setArg(11, C); setArgf(12, momentum); setArgf(13, epsilon);
  runJob(JOB_BN_FORWARD_TRAIN, count, 0);
  return true;
}

function bnForwardTile(args: usize, tile: i32, count: i32): void {
  const C = arg(args, 11);
  const block = bnChannelBlock(C);
  const units = (C + block - 1) / block;
  batchnorm_forward_train_channels(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4),
    argp(args, 5), argp(args, 6), argp(args, 7), argp(args, 8), argp(args, 9), arg(args, 10), C, argf(args, 12), argf(args, 13),
    tileStart(tile, count, units) * block, min(C, tileStart(tile + 1, count, units) * block));
}

export function bn_backward_train_split(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invstd: usize,
  gamma: usize, M: i32, C: i32, accumulate: i32, accumulateParams: i32): bool {
  if (!canSplit() || M <= 0 || C <= 0) return false;
  const block = bnChannelBlock(C);
  const count = tilesFor((C + block - 1) / block, <f64>M * <f64>C, ELEMENT_TILE_MIN);
  if (count < 2) return false;
  setArgp(0, dx); setArgp(1, dgamma); setArgp(2, dbeta); setArgp(3, dy); setArgp(4, x); setArgp(5, mean); setArgp(6, invstd);
  setArgp(7, gamma); setArg(8, M); setArg(9, C); setArg(10, accumulate); setArg(11, accumulateParams);
  runJob(JOB_BN_BACKWARD_TRAIN, count, 0);
  return true;
}

function bnBackwardTile(args: usize, tile: i32, count: i32): void {
  const C = arg(args, 9);
  const block = bnChannelBlock(C);
  const units = (C + block - 1) / block;
  batchnorm_backward_train_channels(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4), argp(args, 5), argp(args, 6),
    argp(args, 7), arg(args, 8), C, arg(args, 10), arg(args, 11),
    tileStart(tile, count, units) * block, min(C, tileStart(tile + 1, count, units) * block));
}

// Depthwise forward (depthwise.ts) by output rows (b, oh), each pixel computed whole by one tile;
// tiles of a quarter of TILE_MIN_WORK taps: mobile networks' 7x7 and 14x14 layers made 2-4 at it.
const DEPTHWISE_TILE_MIN: f64 = TILE_MIN_WORK / 4;
export function depthwise_forward_split(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32): bool {
  if (!canSplit() || B <= 0 || OH <= 0 || OW <= 0) return false;
  const count = tilesFor(B * OH, <f64>B * <f64>(OH * OW) * <f64>(C * M) * <f64>(KH * KW), DEPTHWISE_TILE_MIN);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, w); setArgp(3, b);
  setArg(4, B); setArg(5, H); setArg(6, W); setArg(7, C); setArg(8, M); setArg(9, KH); setArg(10, KW);
  setArg(11, SH); setArg(12, SW); setArg(13, DH); setArg(14, DW); setArg(15, PT); setArg(16, PL); setArg(17, OH); setArg(18, OW);
  setArgf(19, lo); setArgf(20, hi);
  runJob(JOB_DEPTHWISE_FORWARD, count, 0);
  return true;
}

function depthwiseTile(args: usize, tile: i32, count: i32): void {
  const units = arg(args, 4) * arg(args, 17);
  depthwise_forward_rows(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3),
    arg(args, 4), arg(args, 5), arg(args, 6), arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10),
    arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18),
    argf(args, 19), argf(args, 20), tileStart(tile, count, units), tileStart(tile + 1, count, units));
}

// An optimizer update (assembly/kernels/optim.ts) split into ranges of the slab, in multiples of 4
// elements: every element takes the vector or scalar path it takes in the whole call. An element
// is counted as two of ELEMENT_TILE_MIN's (Adam reads its weight, gradient and two slots and writes
// three: 0.62 ns an element here against ReLU's 0.2), so the bench CNN's 50K-parameter update
// runs as two tiles: whole on the driver, it read the gradients the worker had just written from
// the other core's cache, 0.129 ms on 2 threads against 0.031 on one; split, 0.027.
export function update_split(scalars: usize, kind: i32, w: usize, g: usize, s1: usize, s2: usize, s3: usize, n: i32,
  lr: f32, mu: f32, t: i32, cmul: f32, cdiv: f32, lo: f32, hi: f32, wd: f32, h1: f32, h2: f32, flags: i32): bool {
  if (!canSplit() || n <= 0) return false;
  const count = tilesFor(n >> 2, <f64>n * 2, ELEMENT_TILE_MIN);
  if (count < 2) return false;
  setArgp(0, scalars); setArg(1, kind); setArgp(2, w); setArgp(3, g); setArgp(4, s1); setArgp(5, s2); setArgp(6, s3);
  setArg(7, n); setArgf(8, lr); setArgf(9, mu); setArg(10, t); setArgf(11, cmul); setArgf(12, cdiv);
  setArgf(13, lo); setArgf(14, hi); setArgf(15, wd); setArgf(16, h1); setArgf(17, h2); setArg(18, flags);
  runJob(JOB_UPDATE, count, 0);
  return true;
}

function updateTile(args: usize, tile: i32, count: i32): void {
  const n = arg(args, 7);
  const units = n >> 2;
  const i0 = tileStart(tile, count, units) * 4;
  const i1 = tile == count - 1 ? n : tileStart(tile + 1, count, units) * 4;
  const at = <usize>i0 << 2;
  update_range(argp(args, 0), arg(args, 1), argp(args, 2) + at, argp(args, 3) + at, offset(argp(args, 4), at), offset(argp(args, 5), at), offset(argp(args, 6), at),
    i1 - i0, argf(args, 8), argf(args, 9), arg(args, 10), argf(args, 11), argf(args, 12), argf(args, 13), argf(args, 14),
    argf(args, 15), argf(args, 16), argf(args, 17), arg(args, 18));
}

// @ts-ignore: decorator
@inline export function offset(p: usize, at: usize): usize {
  return p ? p + at : 0;
}

// An im2col (conv.ts im2colChannels: the backward passes' chunks, the chunks a split GEMM
// follows) split by rows of cols: a copy, so any split gives the same bits.
export function im2col_split(cols: usize, x: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, row0: i32, rows: i32): bool {
  if (!canSplit() || rows <= 0) return false;
  const count = tilesFor(rows, <f64>rows * <f64>(KH * KW * Cg), COPY_TILE_MIN);
  if (count < 2) return false;
  setGeometry(cols, x, B, H, W, C, c0, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows);
  runJob(JOB_IM2COL, count, 0);
  return true;
}

function im2colTile(args: usize, tile: i32, count: i32): void {
  const rows = arg(args, 19), Cg = arg(args, 7), KH = arg(args, 8), KW = arg(args, 9);
  const r0 = tileStart(tile, count, rows), r1 = tileStart(tile + 1, count, rows);
  im2colChannels(argp(args, 0) + <usize>r0 * (<usize>(KH * KW * Cg) << 2), argp(args, 1), arg(args, 2), arg(args, 3), arg(args, 4), arg(args, 5),
    arg(args, 6), Cg, KH, KW, arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14), arg(args, 15),
    arg(args, 16), arg(args, 17), arg(args, 18) + r0, r1 - r0);
}

// A col2im (conv.ts, the input gradient's scatter-add) split by channels in multiples of 4:
// positions' patches overlap in dx, channels never do, and each dx element gets its additions in
// the order of the whole call.
export function col2im_split(dx: usize, cols: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, row0: i32, rows: i32): bool {
  if (!canSplit() || rows <= 0) return false;
  const count = tilesFor(Cg >> 2, <f64>rows * <f64>(KH * KW * Cg), COPY_TILE_MIN);
  if (count < 2) return false;
  setGeometry(dx, cols, B, H, W, C, c0, Cg, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, row0, rows);
  runJob(JOB_COL2IM, count, 0);
  return true;
}

function col2imTile(args: usize, tile: i32, count: i32): void {
  const Cg = arg(args, 7);
  const units = Cg >> 2;
  const j0 = tileStart(tile, count, units) * 4;
  const j1 = tile == count - 1 ? Cg : tileStart(tile + 1, count, units) * 4;
  col2im_channel_range(argp(args, 0), argp(args, 1), arg(args, 2), arg(args, 3), arg(args, 4), arg(args, 5),
    arg(args, 6), Cg, j0, j1, arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13),
    arg(args, 14), arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), arg(args, 19));
}

// The arguments im2col and col2im share: two pointers, then the geometry of im2colChannels.
function setGeometry(p: usize, q: usize, B: i32, H: i32, W: i32, C: i32, c0: i32, Cg: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32, row0: i32, rows: i32): void {
  setArgp(0, p); setArgp(1, q); setArg(2, B); setArg(3, H); setArg(4, W); setArg(5, C); setArg(6, c0); setArg(7, Cg);
  setArg(8, KH); setArg(9, KW); setArg(10, SH); setArg(11, SW); setArg(12, DH); setArg(13, DW); setArg(14, PT); setArg(15, PL);
  setArg(16, OH); setArg(17, OW); setArg(18, row0); setArg(19, rows);
}
