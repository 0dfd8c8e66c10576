// Naive twin of Winograd F(2x2, 3x3) (assembly/kernels/winograd.ts), written from the formulas in
// f32 arithmetic (Math.fround after every operation) in the kernel's order, so it gives the
// kernel's bits: the weight transform h = g G^T, G h; the input transform (d B), B^T (d B); the
// per-element channel sums in the packed GEMM's k slices (each slice summed from zero in order,
// then added to the previous slices' sum); the output transform A^T M, (A^T M) A, + bias, clamp.
// With an int8 kernel (winograd-i8.ts): its blocks of channels as the slices, / scale before the bias.
// Also the bound of its rounding error (winogradErrorBound), from the same steps on |values|.
import type { ConvGeometry } from './conv';

const f = Math.fround;
const KC = 256; // assembly/kernels/gemm.ts

// assembly/kernels/gemm.ts kSliceStep: k split into even slices of at most KC.
function kSliceStep(k: number): number {
  const slices = Math.ceil(k / KC);
  return Math.floor((k + slices - 1) / slices);
}

// Row r of G times (a0, a1, a2), rounded as the kernel rounds it; `abs` sums magnitudes instead.
function gRow(r: number, a0: number, a1: number, a2: number, round: (v: number) => number, abs: boolean): number {
  if (r === 0) return a0;
  if (r === 3) return a2;
  const mid = r === 1 || abs ? a1 : -a1;
  return round(round(round(a0 + mid) + a2) * 0.5);
}

// One pass of the algorithm; `round` is Math.fround (the kernel) or the identity with `abs` (the
// magnitudes of every intermediate, for the error bound).
function winograd(g: ConvGeometry, F: number, x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined,
  lo: number, hi: number, round: (v: number) => number, abs: boolean, int8?: Int8Winograd): Float64Array {
  const { B, H, W, C, PT, PL, OH, OW } = g;
  const mag = (v: number) => (abs ? Math.abs(v) : v);
  const add = (a: number, b: number) => round(a + b);
  const sub = (a: number, b: number) => round(abs ? a + b : a - b);
  // U[xi][c][f]
  const U = new Float64Array(16 * C * F);
  for (let xi = 0; xi < 16; xi++) {
    const i = xi >> 2, j = xi & 3;
    for (let e = 0; e < C * F; e++) {
      const t = (k: number) => mag(w[k * C * F + e]);
      const h = [0, 1, 2].map((r) => gRow(j, t(3 * r), t(3 * r + 1), t(3 * r + 2), round, abs));
      U[xi * C * F + e] = gRow(i, h[0], h[1], h[2], round, abs);
    }
  }
  const TH = Math.ceil(OH / 2), TW = Math.ceil(OW / 2);
  const y = new Float64Array(B * OH * OW * F);
  const step = kSliceStep(C);
  const blocks = int8?.blocks ?? Array.from({ length: Math.ceil(C / step) }, (_, i) => Math.min(step, C - i * step));
  const scale = int8?.scale;
  const V = new Float64Array(16 * C);
  const M = new Float64Array(16);
  for (let b = 0; b < B; b++) for (let th = 0; th < TH; th++) for (let tw = 0; tw < TW; tw++) {
    const d = (r: number, s: number, c: number) => {
      const ih = 2 * th - PT + r, iw = 2 * tw - PL + s;
      return ih < 0 || ih >= H || iw < 0 || iw >= W ? 0 : mag(x[((b * H + ih) * W + iw) * C + c]);
    };
    for (let c = 0; c < C; c++) {
      for (let j = 0; j < 4; j++) {
        // (d B)[r, j]: d0 - d2, d1 + d2, d2 - d1, d1 - d3
        const col = (r: number) => j === 0 ? sub(d(r, 0, c), d(r, 2, c)) : j === 1 ? add(d(r, 1, c), d(r, 2, c))
          : j === 2 ? sub(d(r, 2, c), d(r, 1, c)) : sub(d(r, 1, c), d(r, 3, c));
        const [t0, t1, t2, t3] = [col(0), col(1), col(2), col(3)];
        V[j * C + c] = sub(t0, t2);
        V[(4 + j) * C + c] = add(t1, t2);
        V[(8 + j) * C + c] = sub(t2, t1);
        V[(12 + j) * C + c] = sub(t1, t3);
      }
    }
    for (let fo = 0; fo < F; fo++) {
      for (let xi = 0; xi < 16; xi++) {
        let acc = 0;
        for (let i = 0, p0 = 0; i < blocks.length; p0 += blocks[i++]) {
          let s = 0;
          for (let p = p0; p < p0 + blocks[i]; p++) s = round(s + round(V[xi * C + p] * U[(xi * C + p) * F + fo]));
          acc = p0 === 0 ? s : round(acc + s);
        }
        M[xi] = acc;
      }
      const s0 = (q: number) => add(add(M[q], M[4 + q]), M[8 + q]);
      const s1 = (q: number) => sub(sub(M[4 + q], M[8 + q]), M[12 + q]);
      const bv = bias ? mag(bias[fo]) : 0;
      const div = (v: number) => (scale ? round(v / scale[fo]) : v);
      const out = [
        add(div(add(add(s0(0), s0(1)), s0(2))), bv), add(div(sub(sub(s0(1), s0(2)), s0(3))), bv),
        add(div(add(add(s1(0), s1(1)), s1(2))), bv), add(div(sub(sub(s1(1), s1(2)), s1(3))), bv),
      ];
      for (let r = 0; r < 2; r++) for (let s = 0; s < 2; s++) {
        const oh = 2 * th + r, ow = 2 * tw + s;
        if (oh < OH && ow < OW) y[((b * OH + oh) * OW + ow) * F + fo] = abs ? out[2 * r + s] : Math.min(Math.max(out[2 * r + s], lo), hi);
      }
    }
  }
  return y;
}

// An int8 kernel's scales (F) and the sizes of its blocks of channels, in order (conv2d_winograd_i8).
export interface Int8Winograd { scale: ArrayLike<number>; blocks: number[] }

// The kernel's output, bit for bit (as f32 values in an f64 array): y = clamp(winograd(x, w) + b, lo, hi);
// with `int8`, conv2d_winograd_i8's on an int8 kernel w: clamp(winograd(x, w) / scale + b, lo, hi).
export function winogradF23Ref(g: ConvGeometry, F: number, x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined,
  lo = -Infinity, hi = Infinity, int8?: Int8Winograd): Float64Array {
  return winograd(g, F, x, w, bias, lo, hi, f, false, int8);
}

// A bound of |kernel - exact convolution| per output, from the standard forward error analysis:
// every value is a sum of terms each rounded at most n times (n = C + 10: 3 roundings in the
// weight transform, 2 in the input transform, C in the channel sum, 4 in the output transform
// and the bias; one more for the division by an int8 kernel's scale), so its error is at most
// gamma_n = n u / (1 - n u) (u = 2^-24) times the same computation on absolute values (|x|, |w|,
// |b|, every minus taken as a plus). The clamp only moves values toward each other.
export function winogradErrorBound(g: ConvGeometry, F: number, x: ArrayLike<number>, w: ArrayLike<number>, bias?: ArrayLike<number>,
  int8?: Int8Winograd): Float64Array {
  const n = g.C + (int8 ? 11 : 10), u = 2 ** -24;
  const gamma = (n * u) / (1 - n * u);
  return winograd(g, F, x, w, bias, -Infinity, Infinity, (v) => v, true, int8).map((v) => gamma * v);
}
