// The absmax int8 GEMM (assembly/kernels/gemm-q8.ts, ops 256-257; docs/int8.md "absmax"): Keras 3's
// int8 x int8 -> int32 product with the inputs quantized per row at run time, against its naive
// twin (test/reference/q8.ts: exact bits) in the SIMD build and compiled with --disable simd, and
// the row quantizer against the twin's integers and scales. Sweeps m < 4 (the one-row path) and m % 4,
// n % 8, odd and even k, rows with a gap (rsa > k, ldc > n), bias or none, three clamps, and rows
// that are all zero or whose products land on .5 (round half to even); guard words must survive.
import { beforeAll, describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { expectSame } from './support/close';
import { putQ, randomQ } from './support/int8';
import { absmaxRow, conv2dQ8Twin, gemmQ8Twin, type Q8ConvGeometry } from './reference/q8';
import { q8PackedBytes, q8ScratchBytes } from '../host/compile/gemm-scratch';
import { convColsBytes } from '../host/compile/conv-scratch';


interface Case { m: number; n: number; k: number; bias: boolean; rsa: number; ldc: number }

function cases(full: boolean): Case[] {
  const out: Case[] = [];
  const ms = full ? [1, 2, 3, 4, 5, 7, 8, 9, 13] : [1, 3, 5, 8];
  const ns = full ? [1, 3, 4, 5, 8, 9, 15, 16, 17, 33, 130] : [1, 5, 9, 17];
  const ks = full ? [1, 2, 3, 7, 8, 16, 17, 64, 300, 513] : [1, 2, 7, 300];
  for (const m of ms) for (const n of ns) for (const k of ks) {
    const odd = (m + n + k) % 3 === 0;
    out.push({ m, n, k, bias: (m + n + k) % 2 === 0, rsa: odd ? k + 3 : k, ldc: odd ? n + 2 : n });
  }
  return out;
}

// a (m, k; row stride rsa) with a few rows made special: all zeros, and values that x * xs puts
// exactly on .5 (a row whose max is 127 has xs = 127 / (127 + 1e-7) = 1 in f32: x = 2.5 -> 2).
function inputs(m: number, k: number, rsa: number, seed: number): { a: Float32Array; dense: Float32Array } {
  const a = randomArray((m - 1) * rsa + k, seed, -3, 3);
  const dense = new Float32Array(m * k);
  for (let r = 0; r < m; r++) {
    for (let p = 0; p < k; p++) {
      let v = a[r * rsa + p];
      if (r === 1) v = 0;
      if (r === 2) v = p === 0 ? 127 : [2.5, -3.5, 0.5, -0.5, 1.5, 126.5][p % 6];
      a[r * rsa + p] = v;
      dense[r * k + p] = v;
    }
  }
  return { a, dense };
}

function check(t: Arena, list: Case[]): void {
  for (const [i, { m, n, k, bias, rsa, ldc }] of list.entries()) {
    t.reset();
    const [lo, hi] = i % 3 === 0 ? [-Infinity, Infinity] : i % 3 === 1 ? [0, Infinity] : [0, 6];
    const what = `m=${m} n=${n} k=${k} bias=${bias} rsa=${rsa} ldc=${ldc} clamp=[${lo}, ${hi}]`;
    const { a, dense } = inputs(m, k, rsa, 51 + i);
    const q = randomQ(k * n, 53 + i), ks = randomArray(n, 57 + i, 20, 300), b = randomArray(n, 59 + i, -2, 2);
    const ap = t.put(a), qp = putQ(t, q), sp = t.put(ks), bp = bias ? t.put(b) : 0;
    const panels = t.buf(q8PackedBytes(n, k) / 4);
    t.k.gemm_pack_b_q8(panels, qp, n, k, n);
    const cp = t.buf((m - 1) * ldc + n);
    if (ldc > n) for (let r = 0; r + 1 < m; r++) t.write(cp + 4 * (r * ldc + n), [0, 0]); // the row gaps are not c
    const scratch = t.buf(q8ScratchBytes(k) / 4);
    t.k.gemm_q8(cp, ap, panels, sp, bp, m, n, k, rsa, ldc, lo, hi, scratch);
    const got = t.read(cp, (m - 1) * ldc + n);
    const twin = got.slice();
    gemmQ8Twin(twin, dense, q, ks, bias ? b : null, m, n, k, ldc, lo, hi);
    expectSame(got, twin, what);
    expect(t.brokenGuards(), what).toEqual([]);
  }
}

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/gemm-q8.ts', 'assembly/kernels/conv-q8.ts'], 'gemm-q8-scalar.wasm');
}, 120_000);

describe('quantize_rows_q8', () => {
  it("is Keras's AbsMaxQuantizer(axis=-1): the twin's scales and integers, zero past k", () => {
    const t = harness(64);
    for (const [i, [rows, k]] of [[1, 1], [3, 7], [5, 8], [2, 33], [4, 300]].entries()) {
      t.reset();
      const { a, dense } = inputs(rows, k, k + 1, 71 + i);
      const stride = Math.ceil(k / 8) * 8;
      const xq = t.buf((rows * stride) / 2), xs = t.buf(rows);
      new Int16Array(t.memory.buffer, xq, rows * stride).fill(-1); // the padding must be written
      t.k.quantize_rows_q8(xq, xs, t.put(a), rows, k, k + 1);
      const gotQ = new Int16Array(t.memory.buffer, xq, rows * stride);
      const gotS = t.read(xs, rows);
      for (let r = 0; r < rows; r++) {
        const want = absmaxRow(dense.subarray(r * k, (r + 1) * k));
        expect(gotS[r], `rows=${rows} k=${k} row ${r} scale`).toBe(want.xs);
        const padded = Array.from({ length: stride }, (_, p) => (p < k ? want.xq[p] : 0));
        expect(Array.from(gotQ.subarray(r * stride, (r + 1) * stride)), `rows=${rows} k=${k} row ${r}`).toEqual(padded);
      }
      if (rows > 2) expect(Array.from(gotQ.subarray(2 * stride, 2 * stride + Math.min(k, 6)))).toEqual([127, -4, 0, 0, 2, 126].slice(0, Math.min(k, 6)));
      expect(t.brokenGuards()).toEqual([]);
    }
  });
});

describe('gemm_q8', () => {
  it('on panels packed by gemm_pack_b_q8 is its naive twin bit for bit (SIMD build)', () => {
    check(harness(256), cases(true));
  });
  it('gives the same bits compiled with --disable simd', () => {
    check(scalarArena(scalar, 256, 200 * 65536), cases(false));
  });
});

// conv2d_q8 (assembly/kernels/conv-q8.ts, op 258): every k x k convolution's patches gathered from
// x straight into the quantized rows in the SIMD build (4 positions at a time, the last 1-3 alone;
// one run of KW*C floats per kernel row, one tap at a time with a dilation), im2col chunks in the
// scalar build: against the twin's im2col rows, bit for bit.
type ConvCase = Q8ConvGeometry & { F: number; what: string };

function convCase(B: number, H: number, W: number, C: number, F: number, KH: number, KW: number, SH: number, SW: number,
  pad: 'same' | 'valid', DH = 1, DW = 1): ConvCase {
  const axis = (n: number, k: number, s: number, d: number) => {
    const span = (k - 1) * d + 1;
    if (pad === 'valid') return { out: Math.floor((n - span) / s) + 1, before: 0 };
    const out = Math.ceil(n / s);
    return { out, before: Math.floor(Math.max((out - 1) * s + span - n, 0) / 2) };
  };
  const y = axis(H, KH, SH, DH), x = axis(W, KW, SW, DW);
  return { B, H, W, C, F, KH, KW, SH, SW, DH, DW, PT: y.before, PL: x.before, OH: y.out, OW: x.out,
    what: `B=${B} ${H}x${W}x${C} -> ${F} ${KH}x${KW} s${SH},${SW} d${DH},${DW} ${pad}` };
}

const CONV_CASES: ConvCase[] = [
  // gender's first layers: 1 -> 8 and 8 -> 8, 3x3 'same', strides 1 and 2, batch 1 and 8
  convCase(1, 12, 10, 1, 8, 3, 3, 1, 1, 'same'), convCase(8, 9, 9, 1, 8, 3, 3, 2, 2, 'same'),
  convCase(1, 11, 13, 8, 8, 3, 3, 1, 1, 'same'), convCase(8, 10, 7, 8, 8, 3, 3, 2, 2, 'same'),
  // filters off the 8-column panels, channels off the 4- and 8-value vectors, positions % 4
  convCase(1, 7, 5, 3, 13, 3, 3, 1, 1, 'same'), convCase(3, 6, 7, 5, 3, 3, 3, 2, 1, 'valid'),
  convCase(2, 8, 9, 16, 17, 5, 5, 1, 1, 'same'), convCase(1, 9, 9, 2, 1, 5, 5, 2, 2, 'same'),
  convCase(2, 5, 11, 3, 8, 1, 3, 1, 2, 'same'), convCase(1, 13, 6, 4, 9, 7, 1, 3, 1, 'same'),
  convCase(1, 3, 3, 2, 4, 3, 3, 1, 1, 'valid'), convCase(1, 1, 1, 7, 5, 3, 3, 1, 1, 'same'),
  // a dilation (one tap per run), a 1x1 with a stride (in place) and with padding (gathered)
  convCase(2, 10, 9, 3, 8, 3, 3, 1, 1, 'same', 2, 2), convCase(1, 11, 8, 5, 6, 3, 2, 2, 1, 'valid', 1, 3),
  convCase(2, 6, 7, 9, 10, 1, 1, 2, 2, 'valid'), { ...convCase(1, 4, 5, 6, 7, 1, 1, 1, 1, 'valid'), PT: 1, PL: 1, OH: 6, OW: 7, what: '1x1 padded by 1' },
];

function checkConv(t: Arena, list: ConvCase[]): void {
  for (const [i, g] of list.entries()) {
    t.reset();
    const [lo, hi] = i % 3 === 0 ? [-Infinity, Infinity] : i % 3 === 1 ? [0, Infinity] : [0, 6];
    const K = g.KH * g.KW * g.C, N = g.B * g.OH * g.OW, bias = i % 2 === 0;
    const x = randomArray(g.B * g.H * g.W * g.C, 61 + i, -3, 3);
    // One pixel's channels on .5 after a scale of 1 (a patch holding 127 and no larger |x|), one
    // image's first pixel all zeros.
    for (let c = 0; c < g.C; c++) x[c] = 0;
    if (x.length > 2 * g.C) for (let c = 0; c < g.C; c++) x[g.C + c] = c === 0 ? 127 : [2.5, -3.5, 0.5, -0.5, 1.5, 126.5][c % 6];
    const q = randomQ(K * g.F, 63 + i), ks = randomArray(g.F, 65 + i, 20, 300), b = randomArray(g.F, 67 + i, -2, 2);
    const qp = putQ(t, q), sp = t.put(ks), bp = bias ? t.put(b) : 0;
    const panels = t.buf(q8PackedBytes(g.F, K) / 4);
    t.k.gemm_pack_b_q8(panels, qp, g.F, K, g.F);
    const chunkRows = 5 + (i % 4);
    const y = t.buf(N * g.F), cols = t.buf(convColsBytes(chunkRows, g.KH, g.KW, g.C) / 4), scratch = t.buf(q8ScratchBytes(K) / 4);
    t.k.conv2d_q8(y, t.put(x), panels, sp, bp, g.B, g.H, g.W, g.C, g.F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW,
      chunkRows, cols, scratch, lo, hi);
    const what = `${g.what} bias=${bias} clamp=[${lo}, ${hi}]`;
    expectSame(t.read(y, N * g.F), conv2dQ8Twin(g, g.F, x, q, ks, bias ? b : null, lo, hi), what);
    expect(t.brokenGuards(), what).toEqual([]);
  }
}

describe('conv2d_q8', () => {
  it('gathers and quantizes each patch from x: the twin\'s im2col rows bit for bit (SIMD build)', () => {
    checkConv(harness(256), CONV_CASES);
  });
  it('gives the same bits compiled with --disable simd (im2col chunks)', () => {
    checkConv(scalarArena(scalar, 256, 200 * 65536), CONV_CASES);
  });
});
