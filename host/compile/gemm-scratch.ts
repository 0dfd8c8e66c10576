// Scratch the packed GEMM (assembly/gemm.ts, gemm_f32) needs at its `pack` argument.
// The constants must equal MR, NR, KC, NC in assembly/gemm.ts; test/gemm.test.ts checks that
// the kernel writes nothing past this size.

// Microkernel tile: GEMM_MR rows of a by GEMM_NR columns of b (gemm_f32_4x8).
export const GEMM_MR = 4;
export const GEMM_NR = 8;
// Depth of one packed slice of k, and width of one packed block of columns of b.
export const GEMM_KC = 256;
export const GEMM_NC = 128;

// Bytes of scratch for an (m,n,k) product: the packed block of b, kcMax x roundUp(ncMax, NR)
// floats, then one packed MR-row band of a, kcMax x MR floats. At most
// 4 * 256 * (128 + 4) = 135168 bytes (132 KiB), whatever the sizes. A multiple of 16.
export function gemmScratchBytes(m: number, n: number, k: number): number {
  if (m <= 0 || n <= 0 || k <= 0) return 0;
  const kcMax = Math.min(k, GEMM_KC);
  const ncMax = Math.min(n, GEMM_NC);
  const panelCols = Math.ceil(ncMax / GEMM_NR) * GEMM_NR;
  return 4 * kcMax * (panelCols + GEMM_MR);
}
