// int8 x int8 -> int32 GEMM with Keras 3's activation quantizer (issue 14; docs/int8.md "absmax"):
// Keras 3 Dense._int8_call with Int8QuantizationConfig(activation_quantizer='default'), i.e.
// AbsMaxQuantizer(axis=-1) on the inputs:
//
//   xs = 127 / (max|x row| + 1e-7)                          f32, one per row of a
//   xq = clip(round_half_even(x * xs), -127, 127)            int8 (held as int16 here)
//   acc = xq . q                                             int32, exact (|acc| <= 127*127*k)
//   y = f32(acc) / (xs * ks[n]) [+ b[n]], then clamp(lo, hi)  the product of the scales, one division
//
// q and ks are the layer's per-output-channel int8 kernel and scales (host/layers/quantize.ts).
// The integer sums are exact, so the bits depend on neither the tile, the order nor the build.
//
// Layout of bp, gemm_pack_b_q8 (roundUp(n, 8) * roundUp(k, 2) bytes): 8-column panels, one after
// another, each roundUp(k, 2) / 2 k-pairs of 16 bytes: pair p holds, column by column, q[2p][j]
// then q[2p+1][j] (zero past k and n). One 16-byte load, widened by i16x8.extend_low/high_i8x16_s,
// gives columns 0-3 and 4-7 as (k, k+1) i16 pairs; the a row's (k, k+1) pair, one i32 splat, times
// each by i32x4.dot_i16x8_s adds two products per lane: per k-pair a 4x8 tile costs 23 SIMD
// instructions for 64 products (f32's 4x8 tile: 26 for 32).
//
// Scratch at `scratch` (q8ScratchBytes(k), host/compile/gemm-scratch.ts): the 4 row scales, then 4
// quantized rows of roundUp(k, 8) i16. Rows are quantized 4 at a time, just before their tile row.
import { loadPartial, storeRow } from './vector-tail';
import { maxLanes4, quantize8, rowStride, storeScales4 } from './q8-rows';
import { GEMM_SCRATCH_FLOATS } from './gemm';
import { arg, argf, argp, canSplit, GEMM_SPLIT_MIN, runJob, setArg, setArgf, setArgp, splitThreads, tileStart, tilesFor, TILE_MIN_WORK } from './threads';

// The thread job of a split gemm_q8 (assembly/kernels/threads.ts runs gemmQ8Tile).
export const JOB_GEMM_Q8: i32 = 19;

// The lite build (dense networks, small batches; its size is bounded) runs every row on the one-row
// tile: the same integer sums, so the same bits.
const LITE: bool = isDefined(EDGETUNE_LITE);
// @ts-ignore: decorator
@inline const Q8_NR: i32 = 8;
// @ts-ignore: decorator
@inline const Q8_MR: i32 = 4;

// bp (packed, see above) = q (k, n) int8, row stride rsq bytes.
export function gemm_pack_b_q8(bp: usize, q: usize, n: i32, k: i32, rsq: i32): void {
  if (n <= 0 || k <= 0) return;
  const pairs = (k + 1) >> 1;
  for (let j0 = 0; j0 < n; j0 += Q8_NR) {
    const cols = min(Q8_NR, n - j0);
    const panel = bp + <usize>(j0 * pairs * 2);
    for (let p = 0; p < pairs; p++) {
      const d = panel + <usize>(p << 4);
      const k0 = 2 * p, has1 = k0 + 1 < k;
      const s0 = q + <usize>(k0 * rsq + j0);
      const s1 = s0 + <usize>rsq;
      for (let j = 0; j < Q8_NR; j++) {
        store<i8>(d + <usize>(2 * j), j < cols ? load<i8>(s0 + <usize>j) : 0);
        store<i8>(d + <usize>(2 * j + 1), j < cols && has1 ? load<i8>(s1 + <usize>j) : 0);
      }
    }
  }
}

// xq (rows, roundUp(k, 8) i16, zero past k) and xs (rows f32) = Keras's AbsMaxQuantizer(axis=-1) of
// a (rows, k; row stride rsa floats): xs = 127 / (max|x| + 1e-7), xq = clip(nearest(x * xs), -127, 127).
// Rows are taken to be finite: a NaN or infinity gives that row unspecified values.
export function quantize_rows_q8(xq: usize, xs: usize, a: usize, rows: i32, k: i32, rsa: i32): void {
  const stride = rowStride(k);
  if (ASC_FEATURE_SIMD) {
    for (let r = 0; r < rows; r += 4) {
      quantize4(xq + (<usize>(r * stride) << 1), xs + (<usize>r << 2), a + (<usize>(r * rsa) << 2), min(4, rows - r), k, rsa);
    }
    return;
  }
  for (let r = 0; r < rows; r++) {
    const x = a + (<usize>(r * rsa) << 2);
    const y = xq + (<usize>(r * stride) << 1);
    let amax: f32 = 0;
    for (let p = 0; p < k; p++) amax = max(amax, abs(load<f32>(x + (<usize>p << 2))));
    const s: f32 = <f32>127 / (amax + <f32>1e-7);
    store<f32>(xs + (<usize>r << 2), s);
    // clip then round: the same as round then clip (+-127 are integers, rounding is monotonic)
    let p = 0;
    for (; p < k; p++) store<i16>(y + (<usize>p << 1), <i16><i32>nearest<f32>(min(max(load<f32>(x + (<usize>p << 2)) * s, <f32>-127), <f32>127)));
    for (; p < stride; p++) store<i16>(y + (<usize>p << 1), 0);
  }
}

// The row maxima of |x| of up to 4 rows (rows past `rows` alias the last), as one vector; k % 4
// tail floats read by loadPartial (zeros beside them change no maximum).
// @ts-ignore: decorator
@inline
function rowMax4(x0: usize, x1: usize, x2: usize, x3: usize, k: i32): v128 {
  let m0 = f32x4.splat(0), m1 = f32x4.splat(0), m2 = f32x4.splat(0), m3 = f32x4.splat(0);
  const full = <usize>(k & ~3) << 2;
  // pmax: one instruction (max costs ~7 for its NaN and -0 rules); |x| is never -0.
  for (let o: usize = 0; o < full; o += 16) {
    m0 = f32x4.pmax(m0, f32x4.abs(v128.load(x0 + o)));
    m1 = f32x4.pmax(m1, f32x4.abs(v128.load(x1 + o)));
    m2 = f32x4.pmax(m2, f32x4.abs(v128.load(x2 + o)));
    m3 = f32x4.pmax(m3, f32x4.abs(v128.load(x3 + o)));
  }
  if (k & 3) {
    m0 = f32x4.pmax(m0, f32x4.abs(loadPartial(x0 + full, k & 3)));
    m1 = f32x4.pmax(m1, f32x4.abs(loadPartial(x1 + full, k & 3)));
    m2 = f32x4.pmax(m2, f32x4.abs(loadPartial(x2 + full, k & 3)));
    m3 = f32x4.pmax(m3, f32x4.abs(loadPartial(x3 + full, k & 3)));
  }
  return maxLanes4(m0, m1, m2, m3);
}



// quantize_rows_q8 of up to 4 rows (SIMD builds): the 4 maxima as one vector, one division for
// the 4 scales, then each row 8 values at a time (the last 8 with zeros past k: the padding).
function quantize4(xq: usize, xs: usize, a: usize, rows: i32, k: i32, rsa: i32): void {
  if (!ASC_FEATURE_SIMD) return;
  const rowBytes = <usize>rsa << 2;
  const x0 = a, x1 = rows > 1 ? x0 + rowBytes : x0, x2 = rows > 2 ? x1 + rowBytes : x1, x3 = rows > 3 ? x2 + rowBytes : x2;
  storeScales4(xs, rowMax4(x0, x1, x2, x3, k), rows);
  const stride = <usize>rowStride(k) << 1;
  const full = k & ~7;
  for (let r = 0; r < rows; r++) {
    const x = a + <usize>r * rowBytes;
    const y = xq + <usize>r * stride;
    const vs = f32x4.splat(load<f32>(xs + (<usize>r << 2)));
    let p = 0;
    for (; p < full; p += 8) v128.store(y + (<usize>p << 1), quantize8(v128.load(x + (<usize>p << 2)), v128.load(x + (<usize>p << 2), 16), vs));
    if (p < k) {
      const rest = k - p;
      v128.store(y + (<usize>p << 1), quantize8(loadPartial(x + (<usize>p << 2), min(rest, 4)), loadPartial(x + (<usize>p << 2) + 16, max(rest - 4, 0)), vs));
    }
  }
}

// c (m, n; row stride ldc floats) = clamp(absmax(a) . q / (xs * ks) [+ bias], lo, hi) (the formula
// above); a (m, k; row stride rsa floats), q packed by gemm_pack_b_q8 at bp, ks (n) its scales;
// bias 0 for none; lo / hi -inf / inf for no clamp. scratch: q8ScratchBytes(k) bytes.
// Requires 127 * 127 * k < 2^31 (the plan checks it).
export function gemm_q8(c: usize, a: usize, bp: usize, ks: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, ldc: i32, lo: f32, hi: f32, scratch: usize): void {
  if (m <= 0 || n <= 0) return;
  if (ASC_FEATURE_THREADS && gemmQ8Split(c, a, bp, ks, bias, m, n, k, rsa, ldc, lo, hi, scratch)) return;
  gemmQ8Rows(c, a, bp, ks, bias, m, n, k, rsa, ldc, lo, hi, scratch);
}

// The split (threads build): tiles of whole 4-row bands, each quantized and multiplied by one
// thread in its own scratch (a worker's GEMM scratch: k up to ~16,800), or with fewer bands than
// two a thread (dense layers at small batches) tiles of whole 8-column panels, each thread
// quantizing all the rows for its own; at least TILE_MIN_WORK multiply-adds a tile. A row's sums
// are exact integers, so the bits do not depend on the split.
function gemmQ8Split(c: usize, a: usize, bp: usize, ks: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, ldc: i32, lo: f32, hi: f32, scratch: usize): bool {
  if (!canSplit()) return false;
  const work = <f64>m * <f64>n * <f64>k;
  if (work < GEMM_SPLIT_MIN || 16 + 8 * rowStride(k) > GEMM_SCRATCH_FLOATS << 2) return false;
  const bands = (m + Q8_MR - 1) / Q8_MR;
  let byRows = bands >= 2 * splitThreads() ? 1 : 0;
  let count = tilesFor(byRows ? bands : (n + Q8_NR - 1) / Q8_NR, work, TILE_MIN_WORK);
  if (count < 2 && byRows == 0) {
    byRows = 1;
    count = tilesFor(bands, work, TILE_MIN_WORK);
  }
  if (count < 2) return false;
  setArgp(0, c); setArgp(1, a); setArgp(2, bp); setArgp(3, ks); setArgp(4, bias);
  setArg(5, m); setArg(6, n); setArg(7, k); setArg(8, rsa); setArg(9, ldc); setArgf(10, lo); setArgf(11, hi); setArg(12, byRows);
  runJob(JOB_GEMM_Q8, count, scratch);
  return true;
}

export function gemmQ8Tile(args: usize, tile: i32, count: i32, scratch: usize): void {
  const c = argp(args, 0), a = argp(args, 1), bp = argp(args, 2), ks = argp(args, 3), bias = argp(args, 4);
  const m = arg(args, 5), n = arg(args, 6), k = arg(args, 7), rsa = arg(args, 8), ldc = arg(args, 9);
  if (arg(args, 12)) {
    const bands = (m + Q8_MR - 1) / Q8_MR;
    const i0 = tileStart(tile, count, bands) * Q8_MR, i1 = min(m, tileStart(tile + 1, count, bands) * Q8_MR);
    gemmQ8Rows(c + (<usize>(i0 * ldc) << 2), a + (<usize>(i0 * rsa) << 2), bp, ks, bias, i1 - i0, n, k, rsa, ldc, argf(args, 10), argf(args, 11), scratch);
  } else {
    const panels = (n + Q8_NR - 1) / Q8_NR;
    const j0 = tileStart(tile, count, panels) * Q8_NR, j1 = min(n, tileStart(tile + 1, count, panels) * Q8_NR);
    const o = <usize>j0 << 2;
    gemmQ8Rows(c + o, a, bp + <usize>(j0 * (((k + 1) >> 1) << 1)), ks + o, bias != 0 ? bias + o : 0, m, j1 - j0, k, rsa, ldc,
      argf(args, 10), argf(args, 11), scratch);
  }
}

// gemm_q8 on one thread (also sepconv_q8's bands, sepconv.ts: a band never splits again).
export function gemmQ8Rows(c: usize, a: usize, bp: usize, ks: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, ldc: i32, lo: f32, hi: f32, scratch: usize): void {
  const xs = scratch, xq = scratch + 16;
  const rowBytes = <usize>rowStride(k) << 1;
  for (let i0 = 0; i0 < m; i0 += Q8_MR) {
    const mr = min(Q8_MR, m - i0);
    quantize_rows_q8(xq, xs, a + (<usize>(i0 * rsa) << 2), mr, k, rsa);
    const c0 = c + (<usize>(i0 * ldc) << 2);
    if (ASC_FEATURE_SIMD && mr == Q8_MR && !LITE) {
      gemm_q8_4x8(c0, ldc, xq, rowBytes, xs, bp, ks, bias, n, k, lo, hi);
    } else {
      for (let r = 0; r < mr; r++) {
        const cr = c0 + (<usize>(r * ldc) << 2);
        const qr = xq + <usize>r * rowBytes;
        const sr = load<f32>(xs + (<usize>r << 2));
        if (ASC_FEATURE_SIMD) gemm_q8_1x8(cr, qr, sr, bp, ks, bias, n, k, lo, hi);
        else gemm_q8_1x1(cr, qr, sr, bp, ks, bias, n, k, lo, hi);
      }
    }
  }
}

// A panel's per-column floats (scales, bias) for columns 0-3 and 4-7 of cols (zeros past cols).
// @ts-ignore: decorator
@inline
function colsLo(p: usize, cols: i32): v128 {
  return loadPartial(p, min(cols, 4));
}
// @ts-ignore: decorator
@inline
function colsHi(p: usize, cols: i32): v128 {
  return loadPartial(p + 16, max(cols - 4, 0));
}

// The epilogue of one 4-column group: f32(acc) / (xs * ks) [+ bias], clamped.
// @ts-ignore: decorator
@inline
function finish(acc: v128, vxs: v128, vks: v128, vb: v128, withBias: bool, vlo: v128, vhi: v128): v128 {
  let v = f32x4.div(f32x4.convert_i32x4_s(acc), f32x4.mul(vxs, vks));
  if (withBias) v = f32x4.add(v, vb);
  // pmax / pmin: one instruction each; the same values as max / min here (no -0 reaches them
  // unless a bias makes one, and min / max then agree with numpy's on which zero is kept).
  return f32x4.pmin(f32x4.pmax(v, vlo), vhi);
}

// A 4-row band of c (n columns): the quantized rows at xq (rowBytes apart), their scales at xs.
export function gemm_q8_4x8(c: usize, ldc: i32, xq: usize, rowBytes: usize, xs: usize, bp: usize, ks: usize, bias: usize,
  n: i32, k: i32, lo: f32, hi: f32): void {
  if (!ASC_FEATURE_SIMD) return;
  const pairBytes = <usize>((k + 1) >> 1) << 2; // bytes of the a row's pairs (4 a pair)
  const ldcBytes = <usize>ldc << 2;
  const a0 = xq, a1 = a0 + rowBytes, a2 = a1 + rowBytes, a3 = a2 + rowBytes;
  const c1 = c + ldcBytes, c2 = c1 + ldcBytes, c3 = c2 + ldcBytes;
  const s0 = f32x4.splat(load<f32>(xs)), s1 = f32x4.splat(load<f32>(xs, 4));
  const s2 = f32x4.splat(load<f32>(xs, 8)), s3 = f32x4.splat(load<f32>(xs, 12));
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const withBias = bias != 0;
  let pb = bp;
  for (let j0 = 0; j0 < n; j0 += Q8_NR) {
    let x00 = i32x4.splat(0), x01 = i32x4.splat(0);
    let x10 = i32x4.splat(0), x11 = i32x4.splat(0);
    let x20 = i32x4.splat(0), x21 = i32x4.splat(0);
    let x30 = i32x4.splat(0), x31 = i32x4.splat(0);
    let p: usize = 0;
    do {
      const b = v128.load(pb);
      const bl = i16x8.extend_low_i8x16_s(b), bh = i16x8.extend_high_i8x16_s(b);
      let va = v128.load32_splat(a0 + p);
      x00 = i32x4.add(x00, i32x4.dot_i16x8_s(va, bl)); x01 = i32x4.add(x01, i32x4.dot_i16x8_s(va, bh));
      va = v128.load32_splat(a1 + p);
      x10 = i32x4.add(x10, i32x4.dot_i16x8_s(va, bl)); x11 = i32x4.add(x11, i32x4.dot_i16x8_s(va, bh));
      va = v128.load32_splat(a2 + p);
      x20 = i32x4.add(x20, i32x4.dot_i16x8_s(va, bl)); x21 = i32x4.add(x21, i32x4.dot_i16x8_s(va, bh));
      va = v128.load32_splat(a3 + p);
      x30 = i32x4.add(x30, i32x4.dot_i16x8_s(va, bl)); x31 = i32x4.add(x31, i32x4.dot_i16x8_s(va, bh));
      p += 4;
      pb += 16;
    } while (p != pairBytes);
    const cols = min(Q8_NR, n - j0);
    const o = <usize>j0 << 2;
    // Lanes past cols divide by 0 and are never stored.
    const k0 = colsLo(ks + o, cols), k1 = colsHi(ks + o, cols);
    const b0 = withBias ? colsLo(bias + o, cols) : k0, b1 = withBias ? colsHi(bias + o, cols) : k1;
    const y00 = finish(x00, s0, k0, b0, withBias, vlo, vhi), y01 = finish(x01, s0, k1, b1, withBias, vlo, vhi);
    const y10 = finish(x10, s1, k0, b0, withBias, vlo, vhi), y11 = finish(x11, s1, k1, b1, withBias, vlo, vhi);
    const y20 = finish(x20, s2, k0, b0, withBias, vlo, vhi), y21 = finish(x21, s2, k1, b1, withBias, vlo, vhi);
    const y30 = finish(x30, s3, k0, b0, withBias, vlo, vhi), y31 = finish(x31, s3, k1, b1, withBias, vlo, vhi);
    storeRow(c + o, y00, y01, cols);
    storeRow(c1 + o, y10, y11, cols);
    storeRow(c2 + o, y20, y21, cols);
    storeRow(c3 + o, y30, y31, cols);
  }
}

// One row of c (n columns): the quantized row at xq, its scale xs. Batch-1 dense layers: per
// k-pair 8 SIMD instructions for 16 products (f32's 1x8: ~7 for 8).
export function gemm_q8_1x8(c: usize, xq: usize, xs: f32, bp: usize, ks: usize, bias: usize, n: i32, k: i32, lo: f32, hi: f32): void {
  if (!ASC_FEATURE_SIMD) return;
  const pairBytes = <usize>((k + 1) >> 1) << 2;
  const s = f32x4.splat(xs), vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const withBias = bias != 0;
  let pb = bp;
  for (let j0 = 0; j0 < n; j0 += Q8_NR) {
    let x0 = i32x4.splat(0), x1 = i32x4.splat(0);
    let p: usize = 0;
    do {
      const b = v128.load(pb);
      const va = v128.load32_splat(xq + p);
      x0 = i32x4.add(x0, i32x4.dot_i16x8_s(va, i16x8.extend_low_i8x16_s(b)));
      x1 = i32x4.add(x1, i32x4.dot_i16x8_s(va, i16x8.extend_high_i8x16_s(b)));
      p += 4;
      pb += 16;
    } while (p != pairBytes);
    const cols = min(Q8_NR, n - j0);
    const o = <usize>j0 << 2;
    const k0 = colsLo(ks + o, cols), k1 = colsHi(ks + o, cols);
    const b0 = withBias ? colsLo(bias + o, cols) : k0, b1 = withBias ? colsHi(bias + o, cols) : k1;
    const y0 = finish(x0, s, k0, b0, withBias, vlo, vhi), y1 = finish(x1, s, k1, b1, withBias, vlo, vhi);
    storeRow(c + o, y0, y1, cols);
  }
}

// gemm_q8_1x8 without SIMD (the scalar builds): the same integer sums, so the same bits.
function gemm_q8_1x1(c: usize, xq: usize, xs: f32, bp: usize, ks: usize, bias: usize, n: i32, k: i32, lo: f32, hi: f32): void {
  const pairs = (k + 1) >> 1;
  for (let j = 0; j < n; j++) {
    const panel = bp + <usize>((j >> 3) * pairs * 16 + ((j & 7) << 1));
    let acc: i32 = 0;
    for (let p = 0; p < pairs; p++) {
      const at = panel + <usize>(p << 4);
      acc += <i32>load<i16>(xq + <usize>(p << 2)) * <i32>load<i8>(at) + <i32>load<i16>(xq + <usize>(p << 2), 2) * <i32>load<i8>(at, 1);
    }
    let v = <f32>acc / (xs * load<f32>(ks + (<usize>j << 2)));
    if (bias != 0) v += load<f32>(bias + (<usize>j << 2));
    store<f32>(c + (<usize>j << 2), min(max(v, lo), hi));
  }
}
