// Placeholder scalar GEMM so the module builds; replaced by the packed f32x4 kernel.
// c (M,N; row stride ldc) = [c +] a (M,K) . b (K,N)
// a[i,p] at a + 4*(i*rsa + p*csa); b[p,j] at b + 4*(p*rsb + j*csb).
export function gemm_f32(c: usize, a: usize, b: usize, m: i32, n: i32, k: i32,
  rsa: i32, csa: i32, rsb: i32, csb: i32, ldc: i32, accumulate: i32, pack: usize): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s: f32 = accumulate ? load<f32>(c + (<usize>(i * ldc + j) << 2)) : 0;
      for (let p = 0; p < k; p++) {
        s += load<f32>(a + (<usize>(i * rsa + p * csa) << 2)) * load<f32>(b + (<usize>(p * rsb + j * csb) << 2));
      }
      store<f32>(c + (<usize>(i * ldc + j) << 2), s);
    }
  }
}
