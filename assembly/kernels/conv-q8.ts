// conv2d (one group) with Keras 3's absmax activation quantizer (docs/int8.md "absmax"): the
// convolution as the matrix product Keras quantizes for Dense, each output position's im2col row
// (its kh*kw*c patch, zeros where padded; a 1x1's row is one pixel's channels) quantized on its own,
// then the int8 x int8 -> int32 tiles of gemm-q8.ts. The rows are the same whatever the path below,
// so the bits are.
import { im2colChannels } from './conv';
import { gemm_q8, gemm_q8_1x8, gemm_q8_4x8 } from './gemm-q8';
import { quantize8, rowStride } from './q8-rows';
import { loadPartial } from './vector-tail';
import { arg, argf, argp, canSplit, GEMM_SPLIT_MIN, runJob, setArg, setArgf, setArgp, tileStart, tilesFor, TILE_MIN_WORK } from './threads';
import { GEMM_SCRATCH_FLOATS } from './gemm';

// The thread job of a split gathering conv2d_q8 (assembly/kernels/threads.ts runs convQ8Tile).
export const JOB_CONV_Q8: i32 = 20;

// y (B, OH, OW, F) = clamp(absmax rows of x (B, H, W, C) . q / (xs * ks) [+ b], lo, hi); q packed
// by gemm_pack_b_q8 as a (KH*KW*C, F) matrix at bp, ks (F) its scales. cols: convCols(chunkRows,
// KH, KW, C) bytes (used only by the scalar builds' im2col path); scratch: q8ScratchBytes(KH*KW*C).
export function conv2d_q8(y: usize, x: usize, bp: usize, ks: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, chunkRows: i32, cols: usize, scratch: usize, lo: f32, hi: f32): void {
  const N = B * OH * OW;
  if (N <= 0 || F <= 0) return;
  const K = KH * KW * C;
  // A 1x1 without padding reads its rows in place: every position when stride 1 covers the input,
  // else each output row's positions SW*C floats apart.
  if (KH == 1 && KW == 1 && PT == 0 && PL == 0 && (OH - 1) * SH < H && (OW - 1) * SW < W) {
    if (SH == 1 && SW == 1 && OH == H && OW == W) {
      gemm_q8(y, x, bp, ks, b, N, F, C, C, F, lo, hi, scratch);
      return;
    }
    for (let r = 0; r < B * OH; r++) {
      const n = r / OH, ih = (r % OH) * SH;
      const xr = x + (<usize>((n * H + ih) * W * C) << 2);
      gemm_q8(y + (<usize>r * <usize>(OW * F) << 2), xr, bp, ks, b, OW, F, C, SW * C, F, lo, hi, scratch);
    }
    return;
  }
  // SIMD builds gather each patch from x straight into the quantized rows (no f32 im2col chunk).
  if (ASC_FEATURE_SIMD) {
    if (ASC_FEATURE_THREADS && convQ8Split(y, x, bp, ks, b, B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, scratch)) return;
    gatherRows(y, x, bp, ks, b, H, W, C, F, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, scratch, 0, N);
    return;
  }
  const chunk = min(max(chunkRows, 1), N);
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = min(chunk, N - r0);
    im2colChannels(cols, x, B, H, W, C, 0, C, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, r0, rows);
    gemm_q8(y + (<usize>r0 * <usize>F << 2), cols, bp, ks, b, rows, F, K, K, F, lo, hi, scratch);
  }
}

// The split (threads build): tiles of whole 4-position bands, each gathered, quantized and
// multiplied by one thread in its own scratch (a worker's GEMM scratch); a row's sums are exact
// integers, so the bits do not depend on the split.
function convQ8Split(y: usize, x: usize, bp: usize, ks: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, scratch: usize): bool {
  if (!canSplit()) return false;
  const N = B * OH * OW, K = KH * KW * C;
  const work = <f64>N * <f64>F * <f64>K;
  if (work < GEMM_SPLIT_MIN || 16 + 8 * rowStride(K) > GEMM_SCRATCH_FLOATS << 2) return false;
  const count = tilesFor((N + 3) >> 2, work, TILE_MIN_WORK);
  if (count < 2) return false;
  setArgp(0, y); setArgp(1, x); setArgp(2, bp); setArgp(3, ks); setArgp(4, b);
  setArg(5, B); setArg(6, H); setArg(7, W); setArg(8, C); setArg(9, F); setArg(10, KH); setArg(11, KW);
  setArg(12, SH); setArg(13, SW); setArg(14, DH); setArg(15, DW); setArg(16, PT); setArg(17, PL);
  setArg(18, OH); setArg(19, OW); setArgf(20, lo); setArgf(21, hi);
  runJob(JOB_CONV_Q8, count, scratch);
  return true;
}

export function convQ8Tile(args: usize, tile: i32, count: i32, scratch: usize): void {
  const bands = (arg(args, 5) * arg(args, 18) * arg(args, 19) + 3) >> 2;
  const N = arg(args, 5) * arg(args, 18) * arg(args, 19);
  gatherRows(argp(args, 0), argp(args, 1), argp(args, 2), argp(args, 3), argp(args, 4),
    arg(args, 6), arg(args, 7), arg(args, 8), arg(args, 9), arg(args, 10), arg(args, 11), arg(args, 12), arg(args, 13),
    arg(args, 14), arg(args, 15), arg(args, 16), arg(args, 17), arg(args, 18), arg(args, 19), argf(args, 20), argf(args, 21),
    scratch, tileStart(tile, count, bands) << 2, min(N, tileStart(tile + 1, count, bands) << 2));
}

// Output positions o0 .. o1-1 (o = (n*OH + oh)*OW + ow) of the SIMD path, 4 at a time: each
// position's patch gathered from x into its int16 row of the scratch (the layout of gemm_q8's:
// zeros where padded and past K) with its scale, then gemm_q8_4x8 (gemm_q8_1x8 for the last rows).
function gatherRows(y: usize, x: usize, bp: usize, ks: usize, b: usize,
  H: i32, W: i32, C: i32, F: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, scratch: usize, o0: i32, o1: i32): void {
  if (!ASC_FEATURE_SIMD) return;
  const K = KH * KW * C;
  const xs = scratch, xq = scratch + 16;
  const rowBytes = <usize>rowStride(K) << 1;
  const imageBytes = <usize>(H * W * C) << 2;
  // Rows past K stay zero: only a border position's row is written where it has no tap.
  zeroBytes(xq, rowBytes << 2);
  // The position o as (n, oh, ow), advanced one at a time (no division per position).
  let ow = o0 % OW, oh = (o0 / OW) % OH, xn = x + <usize>(o0 / (OW * OH)) * imageBytes;
  for (let o = o0; o < o1; o += 4) {
    const mr = min(4, o1 - o);
    for (let r = 0; r < mr; r++) {
      const ih0 = oh * SH - PT, iw0 = ow * SW - PL;
      const row = xq + <usize>r * rowBytes, at = xs + (<usize>r << 2);
      if (DW == 1 && ih0 >= 0 && ih0 + (KH - 1) * DH < H && iw0 >= 0 && iw0 + KW - 1 < W) {
        interiorRow(row, at, xn + (<usize>((ih0 * W + iw0) * C) << 2), <usize>(DH * W * C) << 2, KH, KW * C);
      } else {
        borderRow(row, at, rowBytes, xn, H, W, C, KH, KW, DH, DW, ih0, iw0);
      }
      if (++ow == OW) {
        ow = 0;
        if (++oh == OH) {
          oh = 0;
          xn += imageBytes;
        }
      }
    }
    const c = y + (<usize>o * <usize>F << 2);
    if (mr == 4) {
      gemm_q8_4x8(c, F, xq, rowBytes, xs, bp, ks, b, F, K, lo, hi);
    } else {
      for (let r = 0; r < mr; r++) {
        gemm_q8_1x8(c + (<usize>(r * F) << 2), xq + <usize>r * rowBytes, load<f32>(xs + (<usize>r << 2)), bp, ks, b, F, K, lo, hi);
      }
    }
  }
}

// A patch inside the input without dilation across: KH runs of L = KW*C floats, runBytes apart
// from src; its row (K = KH*L i16) and its scale at xs.
// @ts-ignore: decorator
@inline
function interiorRow(row: usize, xs: usize, src: usize, runBytes: usize, KH: i32, L: i32): void {
  let m = f32x4.splat(0);
  for (let kh = 0; kh < KH; kh++) m = f32x4.pmax(m, runMax(src + <usize>kh * runBytes, L));
  const s = scaleOf(m);
  store<f32>(xs, s);
  const vs = f32x4.splat(s);
  for (let kh = 0; kh < KH; kh++) quantizeRun(row + (<usize>(kh * L) << 1), src + <usize>kh * runBytes, L, vs);
}

// A patch crossing the padding (or with a dilation across): its row zeroed, then its taps in
// im2col order, one run of KW*C floats per kernel row when DW is 1 (C per tap otherwise), clipped
// to the input image at xn; its scale at xs.
function borderRow(row: usize, xs: usize, rowBytes: usize, xn: usize, H: i32, W: i32, C: i32, KH: i32, KW: i32, DH: i32, DW: i32,
  ih0: i32, iw0: i32): void {
  if (!ASC_FEATURE_SIMD) return;
  zeroBytes(row, rowBytes);
  const runTaps = DW == 1 ? KW : 1;
  let m = f32x4.splat(0);
  for (let pass = 0; pass < 2; pass++) {
    const vs = f32x4.splat(pass == 0 ? 0 : load<f32>(xs));
    for (let kh = 0; kh < KH; kh++) {
      const ih = ih0 + kh * DH;
      if (ih < 0 || ih >= H) continue;
      const xr = xn + (<usize>(ih * W) * <usize>C << 2);
      for (let k0 = 0; k0 < KW; k0 += runTaps) {
        let kw0 = k0, kw1 = k0 + runTaps;
        if (DW == 1) {
          kw0 = max(0, -iw0);
          kw1 = min(KW, W - iw0);
        } else if (iw0 + k0 * DW < 0 || iw0 + k0 * DW >= W) {
          continue;
        }
        if (kw1 <= kw0) continue;
        const src = xr + (<usize>((iw0 + kw0 * DW) * C) << 2);
        const len = (kw1 - kw0) * C;
        if (pass == 0) m = f32x4.pmax(m, runMax(src, len));
        else quantizeRun(row + (<usize>((kh * KW + kw0) * C) << 1), src, len, vs);
      }
    }
    if (pass == 0) store<f32>(xs, scaleOf(m));
  }
}

// Keras's scale 127 / (max|x| + 1e-7) of a patch whose partial maxima are m's lanes.
// @ts-ignore: decorator
@inline
function scaleOf(m: v128): f32 {
  const m2 = f32x4.pmax(m, v128.shuffle<f32>(m, m, 2, 3, 2, 3));
  const amax = max(f32x4.extract_lane(m2, 0), f32x4.extract_lane(m2, 1));
  return <f32>127 / (amax + <f32>1e-7);
}

// Partial maxima of |x| over len floats at src (4 lanes; a tail's missing lanes read as 0).
// @ts-ignore: decorator
@inline
function runMax(src: usize, len: i32): v128 {
  let m = f32x4.splat(0);
  const full = <usize>(len & ~3) << 2;
  for (let p: usize = 0; p < full; p += 16) m = f32x4.pmax(m, f32x4.abs(v128.load(src + p)));
  if (len & 3) m = f32x4.pmax(m, f32x4.abs(loadPartial(src + full, len & 3)));
  return m;
}

// dst (len i16) = the quantized values of len floats at src by the scale in vs (quantize8's
// rounding; a tail of at most 4 rounds one vector).
// @ts-ignore: decorator
@inline
function quantizeRun(dst: usize, src: usize, len: i32, vs: v128): void {
  let p = 0;
  for (; p + 8 <= len; p += 8) v128.store(dst + (<usize>p << 1), quantize8(v128.load(src + (<usize>p << 2)), v128.load(src + (<usize>p << 2), 16), vs));
  const rest = len - p;
  if (rest > 0) {
    const s = src + (<usize>p << 2);
    const lo4 = loadPartial(s, min(rest, 4));
    storeI16Tail(dst + (<usize>p << 1), quantize8(lo4, rest > 4 ? loadPartial(s + 16, rest - 4) : lo4, vs), rest);
  }
}

// The first n (< 8) i16 lanes of v at p.
// @ts-ignore: decorator
@inline
function storeI16Tail(p: usize, v: v128, n: i32): void {
  if (n & 4) {
    v128.store64_lane(p, v, 0);
    v = v128.shuffle<i16>(v, v, 4, 5, 6, 7, 4, 5, 6, 7);
    p += 8;
  }
  if (n & 2) {
    v128.store32_lane(p, v, 0);
    v = v128.shuffle<i16>(v, v, 2, 3, 2, 3, 2, 3, 2, 3);
    p += 4;
  }
  if (n & 1) v128.store16_lane(p, v, 0);
}

// bytes (a multiple of 16) of zeros at p.
// @ts-ignore: decorator
@inline
function zeroBytes(p: usize, bytes: usize): void {
  const z = i32x4.splat(0);
  for (let o: usize = 0; o < bytes; o += 16) v128.store(p + o, z);
}
