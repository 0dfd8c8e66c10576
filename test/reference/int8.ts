// Naive twins of the int8 kernels (assembly/kernels/gemm-i8.ts, gemm.ts gemm_i8f32,
// depthwise-i8.ts), written from their stated numerics (docs/int8.md), on plain arrays:
// f32 products of x and the integer q summed from 0 in k order per k slice, each slice's sum
// divided by its column's scale and added to c. Math.fround after every operation, so a twin
// gives the kernel's exact bits; the f64 dequantize-then-multiply references are in conv.ts / gemm.ts.
const f = Math.fround;
const KC = 256; // GEMM_KC

// c (m,n; row stride ldc) [+]= a (m,k) . q (k,n) / scale (n); a[i,p] = a[i*rsa + p*csa], q row stride rsq.
export function gemmI8Twin(c: Float32Array, a: ArrayLike<number>, q: Int8Array, scale: Float32Array, m: number, n: number, k: number,
  rsa: number, csa: number, rsq: number, ldc: number, accumulate: number): void {
  const slices = Math.ceil(k / KC);
  const step = Math.ceil(k / slices);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let out = accumulate ? c[i * ldc + j] : NaN;
      for (let pc = 0; pc < k; pc += step) {
        let s = 0;
        for (let p = pc; p < Math.min(k, pc + step); p++) s = f(s + f(a[i * rsa + p * csa] * q[p * rsq + j]));
        const v = f(s / scale[j]);
        out = pc === 0 && !accumulate ? v : f(out + v);
      }
      c[i * ldc + j] = out;
    }
  }
}

export interface DepthwiseGeometry {
  B: number; H: number; W: number; C: number; M: number;
  KH: number; KW: number; SH: number; SW: number; DH: number; DW: number; PT: number; PL: number; OH: number; OW: number;
}

// y (B,OH,OW,C*M) = clamp(taps summed in (kh, kw) order from 0 / scale [+ b], lo, hi).
export function depthwiseI8Twin(g: DepthwiseGeometry, x: Float32Array, q: Int8Array, scale: Float32Array, b: Float32Array | null,
  lo: number, hi: number): Float32Array {
  const CM = g.C * g.M;
  const y = new Float32Array(g.B * g.OH * g.OW * CM);
  for (let n = 0; n < g.B; n++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        for (let o = 0; o < CM; o++) {
          let acc = 0;
          for (let kh = 0; kh < g.KH; kh++) {
            const ih = oh * g.SH - g.PT + kh * g.DH;
            if (ih < 0 || ih >= g.H) continue;
            for (let kw = 0; kw < g.KW; kw++) {
              const iw = ow * g.SW - g.PL + kw * g.DW;
              if (iw < 0 || iw >= g.W) continue;
              acc = f(acc + f(x[((n * g.H + ih) * g.W + iw) * g.C + Math.floor(o / g.M)] * q[(kh * g.KW + kw) * CM + o]));
            }
          }
          acc = f(acc / scale[o]);
          if (b) acc = f(acc + b[o]);
          y[((n * g.OH + oh) * g.OW + ow) * CM + o] = Math.min(Math.max(acc, lo), hi);
        }
      }
    }
  }
  return y;
}

// conv2d_forward_i8's numerics: each output position's patch (taps in (kh, kw, c) order, 0 outside
// the input) times q (KH*KW*C, F) as gemmI8Twin sums it, onto the bias when there is one, then ReLU.
export function conv2dI8Twin(g: Omit<DepthwiseGeometry, 'M'>, F: number, x: Float32Array, q: Int8Array, scale: Float32Array,
  b: Float32Array | null, relu: boolean): Float32Array {
  const K = g.KH * g.KW * g.C, N = g.B * g.OH * g.OW;
  const cols = new Float32Array(N * K);
  for (let n = 0; n < g.B; n++) for (let oh = 0; oh < g.OH; oh++) for (let ow = 0; ow < g.OW; ow++) {
    const r = (n * g.OH + oh) * g.OW + ow;
    for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) {
      const ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
      if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
      for (let c = 0; c < g.C; c++) cols[r * K + (kh * g.KW + kw) * g.C + c] = x[((n * g.H + ih) * g.W + iw) * g.C + c];
    }
  }
  const y = new Float32Array(N * F);
  if (b) for (let r = 0; r < N; r++) y.set(b, r * F);
  gemmI8Twin(y, cols, q, scale, N, F, K, K, 1, F, F, b ? 1 : 0);
  return relu ? y.map((v) => Math.max(v, 0)) : y;
}
