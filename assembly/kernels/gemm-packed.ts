// GEMM with a constant B packed once (issue 12): a plan packs a layer's kernel into gemm_f32's
// panel layout when its weights are set, so the forward reads the panels as they are instead of
// packing B on every call, and runs the bias and the activation's clamp on each output tile while
// it is in cache.
//
// Layout of bp, gemm_pack_b (k * roundUp(n, NR) floats, packedFloats below): for each NC-wide
// column block jc and each of gemm_f32's even k slices pc, the NR-wide zero-padded k-major panels
// that gemm_f32 would pack for them; block (jc, pc) starts at float k*jc + pc*roundUp(nc, NR).
//
// Same bits as gemm_f32 on the unpacked B after bias_fill: each slice is summed from zero in k
// order and added to c; the bias joins the first slice's sums (s1 + b == b + s1), the clamp runs
// on the final values. The bias needs accumulate == 0.
import { loadPartial, storeTail } from './vector-tail';
import { gemm_packed_split } from './threads';
import { gemm_f32_4x8, kSliceStep, MR, NC, NR, packAPanel, packB } from './gemm';

// Floats of gemm_pack_b's output for a (k, n) B.
export function gemm_packed_floats(n: i32, k: i32): i32 {
  return k * ((n + NR - 1) & ~(NR - 1));
}

// bp (packed, see above) = b (k, n), b[p, j] at b + 4*(p*rsb + j*csb).
export function gemm_pack_b(bp: usize, b: usize, n: i32, k: i32, rsb: i32, csb: i32): void {
  if (n <= 0 || k <= 0) return;
  const kcStep = kSliceStep(k);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const ncPad = (nc + NR - 1) & ~(NR - 1);
    for (let pc = 0; pc < k; pc += kcStep) {
      packB(bp + (<usize>(k * jc + pc * ncPad) << 2), b + (<usize>(pc * rsb + jc * csb) << 2), min(kcStep, k - pc), nc, rsb, csb);
    }
  }
}

// c (m, n; row stride ldc floats) = clamp([c +] a (m, k) . B [+ bias (n)], lo, hi), B packed by
// gemm_pack_b; a[i, p] at a + 4*(i*rsa + p*csa); bias 0 for none; lo/hi -inf/inf for no clamp.
// Scratch at `pack`: min(k, KC) * MR floats (the packed band of a). Fewer rows than a tile
// (batch-1 dense layers, SE blocks) run one row at a time over the panels (gemm_f32_1x8).
export function gemm_f32_packed(c: usize, a: usize, bp: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, ldc: i32, accumulate: i32, lo: f32, hi: f32, pack: usize): void {
  if (m <= 0 || n <= 0 || k <= 0) return;
  // With a thread pool attached, a large call is cut into bands of rows run by every thread.
  if (ASC_FEATURE_THREADS && gemm_packed_split(c, a, bp, bias, m, n, k, rsa, csa, ldc, accumulate, lo, hi, pack)) return;
  const kcStep = kSliceStep(k);
  if (ASC_FEATURE_SIMD && m >= MR && k <= ROWS_MAX_K && csa == 1 && accumulate == 0) {
    gemm_f32_4x8_rows(c, a, bp, bias, m, n, k, rsa, ldc, lo, hi);
    return;
  }
  gemm_f32_packed_panels(c, a, bp, bias, m, n, k, rsa, csa, ldc, accumulate, lo, hi, pack);
}

// gemm_f32_packed on one thread without its short-k rows path: a packed into MR-row panels as
// gemm_f32 does. The input gradient of a convolution (conv.ts, k = its filters) runs this: there
// the rows path, rereading a's four rows for each 8-column panel, was 6% slower than packing them.
export function gemm_f32_packed_panels(c: usize, a: usize, bp: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, ldc: i32, accumulate: i32, lo: f32, hi: f32, pack: usize): void {
  if (m <= 0 || n <= 0 || k <= 0) return;
  const kcStep = kSliceStep(k);
  const ldcBytes = <usize>ldc << 2;
  const clamp = lo > -Infinity || hi < Infinity;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const ncPad = (nc + NR - 1) & ~(NR - 1);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      const acc = pc > 0 ? 1 : accumulate;
      const panels = bp + (<usize>(k * jc + pc * ncPad) << 2);
      const withBias = pc == 0 && bias != 0;
      const last = pc + kc >= k && clamp;
      const biasAt = bias + (<usize>jc << 2);
      if (m < MR) {
        for (let i = 0; i < m; i++) {
          const ci = c + <usize>i * ldcBytes + (<usize>jc << 2);
          gemm_f32_1x8(ci, a + (<usize>(i * rsa + pc * csa) << 2), csa, panels, kc, nc, acc);
          epilogue(ci, ldcBytes, 1, nc, withBias, biasAt, last, lo, hi);
        }
        continue;
      }
      for (let ic = 0; ic < m; ic += MR) {
        const mr = min(MR, m - ic);
        const ct = c + (<usize>(ic * ldc + jc) << 2);
        packAPanel(pack, a + (<usize>(ic * rsa + pc * csa) << 2), kc, mr, rsa, csa);
        gemm_f32_4x8(ct, ldcBytes, pack, panels, kc, mr, nc, acc, 0);
        epilogue(ct, ldcBytes, mr, nc, withBias, biasAt, last, lo, hi);
      }
    }
  }
}

// The deepest k that gemm_f32_4x8_rows takes: past it the packed band of a, read once per panel,
// is as fast (6728x128x128, 1800x256x256: 0.95-0.98x kernel vs kernel by CPU time).
const ROWS_MAX_K = 64;

// gemm_f32_packed for a short k (one k slice), a row-major (csa == 1), no accumulate, m >= MR: the
// 1x1 convolutions and short im2col rows of mobile networks (k of 8 to 64). Each 4-row band
// reads a in place through four row pointers (XNNPACK's loadsplat shape; rows past m alias the
// last) instead of packing it, and the bias and the clamp run on the registers before the one
// store, where the general path packs a, stores the tile and passes over it again. The same sums
// in the same order (from zero in k order, then + bias, then the clamp), so the same bits.
function gemm_f32_4x8_rows(c: usize, a: usize, bp: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, ldc: i32, lo: f32, hi: f32): void {
  gemm_4x8_rows(c, a, bp, false, 0, bias, m, n, k, rsa, ldc, lo, hi);
}

// gemm_f32_4x8_rows, and when `scaled` the int8 packed GEMM's on its widened panels
// (gemm-i8-packed.ts): the sums divided by scale (n) before the bias, in gemm_i8_packed's order.
// `scaled` is a constant at each call, so each inlined copy keeps only its own epilogue.
// @ts-ignore: decorator
@inline
export function gemm_4x8_rows(c: usize, a: usize, bp: usize, scaled: bool, scale: usize, bias: usize, m: i32, n: i32, k: i32,
  rsa: i32, ldc: i32, lo: f32, hi: f32): void {
  if (!ASC_FEATURE_SIMD) return; // an export: compiled in the scalar builds too, never called there
  const ldcBytes = <usize>ldc << 2;
  const rowBytes = <usize>rsa << 2;
  const kBytes = <usize>k << 2;
  const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    const panels = bp + (<usize>(k * jc) << 2);
    for (let ic = 0; ic < m; ic += MR) {
      const mr = min(MR, m - ic);
      const a0 = a + <usize>ic * rowBytes;
      const a1 = mr > 1 ? a0 + rowBytes : a0;
      const a2 = mr > 2 ? a1 + rowBytes : a1;
      const a3 = mr > 3 ? a2 + rowBytes : a2;
      const c0 = c + <usize>ic * ldcBytes + (<usize>jc << 2);
      const c1 = mr > 1 ? c0 + ldcBytes : c0;
      const c2 = mr > 2 ? c1 + ldcBytes : c1;
      const c3 = mr > 3 ? c2 + ldcBytes : c2;
      let pb = panels;
      for (let j0 = 0; j0 < nc; j0 += NR) {
        let x00 = f32x4.splat(0), x01 = f32x4.splat(0);
        let x10 = f32x4.splat(0), x11 = f32x4.splat(0);
        let x20 = f32x4.splat(0), x21 = f32x4.splat(0);
        let x30 = f32x4.splat(0), x31 = f32x4.splat(0);
        let p: usize = 0;
        do {
          const b0 = v128.load(pb), b1 = v128.load(pb, 16);
          let va = v128.load32_splat(a0 + p);
          x00 = f32x4.add(x00, f32x4.mul(va, b0)); x01 = f32x4.add(x01, f32x4.mul(va, b1));
          va = v128.load32_splat(a1 + p);
          x10 = f32x4.add(x10, f32x4.mul(va, b0)); x11 = f32x4.add(x11, f32x4.mul(va, b1));
          va = v128.load32_splat(a2 + p);
          x20 = f32x4.add(x20, f32x4.mul(va, b0)); x21 = f32x4.add(x21, f32x4.mul(va, b1));
          va = v128.load32_splat(a3 + p);
          x30 = f32x4.add(x30, f32x4.mul(va, b0)); x31 = f32x4.add(x31, f32x4.mul(va, b1));
          p += 4;
          pb += NR << 2;
        } while (p != kBytes);
        const cols = min(NR, nc - j0);
        const o = <usize>j0 << 2;
        if (scaled) {
          // Lanes past cols divide by 0 and are never stored.
          const s0 = loadPartial(scale + (<usize>(jc + j0) << 2), min(cols, 4));
          const s1 = loadPartial(scale + (<usize>(jc + j0) << 2) + 16, max(cols - 4, 0));
          x00 = f32x4.div(x00, s0); x01 = f32x4.div(x01, s1);
          x10 = f32x4.div(x10, s0); x11 = f32x4.div(x11, s1);
          x20 = f32x4.div(x20, s0); x21 = f32x4.div(x21, s1);
          x30 = f32x4.div(x30, s0); x31 = f32x4.div(x31, s1);
        }
        if (bias != 0) {
          const bb0 = loadPartial(bias + (<usize>(jc + j0) << 2), min(cols, 4));
          const bb1 = loadPartial(bias + (<usize>(jc + j0) << 2) + 16, max(cols - 4, 0));
          x00 = f32x4.add(x00, bb0); x01 = f32x4.add(x01, bb1);
          x10 = f32x4.add(x10, bb0); x11 = f32x4.add(x11, bb1);
          x20 = f32x4.add(x20, bb0); x21 = f32x4.add(x21, bb1);
          x30 = f32x4.add(x30, bb0); x31 = f32x4.add(x31, bb1);
        }
        // pmax / pmin: one instruction each where max / min take about eight; the same values here,
        // the sums never being -0 (they start from +0; +0 + b is -0 for no b).
        x00 = f32x4.pmin(f32x4.pmax(x00, vlo), vhi); x01 = f32x4.pmin(f32x4.pmax(x01, vlo), vhi);
        x10 = f32x4.pmin(f32x4.pmax(x10, vlo), vhi); x11 = f32x4.pmin(f32x4.pmax(x11, vlo), vhi);
        x20 = f32x4.pmin(f32x4.pmax(x20, vlo), vhi); x21 = f32x4.pmin(f32x4.pmax(x21, vlo), vhi);
        x30 = f32x4.pmin(f32x4.pmax(x30, vlo), vhi); x31 = f32x4.pmin(f32x4.pmax(x31, vlo), vhi);
        if (cols == NR) {
          v128.store(c3 + o, x30); v128.store(c3 + o, x31, 16);
          v128.store(c2 + o, x20); v128.store(c2 + o, x21, 16);
          v128.store(c1 + o, x10); v128.store(c1 + o, x11, 16);
          v128.store(c0 + o, x00); v128.store(c0 + o, x01, 16);
        } else {
          storeTail(c3 + o, x30, x31, cols);
          storeTail(c2 + o, x20, x21, cols);
          storeTail(c1 + o, x10, x11, cols);
          storeTail(c0 + o, x00, x01, cols);
        }
      }
    }
  }
}

// A tile of rows x nc of c just written: + bias (first k slice), then the clamp (last slice).
// Exported for the int8 packed GEMM (gemm-i8-packed.ts).
// @ts-ignore: decorator
@inline
export function epilogue(c: usize, ldcBytes: usize, rows: i32, nc: i32, withBias: bool, bias: usize, clamp: bool, lo: f32, hi: f32): void {
  if (!withBias && !clamp) return;
  for (let r = 0; r < rows; r++) {
    const row = c + <usize>r * ldcBytes;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const vlo = f32x4.splat(lo), vhi = f32x4.splat(hi);
      for (; j + 4 <= nc; j += 4) {
        const o = <usize>j << 2;
        let v = v128.load(row + o);
        if (withBias) v = f32x4.add(v, v128.load(bias + o));
        // pmax / pmin: one instruction each (max / min cost ~7 for NaN and -0 rules), the same
        // values: NaN stays NaN, and the sums are never -0 (they start from +0).
        if (clamp) v = f32x4.pmin(f32x4.pmax(v, vlo), vhi);
        v128.store(row + o, v);
      }
    }
    for (; j < nc; j++) {
      const o = <usize>j << 2;
      let v = load<f32>(row + o);
      if (withBias) v += load<f32>(bias + o);
      if (clamp) v = min(max(v, lo), hi);
      store<f32>(row + o, v);
    }
  }
}

// One row of c (nc columns) = [c +] a (kc; stride csa floats) . the kc-deep panels at bp (the
// column block's roundUp(nc, NR) / NR panels, kc * NR floats apart): every B element is read
// once, the few-row product being bound by that read.
function gemm_f32_1x8(c: usize, a: usize, csa: i32, bp: usize, kc: i32, nc: i32, accumulate: i32): void {
  gemm_1x8(c, a, csa, bp, false, 0, kc, nc, accumulate);
}

// gemm_f32_1x8, and when `int8` (a constant at each call) the int8 packed GEMM's (gemm-i8-packed.ts):
// the panels one byte a weight, widened as read, and each sum divided by scale (nc) before c is
// added, in gemm_i8_packed's order. Each inlined copy keeps only its own loads and epilogue.
// @ts-ignore: decorator
@inline
export function gemm_1x8(c: usize, a: usize, csa: i32, bp: usize, int8: bool, scale: usize, kc: i32, nc: i32, accumulate: i32): void {
  const panelStep: usize = int8 ? NR : NR << 2; // bytes between a panel's k rows
  const aStep = <usize>csa << 2;
  for (let j0 = 0; j0 < nc; j0 += NR) {
    const cols = min(NR, nc - j0);
    const o = <usize>j0 << 2;
    if (ASC_FEATURE_SIMD) {
      let x0 = f32x4.splat(0), x1 = f32x4.splat(0);
      let pa = a;
      let pb = bp;
      for (let p = 0; p < kc; p++) {
        const va = v128.load32_splat(pa);
        if (int8) {
          const h = v128.load8x8_s(pb);
          x0 = f32x4.add(x0, f32x4.mul(va, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h))));
          x1 = f32x4.add(x1, f32x4.mul(va, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h))));
        } else {
          x0 = f32x4.add(x0, f32x4.mul(va, v128.load(pb)));
          x1 = f32x4.add(x1, f32x4.mul(va, v128.load(pb, 16)));
        }
        pa += aStep;
        pb += panelStep;
      }
      if (cols == NR) {
        if (int8) {
          x0 = f32x4.div(x0, v128.load(scale + o));
          x1 = f32x4.div(x1, v128.load(scale + o, 16));
        }
        if (accumulate) {
          x0 = int8 ? f32x4.add(x0, v128.load(c + o)) : f32x4.add(v128.load(c + o), x0);
          x1 = int8 ? f32x4.add(x1, v128.load(c + o, 16)) : f32x4.add(v128.load(c + o, 16), x1);
        }
        v128.store(c + o, x0);
        v128.store(c + o, x1, 16);
      } else {
        if (int8) {
          // Lanes past cols divide by 0 and are never stored.
          x0 = f32x4.div(x0, loadPartial(scale + o, min(cols, 4)));
          x1 = f32x4.div(x1, loadPartial(scale + o + 16, max(cols - 4, 0)));
        }
        if (accumulate) {
          const c0 = loadPartial(c + o, min(cols, 4)), c1 = loadPartial(c + o + 16, max(cols - 4, 0));
          x0 = int8 ? f32x4.add(x0, c0) : f32x4.add(c0, x0);
          x1 = int8 ? f32x4.add(x1, c1) : f32x4.add(c1, x1);
        }
        storeTail(c + o, x0, x1, cols);
      }
    } else {
      for (let j = 0; j < cols; j++) {
        let s: f32 = 0;
        let pa = a;
        let pb = bp + (int8 ? <usize>j : <usize>j << 2);
        for (let p = 0; p < kc; p++) {
          s += load<f32>(pa) * (int8 ? <f32>load<i8>(pb) : load<f32>(pb));
          pa += aStep;
          pb += panelStep;
        }
        if (int8) s /= load<f32>(scale + o + (<usize>j << 2));
        const at = c + o + (<usize>j << 2);
        store<f32>(at, accumulate ? (int8 ? s + load<f32>(at) : load<f32>(at) + s) : s);
      }
    }
    bp += <usize>kc * panelStep;
  }
}
