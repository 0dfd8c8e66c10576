// Packed f32 GEMM: c (M,N; row stride ldc floats) = [c +] a (M,K) . b (K,N).
// a[i,p] at a + 4*(i*rsa + p*csa); b[p,j] at b + 4*(p*rsb + j*csb); all pointers are byte offsets.
//
// Blocking (BLIS order): for each NC-wide column block and KC-deep slice of k, b is packed once
// into NR-wide, zero-padded, k-major panels; for each MR-row band, the KC slice of a is packed
// MR-interleaved (rows past m alias the last row); then gemm_f32_4x8 runs over every panel.
// Packing both operands means one microkernel serves every stride form (y = x.W, dX = dY.W^T,
// dW = X^T.dY) and its inner loop is loads, muls and adds only.
//
// Summation order: k is cut into s = ceil(k / KC) slices of ceil(k / s) (the last one shorter
// if need be); each c entry is the f32 sum of its products from p = 0 up within a slice (mul
// then add, no FMA), added to c slice after slice. The scalar build (--disable simd) follows
// the same order, so both give the same bits.
//
// Scratch at `pack` (16-byte aligned), in floats, see host/compile/gemm-scratch.ts:
//   [ packed b: kcMax * roundUp(ncMax, NR) ][ packed a: kcMax * MR ]
//   kcMax = min(k, KC), ncMax = min(n, NC).
// Nothing else is written outside c.

import { loadPartial, storeTail } from './vector-tail';
import { gemm_split } from './threads';
import { gemmI8Rows, packBI8 } from './gemm-i8';

// These four must equal GEMM_MR, GEMM_NR, GEMM_KC, GEMM_NC in host/compile/gemm-scratch.ts.

export const MR = 4;
export const NR = 8;
export const KC = 256;
export const NC = 128;
// The largest packing scratch any call needs, in floats (a thread's own scratch, threads.ts).
export const GEMM_SCRATCH_FLOATS: i32 = KC * NC + KC * MR;

export function gemm_f32(c: usize, a: usize, b: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, csb: i32, ldc: i32, accumulate: i32, pack: usize): void {
  // With a thread pool attached, a large call is cut into output tiles run by every thread.
  if (ASC_FEATURE_THREADS && gemm_split(c, a, b, m, n, k, rsa, csa, rsb, csb, ldc, accumulate, pack)) return;
  gemmPacked(c, a, b, 0, m, n, k, rsa, csa, rsb, csb, ldc, accumulate, pack);
}

// c (M,N) = [c +] a (M,K) . (q (K,N) / scale (N)): b is a frozen layer's int8 kernel, row-major
// with row stride rsq bytes, and one f32 scale per column (assembly/kernels/gemm-i8.ts). The same
// blocking and order as gemm_f32; each k slice's f32 sum is divided by the column's scale before
// it is added to c (docs/int8.md). One thread; scratch as gemm_f32's.
export function gemm_i8f32(c: usize, a: usize, q: usize, scale: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsq: i32, ldc: i32, accumulate: i32, pack: usize): void {
  gemmPacked(c, a, q, scale, m, n, k, rsa, csa, rsq, 1, ldc, accumulate, pack);
}

// b f32 when scale == 0, else int8 with csb == 1 and per-column scales at `scale`.
function gemmPacked(c: usize, a: usize, b: usize, scale: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, csb: i32, ldc: i32, accumulate: i32, pack: usize): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) zeroMatrix(c, m, n, ldc);
    return;
  }
  // Fewer rows than a tile with b row-major (batch-1 inference): packing b would cost more than
  // the product itself, so stream b once, a row of c at a time.
  if (m < MR && csb == 1) {
    if (scale != 0) gemmI8Rows(c, a, b, scale, m, n, k, rsa, csa, rsb, ldc, accumulate, pack);
    else gemm_f32_rows(c, a, b, m, n, k, rsa, csa, rsb, ldc, accumulate, pack);
    return;
  }
  const kcMax = min(k, KC);
  const ncMax = min(n, NC);
  const packA = pack + (<usize>(kcMax * ((ncMax + NR - 1) & ~(NR - 1))) << 2);
  const ldcBytes = <usize>ldc << 2;
  // Even k slices (784 = 4 x 196 rather than 3 x 256 + 16): no short slice paying the
  // per-tile load and store of c for a handful of k steps.
  const kcStep = kSliceStep(k);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      // Later k slices add onto what the first one wrote.
      const acc = pc > 0 ? 1 : accumulate;
      if (scale != 0) packBI8(pack, b + <usize>(pc * rsb + jc), kc, nc, rsb);
      else packB(pack, b + (<usize>(pc * rsb + jc * csb) << 2), kc, nc, rsb, csb);
      const colScale = scale != 0 ? scale + (<usize>jc << 2) : 0;
      for (let ic = 0; ic < m; ic += MR) {
        const mr = min(MR, m - ic);
        packAPanel(packA, a + (<usize>(ic * rsa + pc * csa) << 2), kc, mr, rsa, csa);
        gemm_f32_4x8(c + (<usize>(ic * ldc + jc) << 2), ldcBytes, packA, pack, kc, mr, nc, acc, colScale);
      }
    }
  }
}

// The depth of gemm_f32's k slices: k cut into ceil(k / KC) even slices (the last one shorter).
// @ts-ignore: decorator
@inline
export function kSliceStep(k: i32): i32 {
  return (k + (k + KC - 1) / KC - 1) / ((k + KC - 1) / KC);
}

function zeroMatrix(c: usize, m: i32, n: i32, ldc: i32): void {
  for (let i = 0; i < m; i++) {
    const row = c + (<usize>(i * ldc) << 2);
    for (let j = 0; j < n; j++) store<f32>(row + (<usize>j << 2), 0);
  }
}

// dst (kc, roundUp(nc, NR)) as NR-wide k-major panels: panel q holds b[0..kc, q*NR .. q*NR+NR),
// zero past nc so the microkernel never needs a column tail in its loop. Full panels of the two
// dense-layer layouts go through SIMD; the last, partial panel and other strides are scalar.
export function packB(dst: usize, b: usize, kc: i32, nc: i32, rsb: i32, csb: i32): void {
  const rowBytes = <usize>rsb << 2;
  const colBytes = <usize>csb << 2;
  const panelBytes = <usize>(kc * NR) << 2;
  const full = ASC_FEATURE_SIMD ? nc & ~(NR - 1) : 0;
  if (ASC_FEATURE_SIMD && full > 0) {
    if (csb == 1) {
      // b row-major (forward y = x.W, dW = X^T.dY): read each row of the block front to back
      // (a stream the prefetcher follows when b is not in cache) and deal it out to the panels.
      let s = b;
      let d = dst;
      for (let p = 0; p < kc; p++) {
        let sp = s;
        let dp = d;
        for (let j = 0; j < full; j += NR) {
          v128.store(dp, v128.load(sp));
          v128.store(dp, v128.load(sp, 16), 16);
          sp += NR << 2;
          dp += panelBytes;
        }
        s += rowBytes;
        d += NR << 2;
      }
    } else if (rsb == 1) {
      // b = W^T (dX = dY.W^T): panel rows are columns of W; transpose 4x4 blocks.
      for (let j0 = 0; j0 < full; j0 += NR) {
        const src = b + <usize>j0 * colBytes;
        const d0 = dst + <usize>(j0 / NR) * panelBytes;
        let p = 0;
        for (; p + 4 <= kc; p += 4) {
          const s = src + (<usize>p << 2);
          const d = d0 + (<usize>(p * NR) << 2);
          transpose4x4(d, NR << 2, s, colBytes);
          transpose4x4(d + 16, NR << 2, s + 4 * colBytes, colBytes);
        }
        for (; p < kc; p++) {
          const s = src + (<usize>p << 2);
          const d = d0 + (<usize>(p * NR) << 2);
          for (let j = 0; j < NR; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + <usize>j * colBytes));
        }
      }
    } else {
      packBScalar(dst, b, kc, 0, full, rowBytes, colBytes, panelBytes);
    }
  }
  packBScalar(dst, b, kc, full, nc, rowBytes, colBytes, panelBytes);
}

// Panels for columns j0 .. nc of b, any strides, zero-padded to a multiple of NR.
function packBScalar(dst: usize, b: usize, kc: i32, j0: i32, nc: i32, rowBytes: usize, colBytes: usize, panelBytes: usize): void {
  for (; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const src = b + <usize>j0 * colBytes;
    const d0 = dst + <usize>(j0 / NR) * panelBytes;
    for (let p = 0; p < kc; p++) {
      const s = src + <usize>p * rowBytes;
      const d = d0 + (<usize>(p * NR) << 2);
      let j = 0;
      for (; j < cols; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + <usize>j * colBytes));
      for (; j < NR; j++) store<f32>(d + (<usize>j << 2), 0);
    }
  }
}

// Reads four rows of four floats at s (row stride `stride` bytes) and writes their transpose as
// four rows of four floats at d (row stride `pitch` bytes).
// @ts-ignore: decorator
@inline
function transpose4x4(d: usize, pitch: usize, s: usize, stride: usize): void {
  const r0 = v128.load(s);
  const r1 = v128.load(s + stride);
  const r2 = v128.load(s + 2 * stride);
  const r3 = v128.load(s + 3 * stride);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(d + pitch, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(d + 2 * pitch, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(d + 3 * pitch, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

// dst (kc, MR): dst[p*MR + r] = a[r, p] for r < mr; rows r >= mr alias row mr-1, so the
// microkernel computes them redundantly instead of branching.
export function packAPanel(dst: usize, a: usize, kc: i32, mr: i32, rsa: i32, csa: i32): void {
  const rowBytes = <usize>rsa << 2;
  const colBytes = <usize>csa << 2;
  const a0 = a;
  const a1 = mr > 1 ? a0 + rowBytes : a0;
  const a2 = mr > 2 ? a1 + rowBytes : a1;
  const a3 = mr > 3 ? a2 + rowBytes : a2;
  let p = 0;
  if (ASC_FEATURE_SIMD) {
    if (mr == MR && rsa == 1) {
      // a = X^T (dW = X^T.dY): the MR rows at one p are contiguous already.
      for (; p < kc; p++) {
        v128.store(dst + (<usize>(p * MR) << 2), v128.load(a0 + <usize>p * colBytes));
      }
      return;
    }
    if (mr == MR && csa == 1) {
      // a row-major (forward, dX): transpose 4x4 blocks.
      for (; p + 4 <= kc; p += 4) {
        transpose4x4(dst + (<usize>(p * MR) << 2), MR << 2, a0 + (<usize>p << 2), rowBytes);
      }
    }
  }
  for (; p < kc; p++) {
    const o = <usize>p * colBytes;
    const d = dst + (<usize>(p * MR) << 2);
    store<f32>(d, load<f32>(a0 + o));
    store<f32>(d, load<f32>(a1 + o), 4);
    store<f32>(d, load<f32>(a2 + o), 8);
    store<f32>(d, load<f32>(a3 + o), 12);
  }
}

// c (mr <= 4 rows of ldc bytes, nc columns) = [c +] ap (kc, 4) . bp (kc, roundUp(nc, 8)), both
// packed (bp as 8-wide k-major panels, kc * 8 floats apart). Loops over the panels itself, like
// XNNPACK's microkernels. Rows past mr alias the last valid row (the packed a repeats it, c points
// at it), so the same value is stored twice; the column tail nc & 4, nc & 2, nc & 1 is handled
// when loading and storing c.
// Which shape the microkernel's k loop takes (see gemm_f32_4x8); both give the same bits.
let aShuffle: bool = false;
export function gemm_set_a_broadcast(shuffle: i32): void {
  aShuffle = shuffle != 0;
}

// Inlined into the driver on purpose: V8 unrolls a wasm loop only while it has at most
// (depth + 1) * 50 graph nodes, depth being its loop nesting. Five loops deep here, the k loop
// is unrolled 4x with one interrupt check per unrolled iteration; as a function of its own (two
// loops deep) it was unrolled 2x, and as a per-panel function not at all.
// @ts-ignore: decorator
@inline
export function gemm_f32_4x8(c: usize, ldc: usize, ap: usize, bp: usize, kc: i32, mr: i32, nc: i32, accumulate: i32, scale: usize): void {
  const c0 = c;
  const c1 = mr > 1 ? c0 + ldc : c0;
  const c2 = mr > 2 ? c1 + ldc : c1;
  const c3 = mr > 3 ? c2 + ldc : c2;
  if (ASC_FEATURE_SIMD) {
    const apEnd = ap + (<usize>kc << 4);
    let o: usize = 0;
    do {
      let x00 = f32x4.splat(0), x01 = f32x4.splat(0);
      let x10 = f32x4.splat(0), x11 = f32x4.splat(0);
      let x20 = f32x4.splat(0), x21 = f32x4.splat(0);
      let x30 = f32x4.splat(0), x31 = f32x4.splat(0);
      let a = ap;
      // kc >= 1. A do-while on the end pointer keeps V8's loop to one compare. Two shapes of the
      // same products and sums, in the same order (the same bits): four splat loads of a per k
      // step (fastest where bounds checks are free: Node's and Bun's V8 use guard pages), or one
      // load and four lane broadcasts, three memory accesses per k step instead of six (fastest
      // where every access is bounds-checked: Deno's V8 runs without the trap handler;
      // docs/runtimes-and-edge.md). The host picks one with gemm_set_a_broadcast.
      if (aShuffle) {
        do {
          const b0 = v128.load(bp), b1 = v128.load(bp, 16);
          const a4 = v128.load(a);
          let va = v128.shuffle<f32>(a4, a4, 0, 0, 0, 0);
          x00 = f32x4.add(x00, f32x4.mul(va, b0)); x01 = f32x4.add(x01, f32x4.mul(va, b1));
          va = v128.shuffle<f32>(a4, a4, 1, 1, 1, 1);
          x10 = f32x4.add(x10, f32x4.mul(va, b0)); x11 = f32x4.add(x11, f32x4.mul(va, b1));
          va = v128.shuffle<f32>(a4, a4, 2, 2, 2, 2);
          x20 = f32x4.add(x20, f32x4.mul(va, b0)); x21 = f32x4.add(x21, f32x4.mul(va, b1));
          va = v128.shuffle<f32>(a4, a4, 3, 3, 3, 3);
          x30 = f32x4.add(x30, f32x4.mul(va, b0)); x31 = f32x4.add(x31, f32x4.mul(va, b1));
          a += MR << 2;
          bp += NR << 2;
        } while (a != apEnd);
      } else {
        do {
          const b0 = v128.load(bp), b1 = v128.load(bp, 16);
          let va = v128.load32_splat(a);
          x00 = f32x4.add(x00, f32x4.mul(va, b0)); x01 = f32x4.add(x01, f32x4.mul(va, b1));
          va = v128.load32_splat(a, 4);
          x10 = f32x4.add(x10, f32x4.mul(va, b0)); x11 = f32x4.add(x11, f32x4.mul(va, b1));
          va = v128.load32_splat(a, 8);
          x20 = f32x4.add(x20, f32x4.mul(va, b0)); x21 = f32x4.add(x21, f32x4.mul(va, b1));
          va = v128.load32_splat(a, 12);
          x30 = f32x4.add(x30, f32x4.mul(va, b0)); x31 = f32x4.add(x31, f32x4.mul(va, b1));
          a += MR << 2;
          bp += NR << 2;
        } while (a != apEnd);
      }
      if (scale != 0) {
        // int8 b (gemm_i8f32): the tile's sums divided by their columns' scales (lanes past nc
        // divide by 0 and are never stored).
        const s0 = nc >= NR ? v128.load(scale + o) : loadPartial(scale + o, min(nc, 4));
        const s1 = nc >= NR ? v128.load(scale + o, 16) : loadPartial(scale + o + 16, max(nc - 4, 0));
        x00 = f32x4.div(x00, s0); x01 = f32x4.div(x01, s1);
        x10 = f32x4.div(x10, s0); x11 = f32x4.div(x11, s1);
        x20 = f32x4.div(x20, s0); x21 = f32x4.div(x21, s1);
        x30 = f32x4.div(x30, s0); x31 = f32x4.div(x31, s1);
      }
      if (nc >= NR) {
        if (accumulate) {
          // All four rows read c before any row is written, so aliased rows stay correct.
          x00 = f32x4.add(x00, v128.load(c0 + o)); x01 = f32x4.add(x01, v128.load(c0 + o, 16));
          x10 = f32x4.add(x10, v128.load(c1 + o)); x11 = f32x4.add(x11, v128.load(c1 + o, 16));
          x20 = f32x4.add(x20, v128.load(c2 + o)); x21 = f32x4.add(x21, v128.load(c2 + o, 16));
          x30 = f32x4.add(x30, v128.load(c3 + o)); x31 = f32x4.add(x31, v128.load(c3 + o, 16));
        }
        v128.store(c3 + o, x30); v128.store(c3 + o, x31, 16);
        v128.store(c2 + o, x20); v128.store(c2 + o, x21, 16);
        v128.store(c1 + o, x10); v128.store(c1 + o, x11, 16);
        v128.store(c0 + o, x00); v128.store(c0 + o, x01, 16);
      } else {
        if (accumulate) {
          const lo = min(nc, 4), hi = max(nc - 4, 0);
          x00 = f32x4.add(x00, loadPartial(c0 + o, lo)); x01 = f32x4.add(x01, loadPartial(c0 + o + 16, hi));
          x10 = f32x4.add(x10, loadPartial(c1 + o, lo)); x11 = f32x4.add(x11, loadPartial(c1 + o + 16, hi));
          x20 = f32x4.add(x20, loadPartial(c2 + o, lo)); x21 = f32x4.add(x21, loadPartial(c2 + o + 16, hi));
          x30 = f32x4.add(x30, loadPartial(c3 + o, lo)); x31 = f32x4.add(x31, loadPartial(c3 + o + 16, hi));
        }
        storeTail(c3 + o, x30, x31, nc);
        storeTail(c2 + o, x20, x21, nc);
        storeTail(c1 + o, x10, x11, nc);
        storeTail(c0 + o, x00, x01, nc);
      }
      o += NR << 2;
      nc -= NR;
    } while (nc > 0);
  } else {
    // Scalar: each 4x8 tile as two 4x4 halves (16 accumulators fit the register file).
    const panelBytes = <usize>(kc * NR) << 2;
    for (let j0 = 0; j0 < nc; j0 += NR) {
      const nr = min(NR, nc - j0);
      for (let h = 0; h < nr; h += 4) {
        let s00: f32 = 0, s01: f32 = 0, s02: f32 = 0, s03: f32 = 0;
        let s10: f32 = 0, s11: f32 = 0, s12: f32 = 0, s13: f32 = 0;
        let s20: f32 = 0, s21: f32 = 0, s22: f32 = 0, s23: f32 = 0;
        let s30: f32 = 0, s31: f32 = 0, s32: f32 = 0, s33: f32 = 0;
        let pa = ap;
        let pb = bp + (<usize>h << 2);
        for (let p = 0; p < kc; p++) {
          const b0 = load<f32>(pb), b1 = load<f32>(pb, 4), b2 = load<f32>(pb, 8), b3 = load<f32>(pb, 12);
          let v = load<f32>(pa);
          s00 += v * b0; s01 += v * b1; s02 += v * b2; s03 += v * b3;
          v = load<f32>(pa, 4);
          s10 += v * b0; s11 += v * b1; s12 += v * b2; s13 += v * b3;
          v = load<f32>(pa, 8);
          s20 += v * b0; s21 += v * b1; s22 += v * b2; s23 += v * b3;
          v = load<f32>(pa, 12);
          s30 += v * b0; s31 += v * b1; s32 += v * b2; s33 += v * b3;
          pa += MR << 2;
          pb += NR << 2;
        }
        const cols = min(nr - h, 4);
        const o = <usize>(j0 + h) << 2;
        if (scale != 0) {
          const q0 = load<f32>(scale + o), q1 = cols > 1 ? load<f32>(scale + o, 4) : 1;
          const q2 = cols > 2 ? load<f32>(scale + o, 8) : 1, q3 = cols > 3 ? load<f32>(scale + o, 12) : 1;
          s00 /= q0; s01 /= q1; s02 /= q2; s03 /= q3;
          s10 /= q0; s11 /= q1; s12 /= q2; s13 /= q3;
          s20 /= q0; s21 /= q1; s22 /= q2; s23 /= q3;
          s30 /= q0; s31 /= q1; s32 /= q2; s33 /= q3;
        }
        // Read all four rows before writing any (aliased rows).
        if (accumulate) {
          s00 += load<f32>(c0 + o); s10 += load<f32>(c1 + o); s20 += load<f32>(c2 + o); s30 += load<f32>(c3 + o);
          if (cols > 1) { s01 += load<f32>(c0 + o, 4); s11 += load<f32>(c1 + o, 4); s21 += load<f32>(c2 + o, 4); s31 += load<f32>(c3 + o, 4); }
          if (cols > 2) { s02 += load<f32>(c0 + o, 8); s12 += load<f32>(c1 + o, 8); s22 += load<f32>(c2 + o, 8); s32 += load<f32>(c3 + o, 8); }
          if (cols > 3) { s03 += load<f32>(c0 + o, 12); s13 += load<f32>(c1 + o, 12); s23 += load<f32>(c2 + o, 12); s33 += load<f32>(c3 + o, 12); }
        }
        store<f32>(c3 + o, s30); store<f32>(c2 + o, s20); store<f32>(c1 + o, s10); store<f32>(c0 + o, s00);
        if (cols > 1) { store<f32>(c3 + o, s31, 4); store<f32>(c2 + o, s21, 4); store<f32>(c1 + o, s11, 4); store<f32>(c0 + o, s01, 4); }
        if (cols > 2) { store<f32>(c3 + o, s32, 8); store<f32>(c2 + o, s22, 8); store<f32>(c1 + o, s12, 8); store<f32>(c0 + o, s02, 8); }
        if (cols > 3) { store<f32>(c3 + o, s33, 12); store<f32>(c2 + o, s23, 12); store<f32>(c1 + o, s13, 12); store<f32>(c0 + o, s03, 12); }
      }
      bp += panelBytes;
    }
  }
}

// c (m,n) [+]= a (m,k) . b (k,n) for m < MR and b with unit column stride: b is streamed once per
// row instead of packed. Bit-identical to the packed path (a row's result does not depend on how
// many rows share its call): the same NC column blocks and even k slices, each slice summed from
// zero in k order into `tmp` (NC floats of the pack scratch), then added to c.
function gemm_f32_rows(c: usize, a: usize, b: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, ldc: i32, accumulate: i32, tmp: usize): void {
  const kcStep = kSliceStep(k);
  for (let i = 0; i < m; i++) {
    const ci = c + (<usize>(i * ldc) << 2);
    for (let jc = 0; jc < n; jc += NC) {
      const nc = min(NC, n - jc);
      for (let pc = 0; pc < k; pc += kcStep) {
        const kc = min(kcStep, k - pc);
        for (let j = 0; j < nc; j++) store<f32>(tmp + (<usize>j << 2), 0);
        for (let p = pc; p < pc + kc; p++) {
          const av = load<f32>(a + (<usize>(i * rsa + p * csa) << 2));
          const bp = b + (<usize>(p * rsb + jc) << 2);
          let j = 0;
          if (ASC_FEATURE_SIMD) {
            const vs = f32x4.splat(av);
            for (; j + 4 <= nc; j += 4) {
              const o = <usize>j << 2;
              v128.store(tmp + o, f32x4.add(v128.load(tmp + o), f32x4.mul(vs, v128.load(bp + o))));
            }
          }
          for (; j < nc; j++) {
            const o = <usize>j << 2;
            store<f32>(tmp + o, load<f32>(tmp + o) + av * load<f32>(bp + o));
          }
        }
        const acc = pc > 0 ? 1 : accumulate;
        const cj = ci + (<usize>jc << 2);
        for (let j = 0; j < nc; j++) {
          const o = <usize>j << 2;
          store<f32>(cj + o, acc ? load<f32>(cj + o) + load<f32>(tmp + o) : load<f32>(tmp + o));
        }
      }
    }
  }
}

// A stack of products c_l = [c_l +] a_l . b_l (the MatMul layer of two computed tensors): for each
// of `batch` samples and `count` matrices per sample, matrix l of sample s of x (a, b or c) starts
// at x + 4*(s*px + l*sx). A stride sa or sb of 0 broadcasts that operand over the stack; a c
// stride of 0 (sc, or pc) sums the products into one matrix (a broadcast operand's gradient):
// every product after the first accumulates. Scratch at `pack` as for one (m,n,k) gemm_f32.
export function batched_gemm_f32(c: usize, a: usize, b: usize, batch: i32, count: i32, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, csb: i32, ldc: i32, sa: i32, sb: i32, sc: i32, pa: i32, pb: i32, pc: i32,
  accumulate: i32, pack: usize): void {
  for (let s = 0; s < batch; s++) {
    for (let l = 0; l < count; l++) {
      const into = accumulate != 0 || (l > 0 && sc == 0) || (s > 0 && pc == 0);
      gemm_f32(c + (<usize>(s * pc + l * sc) << 2), a + (<usize>(s * pa + l * sa) << 2), b + (<usize>(s * pb + l * sb) << 2),
        m, n, k, rsa, csa, rsb, csb, ldc, into ? 1 : 0, pack);
    }
  }
}
