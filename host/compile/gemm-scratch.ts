// Scratch the packed GEMM (assembly/kernels/gemm.ts, gemm_f32) needs at its `pack` argument.
// The constants must equal MR, NR, KC, NC in assembly/kernels/gemm.ts; test/gemm.test.ts checks that
// the kernel writes nothing past this size.
import { callSize } from './size-expr';

// Microkernel tile: GEMM_MR rows of a by GEMM_NR columns of b (gemm_f32_4x8); KC is the depth of
// one packed slice of k, NC the width of one packed block of columns of b.
export { GEMM_KC, GEMM_MR, GEMM_NC, GEMM_NR } from './size-expr';

// Bytes of scratch for an (m,n,k) product: the packed block of b, kcMax x roundUp(ncMax, NR)
// floats, then one packed MR-row band of a, kcMax x MR floats. At most
// 4 * 256 * (128 + 4) = 135168 bytes (132 KiB), whatever the sizes. A multiple of 16. The formula
// is SIZE_FUNCTIONS.gemmScratch (host/compile/size-expr.ts), which the WASI plan verifier runs too.
export function gemmScratchBytes(m: number, n: number, k: number): number {
  return callSize('gemmScratch', [m, n, k]);
}

// gemm_q8's k-pair panels of an int8 (k, n) kernel, and its scratch (assembly/kernels/gemm-q8.ts;
// SIZE_FUNCTIONS.q8PackedBytes / q8ScratchBytes).
export function q8PackedBytes(n: number, k: number): number {
  return callSize('q8PackedBytes', [n, k]);
}
export function q8ScratchBytes(k: number): number {
  return callSize('q8ScratchBytes', [k]);
}
