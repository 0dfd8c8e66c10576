// Depthwise convolution forward with a frozen layer's int8 kernel (Keras 3 quantize('int8')),
// NHWC, geometry as assembly/kernels/conv.ts; pointers are byte offsets.
//
// y (B, OH, OW, C*M) = clamp(sum over taps of x * q (KH, KW, C, M) / scale (C*M) [+ b (C*M)], lo, hi).
// q is widened to f32 in registers; each output sums its in-image taps in (kh, kw) order from 0
// (mul then add), divides by its channel's scale, adds the bias, clamps: one order on every path
// (four channels a vector for M == 1 or M % 4 == 0, scalar otherwise and for the channel tail,
// and the --disable simd build), so all give the same bits. depthwise_conv2d_forward_i8_wide (op
// 246, below) runs the 3x3 / 5x5 layers on q widened into scratch, in depthwise.ts's order.
import { endTap, firstTap } from './taps';
import { widen_i8 } from './gemm-i8-packed';
import { depthwiseRowsOf } from './depthwise';

// Four int8 taps at p as f32x4.
// @ts-ignore: decorator
@inline
function widen4(p: usize): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v128.load32_zero(p))));
}

// One output pixel, channels o0 .. C*M-1: taps kh in [khLo, khHi), kw in [kwLo, kwHi).
// @ts-ignore: decorator
@inline
function pixelI8(yo: usize, xb: usize, q: usize, scale: usize, b: usize, W: i32, C: i32, M: i32, KW: i32, DH: i32, DW: i32,
  ih0: i32, iw0: i32, khLo: i32, khHi: i32, kwLo: i32, kwHi: i32, lo: f32, hi: f32, o0: i32): void {
  const CM = C * M;
  const tap = <usize>CM; // bytes between taps of q
  let o = o0;
  if (ASC_FEATURE_SIMD && (M == 1 || (M & 3) == 0)) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    for (; o + 4 <= CM; o += 4) {
      const oo = <usize>o << 2;
      const xc = xb + (<usize>(o / M) << 2);
      let acc = f32x4.splat(0);
      for (let kh = khLo; kh < khHi; kh++) {
        const xr = xc + (<usize>((ih0 + kh * DH) * W * C) << 2);
        const qr = q + <usize>(kh * KW) * tap + <usize>o;
        for (let kw = kwLo; kw < kwHi; kw++) {
          const xp = xr + (<usize>((iw0 + kw * DW) * C) << 2);
          const xv = M == 1 ? v128.load(xp) : v128.load32_splat(xp);
          acc = f32x4.add(acc, f32x4.mul(xv, widen4(qr + <usize>kw * tap)));
        }
      }
      acc = f32x4.div(acc, v128.load(scale + oo));
      if (b != 0) acc = f32x4.add(acc, v128.load(b + oo));
      v128.store(yo + oo, f32x4.min(f32x4.max(acc, vlo), vhi));
    }
  }
  for (; o < CM; o++) {
    const oo = <usize>o << 2;
    const xc = xb + (<usize>(o / M) << 2);
    let acc: f32 = 0;
    for (let kh = khLo; kh < khHi; kh++) {
      const xr = xc + (<usize>((ih0 + kh * DH) * W * C) << 2);
      const qr = q + <usize>(kh * KW) * tap + <usize>o;
      for (let kw = kwLo; kw < kwHi; kw++) {
        acc += load<f32>(xr + (<usize>((iw0 + kw * DW) * C) << 2)) * <f32>load<i8>(qr + <usize>kw * tap);
      }
    }
    acc /= load<f32>(scale + oo);
    if (b != 0) acc += load<f32>(b + oo);
    store<f32>(yo + oo, min<f32>(max<f32>(acc, lo), hi));
  }
}

export function depthwise_conv2d_forward_i8(y: usize, x: usize, q: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32): void {
  const CM = C * M;
  let yo = y;
  for (let n = 0; n < B; n++) {
    const xb = x + (<usize>(n * H * W * C) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, DH, KH), khHi = endTap(ih0, DH, H, KH, khLo);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, DW, KW), kwHi = endTap(iw0, DW, W, KW, kwLo);
        pixelI8(yo, xb, q, scale, b, W, C, M, KW, DH, DW, ih0, iw0, khLo, khHi, kwLo, kwHi, lo, hi, 0);
        yo += <usize>CM << 2;
      }
    }
  }
}

// depthwise_conv2d_forward_i8 with `wf` scratch (KH*KW*C*M floats): for the 3x3 and 5x5, M = 1,
// dilation-1 layers, q is widened into wf once per call (exact; the layer's weights stay int8 in
// the arena) and the rows run through depthwise.ts's f32 kernels (depthwiseRowsOf, scaled: the
// sums from +0, then / scale, + b, the clamp): pixels outside, channel tiles inside,
// x, y and the weights walked in memory order (3x3: four pixels side by side, the first and last
// rows of a padded image included; 5x5: two). Holding a channel group's widened taps over a whole
// row instead (depthwiseSquareI8) walks x a channel tile at a time, C floats apart, and misses L1
// on the wide layers. The same sums in the same order as pixelI8, so the same bits; other shapes
// go to depthwise_conv2d_forward_i8.
export function depthwise_conv2d_forward_i8_wide(y: usize, x: usize, q: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, wf: usize): void {
  if (!(M == 1 && DH == 1 && DW == 1 && KH == KW && (KH == 3 || KH == 5))) {
    depthwise_conv2d_forward_i8(y, x, q, scale, b, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi);
    return;
  }
  widen_i8(wf, q, KH * KW * C);
  depthwise_i8_rows(y, x, wf, scale, b, B, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW, lo, hi, 0, B * OH);
}

// depthwise_conv2d_forward_i8_wide's output rows row0 .. row1-1 (row = n*OH + oh) on q already
// widened to wf (M = 1, dilation 1, KH == KW in {3, 5}): the wide kernel runs all rows, the int8
// sepconv (sepconv.ts) a band at a time. The one copy of depthwiseRowsOf's int8 order.
export function depthwise_i8_rows(y: usize, x: usize, wf: usize, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32,
  lo: f32, hi: f32, row0: i32, row1: i32): void {
  // M, DH and DW as the constants they are here (the copy inlined for int8 folds them away).
  depthwiseRowsOf(y, x, wf, true, scale, b, B, H, W, C, 1, KH, KW, SH, SW, 1, 1, PT, PL, OH, OW, lo, hi, row0, row1);
}
