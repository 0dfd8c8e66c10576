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
import { interiorRow3Of, interiorRow5Of } from './depthwise';

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

// clamp(acc / scale [+ b]) of channels o .. o+3, stored at yo. pmax / pmin (one instruction each;
// max / min cost ~7): the same values, NaN stays NaN and the sums are never -0 (they start from +0).
// @ts-ignore: decorator
@inline
function finish(yo: usize, acc: v128, sv: v128, bv: v128, withBias: bool, vlo: v128, vhi: v128): void {
  acc = f32x4.div(acc, sv);
  if (withBias) acc = f32x4.add(acc, bv);
  v128.store(yo, f32x4.pmin(f32x4.pmax(acc, vlo), vhi));
}

// depthwise_conv2d_forward_i8 with `wf` scratch (KH*KW*C*M floats): for the 3x3 and 5x5, M = 1,
// dilation-1 layers, q is widened into wf once per call (exact; the layer's weights stay int8 in
// the arena) and the rows run in depthwise.ts's f32 order: pixels outside, channel tiles inside,
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
  const K = KH;
  widen_i8(wf, q, K * K * C);
  const pix = <usize>C << 2;
  let yo = y;
  for (let row = 0; row < B * OH; row++) {
    const n = row / OH, oh = row % OH;
    const xb = x + (<usize>(n * H * W * C) << 2);
    const ih0 = oh * SH - PT;
    const khLo = firstTap(ih0, 1, K), khHi = endTap(ih0, 1, H, K, khLo);
    // The interior run [owLo, owHi): windows whose columns are inside the image, and (5x5) rows too.
    let owLo = OW, owHi = OW;
    if (ASC_FEATURE_SIMD && khHi > khLo && (K == 3 || (khLo == 0 && khHi == K))) {
      const lim = W - K + PL;
      owLo = min(OW, (PL + SW - 1) / SW);
      owHi = lim < 0 ? owLo : max(owLo, min(OW, lim / SW + 1));
    }
    for (let ow = 0; ow < OW; ow++) {
      if (ow == owLo && owHi > owLo) {
        const x0 = xb + (<usize>((ih0 * W + owLo * SW - PL) * C) << 2);
        let done = owHi - owLo;
        if (K == 3) done = wideRow3(yo, x0, wf, scale, b, W, C, SW, done, lo, hi, khLo, khHi);
        else wideRow5(yo, x0, wf, scale, b, W, C, SW, done, lo, hi);
        yo += <usize>done * pix;
        ow = owLo + done - 1;
        owLo = OW; // the pixels left run one by one below
        continue;
      }
      const iw0 = ow * SW - PL;
      const kwLo = firstTap(iw0, 1, K), kwHi = endTap(iw0, 1, W, K, kwLo);
      widePixel(yo, xb, wf, scale, b, W, C, K, ih0, iw0, khLo, khHi, kwLo, kwHi, lo, hi);
      yo += pix;
    }
  }
}

// One output pixel of depthwise_conv2d_forward_i8_wide (M = 1, dilation 1), taps kh in
// [khLo, khHi), kw in [kwLo, kwHi), weights wf widened: the sums kept in y (taps outside,
// channel tiles inside, as depthwise.ts's depthwisePixel), then / scale, + b and the clamp.
// @ts-ignore: decorator
@inline
function widePixel(yo: usize, xb: usize, wf: usize, scale: usize, b: usize, W: i32, C: i32, K: i32,
  ih0: i32, iw0: i32, khLo: i32, khHi: i32, kwLo: i32, kwHi: i32, lo: f32, hi: f32): void {
  const tap = <usize>C << 2;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const cBytes = <usize>(C & ~3) << 2;
    for (let o: usize = 0; o < cBytes; o += 16) v128.store(yo + o, f32x4.splat(0));
    for (let kh = khLo; kh < khHi; kh++) {
      const xr = xb + (<usize>((ih0 + kh) * W) * tap);
      const wr = wf + <usize>(kh * K) * tap;
      for (let kw = kwLo; kw < kwHi; kw++) {
        const xt = xr + <usize>(iw0 + kw) * tap, wt = wr + <usize>kw * tap;
        for (let o: usize = 0; o < cBytes; o += 16) {
          v128.store(yo + o, f32x4.add(v128.load(yo + o), f32x4.mul(v128.load(xt + o), v128.load(wt + o))));
        }
      }
    }
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    for (let o: usize = 0; o < cBytes; o += 16) {
      finish(yo + o, v128.load(yo + o), v128.load(scale + o), b != 0 ? v128.load(b + o) : f32x4.splat(0), b != 0, vlo, vhi);
    }
    c = C & ~3;
  }
  for (; c < C; c++) {
    const o = <usize>c << 2;
    let acc: f32 = 0;
    for (let kh = khLo; kh < khHi; kh++) {
      const xr = xb + (<usize>((ih0 + kh) * W) * tap) + o;
      const wr = wf + <usize>(kh * K) * tap + o;
      for (let kw = kwLo; kw < kwHi; kw++) acc += load<f32>(xr + <usize>(iw0 + kw) * tap) * load<f32>(wr + <usize>kw * tap);
    }
    acc /= load<f32>(scale + o);
    if (b != 0) acc += load<f32>(b + o);
    store<f32>(yo + o, min<f32>(max<f32>(acc, lo), hi));
  }
}

// depthwise.ts's interiorRow3 on widened int8 weights: `count` output pixels of one row (yo the
// first one's output, x0 its window's top-left input pixel, rows khLo .. khHi-1 inside the image),
// four at a time; each channel tile's four sums from +0, then / scale, + b, the clamp. Returns
// count, or 0 when count < 4 (run one by one).
function wideRow3(yo: usize, x0: usize, wf: usize, scale: usize, b: usize, W: i32, C: i32, SW: i32, count: i32, lo: f32, hi: f32,
  khLo: i32, khHi: i32): i32 {
  return interiorRow3Of(yo, x0, wf, true, scale, b, W, C, SW, count, lo, hi, khLo, khHi);
}

// depthwise.ts's interiorRow5 on widened int8 weights: two pixels side by side. Sums as wideRow3's.
function wideRow5(yo: usize, x0: usize, wf: usize, scale: usize, b: usize, W: i32, C: i32, SW: i32, count: i32, lo: f32, hi: f32): void {
  interiorRow5Of(yo, x0, wf, true, scale, b, W, C, SW, count, lo, hi);
}
