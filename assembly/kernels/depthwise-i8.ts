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
  if (ASC_FEATURE_SIMD && KH == 3 && KW == 3 && M == 1 && DH == 1 && DW == 1 && C >= 4) {
    depthwise3x3I8(y, x, q, scale, b, B, H, W, C, SH, SW, PT, PL, OH, OW, lo, hi);
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

// 3x3, M == 1, no dilation (the depthwise layers of MobileNets and Xception): a row of output
// pixels at a time; for each group of four channels its nine widened taps, scale and bias stay in
// registers over the row's pixels whose window lies inside the image (their input rows are in
// cache: three rows of the image). Border pixels and the channel tail take pixelI8. The same
// order of sums as pixelI8, so the same bits.
function depthwise3x3I8(y: usize, x: usize, q: usize, scale: usize, b: usize, B: i32, H: i32, W: i32, C: i32,
  SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32): void {
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  const C4 = C & ~3;
  const pix = <usize>C << 2;
  const rowBytes = <usize>(W * C) << 2;
  const step = <usize>SW * pix;
  // Output columns whose three taps are inside [0, W): ow*SW - PL >= 0 and ow*SW - PL + 3 <= W.
  const owLo = min(OW, (PL + SW - 1) / SW);
  const owHi = max(owLo, min(OW, W - 3 + PL >= 0 ? (W - 3 + PL) / SW + 1 : 0));
  for (let n = 0; n < B; n++) {
    const xb = x + <usize>n * <usize>H * rowBytes;
    for (let oh = 0; oh < OH; oh++) {
      const yr = y + (<usize>((n * OH + oh) * OW) * pix);
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, 1, 3), khHi = endTap(ih0, 1, H, 3, khLo);
      const inside = khLo == 0 && khHi == 3;
      for (let ow = 0; ow < OW; ow++) {
        if (inside && ow >= owLo && ow < owHi) { ow = owHi - 1; continue; }
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, 1, 3), kwHi = endTap(iw0, 1, W, 3, kwLo);
        pixelI8(yr + <usize>ow * pix, xb, q, scale, b, W, C, 1, 3, 1, 1, ih0, iw0, khLo, khHi, kwLo, kwHi, lo, hi, 0);
      }
      if (!inside || owHi <= owLo) continue;
      const x0 = xb + <usize>ih0 * rowBytes + <usize>(owLo * SW - PL) * pix;
      for (let o = 0; o < C4; o += 4) {
        const oo = <usize>o << 2;
        const qo = q + <usize>o;
        const w0 = widen4(qo), w1 = widen4(qo + pix / 4), w2 = widen4(qo + 2 * (pix / 4));
        const w3 = widen4(qo + 3 * (pix / 4)), w4 = widen4(qo + 4 * (pix / 4)), w5 = widen4(qo + 5 * (pix / 4));
        const w6 = widen4(qo + 6 * (pix / 4)), w7 = widen4(qo + 7 * (pix / 4)), w8 = widen4(qo + 8 * (pix / 4));
        const sv = v128.load(scale + oo);
        const bv = b != 0 ? v128.load(b + oo) : f32x4.splat(0);
        let xp = x0 + oo;
        let yo = yr + <usize>owLo * pix + oo;
        for (let ow = owLo; ow < owHi; ow++) {
          // From +0 as pixelI8 sums (a sum of -0 products stays +0 there too).
          let acc = f32x4.add(f32x4.splat(0), f32x4.mul(v128.load(xp), w0));
          acc = f32x4.add(acc, f32x4.mul(v128.load(xp + pix), w1));
          acc = f32x4.add(acc, f32x4.mul(v128.load(xp + 2 * pix), w2));
          const x1 = xp + rowBytes;
          acc = f32x4.add(acc, f32x4.mul(v128.load(x1), w3));
          acc = f32x4.add(acc, f32x4.mul(v128.load(x1 + pix), w4));
          acc = f32x4.add(acc, f32x4.mul(v128.load(x1 + 2 * pix), w5));
          const x2 = x1 + rowBytes;
          acc = f32x4.add(acc, f32x4.mul(v128.load(x2), w6));
          acc = f32x4.add(acc, f32x4.mul(v128.load(x2 + pix), w7));
          acc = f32x4.add(acc, f32x4.mul(v128.load(x2 + 2 * pix), w8));
          acc = f32x4.div(acc, sv);
          if (b != 0) acc = f32x4.add(acc, bv);
          v128.store(yo, f32x4.min(f32x4.max(acc, vlo), vhi));
          xp += step;
          yo += pix;
        }
      }
      if (C4 < C) {
        for (let ow = owLo; ow < owHi; ow++) {
          pixelI8(yr + <usize>ow * pix, xb, q, scale, b, W, C, 1, 3, 1, 1, ih0, ow * SW - PL, 0, 3, 0, 3, lo, hi, C4);
        }
      }
    }
  }
}
