// The int8 side of the packed GEMM (assembly/kernels/gemm.ts, gemm_i8f32): b is a frozen layer's
// int8 kernel q (K,N), row-major, with one f32 scale per column (w = q / scale, Keras 3
// quantize('int8')). q is widened to f32 where it is read (into the packed panels, or in registers
// on the row path); products and sums are f32, and each k slice's sum is divided by its column's
// scale before it is added to c: c[i,j] (+)= (sum over the slice of a[i,p] * q[p,j]) / scale[j].
// Nothing is allocated; the f32 kernel never exists outside the GEMM's packing scratch.

import { kSliceStep, NC, NR } from './gemm';

// dst (kc, roundUp(nc, NR)) f32 panels as packB in gemm.ts writes them, from int8 q (row stride rsq
// bytes): panel j holds q[0..kc, j*NR .. j*NR+NR) widened to f32, zero past nc.
export function packBI8(dst: usize, q: usize, kc: i32, nc: i32, rsq: i32): void {
  const panelBytes = <usize>(kc * NR) << 2;
  const full = ASC_FEATURE_SIMD ? nc & ~(NR - 1) : 0;
  for (let p = 0; p < kc; p++) {
    const s = q + <usize>(p * rsq);
    const d = dst + (<usize>(p * NR) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j < full; j += NR) {
        const h = v128.load8x8_s(s + <usize>j);
        const dp = d + <usize>(j / NR) * panelBytes;
        v128.store(dp, f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h)));
        v128.store(dp, f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h)), 16);
      }
    }
    for (; j < nc; j += NR) {
      const cols = min(NR, nc - j);
      const dp = d + <usize>(j / NR) * panelBytes;
      let t = 0;
      for (; t < cols; t++) store<f32>(dp + (<usize>t << 2), <f32>load<i8>(s + <usize>(j + t)));
      for (; t < NR; t++) store<f32>(dp + (<usize>t << 2), 0);
    }
  }
}

// c (m,n) [+]= a (m,k) . q (k,n) / scale (n) for m < MR: q streamed once per row, widened in
// registers, never packed. The same NC column blocks and even k slices as the packed path, each
// slice summed from zero in k order into `tmp` (NC floats of the pack scratch), divided by the
// column's scale, then added to c: the same bits as the packed path.
export function gemmI8Rows(c: usize, a: usize, q: usize, scale: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsq: i32, ldc: i32, accumulate: i32, tmp: usize): void {
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
          const qp = q + <usize>(p * rsq + jc);
          let j = 0;
          if (ASC_FEATURE_SIMD) {
            const vs = f32x4.splat(av);
            for (; j + 8 <= nc; j += 8) {
              const o = <usize>j << 2;
              const h = v128.load8x8_s(qp + <usize>j);
              const w0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(h));
              const w1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(h));
              v128.store(tmp + o, f32x4.add(v128.load(tmp + o), f32x4.mul(vs, w0)));
              v128.store(tmp + o, f32x4.add(v128.load(tmp + o, 16), f32x4.mul(vs, w1)), 16);
            }
          }
          for (; j < nc; j++) {
            const o = <usize>j << 2;
            store<f32>(tmp + o, load<f32>(tmp + o) + av * <f32>load<i8>(qp + <usize>j));
          }
        }
        const acc = pc > 0 ? 1 : accumulate;
        const cj = ci + (<usize>jc << 2);
        const sj = scale + (<usize>jc << 2);
        for (let j = 0; j < nc; j++) {
          const o = <usize>j << 2;
          const v = load<f32>(tmp + o) / load<f32>(sj + o);
          store<f32>(cj + o, acc ? load<f32>(cj + o) + v : v);
        }
      }
    }
  }
}
