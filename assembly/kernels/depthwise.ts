// Depthwise convolution, NHWC (geometry as assembly/kernels/conv.ts): the forward pass with the
// layer's bias and a clamp (ReLU: [0, inf), ReLU6: [0, 6], none: +-inf) applied before the one store,
// and (at the end of the file) the training passes' input and filter gradients. f32; pointers are
// byte offsets.
//
// y (B, OH, OW, C*M) = clamp(depthwise conv(x (B, H, W, C), w (KH, KW, C, M)) [+ b (C*M)], lo, hi).
//
// Output pixels whose whole 3x3 or 5x5 window (dilation 1, M = 1, any stride) lies inside the
// image, nearly all of them in a mobile network, take a direct path with the taps unrolled and
// four channels per vector (XNNPACK's dwconv up9 / up25 shape: the channels are the vector, the
// taps the unrolled loop); the weights are read in place, their (KH, KW, C) layout already being
// tap-major with contiguous channels. Border pixels and other shapes take the general loop.
// The interior run of each output row is summed several pixels side by side instead (interiorRow3:
// four, interiorRow5: two), so their dependent add chains overlap and each weight vector loaded
// serves all of them.
// Every output sums bias first, then taps in (kh, kw) order, mul then add; the scalar build and
// the channel tail sum in the same order, so all paths give the same bits.
import { endTap, firstTap } from './taps';
import { bias_backward, fill_f32 } from './elementwise';
import { depthwise_forward_split } from './threads';
import { depthwise_filter_split, depthwise_input_split } from './threads-train';

// The general path for one output pixel: taps kh in [khLo, khHi), kw in [kwLo, kwHi) (those inside
// the image), vectorised over channels for M == 1 or M % 4 == 0. `scaled` (a constant at each
// call; M == 1): the int8 kernel's order on widened weights (interiorRow3Of), / scale after the sums.
// @ts-ignore: decorator
@inline
function depthwisePixel(yo: usize, xb: usize, w: usize, scaled: bool, scale: usize, b: usize, W: i32, C: i32, M: i32, KW: i32,
  DH: i32, DW: i32, ih0: i32, iw0: i32, khLo: i32, khHi: i32, kwLo: i32, kwHi: i32, lo: f32, hi: f32): void {
  const CM = C * M;
  const tapBytes = <usize>CM << 2;
  let o = 0;
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    if (M == 1) {
      // Taps outside, channel tiles inside, the sums kept in y (a tap's loop over the channels is
      // long and plain where the taps' loops, two or three steps each, are not): each output
      // still sums its bias, then its taps in (kh, kw) order, then the clamp.
      const cBytes = <usize>(CM & ~3) << 2;
      for (let oo: usize = 0; oo < cBytes; oo += 16) v128.store(yo + oo, scaled ? f32x4.splat(0) : startSum(b, oo, lo));
      for (let kh = khLo; kh < khHi; kh++) {
        const xr = xb + (<usize>((ih0 + kh * DH) * W * C) << 2);
        const wr = w + <usize>(kh * KW) * tapBytes;
        for (let kw = kwLo; kw < kwHi; kw++) {
          const xt = xr + (<usize>((iw0 + kw * DW) * C) << 2), wt = wr + <usize>kw * tapBytes;
          for (let oo: usize = 0; oo < cBytes; oo += 16) {
            v128.store(yo + oo, f32x4.add(v128.load(yo + oo), f32x4.mul(v128.load(xt + oo), v128.load(wt + oo))));
          }
        }
      }
      for (let oo: usize = 0; oo < cBytes; oo += 16) {
        let acc = v128.load(yo + oo);
        if (scaled) acc = dequantize(acc, v128.load(scale + oo), b != 0 ? v128.load(b + oo) : acc, b != 0);
        v128.store(yo + oo, f32x4.pmin(f32x4.pmax(acc, vlo), vhi));
      }
      o = CM & ~3;
    } else if (!scaled && (M & 3) == 0) {
      for (; o < CM; o += 4) {
        const oo = <usize>o << 2;
        const xc = xb + (<usize>(o / M) << 2);
        let acc = startSum(b, oo, lo);
        for (let kh = khLo; kh < khHi; kh++) {
          const xr = xc + (<usize>((ih0 + kh * DH) * W * C) << 2);
          const wr = w + <usize>(kh * KW) * tapBytes + oo;
          for (let kw = kwLo; kw < kwHi; kw++) {
            const xv = v128.load32_splat(xr + (<usize>((iw0 + kw * DW) * C) << 2));
            acc = f32x4.add(acc, f32x4.mul(xv, v128.load(wr + <usize>kw * tapBytes)));
          }
        }
        v128.store(yo + oo, f32x4.pmin(f32x4.pmax(acc, vlo), vhi));
      }
    }
  }
  for (; o < CM; o++) {
    const oo = <usize>o << 2;
    const xc = xb + (<usize>(o / M) << 2);
    let acc: f32 = !scaled && b != 0 ? load<f32>(b + oo) : 0;
    for (let kh = khLo; kh < khHi; kh++) {
      const xr = xc + (<usize>((ih0 + kh * DH) * W * C) << 2);
      const wr = w + <usize>(kh * KW) * tapBytes + oo;
      for (let kw = kwLo; kw < kwHi; kw++) {
        acc += load<f32>(xr + (<usize>((iw0 + kw * DW) * C) << 2)) * load<f32>(wr + <usize>kw * tapBytes);
      }
    }
    if (scaled) {
      acc /= load<f32>(scale + oo);
      if (b != 0) acc += load<f32>(b + oo);
    }
    store<f32>(yo + oo, min<f32>(max<f32>(acc, lo), hi));
  }
}

// acc + the K (3 or 5) taps of one kernel row, four channels: x at xp, xp + step, ...; w at wp,
// wp + step, ... (a pixel and a tap are both C floats apart when M == 1).
// @ts-ignore: decorator
@inline
function tapRow(acc: v128, xp: usize, wp: usize, step: usize, K: i32): v128 {
  acc = f32x4.add(acc, f32x4.mul(v128.load(xp), v128.load(wp)));
  acc = f32x4.add(acc, f32x4.mul(v128.load(xp + step), v128.load(wp + step)));
  acc = f32x4.add(acc, f32x4.mul(v128.load(xp + 2 * step), v128.load(wp + 2 * step)));
  if (K == 5) {
    acc = f32x4.add(acc, f32x4.mul(v128.load(xp + 3 * step), v128.load(wp + 3 * step)));
    acc = f32x4.add(acc, f32x4.mul(v128.load(xp + 4 * step), v128.load(wp + 4 * step)));
  }
  return acc;
}

// One interior output pixel of a K x K (3 or 5) window, M = 1, dilation 1: x0 is the window's
// top-left input pixel. The channel tail (C % 4) goes through depthwisePixel's scalar loop.
// @ts-ignore: decorator
@inline
function interiorPixel(yo: usize, x0: usize, w: usize, scaled: bool, scale: usize, b: usize, W: i32, C: i32, K: i32, lo: f32, hi: f32): void {
  const step = <usize>C << 2;
  const rowBytes = <usize>(W * C) << 2;
  const wRow = <usize>K * step;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      let acc = scaled ? f32x4.splat(0) : startSum(b, o, lo);
      const xp = x0 + o, wp = w + o;
      acc = tapRow(acc, xp, wp, step, K);
      acc = tapRow(acc, xp + rowBytes, wp + wRow, step, K);
      acc = tapRow(acc, xp + 2 * rowBytes, wp + 2 * wRow, step, K);
      if (K == 5) {
        acc = tapRow(acc, xp + 3 * rowBytes, wp + 3 * wRow, step, K);
        acc = tapRow(acc, xp + 4 * rowBytes, wp + 4 * wRow, step, K);
      }
      if (scaled) acc = dequantize(acc, v128.load(scale + o), b != 0 ? v128.load(b + o) : acc, b != 0);
      v128.store(yo + o, f32x4.pmin(f32x4.pmax(acc, vlo), vhi));
    }
  }
  interiorTail(yo, x0, w, scaled, scale, b, rowBytes, step, K, c, C, lo, hi, 0, K);
}

// Channels c0 .. C-1 of one interior pixel (as interiorPixel), one at a time; window rows khLo .. khHi-1.
// `scaled` (a constant at each call): the int8 kernel's order instead (depthwise-i8.ts): the sums
// from 0, then / scale, + b.
// @ts-ignore: decorator
@inline
function interiorTail(yo: usize, x0: usize, w: usize, scaled: bool, scale: usize, b: usize, rowBytes: usize, step: usize,
  K: i32, c0: i32, C: i32, lo: f32, hi: f32, khLo: i32, khHi: i32): void {
  const wRow = <usize>K * step;
  for (let c = c0; c < C; c++) {
    const o = <usize>c << 2;
    let acc: f32 = !scaled && b != 0 ? load<f32>(b + o) : 0;
    for (let kh = khLo; kh < khHi; kh++) {
      const xr = x0 + o + <usize>kh * rowBytes;
      const wr = w + o + <usize>kh * wRow;
      for (let kw = 0; kw < K; kw++) acc += load<f32>(xr + <usize>kw * step) * load<f32>(wr + <usize>kw * step);
    }
    if (scaled) {
      acc /= load<f32>(scale + o);
      if (b != 0) acc += load<f32>(b + o);
    }
    store<f32>(yo + o, min<f32>(max<f32>(acc, lo), hi));
  }
}


export function depthwise_conv2d_forward_clamp(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32): void {
  // With a thread pool attached, output rows go to the threads (threads.ts).
  if (ASC_FEATURE_THREADS && depthwise_forward_split(y, x, w, b, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi)) return;
  depthwise_forward_rows(y, x, w, b, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, 0, B * OH);
}

// depthwise_conv2d_forward_clamp of output rows row0 .. row1-1, row = n*OH + oh.
export function depthwise_forward_rows(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, row0: i32, row1: i32): void {
  depthwiseRowsOf(y, x, w, false, 0, b, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, lo, hi, row0, row1);
}

// depthwise_forward_rows, and when `scaled` (a constant at each call) the int8 kernel's on widened
// weights (depthwise-i8.ts's depthwise_conv2d_forward_i8_wide: M == 1): each sum from +0, then
// / scale (C), + b, the clamp.
// @ts-ignore: decorator
@inline
export function depthwiseRowsOf(y: usize, x: usize, w: usize, scaled: bool, scale: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, lo: f32, hi: f32, row0: i32, row1: i32): void {
  const tapBytes = <usize>(C * M) << 2;
  const direct = ASC_FEATURE_SIMD && M == 1 && DH == 1 && DW == 1 && KH == KW && (KH == 3 || KH == 5);
  let yo = y + <usize>row0 * <usize>OW * tapBytes;
  for (let row = row0; row < row1; row++) {
    const n = row / OH, oh = row % OH;
    const xb = x + (<usize>(n * H * W * C) << 2);
    const ih0 = oh * SH - PT;
    const khLo = firstTap(ih0, DH, KH), khHi = endTap(ih0, DH, H, KH, khLo);
    const rowInside = direct && khLo == 0 && khHi == KH;
    // The interior run [owLo, owHi) of the row: the windows' columns inside the image, and their
    // rows too (3x3: the rows inside the image, the first and last rows of a padded image included).
    let owLo = OW, owHi = OW;
    if (rowInside || (direct && KH == 3 && khHi > khLo)) {
      const lim = W - KW + PL;
      owLo = min(OW, (PL + SW - 1) / SW);
      owHi = lim < 0 ? owLo : max(owLo, min(OW, lim / SW + 1));
    }
    for (let ow = 0; ow < OW; ow++) {
      if (ow == owLo && owHi > owLo) {
        const x0 = xb + (<usize>((ih0 * W + owLo * SW - PL) * C) << 2);
        let done = owHi - owLo;
        if (scaled) {
          if (KH == 3) done = scaledRow3(yo, x0, w, scale, b, W, C, SW, done, lo, hi, khLo, khHi);
          else scaledRow5(yo, x0, w, scale, b, W, C, SW, done, lo, hi);
        } else {
          if (KH == 3) done = interiorRow3(yo, x0, w, b, W, C, SW, done, lo, hi, khLo, khHi);
          else interiorRow5(yo, x0, w, b, W, C, SW, done, lo, hi);
        }
        yo += <usize>done * tapBytes;
        ow = owLo + done - 1;
        owLo = OW; // the pixels left run one by one below
        continue;
      }
      const iw0 = ow * SW - PL;
      const kwLo = firstTap(iw0, DW, KW), kwHi = endTap(iw0, DW, W, KW, kwLo);
      if (rowInside && kwLo == 0 && kwHi == KW) {
        interiorPixel(yo, xb + (<usize>((ih0 * W + iw0) * C) << 2), w, scaled, scale, b, W, C, KH, lo, hi);
      } else {
        depthwisePixel(yo, xb, w, scaled, scale, b, W, C, M, KW, DH, DW, ih0, iw0, khLo, khHi, kwLo, kwHi, lo, hi);
      }
      yo += tapBytes;
    }
  }
}

// interiorRow3 for 5x5: 25 weight vectors do not fit the registers, so each is loaded once per
// pixel pair and used for both (for an odd count the last pair's second pixel aliases the first
// and is not stored). The same sums in the same order as interiorPixel, so the same bits.
function interiorRow5(yo: usize, x0: usize, w: usize, b: usize, W: i32, C: i32, SW: i32, count: i32, lo: f32, hi: f32): void {
  interiorRow5Of(yo, x0, w, false, 0, b, W, C, SW, count, lo, hi);
}

// interiorRow5 on int8 weights widened to w (depthwise-i8.ts): the sums / scale (C), + b, the clamp.
function scaledRow5(yo: usize, x0: usize, w: usize, scale: usize, b: usize, W: i32, C: i32, SW: i32, count: i32, lo: f32, hi: f32): void {
  interiorRow5Of(yo, x0, w, true, scale, b, W, C, SW, count, lo, hi);
}

// interiorRow5, and when `scaled` (a constant at each call) the int8 kernel's (depthwise-i8.ts) on
// its widened weights: each sum from +0, then / scale (C), + b, the clamp.
// @ts-ignore: decorator
@inline
function interiorRow5Of(yo: usize, x0: usize, w: usize, scaled: bool, scale: usize, b: usize, W: i32, C: i32, SW: i32,
  count: i32, lo: f32, hi: f32): void {
  const step = <usize>C << 2;
  const rowBytes = <usize>(W * C) << 2;
  const xStep = <usize>SW * step;
  const wRow = step * 5;
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    for (; c + 4 <= C; c += 4) {
      const o = <usize>c << 2;
      const bias = scaled ? f32x4.splat(0) : startSum(b, o, lo);
      const sv = scaled ? v128.load(scale + o) : bias;
      const bv = scaled && b != 0 ? v128.load(b + o) : bias;
      let xp = x0 + o, yp = yo + o;
      for (let i = 0; i < count; i += 2) {
        const two = i + 1 < count;
        let a0 = bias, a1 = bias;
        let xr = xp, xs = two ? xp + xStep : xp, wr = w + o;
        for (let kh = 0; kh < 5; kh++) {
          let wv = v128.load(wr);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(xr), wv)); a1 = f32x4.add(a1, f32x4.mul(v128.load(xs), wv));
          wv = v128.load(wr + step);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(xr + step), wv)); a1 = f32x4.add(a1, f32x4.mul(v128.load(xs + step), wv));
          wv = v128.load(wr + 2 * step);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(xr + 2 * step), wv)); a1 = f32x4.add(a1, f32x4.mul(v128.load(xs + 2 * step), wv));
          wv = v128.load(wr + 3 * step);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(xr + 3 * step), wv)); a1 = f32x4.add(a1, f32x4.mul(v128.load(xs + 3 * step), wv));
          wv = v128.load(wr + 4 * step);
          a0 = f32x4.add(a0, f32x4.mul(v128.load(xr + 4 * step), wv)); a1 = f32x4.add(a1, f32x4.mul(v128.load(xs + 4 * step), wv));
          xr += rowBytes;
          xs += rowBytes;
          wr += wRow;
        }
        if (scaled) {
          a0 = dequantize(a0, sv, bv, b != 0);
          a1 = dequantize(a1, sv, bv, b != 0);
        }
        v128.store(yp, f32x4.pmin(f32x4.pmax(a0, vlo), vhi));
        if (two) v128.store(yp + step, f32x4.pmin(f32x4.pmax(a1, vlo), vhi));
        xp += 2 * xStep;
        yp += 2 * step;
      }
    }
  }
  if (c < C) {
    for (let i = 0; i < count; i++) interiorTail(yo + <usize>i * step, x0 + <usize>i * xStep, w, scaled, scale, b, rowBytes, step, 5, c, C, lo, hi, 0, 5);
  }
}

// `count` output pixels of one row of a 3x3, M = 1, dilation-1 depthwise conv whose windows' columns
// are inside the image and rows khLo .. khHi-1 (all three but in the first and last rows of a
// padded image): yo is the first one's output, x0 its window's top-left input pixel (its top row may
// be padding, never read); stride SW along the row. Returns how many it wrote: count, or 0 when
// count < 4 (the caller runs those one by one). Four pixels
// at a time, and for each four every channel tile in turn: the four add chains overlap, each
// weight vector loaded serves four pixels, and x, y and the weights (9 * C floats, in L1) are
// walked in memory order; at stride 1 the four windows' six input columns of a kernel row are
// loaded once (loads, not the arithmetic, bound this kernel). Channel tiles outside with the nine
// weights held in registers and pixels inside, as before, ran at 11-17 GFLOP/s on emotion's and
// gender's layers; this at 17-26 (1.3-1.6x kernel against kernel). The same sums in the same order
// as interiorPixel and depthwisePixel (taps outside the image skipped), so the same bits.
function interiorRow3(yo: usize, x0: usize, w: usize, b: usize, W: i32, C: i32, SW: i32, count: i32, lo: f32, hi: f32, khLo: i32, khHi: i32): i32 {
  return interiorRow3Of(yo, x0, w, false, 0, b, W, C, SW, count, lo, hi, khLo, khHi);
}

// interiorRow3 on int8 weights widened to w (depthwise-i8.ts): the sums / scale (C), + b, the clamp.
function scaledRow3(yo: usize, x0: usize, w: usize, scale: usize, b: usize, W: i32, C: i32, SW: i32, count: i32, lo: f32, hi: f32,
  khLo: i32, khHi: i32): i32 {
  return interiorRow3Of(yo, x0, w, true, scale, b, W, C, SW, count, lo, hi, khLo, khHi);
}

// interiorRow3, and when `scaled` (a constant at each call) the int8 kernel's (depthwise-i8.ts) on
// its widened weights: each sum from +0, then / scale (C), + b, the clamp.
// @ts-ignore: decorator
@inline
function interiorRow3Of(yo: usize, x0: usize, w: usize, scaled: bool, scale: usize, b: usize, W: i32, C: i32, SW: i32,
  count: i32, lo: f32, hi: f32, khLo: i32, khHi: i32): i32 {
  const step = <usize>C << 2;
  const rowBytes = <usize>(W * C) << 2;
  const xStep = <usize>SW * step;
  if (!ASC_FEATURE_SIMD || count < 4) return 0;
  {
    const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
    const c4 = C & ~3;
    const c4Bytes = <usize>c4 << 2;
    for (let i0 = 0; i0 < count; i0 += 4) {
      // The last four end at count, overlapping the previous four (the same values again).
      const i = min(i0, count - 4);
      const xq = x0 + <usize>i * xStep, yq = yo + <usize>i * step;
      for (let o: usize = 0; o < c4Bytes; o += 16) {
        const bias = scaled ? f32x4.splat(0) : startSum(b, o, lo);
        let a0 = bias, a1 = bias, a2 = bias, a3 = bias;
        let xr = xq + o + <usize>khLo * rowBytes, wr = w + o + <usize>(khLo * 3) * step;
        for (let kh = khLo; kh < khHi; kh++) {
          if (SW == 1) {
            const v0 = v128.load(xr), v1 = v128.load(xr + step), v2 = v128.load(xr + 2 * step);
            const v3 = v128.load(xr + 3 * step), v4 = v128.load(xr + 4 * step), v5 = v128.load(xr + 5 * step);
            let wv = v128.load(wr);
            a0 = f32x4.add(a0, f32x4.mul(v0, wv)); a1 = f32x4.add(a1, f32x4.mul(v1, wv));
            a2 = f32x4.add(a2, f32x4.mul(v2, wv)); a3 = f32x4.add(a3, f32x4.mul(v3, wv));
            wv = v128.load(wr + step);
            a0 = f32x4.add(a0, f32x4.mul(v1, wv)); a1 = f32x4.add(a1, f32x4.mul(v2, wv));
            a2 = f32x4.add(a2, f32x4.mul(v3, wv)); a3 = f32x4.add(a3, f32x4.mul(v4, wv));
            wv = v128.load(wr + 2 * step);
            a0 = f32x4.add(a0, f32x4.mul(v2, wv)); a1 = f32x4.add(a1, f32x4.mul(v3, wv));
            a2 = f32x4.add(a2, f32x4.mul(v4, wv)); a3 = f32x4.add(a3, f32x4.mul(v5, wv));
          } else {
            for (let kw = 0; kw < 3; kw++) {
              const xk = xr + <usize>kw * step;
              const wv = v128.load(wr + <usize>kw * step);
              a0 = f32x4.add(a0, f32x4.mul(v128.load(xk), wv));
              a1 = f32x4.add(a1, f32x4.mul(v128.load(xk + xStep), wv));
              a2 = f32x4.add(a2, f32x4.mul(v128.load(xk + 2 * xStep), wv));
              a3 = f32x4.add(a3, f32x4.mul(v128.load(xk + 3 * xStep), wv));
            }
          }
          xr += rowBytes;
          wr += 3 * step;
        }
        const yp = yq + o;
        if (scaled) {
          const sv = v128.load(scale + o), bv = b != 0 ? v128.load(b + o) : bias;
          a0 = dequantize(a0, sv, bv, b != 0); a1 = dequantize(a1, sv, bv, b != 0);
          a2 = dequantize(a2, sv, bv, b != 0); a3 = dequantize(a3, sv, bv, b != 0);
        }
        v128.store(yp, f32x4.pmin(f32x4.pmax(a0, vlo), vhi));
        v128.store(yp + step, f32x4.pmin(f32x4.pmax(a1, vlo), vhi));
        v128.store(yp + 2 * step, f32x4.pmin(f32x4.pmax(a2, vlo), vhi));
        v128.store(yp + 3 * step, f32x4.pmin(f32x4.pmax(a3, vlo), vhi));
      }
      if (c4 < C) {
        for (let j = 0; j < 4; j++) interiorTail(yq + <usize>j * step, xq + <usize>j * xStep, w, scaled, scale, b, rowBytes, step, 3, c4, C, lo, hi, khLo, khHi);
      }
    }
  }
  return count;
}

// The start of a sum that pmax / pmin will clamp: the bias tile at b + o (0 without bias), plus +0
// when lo >= 0 (ReLU, ReLU6). f32x4.max / min take about eight instructions each for their NaN and
// -0 rules, pmax / pmin one; on the sums here they differ only where a sum is -0, which needs a -0
// bias (and every product -0). Adding +0 to the bias makes that sum +0, which max(., +0) returns
// anyway, and leaves every other sum's bits as they were. With lo = -inf nothing changes
// (pmax(v, -inf) is v, -0 included); hi is 6 or +inf (host/compile/activation-lowering.ts),
// where pmin and min agree on every value, NaN included.
// @ts-ignore: decorator
@inline
function startSum(b: usize, o: usize, lo: f32): v128 {
  if (b == 0) return f32x4.splat(0);
  const bias = v128.load(b + o);
  return lo >= 0 ? f32x4.add(bias, f32x4.splat(0)) : bias;
}

// acc / scale [+ bias]: an int8 kernel's sums (from +0, on widened weights) made its outputs
// before the clamp (interiorRow3Of, interiorRow5Of).
// @ts-ignore: decorator
@inline
function dequantize(acc: v128, scale: v128, bias: v128, withBias: bool): v128 {
  acc = f32x4.div(acc, scale);
  return withBias ? f32x4.add(acc, bias) : acc;
}

// ---------------------------------------------------------------------------------------------
// Depthwise: direct loops over output positions and taps, vectorised over channels with f32x4:
// dw for M == 1 or M % 4 == 0, dx for M == 1 (M > 1 sums over m per input channel); scalar
// otherwise and for the channel tail (the training passes; the forward pass is above).

// y (B, OH, OW, C*M) = depthwise conv(x (B, H, W, C), w (KH, KW, C, M)) [+ b (C*M) when b != 0]:
// depthwise_conv2d_forward_clamp with no clamp.
export function depthwise_conv2d_forward(y: usize, x: usize, w: usize, b: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32): void {
  depthwise_conv2d_forward_clamp(y, x, w, b, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, <f32>-Infinity, <f32>Infinity);
}

// dx (B, H, W, C) [+]= sum over output positions, taps and m of dy (B, OH, OW, C*M) * w (KH, KW, C, M),
// scattered to the input element each tap read. dx == 0 does nothing.
export function depthwise_conv2d_backward_input(dx: usize, dy: usize, w: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32): void {
  if (dx == 0) return;
  // With a thread pool attached, whole images go to the threads (threads-train.ts).
  if (ASC_FEATURE_THREADS && depthwise_input_split(dx, dy, w, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, accumulate)) return;
  if (!accumulate) fill_f32(dx, 0, B * H * W * C);
  const CM = C * M;
  const tapBytes = <usize>CM << 2;
  let dyo = dy;
  for (let n = 0; n < B; n++) {
    const dxb = dx + (<usize>(n * H * W * C) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, DH, KH), khHi = endTap(ih0, DH, H, KH, khLo);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, DW, KW), kwHi = endTap(iw0, DW, W, KW, kwLo);
        for (let kh = khLo; kh < khHi; kh++) {
          for (let kw = kwLo; kw < kwHi; kw++) {
            const d = dxb + (<usize>(((ih0 + kh * DH) * W + iw0 + kw * DW) * C) << 2);
            const wt = w + <usize>(kh * KW + kw) * tapBytes;
            let c = 0;
            if (ASC_FEATURE_SIMD) {
              if (M == 1) {
                for (; c + 4 <= C; c += 4) {
                  const cc = <usize>c << 2;
                  const g = f32x4.mul(v128.load(dyo + cc), v128.load(wt + cc));
                  v128.store(d + cc, f32x4.add(v128.load(d + cc), g));
                }
              }
            }
            for (; c < C; c++) {
              let s: f32 = 0;
              const o = <usize>(c * M) << 2;
              for (let m = 0; m < M; m++) s += load<f32>(dyo + o + (<usize>m << 2)) * load<f32>(wt + o + (<usize>m << 2));
              const p = d + (<usize>c << 2);
              store<f32>(p, load<f32>(p) + s);
            }
          }
        }
        dyo += tapBytes;
      }
    }
  }
}

// dw (KH, KW, C, M) [+]= sum over output positions of x (at the tap's input position, channel c) *
// dy (B, OH, OW, C*M);  db (C*M) [+]= column sums of dy. Either may be 0 (not wanted).
export function depthwise_conv2d_backward_filter(dw: usize, db: usize, x: usize, dy: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32): void {
  const CM = C * M;
  // With a thread pool attached, ranges of channels (dw's and db's) go to the threads (threads-train.ts).
  if (ASC_FEATURE_THREADS && depthwise_filter_split(dw, db, x, dy, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, accumulate)) return;
  if (db != 0) bias_backward(db, dy, B * OH * OW, CM, accumulate);
  if (dw == 0) return;
  depthwise_backward_filter_channels(dw, x, dy, B, H, W, C, M, KH, KW, SH, SW, DH, DW, PT, PL, OH, OW, accumulate, 0, C);
}

// dw of depthwise_conv2d_backward_filter for input channels c0 .. c1-1 (outputs c0*M .. c1*M-1)
// only: each element gets the whole call's products in the whole call's order.
export function depthwise_backward_filter_channels(dw: usize, x: usize, dy: usize,
  B: i32, H: i32, W: i32, C: i32, M: i32, KH: i32, KW: i32, SH: i32, SW: i32, DH: i32, DW: i32,
  PT: i32, PL: i32, OH: i32, OW: i32, accumulate: i32, c0: i32, c1: i32): void {
  const CM = C * M;
  const o0 = c0 * M, o1 = c1 * M;
  for (let k = 0; k < KH * KW && !accumulate; k++) fill_f32(dw + (<usize>(k * CM + o0) << 2), 0, o1 - o0);
  const tapBytes = <usize>CM << 2;
  let dyo = dy;
  for (let n = 0; n < B; n++) {
    const xb = x + (<usize>(n * H * W * C) << 2);
    for (let oh = 0; oh < OH; oh++) {
      const ih0 = oh * SH - PT;
      const khLo = firstTap(ih0, DH, KH), khHi = endTap(ih0, DH, H, KH, khLo);
      for (let ow = 0; ow < OW; ow++) {
        const iw0 = ow * SW - PL;
        const kwLo = firstTap(iw0, DW, KW), kwHi = endTap(iw0, DW, W, KW, kwLo);
        for (let kh = khLo; kh < khHi; kh++) {
          for (let kw = kwLo; kw < kwHi; kw++) {
            const xs = xb + (<usize>(((ih0 + kh * DH) * W + iw0 + kw * DW) * C) << 2);
            const d = dw + <usize>(kh * KW + kw) * tapBytes;
            let o = o0;
            if (ASC_FEATURE_SIMD) {
              if (M == 1) {
                for (; o + 4 <= o1; o += 4) {
                  const oo = <usize>o << 2;
                  const g = f32x4.mul(v128.load(xs + oo), v128.load(dyo + oo));
                  v128.store(d + oo, f32x4.add(v128.load(d + oo), g));
                }
              } else if ((M & 3) == 0) {
                for (; o < o1; o += 4) {
                  const oo = <usize>o << 2;
                  const g = f32x4.mul(v128.load32_splat(xs + (<usize>(o / M) << 2)), v128.load(dyo + oo));
                  v128.store(d + oo, f32x4.add(v128.load(d + oo), g));
                }
              }
            }
            for (; o < o1; o++) {
              const oo = <usize>o << 2;
              store<f32>(d + oo, load<f32>(d + oo) + load<f32>(xs + (<usize>(o / M) << 2)) * load<f32>(dyo + oo));
            }
          }
        }
        dyo += tapBytes;
      }
    }
  }
}
