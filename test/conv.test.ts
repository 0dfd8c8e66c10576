// conv2d (chunked im2col + GEMM) and depthwise conv2d (assembly/kernels/conv.ts), forward and both backward
// passes, against the direct f64 twins in test/reference/conv.ts, for the SIMD build
// (build/edgetune.wasm) and for the same source compiled with --disable simd.
//
// The sweep covers batch 1-3, odd, even and 1x1 images, C in {1, 3, 4, 5}, F in {1, 3, 8, 9}, kernels
// 1x1, 2x2, 3x3 and 5x3, strides 1 and 2, dilations 1 and 2, 'same' and 'valid', a chunkRows of 7
// (dividing nothing) and one covering every output position, plus products past the GEMM's KC and NC.
// Outputs start as NaN (accumulate 0) or as known values (accumulate 1); every buffer, the scratch
// included, is followed by guard words that must come back unchanged, and the inputs must too.
//
// Tolerance: inputs are uniform in [-1, 1), so an output is an L-term sum (L the reduction length:
// KH*KW*C forward, at most KH*KW*F for dx, B*OH*OW for dw) of size ~sqrt(L)/3, with f32 rounding
// error ~u*L/4. atol = 1e-5*(sqrt(L) + 1) and rtol = 1e-5 are far above that and far below the
// O(0.1) change a missing, doubled or misplaced term makes.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness } from './support/close';
import { Arena, scalarArena, scalarModule } from './support/arena';
import { centralDifference } from './support/finite-diff';
import {
  ConvGeometry, conv2dBackwardFilterRef, conv2dBackwardInputRef, conv2dRef,
  depthwiseBackwardFilterRef, depthwiseBackwardInputRef, depthwiseRef,
} from './reference/conv';
import { conv2dOutputSize, conv2dPackBytes, convColsBytes } from '../host/compile/conv-scratch';

const ARENA_BYTES = 12 << 20;


interface Kernels { name: string; arena: () => Arena }

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/conv.ts', 'assembly/kernels/depthwise.ts', 'assembly/kernels/pool.ts'], 'conv-scalar.wasm');
});
const simd = () => simdArena(ARENA_BYTES);
const scalarKernels = () => scalarArena(scalar, 256, ARENA_BYTES);

const BUILDS: Kernels[] = [{ name: 'SIMD build', arena: simd }, { name: 'scalar build', arena: scalarKernels }];

// ---------------------------------------------------------------------------------------------
// Cases

type Padding = 'same' | 'valid';
interface Spatial { B: number; H: number; W: number; C: number; KH: number; KW: number; S: number; D: number; padding: Padding }

function geometry(s: Spatial): ConvGeometry | undefined {
  const r = conv2dOutputSize(s.H, s.KH, s.S, s.D, s.padding);
  const c = conv2dOutputSize(s.W, s.KW, s.S, s.D, s.padding);
  if (r.out <= 0 || c.out <= 0) return undefined;
  return { B: s.B, H: s.H, W: s.W, C: s.C, KH: s.KH, KW: s.KW, SH: s.S, SW: s.S, DH: s.D, DW: s.D, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out };
}

const geomArgs = (g: ConvGeometry, F: number) => [g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];
const im2colArgs = (g: ConvGeometry) => [g.B, g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];
const label = (g: ConvGeometry, extra: string) =>
  `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH}x${g.KW} s${g.SH} d${g.DH} pad ${g.PT},${g.PL} out ${g.OH}x${g.OW} ${extra}`;

function compare(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, reduction: number): string {
  const c = closeness(actual, expected, 1e-5, 1e-5 * (Math.sqrt(reduction) + 1));
  return c.ratio <= 1 ? '' : describeCloseness(what, c);
}

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);

// The sweep: every kernel shape, stride, dilation, padding and image size, each with two channel
// configurations, batch sizes and chunkings chosen in rotation so that every value of each appears.
const KERNELS = [[1, 1], [2, 2], [3, 3], [5, 3]];
const IMAGES = [[5, 7], [8, 8], [1, 1]];
const CHANNELS = [1, 3, 4, 5];
const FILTERS = [1, 3, 8, 9];

interface ConvCase { s: Spatial; F: number; chunk: number | 'all' }

function sweepCases(): ConvCase[] {
  const cases: ConvCase[] = [];
  let i = 0;
  for (const [KH, KW] of KERNELS) for (const S of [1, 2]) for (const D of [1, 2]) for (const padding of ['same', 'valid'] as Padding[]) {
    for (const [H, W] of IMAGES) {
      for (let j = 0; j < 2; j++, i++) {
        const C = CHANNELS[i % 4];
        const F = FILTERS[Math.floor(i / 4) % 4];
        cases.push({ s: { B: 1 + (i % 3), H, W, C, KH, KW, S, D, padding }, F, chunk: j === 0 ? 7 : 'all' });
      }
    }
  }
  return cases;
}

// Products past one KC slice (K = 288, 315) and past one NC block of columns (F = 130).
const WIDE: ConvCase[] = [
  { s: { B: 2, H: 9, W: 9, C: 32, KH: 3, KW: 3, S: 1, D: 1, padding: 'same' }, F: 9, chunk: 50 },
  { s: { B: 1, H: 7, W: 6, C: 21, KH: 5, KW: 3, S: 2, D: 1, padding: 'same' }, F: 130, chunk: 7 },
  { s: { B: 3, H: 6, W: 5, C: 13, KH: 1, KW: 1, S: 1, D: 1, padding: 'valid' }, F: 130, chunk: 11 },
  { s: { B: 2, H: 10, W: 12, C: 8, KH: 1, KW: 1, S: 1, D: 1, padding: 'same' }, F: 16, chunk: 300 },
];

// Filter gradients that assembly/kernels/conv-filter-parts.ts sums over eight ranges of positions
// (dw with under 64 rows, enough positions and scratch): a first layer over one channel, 1440
// positions in shares of 168, and three channels through a strided, dilated 5x3 kernel, 816
// positions in shares of 92; parts end mid-share and mid-image.
const FEW_TAPS: ConvCase[] = [
  { s: { B: 4, H: 20, W: 18, C: 1, KH: 3, KW: 3, S: 1, D: 1, padding: 'same' }, F: 8, chunk: 'all' },
  { s: { B: 3, H: 40, W: 37, C: 3, KH: 5, KW: 3, S: 2, D: 2, padding: 'valid' }, F: 9, chunk: 'all' },
];

function runConvCase(a: Arena, { s, F, chunk }: ConvCase, seed: number): string[] {
  const g = geometry(s);
  if (!g) return [];
  a.reset();
  const k = a.k;
  const { B, H, W, C, KH, KW } = g;
  const N = B * g.OH * g.OW;
  const K = KH * KW * C;
  const inCount = B * H * W * C;
  const x = randomArray(inCount, seed);
  const w = randomArray(K * F, seed + 1);
  const bias = randomArray(F, seed + 2);
  const dy = randomArray(N * F, seed + 3);
  const xp = a.put(x), wp = a.put(w), bp = a.put(bias), dyp = a.put(dy);
  const chunkRows = chunk === 'all' ? N : chunk;
  const colsP = a.alloc(convColsBytes(chunkRows, KH, KW, C) / 4);
  const packP = a.alloc(conv2dPackBytes(chunkRows, KH, KW, C, F) / 4);
  const geo = geomArgs(g, F);
  const name = (what: string) => `${label(g, `F${F} chunk ${chunkRows}`)} ${what}`;
  const fails: string[] = [];
  const note = (f: string) => { if (f) fails.push(f); };

  const withBias = seed % 2 === 1;
  const y = a.alloc(N * F);
  k.conv2d_forward_fused(y, xp, wp, withBias ? bp : 0, ...geo, chunkRows, colsP, packP, 0, 0, 0);
  note(compare(name(`forward${withBias ? ' + bias' : ''}`), a.read(y, N * F), conv2dRef(g, F, x, w, withBias ? bias : undefined), K));

  const dxRef = conv2dBackwardInputRef(g, F, dy, w);
  const { dw: dwRef, db: dbRef } = conv2dBackwardFilterRef(g, F, x, dy);
  for (const acc of [0, 1]) {
    const dx0 = randomArray(inCount, seed + 4), dw0 = randomArray(K * F, seed + 5), db0 = randomArray(F, seed + 6);
    const dx = acc ? a.put(dx0) : a.alloc(inCount);
    const dw = acc ? a.put(dw0) : a.alloc(K * F);
    const db = acc ? a.put(db0) : a.alloc(F);
    k.conv2d_backward_input(dx, dyp, wp, ...geo, chunkRows, colsP, packP, acc);
    k.conv2d_backward_filter(dw, db, xp, dyp, ...geo, chunkRows, colsP, packP, acc);
    note(compare(name(`backward input, accumulate ${acc}`), a.read(dx, inCount), acc ? plus(dxRef, dx0) : dxRef, KH * KW * F + acc));
    note(compare(name(`backward filter dw, accumulate ${acc}`), a.read(dw, K * F), acc ? plus(dwRef, dw0) : dwRef, N + acc));
    note(compare(name(`backward filter db, accumulate ${acc}`), a.read(db, F), acc ? plus(dbRef, db0) : dbRef, N + acc));
  }
  // Outputs that are not wanted: db alone, then dw alone.
  const dbOnly = a.alloc(F);
  k.conv2d_backward_filter(0, dbOnly, xp, dyp, ...geo, chunkRows, colsP, packP, 0);
  note(compare(name('backward filter, db only'), a.read(dbOnly, F), dbRef, N));
  const dwOnly = a.alloc(K * F);
  k.conv2d_backward_filter(dwOnly, 0, xp, dyp, ...geo, chunkRows, colsP, packP, 0);
  note(compare(name('backward filter, dw only'), a.read(dwOnly, K * F), dwRef, N));

  if (!a.guardsIntact()) fails.push(name('wrote past a buffer or past its scratch'));
  const same = (p: number, v: Float32Array) => a.read(p, v.length).every((e, i) => Object.is(e, v[i]));
  if (!same(xp, x) || !same(wp, w) || !same(bp, bias) || !same(dyp, dy)) fails.push(name('modified an input'));
  return fails;
}

interface DepthwiseCase { s: Spatial; M: number }

function depthwiseCases(): DepthwiseCase[] {
  const cases: DepthwiseCase[] = [];
  const channels = [1, 3, 4, 5, 8];
  const multipliers = [1, 2, 4, 3];
  let i = 0;
  for (const [KH, KW] of KERNELS) for (const S of [1, 2]) for (const D of [1, 2]) for (const padding of ['same', 'valid'] as Padding[]) {
    for (const [H, W] of IMAGES) {
      for (let j = 0; j < 2; j++, i++) {
        cases.push({ s: { B: 1 + (i % 3), H, W, C: channels[i % 5], KH, KW, S, D, padding }, M: multipliers[Math.floor(i / 5) % 4] });
      }
    }
  }
  return cases;
}

function runDepthwiseCase(a: Arena, { s, M }: DepthwiseCase, seed: number): string[] {
  const g = geometry(s);
  if (!g) return [];
  a.reset();
  const k = a.k;
  const { B, H, W, C, KH, KW } = g;
  const N = B * g.OH * g.OW;
  const CM = C * M;
  const inCount = B * H * W * C;
  const x = randomArray(inCount, seed);
  const w = randomArray(KH * KW * CM, seed + 1);
  const bias = randomArray(CM, seed + 2);
  const dy = randomArray(N * CM, seed + 3);
  const xp = a.put(x), wp = a.put(w), bp = a.put(bias), dyp = a.put(dy);
  const geo = geomArgs(g, M);
  const name = (what: string) => `${label(g, `M${M}`)} ${what}`;
  const fails: string[] = [];
  const note = (f: string) => { if (f) fails.push(f); };

  const withBias = seed % 2 === 1;
  const y = a.alloc(N * CM);
  k.depthwise_conv2d_forward(y, xp, wp, withBias ? bp : 0, ...geo);
  note(compare(name(`forward${withBias ? ' + bias' : ''}`), a.read(y, N * CM), depthwiseRef(g, M, x, w, withBias ? bias : undefined), KH * KW));

  const dxRef = depthwiseBackwardInputRef(g, M, dy, w);
  const { dw: dwRef, db: dbRef } = depthwiseBackwardFilterRef(g, M, x, dy);
  for (const acc of [0, 1]) {
    const dx0 = randomArray(inCount, seed + 4), dw0 = randomArray(KH * KW * CM, seed + 5), db0 = randomArray(CM, seed + 6);
    const dx = acc ? a.put(dx0) : a.alloc(inCount);
    const dw = acc ? a.put(dw0) : a.alloc(KH * KW * CM);
    const db = acc ? a.put(db0) : a.alloc(CM);
    k.depthwise_conv2d_backward_input(dx, dyp, wp, ...geo, acc);
    k.depthwise_conv2d_backward_filter(dw, db, xp, dyp, ...geo, acc);
    note(compare(name(`backward input, accumulate ${acc}`), a.read(dx, inCount), acc ? plus(dxRef, dx0) : dxRef, KH * KW * M + acc));
    note(compare(name(`backward filter dw, accumulate ${acc}`), a.read(dw, KH * KW * CM), acc ? plus(dwRef, dw0) : dwRef, N + acc));
    note(compare(name(`backward filter db, accumulate ${acc}`), a.read(db, CM), acc ? plus(dbRef, db0) : dbRef, N + acc));
  }
  const dbOnly = a.alloc(CM);
  k.depthwise_conv2d_backward_filter(0, dbOnly, xp, dyp, ...geo, 0);
  note(compare(name('backward filter, db only'), a.read(dbOnly, CM), dbRef, N));
  k.depthwise_conv2d_backward_input(0, dyp, wp, ...geo, 0);

  if (!a.guardsIntact()) fails.push(name('wrote past a buffer'));
  const same = (p: number, v: Float32Array) => a.read(p, v.length).every((e, i) => Object.is(e, v[i]));
  if (!same(xp, x) || !same(wp, w) || !same(bp, bias) || !same(dyp, dy)) fails.push(name('modified an input'));
  return fails;
}

// ---------------------------------------------------------------------------------------------

for (const build of BUILDS) {
  describe(`conv2d (${build.name})`, () => {
    let a: Arena;
    beforeAll(() => {
      a = build.arena();
    });

    it('forward, backward input and backward filter over the geometry sweep, accumulate 0 and 1', () => {
      const cases = sweepCases();
      const fails = cases.flatMap((c, i) => runConvCase(a, c, 1 + 10 * i));
      expect(fails).toEqual([]);
      expect(cases.filter((c) => geometry(c.s)).length).toBeGreaterThan(150);
    });

    it('products past the GEMM blocking (K > KC, F > NC) and the 1x1 shortcut', () => {
      expect(WIDE.flatMap((c, i) => runConvCase(a, c, 5000 + 10 * i))).toEqual([]);
    });

    it('a filter gradient with few taps (KH*KW*C < 64, 512 positions or more) summed as eight parts of the positions', () => {
      expect(FEW_TAPS.flatMap((c, i) => runConvCase(a, c, 7000 + 10 * i))).toEqual([]);
    });

    it('im2col_f32 reads each patch exactly; col2im_f32 is its adjoint and adds into dx', () => {
      const fails: string[] = [];
      const shapes: Spatial[] = [
        { B: 2, H: 5, W: 7, C: 3, KH: 3, KW: 3, S: 2, D: 1, padding: 'same' },
        { B: 3, H: 8, W: 8, C: 4, KH: 5, KW: 3, S: 1, D: 2, padding: 'same' },
        { B: 1, H: 6, W: 5, C: 5, KH: 2, KW: 2, S: 2, D: 2, padding: 'valid' },
        { B: 2, H: 1, W: 1, C: 1, KH: 3, KW: 3, S: 1, D: 1, padding: 'same' },
      ];
      shapes.forEach((s, n) => {
        const g = geometry(s)!;
        a.reset();
        const K = g.KH * g.KW * g.C;
        const N = g.B * g.OH * g.OW;
        const inCount = g.B * g.H * g.W * g.C;
        // A window of rows that starts and ends mid-image.
        const row0 = Math.min(3, N - 1), rows = Math.max(1, N - row0 - 2);
        const x = randomArray(inCount, 100 + n), c = randomArray(rows * K, 200 + n), dx0 = randomArray(inCount, 300 + n);
        const xp = a.put(x), cp = a.put(c);
        const cols = a.alloc(rows * K);
        a.k.im2col_f32(cols, xp, ...im2colArgs(g), row0, rows);
        const got = a.read(cols, rows * K);
        for (let r = 0; r < rows; r++) {
          const o = row0 + r, b = Math.floor(o / (g.OH * g.OW)), oh = Math.floor(o / g.OW) % g.OH, ow = o % g.OW;
          for (let kh = 0; kh < g.KH; kh++) for (let kw = 0; kw < g.KW; kw++) for (let ch = 0; ch < g.C; ch++) {
            const ih = oh * g.SH - g.PT + kh * g.DH, iw = ow * g.SW - g.PL + kw * g.DW;
            const want = ih < 0 || ih >= g.H || iw < 0 || iw >= g.W ? 0 : x[((b * g.H + ih) * g.W + iw) * g.C + ch];
            if (got[r * K + (kh * g.KW + kw) * g.C + ch] !== want) fails.push(`${label(g, '')} im2col row ${o} tap ${kh},${kw} channel ${ch}`);
          }
        }
        const dxZero = a.alloc(inCount, 0);
        const dxAdd = a.put(dx0);
        a.k.col2im_f32(dxZero, cp, ...im2colArgs(g), row0, rows);
        a.k.col2im_f32(dxAdd, cp, ...im2colArgs(g), row0, rows);
        const back = a.read(dxZero, inCount);
        let lhs = 0, rhs = 0;
        for (let i = 0; i < rows * K; i++) lhs += got[i] * c[i];
        for (let i = 0; i < inCount; i++) rhs += x[i] * back[i];
        if (!(Math.abs(lhs - rhs) <= 1e-5 * (Math.sqrt(rows * K) + 1))) fails.push(`${label(g, '')} <im2col(x), c> = ${lhs} but <x, col2im(c)> = ${rhs}`);
        fails.push(compare(`${label(g, '')} col2im adds`, a.read(dxAdd, inCount), plus(back, dx0), g.KH * g.KW));
        if (!a.guardsIntact()) fails.push(`${label(g, '')} im2col/col2im wrote past a buffer`);
      });
      expect(fails.filter(Boolean)).toEqual([]);
    });
  });

  describe(`depthwise conv2d (${build.name})`, () => {
    it('forward, backward input and backward filter over the geometry sweep, M in {1, 2, 3, 4}', () => {
      const a = build.arena();
      const cases = depthwiseCases();
      expect(cases.flatMap((c, i) => runDepthwiseCase(a, c, 7 + 10 * i))).toEqual([]);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Gradients by finite differences: L = <y, r> for a fixed random r, so dL/dy = r; the kernels'
// dx, dw and db for dy = r must match central differences of L computed from the forward kernel.
// L is linear in each input, so the only error is f32 rounding of y divided by 2h.

describe('finite differences', () => {
  function fdCheck(a: Arena, forward: (y: number) => void, yCount: number, r: Float32Array,
    params: { name: string; ptr: number; count: number; grad: Float32Array }[]): string[] {
    const y = a.alloc(yCount);
    const loss = () => {
      forward(y);
      const v = a.read(y, yCount);
      let s = 0;
      for (let i = 0; i < yCount; i++) s += v[i] * r[i];
      return s;
    };
    const h = 1e-2;
    const fails: string[] = [];
    for (const p of params) {
      for (let i = 0; i < p.count; i++) {
        const at = p.ptr + 4 * i;
        const fd = centralDifference(loss, () => a.read(at, 1)[0], (v) => a.write(at, [v]), h);
        if (!(Math.abs(fd - p.grad[i]) <= 2e-3 * (1 + Math.abs(fd)))) fails.push(`${p.name}[${i}]: finite difference ${fd}, kernel ${p.grad[i]}`);
      }
    }
    return fails;
  }

  it('conv2d: dx, dw and db (3x3, stride 2, same, asymmetric padding, chunkRows 5)', () => {
    const a = simd();
    const g = geometry({ B: 2, H: 6, W: 5, C: 3, KH: 3, KW: 3, S: 2, D: 1, padding: 'same' })!;
    const F = 4, N = g.B * g.OH * g.OW, K = g.KH * g.KW * g.C, inCount = g.B * g.H * g.W * g.C, chunkRows = 5;
    const xp = a.put(randomArray(inCount, 1)), wp = a.put(randomArray(K * F, 2)), bp = a.put(randomArray(F, 3));
    const r = randomArray(N * F, 4), rp = a.put(r);
    const cols = a.alloc(convColsBytes(chunkRows, g.KH, g.KW, g.C) / 4), pack = a.alloc(conv2dPackBytes(chunkRows, g.KH, g.KW, g.C, F) / 4);
    const geo = geomArgs(g, F);
    const dx = a.alloc(inCount), dw = a.alloc(K * F), db = a.alloc(F);
    a.k.conv2d_backward_input(dx, rp, wp, ...geo, chunkRows, cols, pack, 0);
    a.k.conv2d_backward_filter(dw, db, xp, rp, ...geo, chunkRows, cols, pack, 0);
    const fails = fdCheck(a, (y) => a.k.conv2d_forward_fused(y, xp, wp, bp, ...geo, chunkRows, cols, pack, 0, 0, 0), N * F, r, [
      { name: 'dx', ptr: xp, count: inCount, grad: a.read(dx, inCount) },
      { name: 'dw', ptr: wp, count: K * F, grad: a.read(dw, K * F) },
      { name: 'db', ptr: bp, count: F, grad: a.read(db, F) },
    ]);
    expect(fails).toEqual([]);
  });

  it('depthwise conv2d: dx, dw and db (3x3, dilation 2, same, M = 2)', () => {
    const a = simd();
    const g = geometry({ B: 2, H: 5, W: 6, C: 3, KH: 3, KW: 3, S: 1, D: 2, padding: 'same' })!;
    const M = 2, CM = g.C * M, N = g.B * g.OH * g.OW, inCount = g.B * g.H * g.W * g.C;
    const xp = a.put(randomArray(inCount, 1)), wp = a.put(randomArray(9 * CM, 2)), bp = a.put(randomArray(CM, 3));
    const r = randomArray(N * CM, 4), rp = a.put(r);
    const geo = geomArgs(g, M);
    const dx = a.alloc(inCount), dw = a.alloc(9 * CM), db = a.alloc(CM);
    a.k.depthwise_conv2d_backward_input(dx, rp, wp, ...geo, 0);
    a.k.depthwise_conv2d_backward_filter(dw, db, xp, rp, ...geo, 0);
    const fails = fdCheck(a, (y) => a.k.depthwise_conv2d_forward(y, xp, wp, bp, ...geo), N * CM, r, [
      { name: 'dx', ptr: xp, count: inCount, grad: a.read(dx, inCount) },
      { name: 'dw', ptr: wp, count: 9 * CM, grad: a.read(dw, 9 * CM) },
      { name: 'db', ptr: bp, count: CM, grad: a.read(db, CM) },
    ]);
    expect(fails).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// TensorFlow.js (cpu backend) as an independent check of the geometry convention: the same padding
// split, output sizes, dilation and depthwise channel order.

describe('against TensorFlow.js', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  const tfCases: { s: Spatial; F: number }[] = [
    { s: { B: 2, H: 8, W: 7, C: 3, KH: 3, KW: 3, S: 2, D: 1, padding: 'same' }, F: 5 },
    { s: { B: 1, H: 8, W: 8, C: 4, KH: 5, KW: 3, S: 1, D: 2, padding: 'same' }, F: 3 },
    { s: { B: 2, H: 7, W: 5, C: 2, KH: 2, KW: 2, S: 2, D: 1, padding: 'valid' }, F: 4 },
    { s: { B: 1, H: 6, W: 6, C: 5, KH: 4, KW: 4, S: 3, D: 1, padding: 'same' }, F: 2 },
  ];

  it('conv2d and depthwise conv2d forward match tf.conv2d and tf.depthwiseConv2d', () => {
    const a = simd();
    for (const [n, { s, F }] of tfCases.entries()) {
      const g = geometry(s)!;
      a.reset();
      const K = g.KH * g.KW * g.C, N = g.B * g.OH * g.OW, inCount = g.B * g.H * g.W * g.C;
      const x = randomArray(inCount, 10 + n), w = randomArray(K * F, 20 + n);
      const xt = tf.tensor4d(x, [g.B, g.H, g.W, g.C]);
      const want = tf.conv2d(xt, tf.tensor4d(w, [g.KH, g.KW, g.C, F]), [g.SH, g.SW], s.padding, 'NHWC', [g.DH, g.DW]);
      expect(want.shape).toEqual([g.B, g.OH, g.OW, F]);
      const cols = a.alloc(convColsBytes(7, g.KH, g.KW, g.C) / 4), pack = a.alloc(conv2dPackBytes(7, g.KH, g.KW, g.C, F) / 4);
      const y = a.alloc(N * F);
      a.k.conv2d_forward_fused(y, a.put(x), a.put(w), 0, ...geomArgs(g, F), 7, cols, pack, 0, 0, 0);
      expect(compare(`conv2d ${label(g, '')}`, a.read(y, N * F), want.dataSync(), K)).toBe('');

      const M = F % 3 + 1;
      const wd = randomArray(g.KH * g.KW * g.C * M, 30 + n);
      const wantD = tf.depthwiseConv2d(xt, tf.tensor4d(wd, [g.KH, g.KW, g.C, M]), [g.SH, g.SW], s.padding, 'NHWC', [g.DH, g.DW]);
      const yd = a.alloc(N * g.C * M);
      a.k.depthwise_conv2d_forward(yd, a.put(x), a.put(wd), 0, ...geomArgs(g, M));
      expect(compare(`depthwise ${label(g, `M${M}`)}`, a.read(yd, N * g.C * M), wantD.dataSync(), g.KH * g.KW)).toBe('');
    }
  });
});

describe('conv2dOutputSize, convColsBytes, conv2dPackBytes', () => {
  it('follows TF: valid floor((I - (K-1)D - 1)/S) + 1; same ceil(I/S) with the smaller half of the padding first', () => {
    expect(conv2dOutputSize(28, 3, 1, 1, 'valid')).toEqual({ out: 26, padBefore: 0 });
    expect(conv2dOutputSize(7, 3, 2, 1, 'valid')).toEqual({ out: 3, padBefore: 0 });
    expect(conv2dOutputSize(8, 3, 2, 2, 'valid')).toEqual({ out: 2, padBefore: 0 });
    expect(conv2dOutputSize(1, 3, 1, 1, 'valid')).toEqual({ out: 0, padBefore: 0 });
    expect(conv2dOutputSize(28, 3, 1, 1, 'same')).toEqual({ out: 28, padBefore: 1 });
    expect(conv2dOutputSize(8, 3, 2, 1, 'same')).toEqual({ out: 4, padBefore: 0 }); // total 1: all after
    expect(conv2dOutputSize(7, 3, 2, 1, 'same')).toEqual({ out: 4, padBefore: 1 });
    expect(conv2dOutputSize(8, 5, 1, 2, 'same')).toEqual({ out: 8, padBefore: 4 });
    expect(conv2dOutputSize(8, 2, 1, 1, 'same')).toEqual({ out: 8, padBefore: 0 });
    expect(conv2dOutputSize(4, 2, 3, 1, 'same')).toEqual({ out: 2, padBefore: 0 });
  });

  it('sizes the im2col chunk and the GEMM pack for all three passes', () => {
    expect(convColsBytes(7, 3, 3, 5)).toBe(4 * 7 * 45);
    for (const [rows, KH, KW, C, F] of [[7, 3, 3, 5, 9], [300, 3, 3, 32, 64], [1, 1, 1, 1, 1], [64, 5, 3, 21, 130]]) {
      const bytes = conv2dPackBytes(rows, KH, KW, C, F);
      expect(bytes % 16).toBe(0);
      expect(bytes).toBeLessThanOrEqual(4 * 256 * (128 + 4));
    }
  });
});
