// A depthwise convolution and the 1x1 convolution that alone reads it (a separable convolution:
// mini-Xception, MobileNet) as one op (issue 12): the depthwise output is computed a band of output
// rows at a time into scratch, and the 1x1 GEMM runs on the band while it is still in cache,
// instead of writing the whole depthwise output (3.4 MB at emotion's batch 8) and reading it back.
// The same bits as depthwise_conv2d_forward_clamp then conv2d_forward_packed's pointwise GEMM: each
// depthwise output row is computed by depthwise_forward_rows as the whole-batch call computes it,
// and each GEMM row depends only on its own row of the band (the same k order, bias, clamp).
import { depthwise_forward_rows } from './depthwise';
import { gemm_f32_packed } from './gemm-packed';
import { GEMM_SCRATCH_FLOATS, KC, MR } from './gemm';
import { arg, argf, argp, canSplit, runJob, setArg, setArgf, setArgp, tileStart, tilesFor, TILE_MIN_WORK } from './threads';

// The thread job of a split sepconv (assembly/kernels/threads.ts runs sepconvTile for it).
export const JOB_SEPCONV: i32 = 15;

// y (B, OH, OW, F) = clamp(z . wp [+ b], lo, hi), z (B, OH, OW, C) = clamp(depthwise(x (B, H, W,
// C), wd (KH, KW, C)) [+ bd], dlo, dhi) (depthwise multiplier 1); wp the (C, F) 1x1 kernel packed by
// gemm_pack_b. band: bandRows * OW * C floats; pack: gemm_f32_packed's scratch for k = C.
export function sepconv_f32(y: usize, x: usize, wd: usize, bd: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, bandRows: i32, band: usize, pack: usize): void {
  const step = max(bandRows, 1);
  // With a thread pool attached, whole bands go to the threads, each with a band of its own.
  if (ASC_FEATURE_THREADS && sepconvSplit(y, x, wd, bd, wp, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, lo, hi, step, band)) return;
  sepconvBands(y, x, wd, bd, wp, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, lo, hi, step, 0, B * OH, band, pack);
}

// Output rows row0 .. row1-1 (row = n*OH + oh), step rows a band.
function sepconvBands(y: usize, x: usize, wd: usize, bd: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, step: i32, row0: i32, row1: i32, band: usize, pack: usize): void {
  const rowBytes = <usize>(OW * C) << 2;
  for (let r0 = row0; r0 < row1; r0 += step) {
    const r1 = min(row1, r0 + step);
    // depthwise_forward_rows writes output row r at its y + r * rowBytes: y shifted so that row r0
    // lands at band (wrapping u32 arithmetic; every byte written is inside the band).
    depthwise_forward_rows(band - <usize>r0 * rowBytes, x, wd, bd, B, H, W, C, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, r0, r1);
    gemm_f32_packed(y + (<usize>(r0 * OW * F) << 2), band, wp, b, (r1 - r0) * OW, F, C, C, 1, F, 0, lo, hi, pack);
  }
}

// Bytes from a thread's scratch to its packing buffer: its band, 16-byte aligned (the plan's
// layout, host/compile/sepconv.ts).
// @ts-ignore: decorator
@inline
function bandBytes(step: i32, OW: i32, C: i32): usize {
  return ((<usize>(step * OW * C) << 2) + 15) & ~(<usize>15);
}

// The split: tiles of whole bands (the same rows, band by band, as one thread runs them, so the
// same bits). The driver's band and packing buffer are the op's scratch, a worker's are in its
// GEMM scratch (GEMM_SCRATCH_FLOATS), so only bands that fit there split; inside a tile the GEMM
// runs whole (a tile does not split again).
function sepconvSplit(y: usize, x: usize, wd: usize, bd: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, step: i32, band: usize): bool {
  if (!canSplit() || B <= 0 || OH <= 0 || OW <= 0) return false;
  if (bandBytes(step, OW, C) + (<usize>(min(C, KC) * MR) << 2) > (<usize>GEMM_SCRATCH_FLOATS << 2)) return false;
  const bands = (B * OH + step - 1) / step;
  const count = tilesFor(bands, <f64>(B * OH * OW) * <f64>C * <f64>(KH * KW + F), TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, wd); setArgp(3, bd); setArgp(4, wp); setArgp(5, b);
  setArg(6, B); setArg(7, H); setArg(8, W); setArg(9, C); setArg(10, F); setArg(11, KH); setArg(12, KW);
  setArg(13, SH); setArg(14, SW); setArg(15, DH); setArg(16, DW); setArg(17, PT); setArg(18, PL); setArg(19, OH); setArg(20, OW);
  setArgf(21, dlo); setArgf(22, dhi); setArgf(23, lo); setArgf(24, hi); setArg(25, step);
  runJob(JOB_SEPCONV, count, band);
  return true;
}

// One tile of the split: bands tileStart(tile) .. tileStart(tile + 1) - 1, in `scratch`.
export function sepconvTile(args: usize, tile: i32, count: i32, scratch: usize): void {
  const B = arg(args, 6), C = arg(args, 9), OH = arg(args, 19), OW = arg(args, 20), step = arg(args, 25);
  const bands = (B * OH + step - 1) / step;
  const row0 = tileStart(tile, count, bands) * step, row1 = min(B * OH, tileStart(tile + 1, count, bands) * step);
  sepconvBands(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4), argp(args, 5),
    B, arg(args, 7), arg(args, 8), C, arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
    arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), OH, OW, argf(args, 21), argf(args, 22), argf(args, 23), argf(args, 24),
    step, row0, row1, scratch, scratch + bandBytes(step, OW, C));
}
