// The kernels that read int8 weights directly (issue 14 item 1; docs/int8.md): gemm_i8f32,
// conv2d_forward_i8, depthwise_conv2d_forward_i8 and the packed-panel gemm_i8_packed and
// conv2d_forward_i8_packed against their naive twins (test/reference/int8.ts,
// the same numerics: exact bits) and against the dequantize-then-f32 references in f64 (within
// rounding), in the SIMD build and, for the GEMM and the depthwise kernel, compiled with --disable simd.
// Sweeps m < MR (the row-streamed path) and m % MR, n % NR and n past NC, prime and KC-crossing k,
// accumulate 0 (outputs start as NaN) and 1; guard words around every buffer must survive.
//
// Tolerance against the dequantized reference: w = q / scale is up to wMax; an entry is a k-term sum
// of terms up to wMax, and the int8 kernel's rounding (one division per k slice instead of one per
// weight) differs from f32 dequantization by a few ulp of the sum: atol 1e-5 * (sqrt(k) + 1) * wMax.
import { beforeAll, describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { expectClose, expectSame } from './support/close';
import { putQ, randomQ } from './support/int8';
import { gemmReference } from './reference/gemm';
import { conv2dRef, depthwiseRef } from './reference/conv';
import { conv2dI8Twin, depthwiseI8Twin, type DepthwiseGeometry, gemmI8Twin } from './reference/int8';
import { gemmScratchBytes } from '../host/compile/gemm-scratch';


interface GemmCase { m: number; n: number; k: number; accumulate: number; rsq: number; ldc: number }

function gemmCases(full: boolean): GemmCase[] {
  const out: GemmCase[] = [];
  const ms = full ? [1, 2, 3, 4, 5, 7, 9] : [1, 3, 5];
  const ns = full ? [1, 3, 4, 5, 8, 9, 15, 17, 33, 130] : [1, 5, 9, 17, 130];
  const ks = full ? [1, 2, 7, 17, 64, 300, 513] : [1, 7, 300];
  for (const m of ms) for (const n of ns) for (const k of ks) for (const accumulate of [0, 1]) {
    const odd = (m + n + k) % 3 === 0; // some cases with row gaps in q and c
    out.push({ m, n, k, accumulate, rsq: odd ? n + 3 : n, ldc: odd ? n + 2 : n });
  }
  return out;
}

function checkGemm(t: Arena, cases: GemmCase[], againstFloat: boolean): void {
  for (const [i, { m, n, k, accumulate, rsq, ldc }] of cases.entries()) {
    t.reset();
    const what = `m=${m} n=${n} k=${k} acc=${accumulate} rsq=${rsq} ldc=${ldc}`;
    const a = randomArray(m * k, 11 + i);
    const q = randomQ((k - 1) * rsq + n, 13 + i);
    const scale = randomArray(n, 17 + i, 20, 300);
    const c0 = randomArray((m - 1) * ldc + n, 19 + i);
    const cp = accumulate ? t.put(c0) : t.buf((m - 1) * ldc + n);
    const ap = t.put(a), qp = putQ(t, q), sp = t.put(scale);
    const pack = t.buf(gemmScratchBytes(m, n, k) / 4);
    if (!accumulate && ldc > n) for (let r = 0; r + 1 < m; r++) t.write(cp + 4 * (r * ldc + n), [0, 0]); // the row gaps are not c
    t.k.gemm_i8f32(cp, ap, qp, sp, m, n, k, k, 1, rsq, ldc, accumulate, pack);
    const got = t.read(cp, (m - 1) * ldc + n);
    const twin = accumulate ? c0.slice() : got.map((v, j) => (j % ldc >= n ? v : NaN));
    gemmI8Twin(twin, a, q, scale, m, n, k, k, 1, rsq, ldc, accumulate);
    expectSame(got, twin, what);
    if (againstFloat) {
      const w = Float32Array.from(q, (v, j) => Math.fround(v / scale[j % rsq] || 0));
      const ref = accumulate ? c0.slice() : new Float32Array(got.length);
      gemmReference(ref, a, w, m, n, k, k, 1, rsq, 1, ldc, accumulate);
      const wMax = Math.max(...Array.from(w, Math.abs));
      for (let r = 0; r < m; r++) {
        expectClose(got.subarray(r * ldc, r * ldc + n), ref.subarray(r * ldc, r * ldc + n), 1e-5, 1e-5 * (Math.sqrt(k) + 1) * wMax, `${what} row ${r} vs dequantized`);
      }
    }
    expect(t.brokenGuards(), what).toEqual([]);
  }
}

// gemm_i8_packed on q packed by gemm_pack_b_i8 (an inference plan's int8 kernels): gemmI8Twin's
// bits after the bias, then the clamp, i.e. gemm_i8f32's after bias_fill; the packed panels hold
// exactly k * roundUp(n, 8) bytes (guard words after them) and the scratch gemmScratchBytes.
function checkGemmPacked(t: Arena, cases: GemmCase[]): void {
  for (const [i, { m, n, k, accumulate: withBias, ldc }] of cases.entries()) {
    t.reset();
    const [lo, hi] = i % 3 === 0 ? [-Infinity, Infinity] : i % 3 === 1 ? [0, Infinity] : [0, 0.5];
    const what = `m=${m} n=${n} k=${k} bias=${withBias} ldc=${ldc} clamp=[${lo}, ${hi}]`;
    const a = randomArray(m * k, 31 + i), q = randomQ(k * n, 37 + i), scale = randomArray(n, 41 + i, 20, 300), b = randomArray(n, 43 + i);
    const ap = t.put(a), qp = putQ(t, q), sp = t.put(scale), bp = withBias ? t.put(b) : 0;
    const panels = t.buf((k * Math.ceil(n / 8) * 8) / 4);
    t.k.gemm_pack_b_i8(panels, qp, n, k, n);
    const cp = t.buf((m - 1) * ldc + n);
    if (ldc > n) for (let r = 0; r + 1 < m; r++) t.write(cp + 4 * (r * ldc + n), [0, 0]); // the row gaps are not c
    const pack = t.buf(gemmScratchBytes(m, n, k) / 4);
    t.k.gemm_i8_packed(cp, ap, panels, sp, bp, m, n, k, k, 1, ldc, lo, hi, pack);
    const got = t.read(cp, (m - 1) * ldc + n);
    const twin = got.map((v, j) => (j % ldc >= n ? v : withBias ? b[j % ldc] : NaN));
    gemmI8Twin(twin, a, q, scale, m, n, k, k, 1, n, ldc, withBias);
    expectSame(got, twin.map((v, j) => (j % ldc >= n ? v : Math.min(Math.max(v, lo), hi))), what);
    expect(t.brokenGuards(), what).toEqual([]);
  }
}

let scalarGemm: WebAssembly.Module;
let scalarGemmPacked: WebAssembly.Module;
let scalarDepthwise: WebAssembly.Module;
let scalarDirect: WebAssembly.Module;
beforeAll(async () => {
  scalarDirect = await scalarModule(['assembly/kernels/conv-direct-i8.ts', 'assembly/kernels/gemm-i8-packed.ts'], 'conv-direct-i8-scalar.wasm');
  scalarGemm = await scalarModule(['assembly/kernels/gemm.ts'], 'gemm-i8-scalar.wasm');
  scalarGemmPacked = await scalarModule(['assembly/kernels/gemm-i8-packed.ts'], 'gemm-i8-packed-scalar.wasm');
  scalarDepthwise = await scalarModule(['assembly/kernels/depthwise-i8.ts'], 'depthwise-i8-scalar.wasm');
}, 120_000);

describe('gemm_i8f32', () => {
  it('is its naive twin bit for bit and the dequantize-then-f32 product within rounding (SIMD build)', () => {
    checkGemm(harness(256), gemmCases(true), true);
  });
  it('gives the same bits compiled with --disable simd', () => {
    checkGemm(scalarArena(scalarGemm, 256, 200 * 65536), gemmCases(false), false);
  });
});

describe('gemm_i8_packed', () => {
  it('on panels packed by gemm_pack_b_i8 is its naive twin bit for bit, bias and clamp in the epilogue (SIMD build)', () => {
    checkGemmPacked(harness(256), gemmCases(true));
  });
  it('takes the rows path for many rows past 64 columns (k <= 64, m >= 256: mobilenet_v2\'s expansions), the same bits', () => {
    const wide = [[256, 130, 17], [301, 96, 16], [260, 144, 64], [257, 65, 1], [255, 130, 24], [300, 130, 65]];
    checkGemmPacked(harness(256), wide.flatMap(([m, n, k], i) => [0, 1].map((bias) => ({ m, n, k, accumulate: bias, rsq: n, ldc: i % 2 ? n + 2 : n }))));
  });
  it('gives the same bits compiled with --disable simd', () => {
    checkGemmPacked(scalarArena(scalarGemmPacked, 256, 200 * 65536), gemmCases(false));
  });
});

const g2 = (o: Partial<DepthwiseGeometry> & { H: number; W: number; KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; DH?: number; DW?: number }) => {
  const DH = o.DH ?? 1, DW = o.DW ?? 1;
  const span = (size: number, k: number, s: number, d: number, pad: number) => Math.floor((size + 2 * pad - (k - 1) * d - 1) / s) + 1;
  return { B: 2, C: 1, M: 1, ...o, DH, DW, OH: span(o.H, o.KH, o.SH, DH, o.PT), OW: span(o.W, o.KW, o.SW, DW, o.PL) };
};
const GEOMETRIES = [
  g2({ H: 7, W: 6, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1 }),
  g2({ H: 9, W: 8, KH: 3, KW: 3, SH: 2, SW: 2, PT: 0, PL: 0 }),
  g2({ H: 6, W: 7, KH: 5, KW: 5, SH: 1, SW: 2, PT: 2, PL: 2 }),
  g2({ H: 7, W: 7, KH: 3, KW: 3, SH: 1, SW: 1, PT: 2, PL: 2, DH: 2, DW: 2 }),
  g2({ H: 5, W: 4, KH: 1, KW: 1, SH: 1, SW: 1, PT: 0, PL: 0 }),
  g2({ H: 2, W: 9, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1 }),
  g2({ H: 9, W: 10, KH: 3, KW: 3, SH: 2, SW: 3, PT: 1, PL: 0 }),
  g2({ H: 8, W: 11, KH: 5, KW: 5, SH: 1, SW: 1, PT: 2, PL: 2 }), // 5x5: rows of several interior pixels
  g2({ H: 9, W: 9, KH: 5, KW: 5, SH: 2, SW: 2, PT: 1, PL: 2 }),
  // depthwise_conv2d_forward_i8_wide's rows of four: 11 interior pixels (the last four overlap),
  // stride 2 with 5, and 'valid' 3x3 with 9 (no first or last padded row).
  g2({ H: 4, W: 13, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1 }),
  g2({ H: 6, W: 12, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1 }),
  g2({ H: 5, W: 11, KH: 3, KW: 3, SH: 1, SW: 1, PT: 0, PL: 0 }),
  // Strided unpadded 1x1 (residual shortcuts): conv2d_forward_i8_packed's GEMM on x in place for
  // rows of at least 16 positions (17 here), im2col for shorter ones (3).
  g2({ H: 5, W: 34, KH: 1, KW: 1, SH: 2, SW: 2, PT: 0, PL: 0 }),
  g2({ H: 6, W: 8, KH: 1, KW: 1, SH: 2, SW: 3, PT: 0, PL: 0 }),
];

describe('conv2d_forward_i8', () => {
  it('im2col and 1x1 convolutions reading int8 kernels: the dequantized f64 convolution within rounding, every output written', () => {
    const t = harness(256);
    let n = 0;
    for (const base of GEOMETRIES) {
      for (const [C, F] of [[1, 1], [3, 5], [4, 8], [5, 13], [16, 33]]) {
        for (const [bias, relu, chunkRows] of [[1, 0, 4], [0, 1, 1000], [1, 1, 6]] as const) {
          t.reset();
          const g = { ...base, C };
          const K = g.KH * g.KW * C, N = g.B * g.OH * g.OW;
          const what = `${JSON.stringify(g)} F=${F} bias=${bias} relu=${relu} chunk=${chunkRows}`;
          const x = randomArray(g.B * g.H * g.W * C, ++n), q = randomQ(K * F, ++n), scale = randomArray(F, ++n, 20, 300);
          const b = randomArray(F, ++n);
          const yp = t.buf(N * F), xp = t.put(x), qp = putQ(t, q), sp = t.put(scale), bp = bias ? t.put(b) : 0;
          const chunk = Math.min(chunkRows, N);
          const cols = t.buf(chunk * K), pack = t.buf(gemmScratchBytes(Math.max(chunk, N), F, K) / 4);
          t.k.conv2d_forward_i8(yp, xp, qp, sp, bp, g.B, g.H, g.W, C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, chunk, cols, pack, relu, 0, 0);
          const w = Float32Array.from(q, (v, j) => Math.fround(v / scale[j % F]));
          const ref = Array.from(conv2dRef(g, F, x, w, bias ? b : undefined), (v) => (relu ? Math.max(v, 0) : v));
          const wMax = Math.max(...Array.from(w, Math.abs));
          expectClose(t.read(yp, N * F), ref, 1e-5, 1e-5 * (Math.sqrt(K) + 1) * wMax, what);
          expect(t.brokenGuards(), what).toEqual([]);
        }
      }
    }
  });
});

describe('conv2d_forward_i8_packed', () => {
  it('on q packed by gemm_pack_b_i8: conv2d_forward_i8 bit for bit (its naive twin), bias and clamp in the epilogue, every output written', () => {
    const t = harness(256);
    let n = 100;
    for (const base of GEOMETRIES) {
      for (const [C, F] of [[1, 1], [4, 8], [5, 13], [16, 33], [3, 130]]) {
        for (const [bias, lo, hi, chunkRows] of [[1, -Infinity, Infinity, 4], [0, 0, Infinity, 1000], [1, 0, 0.5, 6]] as const) {
          t.reset();
          const g = { ...base, C };
          const K = g.KH * g.KW * C, N = g.B * g.OH * g.OW;
          const what = `${JSON.stringify(g)} F=${F} bias=${bias} clamp=[${lo}, ${hi}] chunk=${chunkRows}`;
          const x = randomArray(g.B * g.H * g.W * C, ++n), q = randomQ(K * F, ++n), scale = randomArray(F, ++n, 20, 300), b = randomArray(F, ++n);
          const yp = t.buf(N * F), xp = t.put(x), qp = putQ(t, q), sp = t.put(scale), bp = bias ? t.put(b) : 0;
          const panels = t.buf((K * Math.ceil(F / 8) * 8) / 4);
          t.k.gemm_pack_b_i8(panels, qp, F, K, F);
          const chunk = Math.min(chunkRows, N);
          const cols = t.buf(chunk * K), pack = t.buf(gemmScratchBytes(N, F, K) / 4);
          t.k.conv2d_forward_i8_packed(yp, xp, panels, sp, bp, g.B, g.H, g.W, C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, chunk, cols, pack, lo, hi);
          const twin = conv2dI8Twin(g, F, x, q, scale, bias ? b : null, false).map((v) => Math.min(Math.max(v, lo), hi));
          expectSame(t.read(yp, N * F), twin, what);
          expect(t.brokenGuards(), what).toEqual([]);
        }
      }
    }
  });
});

// conv2d_direct_i8 on q widened by widen_i8: K = KH*KW*C <= 256 (one k slice), so the bits of
// conv2d_forward_i8 (its naive twin: im2col + the int8 GEMM), the clamp after.
function checkDirect(t: Arena, full: boolean): void {
  let n = 300;
  for (const base of full ? GEOMETRIES : GEOMETRIES.slice(0, 3)) {
    for (const [C, F] of full ? [[1, 1], [1, 8], [1, 16], [2, 5], [3, 8], [3, 13], [4, 16], [8, 8], [8, 17]] : [[1, 8], [3, 13]]) {
      for (const [bias, lo, hi] of [[1, -Infinity, Infinity], [0, 0, Infinity], [1, 0, 0.5]] as const) {
        t.reset();
        const g = { ...base, C };
        const K = g.KH * g.KW * C, N = g.B * g.OH * g.OW;
        const what = `${JSON.stringify(g)} F=${F} bias=${bias} clamp=[${lo}, ${hi}]`;
        const x = randomArray(g.B * g.H * g.W * C, ++n, -2, 2), q = randomQ(K * F, ++n), scale = randomArray(F, ++n, 20, 300), b = randomArray(F, ++n);
        const yp = t.buf(N * F), xp = t.put(x), qp = putQ(t, q), sp = t.put(scale), bp = bias ? t.put(b) : 0;
        const qf = t.buf(K * F), zero = t.buf(C);
        t.k.widen_i8(qf, qp, K * F);
        expectSame(t.read(qf, K * F), Float32Array.from(q), `${what} widened`);
        t.k.conv2d_direct_i8(yp, xp, qf, sp, bp, g.B, g.H, g.W, C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, lo, hi, zero);
        const twin = conv2dI8Twin(g, F, x, q, scale, bias ? b : null, false).map((v) => Math.min(Math.max(v, lo), hi));
        expectSame(t.read(yp, N * F), twin, what);
        expect(t.brokenGuards(), what).toEqual([]);
      }
    }
  }
}

describe('conv2d_direct_i8', () => {
  it('on q widened by widen_i8 is conv2d_forward_i8 bit for bit (its naive twin), bias and clamp on the registers (SIMD build)', () => {
    checkDirect(harness(256), true);
  });
  it('gives the same bits compiled with --disable simd', () => {
    checkDirect(scalarArena(scalarDirect, 64, 32 * 65536), false);
  });
});

// wide: depthwise_conv2d_forward_i8_wide (q widened into scratch wf, guarded: exactly KH*KW*C*M floats).
function checkDepthwise(t: Arena, full: boolean, wide = false): void {
  let n = 0;
  for (const base of full ? GEOMETRIES : wide ? [...GEOMETRIES.slice(0, 3), ...GEOMETRIES.slice(-3)] : GEOMETRIES.slice(0, 2)) {
    for (const C of full ? [1, 2, 3, 4, 5, 7, 8, 9, 17] : [3, 8]) {
      for (const M of [1, 2, 4]) {
        for (const [bias, lo, hi] of [[1, -Infinity, Infinity], [0, 0, 6]] as const) {
          t.reset();
          const g = { ...base, C, M };
          const CM = C * M, outs = g.B * g.OH * g.OW * CM;
          const what = `${JSON.stringify(g)} bias=${bias} clamp=[${lo}, ${hi}]`;
          const x = randomArray(g.B * g.H * g.W * C, ++n, -2, 2), q = randomQ(g.KH * g.KW * CM, ++n), scale = randomArray(CM, ++n, 20, 300);
          const b = randomArray(CM, ++n);
          const yp = t.buf(outs), xp = t.put(x), qp = putQ(t, q), sp = t.put(scale), bp = bias ? t.put(b) : 0;
          const args = [yp, xp, qp, sp, bp, g.B, g.H, g.W, C, M, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, lo, hi];
          if (wide) t.k.depthwise_conv2d_forward_i8_wide(...args, t.buf(g.KH * g.KW * CM));
          else t.k.depthwise_conv2d_forward_i8(...args);
          const got = t.read(yp, outs);
          expectSame(got, depthwiseI8Twin(g, x, q, scale, bias ? b : null, lo, hi), what);
          const w = Float32Array.from(q, (v, j) => Math.fround(v / scale[j % CM]));
          const ref = Array.from(depthwiseRef(g, M, x, w, bias ? b : undefined), (v) => Math.min(Math.max(v, lo), hi));
          expectClose(got, ref, 1e-5, 1e-4 * Math.max(...Array.from(w, Math.abs)), `${what} vs dequantized`);
          expect(t.brokenGuards(), what).toEqual([]);
        }
      }
    }
  }
}

describe('depthwise_conv2d_forward_i8', () => {
  it('is its naive twin bit for bit and the dequantized f64 depthwise convolution within rounding (SIMD build)', () => {
    checkDepthwise(harness(256), true);
  });
  it('gives the same bits compiled with --disable simd', () => {
    checkDepthwise(scalarArena(scalarDepthwise, 64, 32 * 65536), false);
  });
});

describe('depthwise_conv2d_forward_i8_wide', () => {
  it('rows of four (3x3) and two (5x5) on q widened into scratch: its naive twin bit for bit, every output written (SIMD build)', () => {
    checkDepthwise(harness(256), true, true);
  });
  it('gives the same bits compiled with --disable simd', () => {
    checkDepthwise(scalarArena(scalarDepthwise, 64, 32 * 65536), false, true);
  });
});
