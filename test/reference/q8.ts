// Naive twin of the absmax int8 GEMM (assembly/kernels/gemm-q8.ts; docs/int8.md "absmax"), written
// from Keras 3's formula on plain arrays, one row and one column at a time: the row's scale
// xs = 127 / (max|x| + 1e-7), xq = clip(round-half-even(x * xs), -127, 127), the int sum of xq * q
// (exact in a double: |sum| < 2^31), then f32(sum) / (xs * ks[j]) + b[j], then the clamp.
// Math.fround after every f32 operation, so the twin gives the kernel's exact bits.
const f = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// Keras's AbsMaxQuantizer(axis=-1) of one row: its scale and its integer values.
export function absmaxRow(x: ArrayLike<number>): { xs: number; xq: Int32Array } {
  let amax = 0;
  for (let i = 0; i < x.length; i++) amax = Math.max(amax, Math.abs(x[i]));
  const xs = f(127 / f(amax + f(1e-7)));
  const xq = Int32Array.from(x, (v) => Math.max(-127, Math.min(127, roundHalfEven(f(v * xs)))));
  return { xs, xq };
}

// c (m, n; row stride ldc) = clamp(absmax(a) . q / (xs * ks) [+ b], lo, hi); a (m, k) row-major,
// q (k, n) row-major int8; b null for no bias.
export function gemmQ8Twin(c: Float32Array, a: ArrayLike<number>, q: Int8Array, ks: Float32Array, b: Float32Array | null,
  m: number, n: number, k: number, ldc: number, lo: number, hi: number): void {
  for (let i = 0; i < m; i++) {
    const { xs, xq } = absmaxRow(Array.prototype.slice.call(a, i * k, (i + 1) * k) as number[]);
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += xq[p] * q[p * n + j];
      let v = f(f(acc) / f(xs * ks[j]));
      if (b) v = f(v + b[j]);
      c[i * ldc + j] = Math.min(Math.max(v, lo), hi);
    }
  }
}
