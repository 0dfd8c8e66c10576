// Batch normalization over channel-last data: x (M,C), M = batch*H*W rows, one set of statistics
// per channel (Keras BatchNormalization, axis -1; docs/numerics.md). f32 buffers. Training-mode
// passes here; inference mode (moving statistics, folding) in norm-inference.ts.
//
// Sums over rows run in f64 (batch variance from sums shifted by the channel's first value, so
// nothing cancels); the per-element arithmetic is f32. Channels go four at a time, one f32x4
// across channels walking down the rows; the channels past the last multiple of four take a
// scalar path with the same operations in the same order, so a channel's result does not depend
// on where it sits or on the build. Per-channel arithmetic lives in one scalar function per
// kernel (`*_channel`), which returns its two f32 coefficients packed in a u64.
//
// gamma and beta may be 0 (scale / center false: gamma 1, beta 0). y may equal x; dx may equal dy.
import { bn_backward_train_split, bn_forward_train_split } from './threads';
import { bn_rows_split, bn_sums_split } from './threads-train';
import { first, firsts, hi_f64, lanes, lo_f64, pack, second, seconds } from './norm-lanes';

// y (M,C) = x*inv + (beta - mean*inv), inv = gamma/sqrt(var + eps), with the batch mean and biased
// variance of each channel. Saves mean (C) and invstd (C) = 1/sqrt(var + eps) for the backward pass
// and writes the updated moving statistics newMean (C) = movingMean*momentum + mean*(1-momentum),
// newVar (C) = movingVar*momentum + var*(1-momentum) (biased variance). The training step writes
// them to a pending buffer that it commits only once the loss and gradients are known to be finite;
// newMean may equal movingMean (in place). mean, invstd and newMean/newVar (with movingMean/movingVar)
// may each be 0 (not wanted).
export function batchnorm_forward_train(y: usize, mean: usize, invstd: usize, newMean: usize, newVar: usize,
  x: usize, gamma: usize, beta: usize, movingMean: usize, movingVar: usize, M: i32, C: i32, momentum: f32, epsilon: f32): void {
  if (M <= 0 || C <= 0) return;
  if (BY_ROWS && y != x && M >= BN_ROWS_MIN) {
    forward_train_rows(y, mean, invstd, newMean, newVar, x, gamma, beta, movingMean, movingVar, M, C, momentum, epsilon);
    return;
  }
  // With a thread pool attached, blocks of channels go to the threads (threads.ts).
  if (ASC_FEATURE_THREADS && bn_forward_train_split(y, mean, invstd, newMean, newVar, x, gamma, beta, movingMean, movingVar, M, C, momentum, epsilon)) return;
  batchnorm_forward_train_channels(y, mean, invstd, newMean, newVar, x, gamma, beta, movingMean, movingVar, M, C, momentum, epsilon, 0, C);
}

// batchnorm_forward_train of channels cFrom .. cTo-1 (cFrom a multiple of 4).
export function batchnorm_forward_train_channels(y: usize, mean: usize, invstd: usize, newMean: usize, newVar: usize,
  x: usize, gamma: usize, beta: usize, movingMean: usize, movingVar: usize, M: i32, C: i32, momentum: f32, epsilon: f32,
  cFrom: i32, cTo: i32): void {
  const stride = <usize>C << 2;
  let c = cFrom;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= cTo; c += 4) {
      const col = <usize>c << 2;
      const k = v128.load(x + col);
      const klo = lo_f64(k);
      const khi = hi_f64(k);
      let s1lo = f64x2.splat(0), s1hi = f64x2.splat(0), s2lo = f64x2.splat(0), s2hi = f64x2.splat(0);
      for (let part = 0; part < BN_PARTS; part++) {
        const r0 = partStart(part, M), zero = f64x2.splat(0);
        sumG0 = zero; sumG1 = zero; sumH0 = zero; sumH1 = zero;
        forward_sums4(x + <usize>r0 * stride + col, klo, khi, partStart(part + 1, M) - r0, stride);
        if (part == 0) {
          s1lo = sumG0; s1hi = sumG1; s2lo = sumH0; s2hi = sumH1;
        } else {
          s1lo = f64x2.add(s1lo, sumG0); s1hi = f64x2.add(s1hi, sumG1); s2lo = f64x2.add(s2lo, sumH0); s2hi = f64x2.add(s2hi, sumH1);
        }
      }
      const c0 = train_channel(c, f64x2.extract_lane(s1lo, 0), f64x2.extract_lane(s2lo, 0), f64x2.extract_lane(klo, 0), M, mean, invstd, newMean, newVar, movingMean, movingVar, gamma, beta, momentum, epsilon);
      const c1 = train_channel(c + 1, f64x2.extract_lane(s1lo, 1), f64x2.extract_lane(s2lo, 1), f64x2.extract_lane(klo, 1), M, mean, invstd, newMean, newVar, movingMean, movingVar, gamma, beta, momentum, epsilon);
      const c2 = train_channel(c + 2, f64x2.extract_lane(s1hi, 0), f64x2.extract_lane(s2hi, 0), f64x2.extract_lane(khi, 0), M, mean, invstd, newMean, newVar, movingMean, movingVar, gamma, beta, momentum, epsilon);
      const c3 = train_channel(c + 3, f64x2.extract_lane(s1hi, 1), f64x2.extract_lane(s2hi, 1), f64x2.extract_lane(khi, 1), M, mean, invstd, newMean, newVar, movingMean, movingVar, gamma, beta, momentum, epsilon);
      scale_shift_tile(y + col, x + col, M, stride, firsts(c0, c1, c2, c3), seconds(c0, c1, c2, c3));
    }
  }
  for (; c < cTo; c++) {
    const col = <usize>c << 2;
    const k = <f64>load<f32>(x + col);
    let s1: f64 = 0;
    let s2: f64 = 0;
    for (let part = 0; part < BN_PARTS; part++) {
      const r0 = partStart(part, M);
      sumA = 0; sumB = 0;
      forward_sums1(x + <usize>r0 * stride + col, k, partStart(part + 1, M) - r0, stride);
      s1 = part == 0 ? sumA : s1 + sumA;
      s2 = part == 0 ? sumB : s2 + sumB;
    }
    const cc = train_channel(c, s1, s2, k, M, mean, invstd, newMean, newVar, movingMean, movingVar, gamma, beta, momentum, epsilon);
    scale_shift_column(y + col, x + col, M, stride, first(cc), second(cc));
  }
}

// ---------------------------------------------------------------------------------------------
// By rows (M >= BN_ROWS_MIN, y apart from x): each channel's sums over BN_PARTS fixed ranges of
// rows, added in their order, then y row by row. Split by channels, each thread walked every row
// of x for its channels, half of each 128-byte row of the bench CNN's first batch norm (32
// channels), and read and wrote lines the other core had written: in a training step it ran no
// faster on 2 threads than on one (docs/threads.md). By rows each thread reads and writes the
// rows (images) the convolution before it wrote on the same thread. The parts and their order do
// not depend on the thread count, so neither do the bits.
//
// Scratch in y, which the op writes last: row 0 the channels' scales, row 1 their shifts, from
// row 2 the parts' sums (s1 (C) then s2 (C), f64, part after part). The rows from 2 are computed
// first (as a thread job), rows 0 and 1 last, four channels at a time, each group's scale and
// shift read before they are overwritten.
export const BN_PARTS = 8;
// The lite build (dense networks, assembly/lite.ts) keeps the channel walk only, four channels at a
// time: the same sums in the same parts and order, so the same bits, in less code.
const BY_ROWS: bool = !isDefined(EDGETUNE_LITE);
// Rows a batch norm needs to go by rows: its scratch (2 + 32 rows) and parts of some length.
const BN_ROWS_MIN = 256;
// Rows of a part summed per block: the accumulators go back to the part's sums between blocks
// (the same additions in the same order), while the block's rows stay in cache for every channel.
const BN_SUM_BLOCK = 256;

// The first row of part p of M rows (p = BN_PARTS: M).
// @ts-ignore: decorator
@inline function partStart(p: i32, M: i32): i32 {
  return <i32>(<i64>p * <i64>M / BN_PARTS);
}

// @ts-ignore: decorator
@inline function partSums(y: usize, C: i32, p: i32): usize {
  return y + (<usize>(2 * C) << 2) + (<usize>(p * 2 * C) << 3);
}

function forward_train_rows(y: usize, mean: usize, invstd: usize, newMean: usize, newVar: usize,
  x: usize, gamma: usize, beta: usize, movingMean: usize, movingVar: usize, M: i32, C: i32, momentum: f32, epsilon: f32): void {
  if (!(ASC_FEATURE_THREADS && bn_sums_split(y, x, M, C, 0, 0, 0, 0, 0))) {
    for (let p = 0; p < BN_PARTS; p++) batchnorm_part_sums(y, x, 0, 0, 0, M, C, p);
  }
  const stride = <usize>C << 2;
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 3;
    let s1 = load<f64>(partSums(y, C, 0) + o);
    let s2 = load<f64>(partSums(y, C, 0) + stride * 2 + o);
    for (let p = 1; p < BN_PARTS; p++) {
      s1 += load<f64>(partSums(y, C, p) + o);
      s2 += load<f64>(partSums(y, C, p) + stride * 2 + o);
    }
    const cc = train_channel(c, s1, s2, <f64>load<f32>(x + (<usize>c << 2)), M, mean, invstd, newMean, newVar, movingMean, movingVar, gamma, beta, momentum, epsilon);
    store<f32>(y + (<usize>c << 2), first(cc));
    store<f32>(y + stride + (<usize>c << 2), second(cc));
  }
  if (!(ASC_FEATURE_THREADS && bn_rows_split(y, x, M, C, 0, 0, 0, 0, 0))) batchnorm_forward_rows(y, x, C, 2, M);
  batchnorm_forward_rows(y, x, C, 0, 2);
}

// Rows r0 .. r1-1 of y = x*scale + shift, scale and shift in rows 0 and 1 of y. Rows 0 and 1
// themselves (r0 = 0, r1 = 2) four channels at a time: each group's scale and shift are read
// before its two stores.
export function batchnorm_forward_rows(y: usize, x: usize, C: i32, r0: i32, r1: i32): void {
  const stride = <usize>C << 2;
  for (let r = r0; r < r1; r += 2) {
    const two = r + 1 < r1;
    const ya = y + <usize>r * stride, xa = x + <usize>r * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const scale = v128.load(y + o), shift = v128.load(y + stride + o);
        const a = f32x4.add(f32x4.mul(v128.load(xa + o), scale), shift);
        if (two) v128.store(ya + stride + o, f32x4.add(f32x4.mul(v128.load(xa + stride + o), scale), shift));
        v128.store(ya + o, a);
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const scale = load<f32>(y + o), shift = load<f32>(y + stride + o);
      const a = load<f32>(xa + o) * scale + shift;
      if (two) store<f32>(ya + stride + o, load<f32>(xa + stride + o) * scale + shift);
      store<f32>(ya + o, a);
    }
  }
}

// The backward pass by rows (dx wanted, apart from dy and x, not accumulated), as the forward:
// sg = sum(dy) and sx = sum(dy*xhat) per channel over BN_PARTS fixed ranges of rows, added in
// their order, then dx row by row. Scratch in dx: row 0 mean(dy), row 1 mean(dy*xhat), from row 2
// the parts' sums (sg (C) then sx (C), f64).
function backward_train_rows(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invstd: usize,
  gamma: usize, M: i32, C: i32, accumulateParams: i32): void {
  if (!(ASC_FEATURE_THREADS && bn_sums_split(dx, x, M, C, 1, dy, mean, invstd, gamma))) {
    for (let p = 0; p < BN_PARTS; p++) batchnorm_part_sums(dx, x, dy, mean, invstd, M, C, p);
  }
  const stride = <usize>C << 2;
  for (let c = 0; c < C; c++) {
    const o = <usize>c << 3;
    let sg = load<f64>(partSums(dx, C, 0) + o);
    let sx = load<f64>(partSums(dx, C, 0) + stride * 2 + o);
    for (let p = 1; p < BN_PARTS; p++) {
      sg += load<f64>(partSums(dx, C, p) + o);
      sx += load<f64>(partSums(dx, C, p) + stride * 2 + o);
    }
    const cc = train_grad_channel(c, sg, sx, M, dgamma, dbeta, accumulateParams);
    store<f32>(dx + (<usize>c << 2), first(cc));
    store<f32>(dx + stride + (<usize>c << 2), second(cc));
  }
  if (!(ASC_FEATURE_THREADS && bn_rows_split(dx, x, M, C, 1, dy, mean, invstd, gamma))) batchnorm_backward_rows(dx, dy, x, mean, invstd, gamma, C, 2, M);
  batchnorm_backward_rows(dx, dy, x, mean, invstd, gamma, C, 0, 2);
}

// Part p's sums of a batch norm by rows, over rows p*M/BN_PARTS .. (p+1)*M/BN_PARTS - 1, into the
// part's sums in `out` (y or dx), block by block of rows. Forward (dy == 0): s1 = sum(x - k),
// s2 = sum((x - k)^2), k the channel's value in row 0 (as the channel walk shifts them).
// Backward: sg = sum(dy), sx = sum(dy*xhat), sixteen channels at a time, then four, then one.
// Each channel's operations and their order are the channel walk's.
export function batchnorm_part_sums(out: usize, x: usize, dy: usize, mean: usize, invstd: usize, M: i32, C: i32, p: i32): void {
  const r0 = partStart(p, M), r1 = partStart(p + 1, M);
  const s = partSums(out, C, p);
  const stride = <usize>C << 2;
  const sq = stride * 2;
  memory.fill(s, 0, stride * 4);
  for (let b0 = r0; b0 < r1; b0 += BN_SUM_BLOCK) {
    const rows = min(b0 + BN_SUM_BLOCK, r1) - b0;
    const rowAt = <usize>b0 * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      if (dy) {
        for (; c + 16 <= C; c += 16) {
          const at = s + (<usize>c << 3), col = <usize>c << 2;
          sums16Load(at, sq);
          sums16(dy + rowAt + col, x + rowAt + col, mean + col, invstd + col, rows, stride);
          sums16Store(at, sq);
        }
      }
      for (; c + 4 <= C; c += 4) {
        const col = <usize>c << 2, at = s + (<usize>c << 3);
        sumG0 = v128.load(at); sumG1 = v128.load(at, 16); sumH0 = v128.load(at + sq); sumH1 = v128.load(at + sq, 16);
        if (dy) {
          const mu = v128.load(mean + col), is = v128.load(invstd + col);
          backward_sums4(dy + rowAt + col, x + rowAt + col, lo_f64(mu), hi_f64(mu), lo_f64(is), hi_f64(is), rows, stride);
        } else {
          const k = v128.load(x + col);
          forward_sums4(x + rowAt + col, lo_f64(k), hi_f64(k), rows, stride);
        }
        v128.store(at, sumG0); v128.store(at, sumG1, 16); v128.store(at + sq, sumH0); v128.store(at + sq, sumH1, 16);
      }
    }
    for (; c < C; c++) {
      const col = <usize>c << 2, at = s + (<usize>c << 3);
      sumA = load<f64>(at); sumB = load<f64>(at + sq);
      if (dy) backward_sums1(dy + rowAt + col, x + rowAt + col, <f64>load<f32>(mean + col), <f64>load<f32>(invstd + col), rows, stride);
      else forward_sums1(x + rowAt + col, <f64>load<f32>(x + col), rows, stride);
      store<f64>(at, sumA); store<f64>(at + sq, sumB);
    }
  }
}

// The sums of one part's rows, for both walks (the channel walk and the row path's parts): four
// channels (f64x2 pairs; sumG0/1 and sumH0/1), one (sumA, sumB), sixteen (sums16 below), added
// to the running sums in row order. Forward: s1 += x - k, s2 += (x - k)^2. Backward:
// sg += dy, sx += dy*((x - mean)*invstd).
// @ts-ignore: decorator
@lazy let sumA: f64 = 0, sumB: f64 = 0;

function forward_sums4(x: usize, klo: v128, khi: v128, rows: i32, stride: usize): void {
  let s1lo = sumG0, s1hi = sumG1, s2lo = sumH0, s2hi = sumH1;
  for (let r = 0; r < rows; r++, x += stride) {
    const v = v128.load(x);
    const dlo = f64x2.sub(lo_f64(v), klo);
    const dhi = f64x2.sub(hi_f64(v), khi);
    s1lo = f64x2.add(s1lo, dlo);
    s1hi = f64x2.add(s1hi, dhi);
    s2lo = f64x2.add(s2lo, f64x2.mul(dlo, dlo));
    s2hi = f64x2.add(s2hi, f64x2.mul(dhi, dhi));
  }
  sumG0 = s1lo; sumG1 = s1hi; sumH0 = s2lo; sumH1 = s2hi;
}

function forward_sums1(x: usize, k: f64, rows: i32, stride: usize): void {
  let s1 = sumA, s2 = sumB;
  for (let r = 0; r < rows; r++, x += stride) {
    const d = <f64>load<f32>(x) - k;
    s1 += d;
    s2 += d * d;
  }
  sumA = s1; sumB = s2;
}

function backward_sums4(dy: usize, x: usize, mulo: v128, muhi: v128, islo: v128, ishi: v128, rows: i32, stride: usize): void {
  let sglo = sumG0, sghi = sumG1, sxlo = sumH0, sxhi = sumH1;
  for (let r = 0; r < rows; r++, x += stride, dy += stride) {
    const v = v128.load(x);
    const g = v128.load(dy);
    const glo = lo_f64(g);
    const ghi = hi_f64(g);
    sglo = f64x2.add(sglo, glo);
    sghi = f64x2.add(sghi, ghi);
    sxlo = f64x2.add(sxlo, f64x2.mul(glo, f64x2.mul(f64x2.sub(lo_f64(v), mulo), islo)));
    sxhi = f64x2.add(sxhi, f64x2.mul(ghi, f64x2.mul(f64x2.sub(hi_f64(v), muhi), ishi)));
  }
  sumG0 = sglo; sumG1 = sghi; sumH0 = sxlo; sumH1 = sxhi;
}

function backward_sums1(dy: usize, x: usize, mu: f64, is: f64, rows: i32, stride: usize): void {
  let sg = sumA, sx = sumB;
  for (let r = 0; r < rows; r++, x += stride, dy += stride) {
    const g = <f64>load<f32>(dy);
    sg += g;
    sx += g * ((<f64>load<f32>(x) - mu) * is);
  }
  sumA = sg; sumB = sx;
}

// The running sums of sums16 for sixteen channels: sg in sumG0..7, sx in sumH0..7 (f64x2 pairs of
// channels in order). Globals, so an instance's own: every thread of the pool has its own. Lazy:
// compiled only where used, so not in the scalar builds.
// @ts-ignore: decorator
@lazy let sumG0 = f64x2.splat(0), sumG1 = f64x2.splat(0), sumG2 = f64x2.splat(0), sumG3 = f64x2.splat(0);
// @ts-ignore: decorator
@lazy let sumG4 = f64x2.splat(0), sumG5 = f64x2.splat(0), sumG6 = f64x2.splat(0), sumG7 = f64x2.splat(0);
// @ts-ignore: decorator
@lazy let sumH0 = f64x2.splat(0), sumH1 = f64x2.splat(0), sumH2 = f64x2.splat(0), sumH3 = f64x2.splat(0);
// @ts-ignore: decorator
@lazy let sumH4 = f64x2.splat(0), sumH5 = f64x2.splat(0), sumH6 = f64x2.splat(0), sumH7 = f64x2.splat(0);

// Adds `rows` rows of sixteen channels (dy and x at their first channel, rows `stride` bytes apart)
// to the running sums: sg += dy, sx += dy*((x - mean)*invstd) in f64, each channel in row order.
// The walk was bound by the latency of its chains of sums four channels at a time (16 chains here).
function sums16(dy: usize, x: usize, mean: usize, invstd: usize, rows: i32, stride: usize): void {
  const mu0 = v128.load(mean), mu1 = v128.load(mean, 16), mu2 = v128.load(mean, 32), mu3 = v128.load(mean, 48);
  const is0 = v128.load(invstd), is1 = v128.load(invstd, 16), is2 = v128.load(invstd, 32), is3 = v128.load(invstd, 48);
  const m0 = lo_f64(mu0), m1 = hi_f64(mu0), m2 = lo_f64(mu1), m3 = hi_f64(mu1), m4 = lo_f64(mu2), m5 = hi_f64(mu2), m6 = lo_f64(mu3), m7 = hi_f64(mu3);
  const i0 = lo_f64(is0), i1 = hi_f64(is0), i2 = lo_f64(is1), i3 = hi_f64(is1), i4 = lo_f64(is2), i5 = hi_f64(is2), i6 = lo_f64(is3), i7 = hi_f64(is3);
  let g0 = sumG0, g1 = sumG1, g2 = sumG2, g3 = sumG3, g4 = sumG4, g5 = sumG5, g6 = sumG6, g7 = sumG7;
  let h0 = sumH0, h1 = sumH1, h2 = sumH2, h3 = sumH3, h4 = sumH4, h5 = sumH5, h6 = sumH6, h7 = sumH7;
  let px = x, pg = dy;
  for (let r = 0; r < rows; r++, px += stride, pg += stride) {
    const v0 = v128.load(px), v1 = v128.load(px, 16), v2 = v128.load(px, 32), v3 = v128.load(px, 48);
    const w0 = v128.load(pg), w1 = v128.load(pg, 16), w2 = v128.load(pg, 32), w3 = v128.load(pg, 48);
    const e0 = lo_f64(w0), e1 = hi_f64(w0), e2 = lo_f64(w1), e3 = hi_f64(w1), e4 = lo_f64(w2), e5 = hi_f64(w2), e6 = lo_f64(w3), e7 = hi_f64(w3);
    g0 = f64x2.add(g0, e0); g1 = f64x2.add(g1, e1); g2 = f64x2.add(g2, e2); g3 = f64x2.add(g3, e3);
    g4 = f64x2.add(g4, e4); g5 = f64x2.add(g5, e5); g6 = f64x2.add(g6, e6); g7 = f64x2.add(g7, e7);
    h0 = f64x2.add(h0, f64x2.mul(e0, f64x2.mul(f64x2.sub(lo_f64(v0), m0), i0)));
    h1 = f64x2.add(h1, f64x2.mul(e1, f64x2.mul(f64x2.sub(hi_f64(v0), m1), i1)));
    h2 = f64x2.add(h2, f64x2.mul(e2, f64x2.mul(f64x2.sub(lo_f64(v1), m2), i2)));
    h3 = f64x2.add(h3, f64x2.mul(e3, f64x2.mul(f64x2.sub(hi_f64(v1), m3), i3)));
    h4 = f64x2.add(h4, f64x2.mul(e4, f64x2.mul(f64x2.sub(lo_f64(v2), m4), i4)));
    h5 = f64x2.add(h5, f64x2.mul(e5, f64x2.mul(f64x2.sub(hi_f64(v2), m5), i5)));
    h6 = f64x2.add(h6, f64x2.mul(e6, f64x2.mul(f64x2.sub(lo_f64(v3), m6), i6)));
    h7 = f64x2.add(h7, f64x2.mul(e7, f64x2.mul(f64x2.sub(hi_f64(v3), m7), i7)));
  }
  sumG0 = g0; sumG1 = g1; sumG2 = g2; sumG3 = g3; sumG4 = g4; sumG5 = g5; sumG6 = g6; sumG7 = g7;
  sumH0 = h0; sumH1 = h1; sumH2 = h2; sumH3 = h3; sumH4 = h4; sumH5 = h5; sumH6 = h6; sumH7 = h7;
}

// The running sums from / to memory: sg (16 f64) at s, sx at s + sq.
function sums16Load(s: usize, sq: usize): void {
  sumG0 = v128.load(s); sumG1 = v128.load(s, 16); sumG2 = v128.load(s, 32); sumG3 = v128.load(s, 48);
  sumG4 = v128.load(s, 64); sumG5 = v128.load(s, 80); sumG6 = v128.load(s, 96); sumG7 = v128.load(s, 112);
  const t = s + sq;
  sumH0 = v128.load(t); sumH1 = v128.load(t, 16); sumH2 = v128.load(t, 32); sumH3 = v128.load(t, 48);
  sumH4 = v128.load(t, 64); sumH5 = v128.load(t, 80); sumH6 = v128.load(t, 96); sumH7 = v128.load(t, 112);
}

function sums16Store(s: usize, sq: usize): void {
  v128.store(s, sumG0); v128.store(s, sumG1, 16); v128.store(s, sumG2, 32); v128.store(s, sumG3, 48);
  v128.store(s, sumG4, 64); v128.store(s, sumG5, 80); v128.store(s, sumG6, 96); v128.store(s, sumG7, 112);
  const t = s + sq;
  v128.store(t, sumH0); v128.store(t, sumH1, 16); v128.store(t, sumH2, 32); v128.store(t, sumH3, 48);
  v128.store(t, sumH4, 64); v128.store(t, sumH5, 80); v128.store(t, sumH6, 96); v128.store(t, sumH7, 112);
}

// Rows r0 .. r1-1 of dx = k*((dy - a) - xhat*b), xhat = (x - mean)*invstd, k = gamma*invstd, with
// a = mean(dy) and b = mean(dy*xhat) in rows 0 and 1 of dx; rows 0 and 1 themselves as
// batchnorm_forward_rows does them.
export function batchnorm_backward_rows(dx: usize, dy: usize, x: usize, mean: usize, invstd: usize, gamma: usize, C: i32, r0: i32, r1: i32): void {
  const stride = <usize>C << 2;
  for (let r = r0; r < r1; r += 2) {
    const two = r + 1 < r1;
    const at = <usize>r * stride;
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 4 <= C; c += 4) {
        const o = <usize>c << 2;
        const mu = v128.load(mean + o), is = v128.load(invstd + o);
        const k = gamma ? f32x4.mul(v128.load(gamma + o), is) : is;
        const a = v128.load(dx + o), b = v128.load(dx + stride + o);
        const d = f32x4.mul(k, f32x4.sub(f32x4.sub(v128.load(dy + at + o), a), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(x + at + o), mu), is), b)));
        if (two) {
          const q = at + stride + o;
          v128.store(dx + q, f32x4.mul(k, f32x4.sub(f32x4.sub(v128.load(dy + q), a), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(x + q), mu), is), b))));
        }
        v128.store(dx + at + o, d);
      }
    }
    for (; c < C; c++) {
      const o = <usize>c << 2;
      const mu = load<f32>(mean + o), is = load<f32>(invstd + o);
      const k = gamma ? load<f32>(gamma + o) * is : is;
      const a = load<f32>(dx + o), b = load<f32>(dx + stride + o);
      const d = k * ((load<f32>(dy + at + o) - a) - ((load<f32>(x + at + o) - mu) * is) * b);
      if (two) {
        const q = at + stride + o;
        store<f32>(dx + q, k * ((load<f32>(dy + q) - a) - ((load<f32>(x + q) - mu) * is) * b));
      }
      store<f32>(dx + at + o, d);
    }
  }
}

// Training-mode backward with mean (C) and invstd (C) as saved by batchnorm_forward_train (both
// required), xhat = (x - mean)*invstd:
//   dbeta (C) [+]= sum(dy), dgamma (C) [+]= sum(dy*xhat)            (accumulateParams)
//   dx (M,C) [+]= gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat))  (accumulate)
// Two flags because the two accumulate for different reasons: dx when x fans out in the graph,
// dgamma/dbeta when gradients are summed over several passes. dx, dgamma and dbeta may each be 0
// (first layer; frozen or not centred/scaled); gamma may be 0 (scale false: gamma 1).
export function batchnorm_backward_train(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invstd: usize,
  gamma: usize, M: i32, C: i32, accumulate: i32, accumulateParams: i32): void {
  if (M <= 0 || C <= 0) return;
  if (BY_ROWS && dx != 0 && dx != dy && dx != x && !accumulate && M >= BN_ROWS_MIN) {
    backward_train_rows(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, M, C, accumulateParams);
    return;
  }
  // With a thread pool attached, blocks of channels go to the threads (threads.ts).
  if (ASC_FEATURE_THREADS && bn_backward_train_split(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, M, C, accumulate, accumulateParams)) return;
  batchnorm_backward_train_channels(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, M, C, accumulate, accumulateParams, 0, C);
}

// batchnorm_backward_train of channels cFrom .. cTo-1 (cFrom a multiple of 4).
export function batchnorm_backward_train_channels(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invstd: usize,
  gamma: usize, M: i32, C: i32, accumulate: i32, accumulateParams: i32, cFrom: i32, cTo: i32): void {
  const stride = <usize>C << 2;
  let c = cFrom;
  if (ASC_FEATURE_SIMD) {
    // Not in the lite build: its four-channel walk gives each channel the same bits.
    if (BY_ROWS) {
      for (; c + 16 <= cTo; c += 16) {
        backward_train_16(dx, dgamma, dbeta, dy, x, mean, invstd, gamma, M, stride, accumulate, accumulateParams, c);
      }
    }
    for (; c + 4 <= cTo; c += 4) {
      const col = <usize>c << 2;
      const mu = v128.load(mean + col);
      const is = v128.load(invstd + col);
      const mulo = lo_f64(mu);
      const muhi = hi_f64(mu);
      const islo = lo_f64(is);
      const ishi = hi_f64(is);
      let sglo = f64x2.splat(0);
      let sghi = f64x2.splat(0);
      let sxlo = f64x2.splat(0);
      let sxhi = f64x2.splat(0);
      for (let part = 0; part < BN_PARTS; part++) {
        const r0 = partStart(part, M), at = <usize>r0 * stride + col, zero = f64x2.splat(0);
        sumG0 = zero; sumG1 = zero; sumH0 = zero; sumH1 = zero;
        backward_sums4(dy + at, x + at, mulo, muhi, islo, ishi, partStart(part + 1, M) - r0, stride);
        if (part == 0) {
          sglo = sumG0; sghi = sumG1; sxlo = sumH0; sxhi = sumH1;
        } else {
          sglo = f64x2.add(sglo, sumG0); sghi = f64x2.add(sghi, sumG1); sxlo = f64x2.add(sxlo, sumH0); sxhi = f64x2.add(sxhi, sumH1);
        }
      }
      train_grad_group(c, sglo, sghi, sxlo, sxhi, M, dgamma, dbeta, accumulateParams);
      if (!dx) continue;
      const a = groupFirsts();
      const b = groupSeconds();
      const k = gamma ? f32x4.mul(v128.load(gamma + col), is) : is;
      let pd = dx + col, px = x + col, pg = dy + col;
      for (let r = 0; r < M; r++, px += stride, pg += stride, pd += stride) {
        const xhat = f32x4.mul(f32x4.sub(v128.load(px), mu), is);
        const d = f32x4.mul(k, f32x4.sub(f32x4.sub(v128.load(pg), a), f32x4.mul(xhat, b)));
        v128.store(pd, accumulate ? f32x4.add(v128.load(pd), d) : d);
      }
    }
  }
  for (; c < cTo; c++) {
    const col = <usize>c << 2;
    const mu = load<f32>(mean + col);
    const is = load<f32>(invstd + col);
    const mu64 = <f64>mu;
    const is64 = <f64>is;
    let sg: f64 = 0;
    let sx: f64 = 0;
    for (let part = 0; part < BN_PARTS; part++) {
      const r0 = partStart(part, M), at = <usize>r0 * stride + col;
      sumA = 0; sumB = 0;
      backward_sums1(dy + at, x + at, mu64, is64, partStart(part + 1, M) - r0, stride);
      sg = part == 0 ? sumA : sg + sumA;
      sx = part == 0 ? sumB : sx + sumB;
    }
    const cc = train_grad_channel(c, sg, sx, M, dgamma, dbeta, accumulateParams);
    if (!dx) continue;
    const a = first(cc);
    const b = second(cc);
    const k = gamma ? load<f32>(gamma + col) * is : is;
    let pd = dx + col, px = x + col, pg = dy + col;
    for (let r = 0; r < M; r++, px += stride, pg += stride, pd += stride) {
      const xhat = (load<f32>(px) - mu) * is;
      const d = k * ((load<f32>(pg) - a) - xhat * b);
      store<f32>(pd, accumulate ? load<f32>(pd) + d : d);
    }
  }
}

// Channels c .. c+15 of batchnorm_backward_train_channels (four f32x4 columns: a 64-byte line of
// each row when C is a multiple of 16) in one walk down the rows for the sums and one for dx.
// Each channel's operations and their order are the four-channel walk's (its lane), so its bits
// are the same; the four-channel walk was bound by the latency of its 4 chains of sums and read
// each line four times: the bench CNN's batch norms (50176 x 32, 12544 x 64) took 5.7 and 1.8 ms
// of CPU there, 2.8 and 1.2 here. (The forward's walk, bound by its conversions to f64, gained
// nothing this way.)
function backward_train_16(dx: usize, dgamma: usize, dbeta: usize, dy: usize, x: usize, mean: usize, invstd: usize,
  gamma: usize, M: i32, stride: usize, accumulate: i32, accumulateParams: i32, c: i32): void {
  const col = <usize>c << 2;
  const zero = f64x2.splat(0);
  let g0 = zero, g1 = zero, g2 = zero, g3 = zero, g4 = zero, g5 = zero, g6 = zero, g7 = zero;
  let h0 = zero, h1 = zero, h2 = zero, h3 = zero, h4 = zero, h5 = zero, h6 = zero, h7 = zero;
  for (let part = 0; part < BN_PARTS; part++) {
    const r0 = partStart(part, M), at = <usize>r0 * stride + col;
    sumG0 = zero; sumG1 = zero; sumG2 = zero; sumG3 = zero; sumG4 = zero; sumG5 = zero; sumG6 = zero; sumG7 = zero;
    sumH0 = zero; sumH1 = zero; sumH2 = zero; sumH3 = zero; sumH4 = zero; sumH5 = zero; sumH6 = zero; sumH7 = zero;
    sums16(dy + at, x + at, mean + col, invstd + col, partStart(part + 1, M) - r0, stride);
    if (part == 0) {
      g0 = sumG0; g1 = sumG1; g2 = sumG2; g3 = sumG3; g4 = sumG4; g5 = sumG5; g6 = sumG6; g7 = sumG7;
      h0 = sumH0; h1 = sumH1; h2 = sumH2; h3 = sumH3; h4 = sumH4; h5 = sumH5; h6 = sumH6; h7 = sumH7;
    } else {
      g0 = f64x2.add(g0, sumG0); g1 = f64x2.add(g1, sumG1); g2 = f64x2.add(g2, sumG2); g3 = f64x2.add(g3, sumG3);
      g4 = f64x2.add(g4, sumG4); g5 = f64x2.add(g5, sumG5); g6 = f64x2.add(g6, sumG6); g7 = f64x2.add(g7, sumG7);
      h0 = f64x2.add(h0, sumH0); h1 = f64x2.add(h1, sumH1); h2 = f64x2.add(h2, sumH2); h3 = f64x2.add(h3, sumH3);
      h4 = f64x2.add(h4, sumH4); h5 = f64x2.add(h5, sumH5); h6 = f64x2.add(h6, sumH6); h7 = f64x2.add(h7, sumH7);
    }
  }
  const mu0 = v128.load(mean + col), mu1 = v128.load(mean + col + 16), mu2 = v128.load(mean + col + 32), mu3 = v128.load(mean + col + 48);
  const is0 = v128.load(invstd + col), is1 = v128.load(invstd + col + 16), is2 = v128.load(invstd + col + 32), is3 = v128.load(invstd + col + 48);
  train_grad_group(c, g0, g1, h0, h1, M, dgamma, dbeta, accumulateParams);
  const a0 = groupFirsts(), b0 = groupSeconds();
  train_grad_group(c + 4, g2, g3, h2, h3, M, dgamma, dbeta, accumulateParams);
  const a1 = groupFirsts(), b1 = groupSeconds();
  train_grad_group(c + 8, g4, g5, h4, h5, M, dgamma, dbeta, accumulateParams);
  const a2 = groupFirsts(), b2 = groupSeconds();
  train_grad_group(c + 12, g6, g7, h6, h7, M, dgamma, dbeta, accumulateParams);
  const a3 = groupFirsts(), b3 = groupSeconds();
  if (!dx) return;
  const k0 = gamma ? f32x4.mul(v128.load(gamma + col), is0) : is0, k1 = gamma ? f32x4.mul(v128.load(gamma + col + 16), is1) : is1;
  const k2 = gamma ? f32x4.mul(v128.load(gamma + col + 32), is2) : is2, k3 = gamma ? f32x4.mul(v128.load(gamma + col + 48), is3) : is3;
  let pd = dx + col, px = x + col, pg = dy + col;
  for (let r = 0; r < M; r++, px += stride, pg += stride, pd += stride) {
    const d0 = f32x4.mul(k0, f32x4.sub(f32x4.sub(v128.load(pg), a0), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(px), mu0), is0), b0)));
    const d1 = f32x4.mul(k1, f32x4.sub(f32x4.sub(v128.load(pg + 16), a1), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(px + 16), mu1), is1), b1)));
    const d2 = f32x4.mul(k2, f32x4.sub(f32x4.sub(v128.load(pg + 32), a2), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(px + 32), mu2), is2), b2)));
    const d3 = f32x4.mul(k3, f32x4.sub(f32x4.sub(v128.load(pg + 48), a3), f32x4.mul(f32x4.mul(f32x4.sub(v128.load(px + 48), mu3), is3), b3)));
    v128.store(pd, accumulate ? f32x4.add(v128.load(pd), d0) : d0);
    v128.store(pd + 16, accumulate ? f32x4.add(v128.load(pd + 16), d1) : d1);
    v128.store(pd + 32, accumulate ? f32x4.add(v128.load(pd + 32), d2) : d2);
    v128.store(pd + 48, accumulate ? f32x4.add(v128.load(pd + 48), d3) : d3);
  }
}

// ---------------------------------------------------------------------------------------------
// Per-channel arithmetic (f64), shared by the four-channel and the one-channel paths.

// Channel c's statistics from sums shifted by k: s1 = sum(x - k), s2 = sum((x - k)^2) over m rows.
// Stores mean, invstd and the moving statistics; returns (scale, shift) = (inv, beta - mean*inv).
function train_channel(c: i32, s1: f64, s2: f64, k: f64, m: i32, mean: usize, invstd: usize, newMean: usize, newVar: usize,
  movingMean: usize, movingVar: usize, gamma: usize, beta: usize, momentum: f32, epsilon: f32): u64 {
  const fm = <f64>m;
  const mu = k + s1 / fm;
  const variance = max<f64>((s2 - (s1 * s1) / fm) / fm, 0);
  const is = 1 / Math.sqrt(variance + <f64>epsilon);
  const o = <usize>c << 2;
  if (mean) store<f32>(mean + o, <f32>mu);
  if (invstd) store<f32>(invstd + o, <f32>is);
  const mom = <f64>momentum;
  if (newMean) store<f32>(newMean + o, <f32>(<f64>load<f32>(movingMean + o) * mom + mu * (1 - mom)));
  if (newVar) store<f32>(newVar + o, <f32>(<f64>load<f32>(movingVar + o) * mom + variance * (1 - mom)));
  const scale = (gamma ? <f64>load<f32>(gamma + o) : 1) * is;
  const shift = (beta ? <f64>load<f32>(beta + o) : 0) - mu * scale;
  return pack(<f32>scale, <f32>shift);
}

// Channels c .. c+3 of train_grad_channel from their sums (lanes: sglo, sxlo c and c+1; the hi
// ones c+2 and c+3); their (mean(dy), mean(dy*xhat)) are left packed in group0 .. group3
// (groupFirsts, groupSeconds). Globals are one per instance, so one per thread; u64 rather than
// v128, which the build without SIMD cannot have.
let group0: u64 = 0;
let group1: u64 = 0;
let group2: u64 = 0;
let group3: u64 = 0;
function train_grad_group(c: i32, sglo: v128, sghi: v128, sxlo: v128, sxhi: v128, m: i32, dgamma: usize, dbeta: usize, accumulate: i32): void {
  const c0 = train_grad_channel(c, f64x2.extract_lane(sglo, 0), f64x2.extract_lane(sxlo, 0), m, dgamma, dbeta, accumulate);
  const c1 = train_grad_channel(c + 1, f64x2.extract_lane(sglo, 1), f64x2.extract_lane(sxlo, 1), m, dgamma, dbeta, accumulate);
  const c2 = train_grad_channel(c + 2, f64x2.extract_lane(sghi, 0), f64x2.extract_lane(sxhi, 0), m, dgamma, dbeta, accumulate);
  const c3 = train_grad_channel(c + 3, f64x2.extract_lane(sghi, 1), f64x2.extract_lane(sxhi, 1), m, dgamma, dbeta, accumulate);
  group0 = c0; group1 = c1; group2 = c2; group3 = c3;
}

// From sg = sum(dy) and sx = sum(dy*xhat) over m rows: dbeta [+]= sg, dgamma [+]= sx (either
// pointer may be 0); returns (mean(dy), mean(dy*xhat)).
function train_grad_channel(c: i32, sg: f64, sx: f64, m: i32, dgamma: usize, dbeta: usize, accumulate: i32): u64 {
  const o = <usize>c << 2;
  if (dbeta) store<f32>(dbeta + o, <f32>(accumulate ? <f64>load<f32>(dbeta + o) + sg : sg));
  if (dgamma) store<f32>(dgamma + o, <f32>(accumulate ? <f64>load<f32>(dgamma + o) + sx : sx));
  const fm = <f64>m;
  return pack(<f32>(sg / fm), <f32>(sx / fm));
}

// ---------------------------------------------------------------------------------------------
// Helpers.

// y[r, 0..3] = x[r, 0..3]*scale + shift down the M rows of a four-channel column.
export function scale_shift_tile(y: usize, x: usize, M: i32, stride: usize, scale: v128, shift: v128): void {
  for (let r = 0; r < M; r++, x += stride, y += stride) {
    v128.store(y, f32x4.add(f32x4.mul(v128.load(x), scale), shift));
  }
}

export function scale_shift_column(y: usize, x: usize, M: i32, stride: usize, scale: f32, shift: f32): void {
  for (let r = 0; r < M; r++, x += stride, y += stride) {
    store<f32>(y, load<f32>(x) * scale + shift);
  }
}

// @ts-ignore: decorator
@inline function groupFirsts(): v128 {
  return firsts(group0, group1, group2, group3);
}

// @ts-ignore: decorator
@inline function groupSeconds(): v128 {
  return seconds(group0, group1, group2, group3);
}

