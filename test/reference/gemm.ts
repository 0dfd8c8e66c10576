// Naive twin of gemm_f32 (assembly/kernels/gemm.ts): c (M,N; row stride ldc) = [c +] a (M,K) . b (K,N).
// Same strided addressing, a[i,p] = a[i*rsa + p*csa] and b[p,j] = b[p*rsb + j*csb], but on
// Float32Array views whose index 0 is the matrix origin, and summed in f64 so that the only f32
// rounding is the final store.
export function gemmReference(
  c: Float32Array, a: Float32Array, b: Float32Array, m: number, n: number, k: number,
  rsa: number, csa: number, rsb: number, csb: number, ldc: number, accumulate: number,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = accumulate ? c[i * ldc + j] : 0;
      for (let p = 0; p < k; p++) s += a[i * rsa + p * csa] * b[p * rsb + j * csb];
      c[i * ldc + j] = s;
    }
  }
}
