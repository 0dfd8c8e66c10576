// A depthwise convolution and the 1x1 convolution that alone reads it (a separable convolution:
// mini-Xception, MobileNet) as one op (issue 12): the depthwise output is computed a band of output
// rows at a time into scratch, and the 1x1 GEMM runs on the band while it is still in cache,
// instead of writing the whole depthwise output (3.4 MB at emotion's batch 8) and reading it back.
// The same bits as depthwise_conv2d_forward_clamp then conv2d_forward_packed's pointwise GEMM: each
// depthwise output row is computed by depthwise_forward_rows as the whole-batch call computes it,
// and each GEMM row depends only on its own row of the band (the same k order, bias, clamp).
// sepconv_i8 is the same for frozen int8 kernels (issue 14, docs/int8.md): the depthwise's q widened
// once per call, its rows by depthwise_i8_rows (depthwise_conv2d_forward_i8_wide's), the 1x1 by
// gemm_i8_packed on its byte panels, or (up to SEPCONV_I8_WIDE_BYTES of them) on its panels
// widened once per call (gemm_i8_either); the same bits as those two kernels run apart.
// sepconv_q8 is sepconv_i8's depthwise half under a 1x1 with Keras's absmax activation quantizer
// (docs/int8.md "absmax"): each band's rows (one pixel's C channels each) quantized and multiplied
// by gemm_q8's row driver on the 1x1's k-pair panels; a row's quantization and integer sums depend
// on that row alone, so the bits are those of depthwise_conv2d_forward_i8_wide then conv2d_q8.
import { depthwise_forward_rows } from './depthwise';
import { depthwise_i8_rows } from './depthwise-i8';
import { gemm_f32_packed } from './gemm-packed';
import { gemm_i8_either, widen_i8 } from './gemm-i8-packed';
import { gemmQ8Rows } from './gemm-q8';
import { rowStride } from './q8-rows';
import { GEMM_SCRATCH_FLOATS, KC, MR, NC, NR } from './gemm';
import { arg, argf, argp, canSplit, runJob, setArg, setArgf, setArgp, splitThreads, tileStart, tilesFor, TILE_MIN_WORK } from './threads';

// The thread jobs of a split sepconv (assembly/kernels/threads.ts runs sepconvTile / sepconvI8Tile /
// sepconvQ8Tile).
export const JOB_SEPCONV: i32 = 15;
export const JOB_SEPCONV_I8: i32 = 16;
// Past threads.ts's first 16 kinds and the training kinds 33-43; its counter is the 5th from word 192.
export const JOB_SEPCONV_Q8: i32 = 44;

// The kinds of separable pair, constants at each call of the inlined functions below.
// @ts-ignore: decorator
@inline const F32: i32 = 0;
// @ts-ignore: decorator
@inline const I8: i32 = 1;
// @ts-ignore: decorator
@inline const Q8: i32 = 2;

// y (B, OH, OW, F) = clamp(z . wp [+ b], lo, hi), z (B, OH, OW, C) = clamp(depthwise(x (B, H, W,
// C), wd (KH, KW, C)) [+ bd], dlo, dhi) (depthwise multiplier 1); wp the (C, F) 1x1 kernel packed by
// gemm_pack_b. band: bandRows * OW * C floats; pack: gemm_f32_packed's scratch for k = C.
export function sepconv_f32(y: usize, x: usize, wd: usize, bd: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, bandRows: i32, band: usize, pack: usize): void {
  const step = max(bandRows, 1);
  // With a thread pool attached, whole bands go to the threads, each with a band of its own.
  if (ASC_FEATURE_THREADS && sepconvSplit(F32, y, x, wd, 0, bd, wp, 0, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, lo, hi, step, band)) return;
  bandsF32(y, x, wd, bd, wp, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, lo, hi, step, 0, B * OH, band, pack);
}

// sepconv_f32 with int8 kernels: y = clamp(z . (q / sp (F)) [+ b], lo, hi), z = clamp(depthwise(x,
// qd (KH, KW, C) / sd (C)) [+ bd], dlo, dhi); qp the 1x1's q (C, F) packed by gemm_pack_b_i8. The
// depthwise is one depthwise_conv2d_forward_i8_wide widens (multiplier 1, dilation 1, KH == KW in
// {3, 5}). Scratch: wf (qd widened, KH * KW * C floats, then, when the 1x1's panels widened take
// at most SEPCONV_I8_WIDE_BYTES (sepconvI8Wide), from float roundUp(KH * KW * C, 4) on those:
// C * roundUp(F, NR) floats, widened once per call instead of once per band), band (bandRows * OW
// * C floats), pack: the band's GEMM scratch, min(C, KC) * MR floats on widened panels, else
// gemm_i8_packed's (gemmScratch(bandRows * OW, F, C) bytes); host/compile/size-expr.ts
// sepconvI8Wf and sepconvI8Pack.
export function sepconv_i8(y: usize, x: usize, qd: usize, sd: usize, bd: usize, qp: usize, sp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  dlo: f32, dhi: f32, lo: f32, hi: f32, bandRows: i32, wf: usize, band: usize, pack: usize): void {
  sepconvInt8(false, y, x, qd, sd, bd, qp, sp, b, B, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW, dlo, dhi, lo, hi, bandRows, wf, band, pack);
}

// sepconv_i8's depthwise half under an absmax 1x1: y = clamp(absmax(z) . qp / (xs * ks (F)) [+ b],
// lo, hi) per row of z (one pixel's C channels), z as in sepconv_i8; bp the 1x1's q (C, F) packed
// by gemm_pack_b_q8. Scratch: wf (qd widened, KH * KW * C floats), band (bandRows * OW * C floats),
// q8: gemm_q8's for k = C (q8ScratchBytes(C)). Requires 127 * 127 * C < 2^31 (the plan checks it).
export function sepconv_q8(y: usize, x: usize, qd: usize, sd: usize, bd: usize, bp: usize, ks: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  dlo: f32, dhi: f32, lo: f32, hi: f32, bandRows: i32, wf: usize, band: usize, q8: usize): void {
  sepconvInt8(true, y, x, qd, sd, bd, bp, ks, b, B, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW, dlo, dhi, lo, hi, bandRows, wf, band, q8);
}

// sepconv_i8, or with `q8` sepconv_q8 (qp, sp, pack then bp, ks, q8): one copy for both (a flag
// tested once per band), so the WASI module carries one.
function sepconvInt8(q8: bool, y: usize, x: usize, qd: usize, sd: usize, bd: usize, qp: usize, sp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  dlo: f32, dhi: f32, lo: f32, hi: f32, bandRows: i32, wf: usize, band: usize, pack: usize): void {
  const step = max(bandRows, 1);
  // Widened once here; the threads' bands read them too.
  widen_i8(wf, qd, KH * KW * C);
  let wq: usize = 0;
  if (!q8 && sepconvI8Wide(C, F)) {
    wq = wf + (<usize>((KH * KW * C + 3) & ~3) << 2);
    widen_i8(wq, qp, C * ((F + NR - 1) & ~(NR - 1)));
  }
  if (ASC_FEATURE_THREADS && sepconvSplit(q8 ? Q8 : I8, y, x, wf, sd, bd, qp, sp, b, B, H, W, C, F, KH, KW, SH, SW, 1, 1, PT, PL, OH, OW, dlo, dhi, lo, hi, step, band, wq)) return;
  bandsInt8(q8, y, x, wf, sd, bd, qp, wq, sp, b, B, H, W, C, F, KH, KW, SH, SW, PT, PL, OH, OW, dlo, dhi, lo, hi, step, 0, B * OH, band, pack);
}

// The bytes of a 1x1 kernel's panels widened (C * roundUp(F, NR) floats) up to which sepconv_i8
// widens them once per call: emotion's 256 -> 256 (256 KB). Widened once per band instead (the
// GEMM scratch's KC x NC block), they cost emotion b8's 128 and 256-channel pairs 3-7% of their
// time (docs/int8.md). Must equal host/compile/size-expr.ts's SEPCONV_I8_WIDE_BYTES.
export const SEPCONV_I8_WIDE_BYTES: i32 = 256 << 10;

// @ts-ignore: decorator
@inline
function sepconvI8Wide(C: i32, F: i32): bool {
  return <i64>C * <i64>((F + NR - 1) & ~(NR - 1)) * 4 <= <i64>SEPCONV_I8_WIDE_BYTES;
}

// Output rows row0 .. row1-1 (row = n*OH + oh), step rows a band: one copy per kind.
function bandsF32(y: usize, x: usize, wd: usize, bd: usize, wp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, step: i32, row0: i32, row1: i32, band: usize, pack: usize): void {
  sepconvBands(false, false, y, x, wd, 0, bd, wp, 0, 0, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, lo, hi, step, row0, row1, band, pack);
}

// wq: the 1x1's panels widened (then pack holds the packed band of a only), or 0. With q8, qp
// and sp are the 1x1's k-pair panels (gemm_pack_b_q8) and scales, pack gemm_q8's scratch.
function bandsInt8(q8: bool, y: usize, x: usize, wf: usize, sd: usize, bd: usize, qp: usize, wq: usize, sp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, step: i32, row0: i32, row1: i32, band: usize, pack: usize): void {
  sepconvBands(true, q8, y, x, wf, sd, bd, qp, wq, sp, b, B, H, W, C, F, KH, KW, SH, SW, 1, 1, PT, PL, OH, OW, dlo, dhi, lo, hi, step, row0, row1, band, pack);
}

// The bands of either kind (`int8` a constant at each call): wd is the depthwise's f32 kernel or
// its q widened (scales sd), wp the 1x1's f32 panels, byte panels (scales sp; wq: those widened,
// or 0) or, with `q8`, k-pair panels (scales sp).
// @ts-ignore: decorator
@inline
function sepconvBands(int8: bool, q8: bool, y: usize, x: usize, wd: usize, sd: usize, bd: usize, wp: usize, wq: usize, sp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, step: i32, row0: i32, row1: i32, band: usize, pack: usize): void {
  const rowBytes = <usize>(OW * C) << 2;
  for (let r0 = row0; r0 < row1; r0 += step) {
    const r1 = min(row1, r0 + step);
    // The depthwise rows write output row r at their y + r * rowBytes: y shifted so that row r0
    // lands at band (wrapping u32 arithmetic; every byte written is inside the band).
    const z = band - <usize>r0 * rowBytes;
    const yb = y + (<usize>(r0 * OW * F) << 2);
    if (int8) {
      depthwise_i8_rows(z, x, wd, sd, bd, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, dlo, dhi, r0, r1);
      if (q8) gemmQ8Rows(yb, band, wp, sp, b, (r1 - r0) * OW, F, C, C, F, lo, hi, pack);
      else gemm_i8_either(wq != 0, yb, band, wq != 0 ? wq : wp, sp, b, (r1 - r0) * OW, F, C, C, 1, F, lo, hi, pack);
    } else {
      depthwise_forward_rows(z, x, wd, bd, B, H, W, C, 1, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, dlo, dhi, r0, r1);
      gemm_f32_packed(yb, band, wp, b, (r1 - r0) * OW, F, C, C, 1, F, 0, lo, hi, pack);
    }
  }
}

// Bytes from a thread's scratch to its packing buffer: its band, 16-byte aligned (the plan's
// layout, host/compile/sepconv.ts).
// @ts-ignore: decorator
@inline
function bandBytes(step: i32, OW: i32, C: i32): usize {
  return ((<usize>(step * OW * C) << 2) + 15) & ~(<usize>15);
}

// The packing buffer a band's GEMM needs: the band of a (gemm_f32_packed, gemm_i8_either on widened
// panels), or gemm_i8_packed's widened block of panels and then that band (gemmScratch,
// host/compile/size-expr.ts), or gemm_q8's 4 row scales and 4 quantized rows (q8ScratchBytes).
// @ts-ignore: decorator
@inline
function packBytes(kind: i32, C: i32, F: i32): usize {
  if (kind == Q8) return 16 + (<usize>rowStride(C) << 3);
  const panels = kind == I8 && !sepconvI8Wide(C, F) ? ((min(F, NC) + NR - 1) & ~(NR - 1)) : 0;
  return <usize>(min(C, KC) * (panels + MR)) << 2;
}

// The split: tiles of whole bands, the same bands as one thread runs, when there are two a
// thread; else (f32, OW >= MR) tiles of output rows, each run band by band (at most `step` rows a
// band) from its first row: a GEMM row's sums depend on that row alone in any call of at least MR
// rows (gemm-packed.ts), and a band of one output row holds OW >= MR of them, so bands starting
// anywhere give the whole call's bits. Tiles of whole bands only left layers of one or two bands
// (shufflenet_v2_x0_5's at 28x28 and below: 24 rows a band of 64 KB) whole on the driver or in
// two unequal tiles, reading the half of their input the worker had written (19 layers, 0.58 ms
// on one thread, 0.55 on two; by rows 0.32). Rows everywhere cost emotion 3-4% on two threads:
// each tile's GEMM reads the 1x1's whole kernel (up to 256 KB), once a band of one or two rows.
// The driver's band and packing buffer are the op's scratch, a worker's are in its GEMM scratch
// (GEMM_SCRATCH_FLOATS), so only bands that fit there split; inside a tile the GEMM runs whole (a
// tile does not split again).
// @ts-ignore: decorator
@inline
function sepconvSplit(kind: i32, y: usize, x: usize, wd: usize, sd: usize, bd: usize, wp: usize, sp: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, dlo: f32, dhi: f32, lo: f32, hi: f32, step: i32, band: usize, wq: usize = 0): bool {
  if (!canSplit() || B <= 0 || OH <= 0 || OW <= 0) return false;
  if (bandBytes(step, OW, C) + packBytes(kind, C, F) > (<usize>GEMM_SCRATCH_FLOATS << 2)) return false;
  const work = <f64>(B * OH * OW) * <f64>C * <f64>(KH * KW + F);
  let count = tilesFor((B * OH + step - 1) / step, work, TILE_MIN_WORK);
  const byRows = count < 2 * splitThreads() && kind == F32 && OW >= MR;
  if (byRows) count = tilesFor(B * OH, work, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, wd); setArgp(3, bd); setArgp(4, wp); setArgp(5, b);
  setArg(6, B); setArg(7, H); setArg(8, W); setArg(9, C); setArg(10, F); setArg(11, KH); setArg(12, KW);
  setArg(13, SH); setArg(14, SW); setArg(15, DH); setArg(16, DW); setArg(17, PT); setArg(18, PL); setArg(19, OH); setArg(20, OW);
  setArgf(21, dlo); setArgf(22, dhi); setArgf(23, lo); setArgf(24, hi); setArg(25, step);
  setArgp(26, sd); setArgp(27, sp); setArgp(28, wq); setArg(29, byRows ? 1 : 0);
  runJob(kind == Q8 ? JOB_SEPCONV_Q8 : kind == I8 ? JOB_SEPCONV_I8 : JOB_SEPCONV, count, band);
  return true;
}

// One tile of the split: output rows (or whole bands) tileStart(tile) .. tileStart(tile + 1) - 1, in `scratch`.
export function sepconvTile(args: usize, tile: i32, count: i32, scratch: usize): void {
  sepconvTileOf(F32, args, tile, count, scratch);
}

export function sepconvI8Tile(args: usize, tile: i32, count: i32, scratch: usize): void {
  sepconvTileOf(I8, args, tile, count, scratch);
}

export function sepconvQ8Tile(args: usize, tile: i32, count: i32, scratch: usize): void {
  sepconvTileOf(Q8, args, tile, count, scratch);
}

// @ts-ignore: decorator
@inline
function sepconvTileOf(kind: i32, args: usize, tile: i32, count: i32, scratch: usize): void {
  const B = arg(args, 6), C = arg(args, 9), F = arg(args, 10), OH = arg(args, 19), OW = arg(args, 20), step = arg(args, 25);
  const rows = B * OH, bands = (rows + step - 1) / step;
  const byRows = arg(args, 29) != 0;
  const row0 = byRows ? tileStart(tile, count, rows) : tileStart(tile, count, bands) * step;
  const row1 = byRows ? tileStart(tile + 1, count, rows) : min(rows, tileStart(tile + 1, count, bands) * step);
  const pack = scratch + bandBytes(step, OW, C);
  if (kind != F32) {
    bandsInt8(kind == Q8, argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 26), argp(args, 3), argp(args, 4), argp(args, 28), argp(args, 27), argp(args, 5),
      B, arg(args, 7), arg(args, 8), C, F, arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
      arg(args, 17), arg(args, 18), OH, OW, argf(args, 21), argf(args, 22), argf(args, 23), argf(args, 24), step, row0, row1, scratch, pack);
  } else {
    bandsF32(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4), argp(args, 5),
      B, arg(args, 7), arg(args, 8), C, F, arg(args, 11), arg(args, 12), arg(args, 13), arg(args, 14),
      arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), OH, OW, argf(args, 21), argf(args, 22), argf(args, 23), argf(args, 24),
      step, row0, row1, scratch, pack);
  }
}
