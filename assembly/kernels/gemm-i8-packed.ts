// GEMM with a frozen layer's int8 kernel packed once (issue 14): an inference plan's prepare
// program packs q (k, n) into gemm_pack_b's panel layout at one byte a weight, and the forward
// widens one KC x NC block of panels to f32 into its scratch per call, amortised over all m rows,
// then runs gemm_f32's microkernel on it with the bias and the clamp on each tile (gemm-packed.ts).
//
// Layout of qp, gemm_pack_b_i8 (k * roundUp(n, NR) bytes): gemm_pack_b's, a byte per weight: for
// each NC-wide column block jc and each of gemm_f32's even k slices pc, the NR-wide zero-padded
// k-major panels of q; block (jc, pc) starts at byte k*jc + pc*roundUp(nc, NR).
//
// Same bits as gemm_i8f32 (gemm.ts, gemm-i8.ts) on the unpacked q after bias_fill: each slice
// summed from zero in k order, divided by its column's scale, added to c; the bias joins the
// first slice's quotient (s1 / scale + b == b + s1 / scale), the clamp runs on the final values.
import { gemm_f32_4x8, KC, kSliceStep, MR, NC, NR, packAPanel } from './gemm';
import { epilogue, gemm_1x8, gemm_4x8_rows } from './gemm-packed';

// qp (packed, see above) = q (k, n) int8, row stride rsq bytes.
export function gemm_pack_b_i8(qp: usize, q: usize, n: i32, k: i32, rsq: i32): void {
  if (n <= 0 || k <= 0) return;
  const kcStep = kSliceStep(k);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const ncPad = (nc + NR - 1) & ~(NR - 1);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      const block = qp + <usize>(k * jc + pc * ncPad);
      const src = q + <usize>(pc * rsq + jc);
      for (let j0 = 0; j0 < nc; j0 += NR) {
        const cols = min(NR, nc - j0);
        const panel = block + <usize>(j0 * kc);
        for (let p = 0; p < kc; p++) {
          const s = src + <usize>(p * rsq + j0);
          const d = panel + <usize>(p * NR);
          if (cols == NR) {
            store<u64>(d, load<u64>(s));
          } else {
            let j = 0;
            for (; j < cols; j++) store<i8>(d + <usize>j, load<i8>(s + <usize>j));
            for (; j < NR; j++) store<i8>(d + <usize>j, 0);
          }
        }
      }
    }
  }
}

// c (m, n; row stride ldc floats) = clamp(a (m, k) . (q / scale (n)) [+ bias (n)], lo, hi), q
// packed by gemm_pack_b_i8; a[i, p] at a + 4*(i*rsa + p*csa); bias 0 for none; lo/hi -inf/inf
// for no clamp. Scratch at `pack`: gemmScratch(m, n, k) bytes (host/compile/gemm-scratch.ts): the
// widened block of panels, then the packed band of a. Fewer rows than a tile (batch-1 dense
// layers, SE blocks) read the int8 panels once per row, widened in registers (gemm_i8_1x8).
export function gemm_i8_packed(c: usize, a: usize, qp: usize, scale: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, ldc: i32, lo: f32, hi: f32, pack: usize): void {
  gemm_i8_either(false, c, a, qp, scale, bias, m, n, k, rsa, csa, ldc, lo, hi, pack);
}

// gemm_i8_packed, or with `widened` the same on q's panels already widened whole (b: widen_i8 of
// all k * roundUp(n, NR) bytes of qp, gemm_pack_b's f32 layout), for a caller that runs many
// products on one kernel (sepconv_i8's bands, conv2d_forward_i8_packed's chunks): no widening
// here, and the scratch at `pack` is min(k, KC) * MR floats. The same sums either way, so the same
// bits. One copy with `widened` a run-time flag (tested once per block): inlined for each, the
// driver's 4x8 tile grew the module by 3 KB.
export function gemm_i8_either(widened: bool, c: usize, a: usize, b: usize, scale: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, ldc: i32, lo: f32, hi: f32, pack: usize): void {
  if (m <= 0 || n <= 0 || k <= 0) return;
  if (ASC_FEATURE_SIMD && m >= MR && k <= ROWS_MAX_K && (k * n <= ROWS_MAX_KN || n <= ROWS_MAX_N || m >= ROWS_MIN_M) && csa == 1) {
    // One k slice: each column block's panels widened once, then every row band reads a in place.
    for (let jc = 0; jc < n; jc += NC) {
      const nc = min(NC, n - jc);
      let bf = pack;
      if (widened) bf = b + (<usize>(k * jc) << 2);
      else widen_i8(pack, b + <usize>(k * jc), k * ((nc + NR - 1) & ~(NR - 1)));
      const jcBytes = <usize>jc << 2;
      gemm_i8_4x8_rows(c + jcBytes, a, bf, scale + jcBytes, bias != 0 ? bias + jcBytes : 0, m, nc, k, rsa, ldc, lo, hi);
    }
    return;
  }
  const kcStep = kSliceStep(k);
  const ldcBytes = <usize>ldc << 2;
  const clamp = lo > -Infinity || hi < Infinity;
  const packA = widened ? pack : pack + (<usize>(min(k, KC) * ((min(n, NC) + NR - 1) & ~(NR - 1))) << 2);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const ncPad = (nc + NR - 1) & ~(NR - 1);
    const colScale = scale + (<usize>jc << 2);
    const biasAt = bias + (<usize>jc << 2);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      const acc = pc > 0 ? 1 : 0;
      const block = <usize>(k * jc + pc * ncPad);
      const withBias = pc == 0 && bias != 0;
      const last = pc + kc >= k && clamp;
      // (Widened panels take the tile path below at any m: its rows past m alias the last, and a
      // row's sums are those of gemm_i8_1x8.)
      if (!widened && m < MR) {
        for (let i = 0; i < m; i++) {
          const ci = c + <usize>i * ldcBytes + (<usize>jc << 2);
          gemm_i8_1x8(ci, a + (<usize>(i * rsa + pc * csa) << 2), csa, b + block, colScale, kc, nc, acc);
          epilogue(ci, ldcBytes, 1, nc, withBias, biasAt, last, lo, hi);
        }
        continue;
      }
      let bf = pack;
      if (widened) bf = b + (block << 2);
      else widen_i8(pack, b + block, kc * ncPad);
      for (let ic = 0; ic < m; ic += MR) {
        const mr = min(MR, m - ic);
        const ct = c + (<usize>(ic * ldc + jc) << 2);
        packAPanel(packA, a + (<usize>(ic * rsa + pc * csa) << 2), kc, mr, rsa, csa);
        gemm_f32_4x8(ct, ldcBytes, packA, bf, kc, mr, nc, acc, colScale);
        epilogue(ct, ldcBytes, mr, nc, withBias, biasAt, last, lo, hi);
      }
    }
  }
}

// dst (count floats) = src (count int8) widened, exactly. Also an inference plan's prepare op
// (widen_i8) for the direct int8 convolution's kernel (conv-direct-i8.ts).
export function widen_i8(dst: usize, src: usize, count: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 16 <= count; i += 16) {
      const v = v128.load(src + <usize>i);
      const lo = i16x8.extend_low_i8x16_s(v), hi = i16x8.extend_high_i8x16_s(v);
      const d = dst + (<usize>i << 2);
      v128.store(d, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)));
      v128.store(d, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), 16);
      v128.store(d, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), 32);
      v128.store(d, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), 48);
    }
  }
  for (; i < count; i++) store<f32>(dst + (<usize>i << 2), <f32>load<i8>(src + <usize>i));
}

// One row of c (nc columns) = [c +] (a (kc; stride csa floats) . the kc-deep int8 panels at qp
// (kc * NR bytes apart)) / scale: gemm_f32_4x8's sums and order for one row, q widened as read.
function gemm_i8_1x8(c: usize, a: usize, csa: i32, qp: usize, scale: usize, kc: i32, nc: i32, accumulate: i32): void {
  gemm_1x8(c, a, csa, qp, true, scale, kc, nc, accumulate);
}

// What gemm_i8_4x8_rows takes: one k slice (k <= 64, as gemm-packed.ts's f32 rows), and many rows,
// a small product per row band (k * n <= 512: gender's 1x1 layers of 8 and 16 channels, mobilenet_v2's
// 32 -> 16) or few columns (n <= 64). There the packed band's fixed cost per band (packing a, the
// epilogue pass) is a large part of the band's work: 0.78-0.96x the packed-band path's time (3600 x
// 16 x 8 .. 900 x 32 x 16, 12544 x 16 x 32); with few columns 0.84-1.00x (3136 x 24 x 27, shufflenet's
// stem im2col chunks, 0.88; 784 x 24 x 24 0.85; 3025 x 64 x 16 0.89; 900 x 32 x 32 0.91; 196 x 48 x 48
// 0.96; 225 x 64 x 64 1.00); past 64 columns the band path's one-pointer inner loop is as fast or
// faster (16 x 128 x 64 and 49 x 128 x 64: 0.89-0.90 the rows path's time). Kernel against kernel,
// medians of 41 alternated calls after a warm-up pass, 2026-12-05. With many rows (m >= 256) the
// rows path at any width, as float32's: mobilenet_v2's expansions 12544 x 96 x 16 .. 25088 x 144 x
// 24 0.90-0.91x the band path, 784 x 192 x 32 0.96, 1568 x 384 x 64 1.01 (scripts/bench-gemm-i8.mjs,
// medians of 15 alternated rounds, stop 27).
const ROWS_MAX_K = 64;
const ROWS_MAX_KN = 512;
const ROWS_MAX_N = 64;
const ROWS_MIN_M = 256;

// gemm-packed.ts's gemm_f32_4x8_rows for int8 (m >= MR, k and k * n as above, a row-major): c (m, nc;
// row stride ldc floats) = clamp(a (m, k) . bf / scale (nc) [+ bias (nc)], lo, hi), bf: the column
// block's panels already widened to f32 (k * NR floats apart). The same sums in the same order
// (from zero in k order, / scale, + bias, the clamp), so the same bits as the general path.
function gemm_i8_4x8_rows(c: usize, a: usize, bf: usize, scale: usize, bias: usize, m: i32, nc: i32, k: i32,
  rsa: i32, ldc: i32, lo: f32, hi: f32): void {
  gemm_4x8_rows(c, a, bf, true, scale, bias, m, nc, k, rsa, ldc, lo, hi);
}
