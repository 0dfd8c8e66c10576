// The thread pool's wasm side (threads build only: --enable threads, shared imported memory;
// docs/threads.md). The interpreter stays the single driver of a step: a heavy op (today GEMM,
// and with it every conv GEMM) is cut into tiles that partition its OUTPUT, published in a control
// block, claimed by the driver and by the workers (each another instance of this module on the
// same shared memory, parked in memory.atomic.wait32), and joined by a barrier before the next op.
// No output element is computed by two threads and each one is computed by the same code in the
// same order whatever tile holds it, so any thread count gives the same bits.
//
// Control block at `ctl` (64-byte aligned, outside the plan, host/runtime/thread-pool.ts):
//   0  i64 claim: (generation << 32) | next tile; a closed job has tile CLOSED
//   8  i32 wake: generation, what parked workers wait on
//   12 i32 done: tiles finished in this generation
//   16 i32 tiles in this generation
//   20 i32 epoch: the attachment; when the host moves it on, workers leave this memory
//   24 i32 workers attached
//   28 i32 job kind (JOB_GEMM)
//   32 job arguments (i32 words)
//   96 i32 tiles run by workers since the executor was made (tests and inspect)
//   CTL_BYTES: worker w's GEMM packing scratch, SCRATCH_BYTES each
import { gemm_f32, GEMM_SCRATCH_FLOATS } from './gemm';
import { gemm_f32_packed } from './gemm-packed';

const CLAIM: usize = 0;
const WAKE: usize = 8;
const DONE: usize = 12;
const TILES: usize = 16;
const ATTACHED: usize = 24;
const KIND: usize = 28;
const ARGS: usize = 32;
const WORKER_TILES: usize = 96;
const CTL_BYTES: usize = 128;
const CLOSED: i64 = 0x7fffffff;
const JOB_GEMM: i32 = 1;
const JOB_GEMM_PACKED: i32 = 2;
// Below this many multiply-adds a GEMM runs on the driver alone: waking a worker costs more.
const GEMM_SPLIT_MIN: f64 = 262144;
const MR = 4;
const NR = 8;

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
    // Generation 0 is closed: a worker arriving before the first job must find nothing to claim
    // (a zeroed claim word would read as tile 0 of an open job).
    if (count > 1) atomic.store<i64>(ctl + CLAIM, CLOSED);
  }
}

// A worker's turn: claims and runs tiles of the open job until none is left. The worker's
// JavaScript loop (host/runtime/thread-pool.ts) parks in Atomics.wait between jobs: V8's baseline
// compiler (Liftoff, Node 20) lost a local across memory.atomic.wait32 in a wasm loop, so no wasm
// here waits.
export function threads_run(ctl: usize, worker: i32): void {
  if (ASC_FEATURE_THREADS) runTiles(ctl, ctl + CTL_BYTES + ((<usize>worker * <usize>GEMM_SCRATCH_FLOATS) << 2), true);
}

// Claims tiles of the current generation until none is left; the claim word carries the
// generation, so a claim can never land in a later job.
function runTiles(ctl: usize, scratch: usize, worker: bool): void {
  if (ASC_FEATURE_THREADS) {
    while (true) {
      const word = atomic.load<i64>(ctl + CLAIM);
      const tile = <i32>(word & 0xffffffff);
      if (<i64>tile >= CLOSED) return;
      const count = atomic.load<i32>(ctl + TILES);
      if (tile >= count) return;
      if (atomic.cmpxchg<i64>(ctl + CLAIM, word, word + 1) != word) continue;
      runTile(ctl, tile, count, scratch);
      if (worker) atomic.add<i32>(ctl + WORKER_TILES, 1);
      atomic.add<i32>(ctl + DONE, 1);
      atomic.notify(ctl + DONE, 1);
    }
  }
}

function runTile(ctl: usize, tile: i32, count: i32, scratch: usize): void {
  const kind = load<i32>(ctl + KIND);
  if (kind == JOB_GEMM) gemmTile(ctl + ARGS, tile, count, scratch);
  else if (kind == JOB_GEMM_PACKED) gemmPackedTile(ctl + ARGS, tile, count, scratch);
}

// Publishes a job of `count` tiles (arguments already written), runs tiles itself, waits for all.
function runJob(kind: i32, count: i32, scratch: usize): void {
  if (ASC_FEATURE_THREADS) {
    const ctl = ctlBlock;
    store<i32>(ctl + KIND, kind);
    atomic.store<i32>(ctl + DONE, 0);
    atomic.store<i32>(ctl + TILES, count);
    const generation = atomic.load<i32>(ctl + WAKE) + 1;
    atomic.store<i64>(ctl + CLAIM, <i64>generation << 32);
    atomic.store<i32>(ctl + WAKE, generation);
    if (atomic.load<i32>(ctl + ATTACHED) > 0) atomic.notify(ctl + WAKE, count - 1);
    inTile = true;
    runTiles(ctl, scratch, false);
    inTile = false;
    // Spin until every tile is done (a browser's main thread may not block; the other tiles are
    // already running).
    while (atomic.load<i32>(ctl + DONE) < count) {}
    // Close the generation: a worker still looping over claims finds nothing to take.
    atomic.store<i64>(ctl + CLAIM, (<i64>generation << 32) | CLOSED);
  }
}

// GEMM split into `threads` tiles: by rows in MR multiples (each tile keeps >= 2 MR rows, so
// the path gemm_f32 takes, packed or row-streamed, is the one the whole call takes), else by
// columns in NR multiples. Returns false (run it whole) when too small to be worth a wake-up.
export function gemm_split(c: usize, a: usize, b: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, csb: i32, ldc: i32, accumulate: i32, pack: usize): bool {
  if (!ASC_FEATURE_THREADS || threads <= 1 || inTile) return false;
  if (m <= 0 || n <= 0 || k <= 0 || <f64>m * <f64>n * <f64>k < GEMM_SPLIT_MIN) return false;
  let byRows = 0;
  if (m / MR >= threads * 2) byRows = 1;
  else if ((n + NR - 1) / NR < threads) return false;
  const args = ctlBlock + ARGS;
  store<u32>(args, <u32>c); store<u32>(args, <u32>a, 4); store<u32>(args, <u32>b, 8);
  store<i32>(args, m, 12); store<i32>(args, n, 16); store<i32>(args, k, 20);
  store<i32>(args, rsa, 24); store<i32>(args, csa, 28); store<i32>(args, rsb, 32); store<i32>(args, csb, 36);
  store<i32>(args, ldc, 40); store<i32>(args, accumulate, 44); store<i32>(args, byRows, 48);
  runJob(JOB_GEMM, threads, pack);
  return true;
}

function gemmTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const c = <usize>load<u32>(args), a = <usize>load<u32>(args, 4), b = <usize>load<u32>(args, 8);
  const m = load<i32>(args, 12), n = load<i32>(args, 16), k = load<i32>(args, 20);
  const rsa = load<i32>(args, 24), csa = load<i32>(args, 28), rsb = load<i32>(args, 32), csb = load<i32>(args, 36);
  const ldc = load<i32>(args, 40), accumulate = load<i32>(args, 44);
  if (load<i32>(args, 48)) {
    const units = m / MR;
    const i0 = tile * units / count * MR;
    const i1 = tile == count - 1 ? m : (tile + 1) * units / count * MR;
    gemm_f32(c + (<usize>(i0 * ldc) << 2), a + (<usize>(i0 * rsa) << 2), b, i1 - i0, n, k, rsa, csa, rsb, csb, ldc, accumulate, pack);
  } else {
    const units = (n + NR - 1) / NR;
    const j0 = tile * units / count * NR;
    const j1 = min(n, (tile + 1) * units / count * NR);
    if (j1 > j0) gemm_f32(c + (<usize>j0 << 2), a, b + (<usize>(j0 * csb) << 2), m, j1 - j0, k, rsa, csa, rsb, csb, ldc, accumulate, pack);
  }
}

// gemm_f32_packed (B packed once) split into `threads` tiles of rows in MR multiples, each tile
// >= 2 MR rows; false (run it whole) when smaller, or too small to be worth a wake-up.
export function gemm_packed_split(c: usize, a: usize, bp: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, ldc: i32, accumulate: i32, lo: f32, hi: f32, pack: usize): bool {
  if (!ASC_FEATURE_THREADS || threads <= 1 || inTile) return false;
  if (m / MR < threads * 2 || <f64>m * <f64>n * <f64>k < GEMM_SPLIT_MIN) return false;
  const args = ctlBlock + ARGS;
  store<u32>(args, <u32>c); store<u32>(args, <u32>a, 4); store<u32>(args, <u32>bp, 8); store<u32>(args, <u32>bias, 12);
  store<i32>(args, m, 16); store<i32>(args, n, 20); store<i32>(args, k, 24);
  store<i32>(args, rsa, 28); store<i32>(args, csa, 32); store<i32>(args, ldc, 36); store<i32>(args, accumulate, 40);
  store<f32>(args, lo, 44); store<f32>(args, hi, 48);
  runJob(JOB_GEMM_PACKED, threads, pack);
  return true;
}

function gemmPackedTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const c = <usize>load<u32>(args), a = <usize>load<u32>(args, 4), bp = <usize>load<u32>(args, 8), bias = <usize>load<u32>(args, 12);
  const m = load<i32>(args, 16), n = load<i32>(args, 20), k = load<i32>(args, 24);
  const rsa = load<i32>(args, 28), csa = load<i32>(args, 32), ldc = load<i32>(args, 36), accumulate = load<i32>(args, 40);
  const units = m / MR;
  const i0 = tile * units / count * MR;
  const i1 = tile == count - 1 ? m : (tile + 1) * units / count * MR;
  gemm_f32_packed(c + (<usize>(i0 * ldc) << 2), a + (<usize>(i0 * rsa) << 2), bp, bias, i1 - i0, n, k, rsa, csa, ldc, accumulate,
    load<f32>(args, 44), load<f32>(args, 48), pack);
}
