// Depthwise convolution forward with a frozen layer's int8 kernel (Keras 3 quantize('int8')),
// NHWC, geometry as assembly/kernels/conv.ts; pointers are byte offsets.
//
// y (B, OH, OW, C*M) = clamp(sum over taps of x * q (KH, KW, C, M) / scale (C*M) [+ b (C*M)], lo, hi).
// q is widened to f32 in registers; each output sums its in-image taps in (kh, kw) order from 0
// (mul then add), divides by its channel's scale, adds the bias, clamps: one order on every path
// (four channels a vector for M == 1 or M % 4 == 0, scalar otherwise and for the channel tail,
// and the --disable simd build), so all give the same bits.
import { endTap, firstTap } from './taps';

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
  if (ASC_FEATURE_SIMD && KH == KW && (KH == 3 || KH == 5) && M == 1 && DH == 1 && DW == 1 && C >= 4) {
    depthwiseSquareI8(y, x, q, scale, b, B, H, W, C, KH, SH, SW, PT, PL, OH, OW, lo, hi);
    return;
  }
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

// 3x3 or 5x5 (K), M == 1, no dilation (the depthwise layers of MobileNets, EfficientNet and
// Xception): a row of output pixels at a time; for each group of four channels its K*K widened
// taps, scale and bias are held over the row's pixels whose window lies inside the image (their
// input rows are in cache: K rows of the image; a 5x5 group's 25 taps are more than the register
// file, and what spills is reloaded as f32, never widened again). Border pixels and the channel
// tail take pixelI8. The same order of sums as pixelI8, so the same bits.
function depthwiseSquareI8(y: usize, x: usize, q: usize, scale: usize, b: usize, B: i32, H: i32, W: i32, C: i32, K: i32,
  SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32): void {
  const C4 = C & ~3;
  const pix = <usize>C << 2;
  const rowBytes = <usize>(W * C) << 2;
  // Output columns whose K taps are inside [0, W): ow*SW - PL >= 0 and ow*SW - PL + K <= W.
  const owLo = min(OW, (PL + SW - 1) / SW);
  const owHi = max(owLo, min(OW, W - K + PL >= 0 ? (W - K + PL) / SW + 1 : 0));
  for (let n = 0; n < B; n++) {
    const xb = x + <usize>n * <usize>H * rowBytes;
    for (let oh = 0; oh < OH; oh++) {
      const yr = y + (<usize>((n * OH + oh) * OW) * pix);
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, 1, K), khHi = endTap(ih0, 1, H, K, khLo);
      const inside = khLo == 0 && khHi == K;
      for (let ow = 0; ow < OW; ow++) {
        if (inside && ow >= owLo && ow < owHi) { ow = owHi - 1; continue; }
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, 1, K), kwHi = endTap(iw0, 1, W, K, kwLo);
        pixelI8(yr + <usize>ow * pix, xb, q, scale, b, W, C, 1, K, 1, 1, ih0, iw0, khLo, khHi, kwLo, kwHi, lo, hi, 0);
      }
      if (!inside || owHi <= owLo) continue;
      const x0 = xb + <usize>ih0 * rowBytes + <usize>(owLo * SW - PL) * pix;
      const y0 = yr + <usize>owLo * pix;
      for (let o = 0; o < C4; o += 4) {
        if (K == 3) interiorRow3(y0, x0, q, scale, b, o, pix, rowBytes, SW, owHi - owLo, lo, hi);
        else interiorRow5(y0, x0, q, scale, b, o, pix, rowBytes, SW, owHi - owLo, lo, hi);
      }
      if (C4 < C) {
        for (let ow = owLo; ow < owHi; ow++) {
          pixelI8(yr + <usize>ow * pix, xb, q, scale, b, W, C, 1, K, 1, 1, ih0, ow * SW - PL, 0, K, 0, K, lo, hi, C4);
        }
      }
    }
  }
}

// acc + the products of K taps along a row (x at xp, pix bytes apart), in kw order.
// @ts-ignore: decorator
@inline
function row3(acc: v128, xp: usize, pix: usize, w0: v128, w1: v128, w2: v128): v128 {
  acc = f32x4.add(acc, f32x4.mul(v128.load(xp), w0));
  acc = f32x4.add(acc, f32x4.mul(v128.load(xp + pix), w1));
  return f32x4.add(acc, f32x4.mul(v128.load(xp + 2 * pix), w2));
}

// @ts-ignore: decorator
@inline
function row5(acc: v128, xp: usize, pix: usize, w0: v128, w1: v128, w2: v128, w3: v128, w4: v128): v128 {
  acc = row3(acc, xp, pix, w0, w1, w2);
  acc = f32x4.add(acc, f32x4.mul(v128.load(xp + 3 * pix), w3));
  return f32x4.add(acc, f32x4.mul(v128.load(xp + 4 * pix), w4));
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

// Channels o .. o+3 of `count` interior pixels of an output row (y at y0, x window of the first at
// x0, SW pixels apart), 3x3.
function interiorRow3(y0: usize, x0: usize, q: usize, scale: usize, b: usize, o: i32, pix: usize, rowBytes: usize,
  SW: i32, count: i32, lo: f32, hi: f32): void {
  const oo = <usize>o << 2;
  const tap = pix >> 2;
  const qo = q + <usize>o;
  const w0 = widen4(qo), w1 = widen4(qo + tap), w2 = widen4(qo + 2 * tap);
  const w3 = widen4(qo + 3 * tap), w4 = widen4(qo + 4 * tap), w5 = widen4(qo + 5 * tap);
  const w6 = widen4(qo + 6 * tap), w7 = widen4(qo + 7 * tap), w8 = widen4(qo + 8 * tap);
  const sv = v128.load(scale + oo);
  const bv = b != 0 ? v128.load(b + oo) : f32x4.splat(0);
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const step = <usize>SW * pix;
  let xp = x0 + oo;
  let yo = y0 + oo;
  // Two pixels side by side, so their dependent add chains overlap (as depthwise.ts's f32 rows);
  // for an odd count the last pair's second pixel aliases the first and is not stored.
  for (let i = 0; i < count; i += 2) {
    const two = i + 1 < count;
    const xq = two ? xp + step : xp;
    // From +0 as pixelI8 sums (a sum of -0 products stays +0 there too).
    let a0 = row3(f32x4.splat(0), xp, pix, w0, w1, w2);
    let a1 = row3(f32x4.splat(0), xq, pix, w0, w1, w2);
    a0 = row3(a0, xp + rowBytes, pix, w3, w4, w5);
    a1 = row3(a1, xq + rowBytes, pix, w3, w4, w5);
    a0 = row3(a0, xp + 2 * rowBytes, pix, w6, w7, w8);
    a1 = row3(a1, xq + 2 * rowBytes, pix, w6, w7, w8);
    finish(yo, a0, sv, bv, b != 0, vlo, vhi);
    if (two) finish(yo + pix, a1, sv, bv, b != 0, vlo, vhi);
    xp += 2 * step;
    yo += 2 * pix;
  }
}

// interiorRow3 for 5x5.
function interiorRow5(y0: usize, x0: usize, q: usize, scale: usize, b: usize, o: i32, pix: usize, rowBytes: usize,
  SW: i32, count: i32, lo: f32, hi: f32): void {
  const oo = <usize>o << 2;
  const tap = pix >> 2;
  const qo = q + <usize>o;
  const w00 = widen4(qo), w01 = widen4(qo + tap), w02 = widen4(qo + 2 * tap), w03 = widen4(qo + 3 * tap), w04 = widen4(qo + 4 * tap);
  const w10 = widen4(qo + 5 * tap), w11 = widen4(qo + 6 * tap), w12 = widen4(qo + 7 * tap), w13 = widen4(qo + 8 * tap), w14 = widen4(qo + 9 * tap);
  const w20 = widen4(qo + 10 * tap), w21 = widen4(qo + 11 * tap), w22 = widen4(qo + 12 * tap), w23 = widen4(qo + 13 * tap), w24 = widen4(qo + 14 * tap);
  const w30 = widen4(qo + 15 * tap), w31 = widen4(qo + 16 * tap), w32 = widen4(qo + 17 * tap), w33 = widen4(qo + 18 * tap), w34 = widen4(qo + 19 * tap);
  const w40 = widen4(qo + 20 * tap), w41 = widen4(qo + 21 * tap), w42 = widen4(qo + 22 * tap), w43 = widen4(qo + 23 * tap), w44 = widen4(qo + 24 * tap);
  const sv = v128.load(scale + oo);
  const bv = b != 0 ? v128.load(b + oo) : f32x4.splat(0);
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const step = <usize>SW * pix;
  let xp = x0 + oo;
  let yo = y0 + oo;
  // Two pixels side by side, as interiorRow3.
  for (let i = 0; i < count; i += 2) {
    const two = i + 1 < count;
    const xq = two ? xp + step : xp;
    let a0 = row5(f32x4.splat(0), xp, pix, w00, w01, w02, w03, w04);
    let a1 = row5(f32x4.splat(0), xq, pix, w00, w01, w02, w03, w04);
    a0 = row5(a0, xp + rowBytes, pix, w10, w11, w12, w13, w14);
    a1 = row5(a1, xq + rowBytes, pix, w10, w11, w12, w13, w14);
    a0 = row5(a0, xp + 2 * rowBytes, pix, w20, w21, w22, w23, w24);
    a1 = row5(a1, xq + 2 * rowBytes, pix, w20, w21, w22, w23, w24);
    a0 = row5(a0, xp + 3 * rowBytes, pix, w30, w31, w32, w33, w34);
    a1 = row5(a1, xq + 3 * rowBytes, pix, w30, w31, w32, w33, w34);
    a0 = row5(a0, xp + 4 * rowBytes, pix, w40, w41, w42, w43, w44);
    a1 = row5(a1, xq + 4 * rowBytes, pix, w40, w41, w42, w43, w44);
    finish(yo, a0, sv, bv, b != 0, vlo, vhi);
    if (two) finish(yo + pix, a1, sv, bv, b != 0, vlo, vhi);
    xp += 2 * step;
    yo += 2 * pix;
  }
}
