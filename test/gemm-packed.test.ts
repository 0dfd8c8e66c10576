// Weights packed once (issue 12): gemm_pack_b, gemm_f32_packed and conv2d_forward_packed
// (assembly/kernels/gemm-packed.ts, conv.ts) against the naive twins of test/reference (f64 sums),
// in the SIMD build and the same sources compiled with --disable simd.
//
// Sweeps m = 1, 2, 3 (the one-row path, batch-1 dense layers and SE blocks) and m past the 4-row
// tile with every row tail (with k up to 256, the one-slice path that reads a in place), n over
// every tail of the 8-wide panel and past the 128-column block, prime k and k past the 256-deep
// slice, ldc > n, with and without bias, clamps none, ReLU, ReLU6, and accumulate. The packed
// convolution: 1x1 at strides 1, 2, 3 ('same', 'valid', explicit bottom / right padding), 3x3, 5x5.
// Outputs start as NaN, the packed panels too (every float of them must be written, the zero
// padding included); guard words round every buffer must come back unchanged, and the inputs too.
//
// Exactness: the packed GEMM must give the same bits as gemm_f32 on the unpacked weights after
// bias_fill (what the plans ran before), then the clamp; the scalar build the same bits as the
// SIMD one. Tolerance against the f64 twins as test/gemm.test.ts: atol 1e-5*(sqrt(k) + 1), rtol 1e-5.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness, sameBits } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { gemmReference } from './reference/gemm';
import { type ConvGeometry, conv2dRef } from './reference/conv';
import { conv2dOutputSize, conv2dPackBytes, convColsBytes } from '../host/compile/conv-scratch';
import { gemmScratchBytes } from '../host/compile/gemm-scratch';
import { packedFloats, packedScratchBytes } from '../host/compile/program';

const ARENA_BYTES = 32 << 20;
const CLAMPS: [string, number, number][] = [['none', -Infinity, Infinity], ['relu', 0, Infinity], ['relu6', 0, 6]];
const clampF32 = (v: Float32Array, lo: number, hi: number) => Float32Array.from(v, (e) => Math.min(Math.max(e, lo), hi));

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/gemm-packed.ts', 'assembly/kernels/conv.ts', 'assembly/kernels/gemm.ts'], 'gemm-packed-scalar.wasm');
}, 120_000);

interface GemmCase { m: number; n: number; k: number; ldc: number; bias: boolean; clampAt: number; accumulate: number }

function gemmCases(): GemmCase[] {
  const cases: GemmCase[] = [];
  let i = 0;
  for (const m of [1, 2, 3, 4, 5, 7, 9, 14]) for (const n of [1, 3, 4, 5, 8, 9, 13, 130]) for (const k of [1, 2, 7, 64, 257, 523]) {
    i++;
    const accumulate = i % 5 === 0 ? 1 : 0;
    cases.push({ m, n, k, ldc: n + (i % 3 === 0 ? 3 : 0), bias: accumulate === 0 && i % 2 === 0, clampAt: i % 3, accumulate });
  }
  return cases;
}

// c's values before an accumulating product: random in the matrix, NaN in the row gaps (ldc > n).
function startingC(m: number, n: number, ldc: number, seed: number): Float32Array {
  const c = randomArray((m - 1) * ldc + n, seed);
  for (let i = 0; i < c.length; i++) if (i % ldc >= n) c[i] = NaN;
  return c;
}

// One product; the failures, and c as the kernel left it.
function runGemm(a: Arena, c: GemmCase, seed: number): { fails: string[]; y: Float32Array } {
  a.reset();
  const { m, n, k, ldc, bias, clampAt, accumulate } = c;
  const [name, lo, hi] = CLAMPS[clampAt];
  const what = `m${m} n${n} k${k} ldc${ldc}${bias ? ' + bias' : ''} clamp ${name}${accumulate ? ' accumulate' : ''}`;
  const x = randomArray(m * k, seed), w = randomArray(k * n, seed + 1), b = randomArray(n, seed + 2, -2, 2);
  const c0 = startingC(m, n, ldc, seed + 3);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const packed = a.alloc(packedFloats(n, k));
  expect(a.k.gemm_packed_floats(n, k)).toBe(packedFloats(n, k));
  a.k.gemm_pack_b(packed, wp, n, k, n, 1);
  const fails: string[] = [];
  if (a.read(packed, packedFloats(n, k)).some(Number.isNaN)) fails.push(`${what}: gemm_pack_b left floats of the panels unwritten`);
  const cLen = (m - 1) * ldc + n;
  const yp = a.alloc(cLen, NaN);
  if (accumulate) a.write(yp, c0);
  // The row gaps of c (ldc > n) are not the kernel's: they must stay NaN.
  const pack = a.alloc(packedScratchBytes(k) / 4);
  a.k.gemm_f32_packed(yp, xp, packed, bias ? bp : 0, m, n, k, k, 1, ldc, accumulate, lo, hi, pack);
  const y = a.read(yp, cLen);
  const expected = new Float32Array(cLen).fill(NaN);
  if (accumulate) expected.set(c0);
  const ref64 = Float32Array.from(expected);
  gemmReference(ref64, x, w, m, n, k, k, 1, n, 1, ldc, accumulate);
  const want = new Float64Array(cLen).fill(NaN);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    const v = ref64[i * ldc + j] + (bias ? b[j] : 0);
    want[i * ldc + j] = Math.min(Math.max(v, lo), hi);
  }
  const gotRows = Float64Array.from(y), wantRows = want;
  for (let i = 0; i < cLen; i++) if (Number.isNaN(wantRows[i]) !== Number.isNaN(gotRows[i])) { fails.push(`${what}: c[${i}] written ${Number.isNaN(gotRows[i]) ? 'never' : 'outside the matrix'}`); break; }
  const mask = (v: Float64Array) => v.filter((_, i) => !Number.isNaN(want[i]));
  const cl = closeness(mask(gotRows), mask(wantRows), 1e-5, 1e-5 * (Math.sqrt(k) + 1));
  if (cl.ratio > 1) fails.push(describeCloseness(what, cl));
  if (!a.guardsIntact()) fails.push(`${what}: wrote past a buffer`);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(wp, w.length), w) || !sameBits(a.read(bp, b.length), b)) fails.push(`${what}: modified an input`);
  return { fails, y };
}

// What the plans ran before: bias_fill then gemm_f32 adding onto it (or gemm_f32 alone), then the clamp.
function unpackedPath(a: Arena, c: GemmCase, seed: number): Float32Array {
  a.reset();
  const { m, n, k, ldc, bias, clampAt, accumulate } = c;
  const [, lo, hi] = CLAMPS[clampAt];
  const x = randomArray(m * k, seed), w = randomArray(k * n, seed + 1), b = randomArray(n, seed + 2, -2, 2);
  const c0 = startingC(m, n, ldc, seed + 3);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const cLen = (m - 1) * ldc + n;
  const yp = a.alloc(cLen, NaN);
  if (accumulate) a.write(yp, c0);
  if (bias) for (let i = 0; i < m; i++) a.k.bias_fill(yp + 4 * i * ldc, bp, 1, n);
  a.k.gemm_f32(yp, xp, wp, m, n, k, k, 1, n, 1, ldc, accumulate || bias ? 1 : 0, a.alloc(gemmScratchBytes(m, n, k) / 4));
  const y = a.read(yp, cLen);
  const out = clampF32(y, lo, hi);
  for (let i = 0; i < cLen; i++) if (Number.isNaN(y[i])) out[i] = NaN;
  return out;
}

interface ConvCase { g: ConvGeometry; F: number; bias: boolean; clampAt: number; chunkRows: number }

function convCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  let i = 0;
  const kernels: [number, number, number, string][] = [[1, 1, 1, 'valid'], [1, 1, 2, 'valid'], [1, 1, 2, 'same'], [1, 1, 3, 'valid'], [3, 3, 1, 'same'], [3, 3, 2, 'same'], [3, 3, 2, 'valid'], [5, 5, 1, 'same']];
  for (const [K, , S, padding] of kernels) for (const [H, W] of [[1, 1], [5, 7], [9, 10]]) for (const C of [3, 5, 16, 40]) {
    i++;
    const r = conv2dOutputSize(H, K, S, 1, padding as 'same' | 'valid'), c = conv2dOutputSize(W, K, S, 1, padding as 'same' | 'valid');
    if (r.out <= 0 || c.out <= 0) continue;
    const g = { B: 1 + (i % 2), H, W, C, KH: K, KW: K, SH: S, SW: S, DH: 1, DW: 1, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out };
    const rows = g.B * g.OH * g.OW;
    cases.push({ g, F: [1, 5, 8, 20, 33][i % 5], bias: i % 2 === 0, clampAt: i % 3, chunkRows: i % 4 === 0 ? Math.max(1, rows >> 2) : rows });
  }
  // 1x1 kernels with explicit bottom / right padding (output rows and columns past the image),
  // at strides 1 and 2: not the in-place GEMM of the strided 1x1 path, which must not read past x.
  for (const S of [1, 2]) {
    const g = { B: 2, H: 5, W: 6, C: 5, KH: 1, KW: 1, SH: S, SW: S, DH: 1, DW: 1, PT: 0, PL: 0, OH: Math.floor(5 / S) + 1, OW: Math.floor(6 / S) + 1 };
    cases.push({ g, F: 9, bias: true, clampAt: S - 1, chunkRows: g.B * g.OH * g.OW });
  }
  return cases;
}

const geoArgs = (g: ConvGeometry, F: number) => [g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];

function convData({ g, F }: ConvCase, seed: number) {
  return { x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), w: randomArray(g.KH * g.KW * g.C * F, seed + 1), b: randomArray(F, seed + 2, -3, 3) };
}

function runConv(a: Arena, c: ConvCase, seed: number, packedKernel: boolean): Float32Array {
  a.reset();
  const { g, F, bias, clampAt, chunkRows } = c;
  const [, lo, hi] = CLAMPS[clampAt];
  const { x, w, b } = convData(c, seed);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const n = g.B * g.OH * g.OW * F;
  const yp = a.alloc(n);
  const K = g.KH * g.KW * g.C;
  const cols = a.alloc(convColsBytes(chunkRows, g.KH, g.KW, g.C) / 4);
  if (packedKernel) {
    const wpk = a.alloc(packedFloats(F, K));
    a.k.gemm_pack_b(wpk, wp, F, K, F, 1);
    a.k.conv2d_forward_packed(yp, xp, wpk, bias ? bp : 0, ...geoArgs(g, F), chunkRows, cols, a.alloc(packedScratchBytes(K) / 4), lo, hi);
  } else {
    a.k.conv2d_forward_fused(yp, xp, wp, bias ? bp : 0, ...geoArgs(g, F), chunkRows, cols, a.alloc(conv2dPackBytes(chunkRows, g.KH, g.KW, g.C, F) / 4), clampAt === 1 ? 1 : 0, 0, 0);
  }
  expect(a.guardsIntact()).toBe(true);
  expect(sameBits(a.read(xp, x.length), x) && sameBits(a.read(wp, w.length), w)).toBe(true);
  return a.read(yp, n);
}

describe('gemm_f32_packed and gemm_pack_b', () => {
  it('match the f64 twin over the sweep, write exactly c, and give the bits of bias_fill + gemm_f32 + clamp', () => {
    const a = simdArena(ARENA_BYTES);
    const fails: string[] = [];
    gemmCases().forEach((c, i) => {
      const { fails: f, y } = runGemm(a, c, 100 + i);
      fails.push(...f);
      if (!sameBits(y, unpackedPath(a, c, 100 + i))) fails.push(`m${c.m} n${c.n} k${c.k} ldc${c.ldc} case ${i}: not the bits of the unpacked path`);
    });
    expect(fails).toEqual([]);
  });

  it('give the same bits in the build without SIMD', () => {
    const a = simdArena(ARENA_BYTES);
    const s = scalarArena(scalar, (ARENA_BYTES >> 16) + 16, ARENA_BYTES);
    const fails: string[] = [];
    gemmCases().forEach((c, i) => {
      const simd = runGemm(a, c, 300 + i);
      const flat = runGemm(s, c, 300 + i);
      fails.push(...flat.fails);
      if (!sameBits(simd.y, flat.y)) fails.push(`m${c.m} n${c.n} k${c.k} case ${i}: the scalar build differs`);
    });
    expect(fails).toEqual([]);
  });
});

describe('conv2d_forward_packed', () => {
  it('matches the f64 twin, and conv2d_forward_fused bit for bit (pointwise and im2col, chunked, with clamps)', () => {
    const a = simdArena(ARENA_BYTES);
    const s = scalarArena(scalar, (ARENA_BYTES >> 16) + 16, ARENA_BYTES);
    const fails: string[] = [];
    convCases().forEach((c, i) => {
      const { g, F, bias, clampAt } = c;
      const [name, lo, hi] = CLAMPS[clampAt];
      const what = `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH} s${g.SH} F${F}${bias ? ' + bias' : ''} clamp ${name} chunk ${c.chunkRows}`;
      const y = runConv(a, c, 500 + i, true);
      const { x, w, b } = convData(c, 500 + i);
      const want = Float64Array.from(conv2dRef(g, F, x, w, bias ? b : undefined), (v) => Math.min(Math.max(v, lo), hi));
      const cl = closeness(y, want, 1e-5, 1e-5 * (Math.sqrt(g.KH * g.KW * g.C) + 1));
      if (cl.ratio > 1) fails.push(describeCloseness(what, cl));
      if (clampAt !== 2 && !sameBits(y, runConv(a, c, 500 + i, false))) fails.push(`${what}: not the bits of conv2d_forward_fused`);
      if (!sameBits(y, runConv(s, c, 500 + i, true))) fails.push(`${what}: the scalar build differs`);
    });
    expect(fails).toEqual([]);
  });
});
