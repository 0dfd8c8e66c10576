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

export interface Q8ConvGeometry {
  B: number; H: number; W: number; C: number;
  KH: number; KW: number; SH: number; SW: number; DH: number; DW: number;
  PT: number; PL: number; OH: number; OW: number;
}

// conv2d_q8's twin: y (B*OH*OW, F) = gemmQ8Twin on the im2col rows of x (B, H, W, C): row o holds
// x[b, ih, iw, c] at column (kh*KW + kw)*C + c, 0 where the tap falls outside the input.
export function conv2dQ8Twin(g: Q8ConvGeometry, F: number, x: ArrayLike<number>, q: Int8Array, ks: Float32Array, b: Float32Array | null,
  lo: number, hi: number): Float32Array {
  const K = g.KH * g.KW * g.C, N = g.B * g.OH * g.OW;
  const rows = new Float32Array(N * K);
  for (let n = 0; n < g.B; n++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
    const o = (n * g.OH + oh) * g.OW + ow;
    for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
      if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
      for (let c = 0; c < g.C; c++) rows[o * K + (kh * g.KW + kw) * g.C + c] = x[((n * g.H + ih) * g.W + iw) * g.C + c];
    }
  }
  const y = new Float32Array(N * F);
  gemmQ8Twin(y, rows, q, ks, b, N, F, K, F, lo, hi);
  return y;
}
