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
        if (clamp) v = f32x4.min(f32x4.max(v, vlo), vhi);
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
        x0 = f32x4.add(x0, f32x4.mul(va, v128.load(pb)));
        x1 = f32x4.add(x1, f32x4.mul(va, v128.load(pb, 16)));
        pa += aStep;
        pb += NR << 2;
      }
      if (cols == NR) {
        if (accumulate) {
          x0 = f32x4.add(v128.load(c + o), x0);
          x1 = f32x4.add(v128.load(c + o, 16), x1);
        }
        v128.store(c + o, x0);
        v128.store(c + o, x1, 16);
      } else {
        if (accumulate) {
          x0 = f32x4.add(loadPartial(c + o, min(cols, 4)), x0);
          x1 = f32x4.add(loadPartial(c + o + 16, max(cols - 4, 0)), x1);
        }
        storeTail(c + o, x0, x1, cols);
      }
    } else {
      for (let j = 0; j < cols; j++) {
        let s: f32 = 0;
        let pa = a;
        let pb = bp + (<usize>j << 2);
        for (let p = 0; p < kc; p++) {
          s += load<f32>(pa) * load<f32>(pb);
          pa += aStep;
          pb += NR << 2;
        }
        const at = c + o + (<usize>j << 2);
        store<f32>(at, accumulate ? load<f32>(at) + s : s);
      }
    }
    bp += <usize>(kc * NR) << 2;
  }
}
