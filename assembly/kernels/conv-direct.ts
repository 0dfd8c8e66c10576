// Direct convolution for a short reduction (K = KH*KW*C <= 256: first layers with 1-3 input
// channels, small-channel stems), NHWC, geometry as assembly/kernels/conv.ts. f32; byte offsets.
//
// y (B, OH, OW, F) = clamp(conv(x (B, H, W, C), w (KH, KW, C, F)) [+ b (F)], lo, hi).
//
// Why: im2col + gemm_f32 copies every patch (K floats per output pixel, as many bytes as the
// product reads) and packs it again for a GEMM whose depth is tiny, so the copies cost more than
// the products. Here a 4x8 tile (4 output pixels of one row, 8 filters) reads the input in place:
// per tap, each pixel's input pointer, or a row of zeros (`zero`, C floats the kernel clears)
// when the tap falls in the padding, like XNNPACK's indirection buffer; then C steps of four splat
// loads and one 8-wide row of w (KH*KW*C rows of F floats, in cache: K is short). Pixels past the
// row's end alias the last one. The bias and the clamp (ReLU, ReLU6, or +-Infinity for none) run
// on the registers before the one store.
//
// Summation order, the same as im2col + gemm_f32 for K <= 256 (one k slice), so the same bits:
// each output sums its products from zero in (kh, kw, c) order, mul then add, then adds the bias.
// A padded tap adds 0*w = +-0, which leaves a sum that is never -0 unchanged, so the scalar build
// skips those taps and still gives the same bits.
import { loadPartial, storeTail } from './vector-tail';
import { arg, argf, argp, canSplit, runJob, setArg, setArgf, setArgp, tileStart, tilesFor, TILE_MIN_WORK } from './threads';

// The thread job of a split direct convolution (assembly/kernels/threads.ts runs convDirectTile).
export const JOB_CONV_DIRECT: i32 = 18;

export function conv2d_direct_f32_4x8(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, zero: usize): void {
  conv2d_direct_4x8(y, x, w, 0, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, zero);
}

// With scale != 0 (F floats), each filter's sum is divided by its scale before the bias: w is a
// frozen layer's int8 kernel widened to f32 (exact), for conv-direct-i8.ts.
export function conv2d_direct_4x8(y: usize, x: usize, w: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, zero: usize): void {
  if (ASC_FEATURE_SIMD) {
    for (let c = 0; c < C; c++) store<f32>(zero + (<usize>c << 2), 0);
    // With a thread pool attached, ranges of output rows go to the threads (zero cleared first:
    // every tile reads it).
    if (ASC_FEATURE_THREADS && convDirectSplit(y, x, w, scale, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, zero)) return;
    directRows(y, x, w, scale, b, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, zero, 0, B * OH);
  } else {
    directScalar(y, x, w, scale, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi);
  }
}

// Output rows r0 .. r1-1 (row = n*OH + oh) of the SIMD path; `zero` already cleared.
function directRows(y: usize, x: usize, w: usize, scale: usize, b: usize,
  H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, zero: usize, r0: i32, r1: i32): void {
  if (ASC_FEATURE_SIMD) {
    for (let r = r0; r < r1; r++) {
      const n = r / OH, oh = r % OH;
      const xb = x + (<usize>(n * H * W * C) << 2);
      const yr = y + (<usize>(r * OW * F) << 2);
      // Two inlined copies: with every filter block 8 wide, the loads of w are plain loads.
      for (let ow = 0; ow < OW; ow += 4) {
        if ((F & 7) == 0) directTile(yr, xb, w, scale, b, H, W, C, F, KH, KW, SW, DH, DW, oh * SH - PT, ow, min(4, OW - ow), PL, lo, hi, zero, true);
        else directTile(yr, xb, w, scale, b, H, W, C, F, KH, KW, SW, DH, DW, oh * SH - PT, ow, min(4, OW - ow), PL, lo, hi, zero, false);
      }
    }
  }
}

// The split: tiles of whole output rows (each pixel computed whole by one tile, as above, so the
// same bits), at least TILE_MIN_WORK multiply-adds a tile. gender's two first layers (64x64 and
// 62x62 over 1 and 8 channels, 42 and 104 us) ran whole on the driver: 20% of its forward.
function convDirectSplit(y: usize, x: usize, w: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, zero: usize): bool {
  if (!canSplit() || B <= 0 || OH <= 0 || OW <= 0) return false;
  const count = tilesFor(B * OH, <f64>(B * OH * OW) * <f64>(KH * KW * C) * <f64>F, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, w); setArgp(3, scale); setArgp(4, b);
  setArg(5, B); setArg(6, H); setArg(7, W); setArg(8, C); setArg(9, F); setArg(10, KH); setArg(11, KW);
  setArg(12, SH); setArg(13, SW); setArg(14, DH); setArg(15, DW); setArg(16, PT); setArg(17, PL); setArg(18, OH); setArg(19, OW);
  setArgf(20, lo); setArgf(21, hi); setArgp(22, zero);
  runJob(JOB_CONV_DIRECT, count, 0);
  return true;
}

export function convDirectTile(args: usize, tile: i32, count: i32): void {
  const rows = arg(args, 5) * arg(args, 18);
  directRows(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4),
    arg(args, 6), arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13),
    arg(args, 14), arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), arg(args, 19), argf(args, 20), argf(args, 21), argp(args, 22),
    tileStart(tile, count, rows), tileStart(tile + 1, count, rows));
}

// The input pointer of tap column iw on input row ih (of image xb), or `zero` in the padding.
// @ts-ignore: decorator
@inline
function tapPointer(xb: usize, ih: i32, iw: i32, H: i32, W: i32, C: i32, zero: usize): usize {
  return ih >= 0 && ih < H && iw >= 0 && iw < W ? xb + (<usize>((ih * W + iw) * C) << 2) : zero;
}

// Output pixels ow0 .. ow0+count-1 (count <= 4) of one output row (yr: its first pixel), all F
// filters; full: F % 8 == 0 (a constant where it is inlined).
// @ts-ignore: decorator
@inline
function directTile(yr: usize, xb: usize, w: usize, scale: usize, b: usize, H: i32, W: i32, C: i32, F: i32,
  KH: i32, KW: i32, SW: i32, DH: i32, DW: i32, ih0: i32, ow0: i32, count: i32, PL: i32, lo: f32, hi: f32, zero: usize, full: bool): void {
  const fBytes = <usize>F << 2;
  const cBytes = <usize>C << 2;
  const iw0 = ow0 * SW - PL;
  const iw1 = count > 1 ? iw0 + SW : iw0;
  const iw2 = count > 2 ? iw1 + SW : iw1;
  const iw3 = count > 3 ? iw2 + SW : iw2;
  const y0 = yr + <usize>ow0 * fBytes;
  const y1 = count > 1 ? y0 + fBytes : y0;
  const y2 = count > 2 ? y1 + fBytes : y1;
  const y3 = count > 3 ? y2 + fBytes : y2;
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  // Every tap of the four pixels inside the image (nearly all tiles): pointers by arithmetic alone.
  const inside = ih0 >= 0 && ih0 + (KH - 1) * DH < H && iw0 >= 0 && iw3 + (KW - 1) * DW < W;
  const sBytes = <usize>(iw1 - iw0) * cBytes;
  for (let j = 0; j < F; j += 8) {
    const nr = full ? 8 : min(8, F - j);
    const nlo = min(nr, 4), nhi = max(nr - 4, 0);
    let a00 = f32x4.splat(0), a01 = f32x4.splat(0);
    let a10 = f32x4.splat(0), a11 = f32x4.splat(0);
    let a20 = f32x4.splat(0), a21 = f32x4.splat(0);
    let a30 = f32x4.splat(0), a31 = f32x4.splat(0);
    let wp = w + (<usize>j << 2);
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh * DH;
      for (let kw = 0; kw < KW; kw++) {
        const dw = kw * DW;
        let p0: usize, p1: usize, p2: usize, p3: usize;
        if (inside) {
          p0 = xb + (<usize>((ih * W + iw0 + dw) * C) << 2);
          p1 = p0 + sBytes;
          p2 = count > 2 ? p1 + sBytes : p1;
          p3 = count > 3 ? p2 + sBytes : p2;
        } else {
          p0 = tapPointer(xb, ih, iw0 + dw, H, W, C, zero);
          p1 = tapPointer(xb, ih, iw1 + dw, H, W, C, zero);
          p2 = tapPointer(xb, ih, iw2 + dw, H, W, C, zero);
          p3 = tapPointer(xb, ih, iw3 + dw, H, W, C, zero);
        }
        for (let q: usize = 0; q < cBytes; q += 4) {
          const b0 = nr == 8 ? v128.load(wp) : loadPartial(wp, nlo);
          const b1 = nr == 8 ? v128.load(wp, 16) : loadPartial(wp + 16, nhi);
          let va = v128.load32_splat(p0 + q);
          a00 = f32x4.add(a00, f32x4.mul(va, b0)); a01 = f32x4.add(a01, f32x4.mul(va, b1));
          va = v128.load32_splat(p1 + q);
          a10 = f32x4.add(a10, f32x4.mul(va, b0)); a11 = f32x4.add(a11, f32x4.mul(va, b1));
          va = v128.load32_splat(p2 + q);
          a20 = f32x4.add(a20, f32x4.mul(va, b0)); a21 = f32x4.add(a21, f32x4.mul(va, b1));
          va = v128.load32_splat(p3 + q);
          a30 = f32x4.add(a30, f32x4.mul(va, b0)); a31 = f32x4.add(a31, f32x4.mul(va, b1));
          wp += fBytes;
        }
      }
    }
    const o = <usize>j << 2;
    if (scale != 0) {
      const s0 = loadPartial(scale + o, nlo), s1 = loadPartial(scale + o + 16, nhi);
      a00 = f32x4.div(a00, s0); a01 = f32x4.div(a01, s1);
      a10 = f32x4.div(a10, s0); a11 = f32x4.div(a11, s1);
      a20 = f32x4.div(a20, s0); a21 = f32x4.div(a21, s1);
      a30 = f32x4.div(a30, s0); a31 = f32x4.div(a31, s1);
    }
    if (b != 0) {
      const bb0 = loadPartial(b + o, nlo), bb1 = loadPartial(b + o + 16, nhi);
      a00 = f32x4.add(a00, bb0); a01 = f32x4.add(a01, bb1);
      a10 = f32x4.add(a10, bb0); a11 = f32x4.add(a11, bb1);
      a20 = f32x4.add(a20, bb0); a21 = f32x4.add(a21, bb1);
      a30 = f32x4.add(a30, bb0); a31 = f32x4.add(a31, bb1);
    }
    // pmax / pmin (one instruction each; max / min cost ~7): the same values, NaN stays NaN and
    // the sums are never -0 (they start from +0).
    a00 = f32x4.pmin(f32x4.pmax(a00, vlo), vhi); a01 = f32x4.pmin(f32x4.pmax(a01, vlo), vhi);
    a10 = f32x4.pmin(f32x4.pmax(a10, vlo), vhi); a11 = f32x4.pmin(f32x4.pmax(a11, vlo), vhi);
    a20 = f32x4.pmin(f32x4.pmax(a20, vlo), vhi); a21 = f32x4.pmin(f32x4.pmax(a21, vlo), vhi);
    a30 = f32x4.pmin(f32x4.pmax(a30, vlo), vhi); a31 = f32x4.pmin(f32x4.pmax(a31, vlo), vhi);
    if (nr == 8) {
      v128.store(y3 + o, a30); v128.store(y3 + o, a31, 16);
      v128.store(y2 + o, a20); v128.store(y2 + o, a21, 16);
      v128.store(y1 + o, a10); v128.store(y1 + o, a11, 16);
      v128.store(y0 + o, a00); v128.store(y0 + o, a01, 16);
    } else {
      storeTail(y3 + o, a30, a31, nr);
      storeTail(y2 + o, a20, a21, nr);
      storeTail(y1 + o, a10, a11, nr);
      storeTail(y0 + o, a00, a01, nr);
    }
  }
}

// The no-SIMD build: one output at a time, taps inside the image only, in the same order.
function directScalar(y: usize, x: usize, w: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32): void {
  let yo = y;
  for (let n = 0; n < B; n++) {
    const xb = x + (<usize>(n * H * W * C) << 2);
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let f = 0; f < F; f++) {
          let s: f32 = 0;
          for (let kh = 0; kh < KH; kh++) {
            const ih = oh * SH - PT + kh * DH;
            if (ih < 0 || ih >= H) continue;
            for (let kw = 0; kw < KW; kw++) {
              const iw = ow * SW - PL + kw * DW;
              if (iw < 0 || iw >= W) continue;
              const xp = xb + (<usize>((ih * W + iw) * C) << 2);
              const wp = w + (<usize>(((kh * KW + kw) * C) * F + f) << 2);
              for (let c = 0; c < C; c++) s += load<f32>(xp + (<usize>c << 2)) * load<f32>(wp + <usize>(c * F) * 4);
            }
          }
          if (scale != 0) s = s / load<f32>(scale + (<usize>f << 2));
          if (b != 0) s = s + load<f32>(b + (<usize>f << 2));
          store<f32>(yo + (<usize>f << 2), min<f32>(max<f32>(s, lo), hi));
        }
        yo += <usize>F << 2;
      }
    }
  }
}
