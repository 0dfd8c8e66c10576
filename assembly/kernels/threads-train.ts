// The training passes' splits (docs/threads.md), on the pool of assembly/kernels/threads.ts: job
// kinds counted down from JOB_KINDS_MAX (threads.ts counts its own up from 1). As there, tiles
// partition each op's OUTPUT, and each output element is computed by the same code in the same
// order whatever tile holds it, so any thread count gives the same bits.
import { arg, argp, canSplit, runJob, setArg, setArgp, splitThreads, tileStart, tilesFor, GEMM_SPLIT_MIN, ROW_TILE_MIN, TILE_MIN_WORK } from './threads';
import { MR } from './gemm';
import { conv2d_backward_filter_rows, conv2d_backward_input_images } from './conv';

export const JOB_CONV_FILTER: i32 = 16;
export const JOB_CONV_INPUT: i32 = 15;

// A tile of one of the kinds above (threads.ts runTile hands over the kinds it does not know).
export function trainTile(kind: i32, args: usize, tile: i32, count: i32, scratch: usize, slot: i32): void {
  switch (kind) {
    case JOB_CONV_FILTER: convFilterTile(args, tile, count, scratch); break;
    case JOB_CONV_INPUT: convInputTile(args, tile, count, scratch, slot); break;
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
// chunks, split by rows of dw (each group's tap-channels k, in MR multiples, at least
// ROW_TILE_MIN a tile): a tile unfolds its own columns of each chunk into the shared cols and
// runs its rows of the chunk's GEMM, so the op has one barrier rather than two a chunk, and each
// dw element is summed over the chunks in the whole call's order (a GEMM row's sums do not
// depend on the rows beside it).
export function conv_filter_split(dw: usize, x: usize, dy: usize, B: i32, H: i32, W: i32, C: i32, F: i32, G: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  chunk: i32, cols: usize, pack: usize, accumulate: i32): bool {
  if (!canSplit()) return false;
  const Kg = KH * KW * (C / G);
  const work = <f64>B * <f64>(OH * OW) * <f64>Kg * <f64>F;
  if (work < GEMM_SPLIT_MIN) return false;
  const count = tilesFor(Kg / max(MR, ROW_TILE_MIN), work, TILE_MIN_WORK);
  if (count < 2) return false;
  setConvArgs(dw, x, dy, B, H, W, C, F, G, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, chunk, cols, accumulate);
  runJob(JOB_CONV_FILTER, count, pack);
  return true;
}

function convFilterTile(args: usize, tile: i32, count: i32, pack: usize): void {
  const Kg = arg(args, 9) * arg(args, 10) * (arg(args, 6) / arg(args, 8));
  const units = Kg / MR;
  const k0 = tileStart(tile, count, units) * MR;
  const k1 = tile == count - 1 ? Kg : tileStart(tile + 1, count, units) * MR;
  conv2d_backward_filter_rows(argp(args, 0), argp(args, 1), argp(args, 2), arg(args, 3), arg(args, 4), arg(args, 5),
    arg(args, 6), arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12),
    arg(args, 13), arg(args, 14), arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18),
    arg(args, 19), argp(args, 20), pack, arg(args, 21), k0, k1);
}

// The input gradient of conv2d_grouped_backward_input (not pointwise) split by whole images: a
// tile runs its images' chunks (GEMM into cols, col2im into its images of dx) in its thread's
// 1/threads share of cols, so the op has one barrier rather than two a chunk. Each dx element
// gets its additions in the order of its image's positions whatever the chunks, and each cols
// row is its GEMM row whatever the rows beside it: the same bits.
export function conv_input_split(dx: usize, dy: usize, w: usize, B: i32, H: i32, W: i32, C: i32, F: i32, G: i32,
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
  runJob(JOB_CONV_INPUT, count, pack);
  return true;
}

function convInputTile(args: usize, tile: i32, count: i32, pack: usize, slot: i32): void {
  const B = arg(args, 3), C = arg(args, 6), G = arg(args, 8), KH = arg(args, 9), KW = arg(args, 10);
  const share = arg(args, 19);
  const cols = argp(args, 20) + <usize>slot * <usize>share * (<usize>(KH * KW * (C / G)) << 2);
  conv2d_backward_input_images(argp(args, 0), argp(args, 1), argp(args, 2), B, arg(args, 4), arg(args, 5),
    C, arg(args, 7), G, KH, KW, arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
    arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), share, cols, pack, arg(args, 21),
    tileStart(tile, count, B), tileStart(tile + 1, count, B));
}
