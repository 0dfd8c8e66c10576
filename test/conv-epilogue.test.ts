// The convolution kernels with the bias and activation clamp in their epilogue (issue 12):
// conv2d_direct_f32_4x8 (assembly/kernels/conv-direct.ts) and depthwise_conv2d_forward_clamp
// (assembly/kernels/depthwise.ts), against the f64 twins of test/reference/conv.ts, in the SIMD
// build and the same sources compiled with --disable simd; and the plans that use them.
//
// Sweeps: direct conv with C = 1..8 and K = KH*KW*C up to 256, F over every column tail of the
// 8-wide tile, output rows that are and are not multiples of the 4-pixel tile, strides 1 and 2,
// dilation 1 and 2, 'same' and 'valid'; depthwise 3x3 and 5x5 (the unrolled interior path) and
// 2x2, 3x3 dilation 2 (the general path) at strides 1 and 2, 'same' and 'valid', rows whose
// interior run (the 3x3 channel-tiled path) has even and odd lengths, channel counts
// that are and are not multiples of 4, M = 1, 2, 4, images smaller than the kernel. Each with and
// without bias, and clamps none, ReLU, ReLU6. Outputs start as NaN; guard words round every
// buffer must come back unchanged, and the inputs too.
//
// Exactness: the direct conv must give the same bits as conv2d_forward_fused (im2col + GEMM, the
// path it replaces), and the scalar build the same bits as the SIMD one (both sum in the same
// order). Tolerance against the f64 twins as test/conv.test.ts: atol 1e-5*(sqrt(L) + 1), rtol 1e-5.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness, sameBits } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, conv2dRef, depthwiseRef } from './reference/conv';
import { conv2dOutputSize, conv2dPackBytes, convColsBytes } from '../host/compile/conv-scratch';
import { layers, sequential, setSeed, tensor } from '../dist/node.js';

const ARENA_BYTES = 16 << 20;
const CLAMPS: [string, number, number][] = [['none', -Infinity, Infinity], ['relu', 0, Infinity], ['relu6', 0, 6]];

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/conv-direct.ts', 'assembly/kernels/depthwise.ts'], 'conv-epilogue-scalar.wasm');
}, 120_000);

const clamp = (v: ArrayLike<number>, lo: number, hi: number) => Float64Array.from(v, (e) => Math.min(Math.max(e, lo), hi));

function compare(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, reduction: number): string {
  const c = closeness(actual, expected, 1e-5, 1e-5 * (Math.sqrt(reduction) + 1));
  return c.ratio <= 1 ? '' : describeCloseness(what, c);
}


interface DirectCase { g: ConvGeometry; F: number; bias: boolean; clampAt: number }

function directCases(): DirectCase[] {
  const cases: DirectCase[] = [];
  let i = 0;
  const kernels: [number, number, number][] = [[3, 3, 1], [5, 5, 1], [2, 3, 1], [3, 3, 2], [7, 7, 1]];
  for (const [KH, KW, D] of kernels) for (const S of [1, 2]) for (const padding of ['same', 'valid'] as Padding[]) {
    for (const [H, W] of [[1, 1], [5, 7], [9, 10]]) for (const C of [1, 2, 3, 5, 8]) {
      i++;
      if (KH * KW * C > 256) continue;
      const r = conv2dOutputSize(H, KH, S, D, padding), c = conv2dOutputSize(W, KW, S, D, padding);
      if (r.out <= 0 || c.out <= 0) continue;
      const g = { B: 1 + (i % 2), H, W, C, KH, KW, SH: S, SW: S, DH: D, DW: D, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out };
      cases.push({ g, F: [1, 3, 4, 8, 13, 16, 32][i % 7], bias: i % 2 === 0, clampAt: i % 3 });
    }
  }
  return cases;
}

const geoArgs = (g: ConvGeometry, F: number) => [g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];

function directData({ g, F }: DirectCase, seed: number) {
  return { x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), w: randomArray(g.KH * g.KW * g.C * F, seed + 1), b: randomArray(F, seed + 2, -3, 3) };
}

// Runs one case; returns the failures and the output (for the cross-build comparison).
function runDirect(a: Arena, c: DirectCase, seed: number): { fails: string[]; y: Float32Array } {
  a.reset();
  const { g, F, bias, clampAt } = c;
  const [name, lo, hi] = CLAMPS[clampAt];
  const what = `direct B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH}x${g.KW} s${g.SH} d${g.DH} pad ${g.PT},${g.PL} F${F}${bias ? ' + bias' : ''} clamp ${name}`;
  const { x, w, b } = directData(c, seed);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const n = g.B * g.OH * g.OW * F;
  const yp = a.alloc(n);
  const zero = a.alloc(g.C);
  a.k.conv2d_direct_f32_4x8(yp, xp, wp, bias ? bp : 0, ...geoArgs(g, F), lo, hi, zero);
  const y = a.read(yp, n);
  const fails: string[] = [];
  const f = compare(what, y, clamp(conv2dRef(g, F, x, w, bias ? b : undefined), lo, hi), g.KH * g.KW * g.C);
  if (f) fails.push(f);
  if (!a.guardsIntact()) fails.push(`${what}: wrote past a buffer`);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(wp, w.length), w) || !sameBits(a.read(bp, b.length), b)) fails.push(`${what}: modified an input`);
  return { fails, y };
}

// The path conv2d_direct replaces, in the SIMD build: conv2d_forward_fused (bias, im2col + GEMM, ReLU).
function im2colPath(a: Arena, c: DirectCase, seed: number): Float32Array | null {
  if (c.clampAt === 2) return null; // it has no ReLU6 epilogue
  a.reset();
  const { g, F } = c;
  const { x, w, b } = directData(c, seed);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const n = g.B * g.OH * g.OW * F;
  const yp = a.alloc(n);
  const rows = g.B * g.OH * g.OW;
  const cols = a.alloc(convColsBytes(rows, g.KH, g.KW, g.C) / 4), pack = a.alloc(conv2dPackBytes(rows, g.KH, g.KW, g.C, F) / 4);
  a.k.conv2d_forward_fused(yp, xp, wp, c.bias ? bp : 0, ...geoArgs(g, F), rows, cols, pack, c.clampAt, 0, 0);
  return a.read(yp, n);
}

type Padding = 'same' | 'valid';
interface DepthwiseCase { g: ConvGeometry; M: number; bias: boolean; clampAt: number }

function depthwiseCases(): DepthwiseCase[] {
  const cases: DepthwiseCase[] = [];
  let i = 0;
  const kernels: [number, number, number][] = [[3, 3, 1], [5, 5, 1], [2, 2, 1], [3, 3, 2]];
  for (const [K, KW, D] of kernels) for (const S of [1, 2]) for (const padding of ['same', 'valid'] as Padding[]) {
    for (const [H, W] of [[1, 1], [4, 3], [7, 9], [12, 11], [6, 24]]) for (const C of [1, 3, 4, 5, 8, 13]) {
      const r = conv2dOutputSize(H, K, S, D, padding), c = conv2dOutputSize(W, KW, S, D, padding);
      i++;
      if (r.out <= 0 || c.out <= 0) continue;
      const M = K === 3 && D === 1 ? [1, 1, 2, 4][i % 4] : 1;
      const g = { B: 1 + (i % 2), H, W, C, KH: K, KW, SH: S, SW: S, DH: D, DW: D, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out };
      cases.push({ g, M, bias: i % 2 === 0, clampAt: i % 3 });
    }
  }
  return cases;
}

function runDepthwise(a: Arena, { g, M, bias, clampAt }: DepthwiseCase, seed: number): { fails: string[]; y: Float32Array } {
  a.reset();
  const [name, lo, hi] = CLAMPS[clampAt];
  const CM = g.C * M;
  const what = `depthwise B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH}x${g.KW} s${g.SH} d${g.DH} pad ${g.PT},${g.PL} M${M}${bias ? ' + bias' : ''} clamp ${name}`;
  const x = randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), w = randomArray(g.KH * g.KW * CM, seed + 1, -2, 2), b = randomArray(CM, seed + 2, -3, 3);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const n = g.B * g.OH * g.OW * CM;
  const yp = a.alloc(n);
  a.k.depthwise_conv2d_forward_clamp(yp, xp, wp, bias ? bp : 0, g.B, g.H, g.W, g.C, M, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, lo, hi);
  const y = a.read(yp, n);
  const fails: string[] = [];
  const f = compare(what, y, clamp(depthwiseRef(g, M, x, w, bias ? b : undefined), lo, hi), g.KH * g.KW);
  if (f) fails.push(f);
  if (!a.guardsIntact()) fails.push(`${what}: wrote past a buffer`);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(wp, w.length), w)) fails.push(`${what}: modified an input`);
  return { fails, y };
}

describe('conv2d_direct_f32_4x8', () => {
  it('matches the f64 twin over kernels, strides, paddings, channels and filters, in both builds, with the same bits in both', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const cases = directCases();
    expect(cases.length).toBeGreaterThan(200);
    const fails: string[] = [];
    cases.forEach((c, i) => {
      const s = runDirect(simd, c, 10 + 7 * i), t = runDirect(sc, c, 10 + 7 * i);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
      if (!sameBits(s.y, t.y)) fails.push(`case ${i}: the scalar build's bits differ from the SIMD build's`);
    });
    expect(fails).toEqual([]);
  });

  it('gives the same bits as conv2d_forward_fused (im2col + GEMM + ReLU), the path it replaces', () => {
    const a = simdArena(ARENA_BYTES);
    const fails: string[] = [];
    directCases().forEach((c, i) => {
      const old = im2colPath(a, c, 10 + 7 * i);
      if (old && !sameBits(runDirect(a, c, 10 + 7 * i).y, old)) fails.push(`case ${i}`);
    });
    expect(fails).toEqual([]);
  });
});

describe('depthwise_conv2d_forward_clamp', () => {
  it('matches the f64 twin over kernels, strides, paddings, channels and multipliers, in both builds, with the same bits in both', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const cases = depthwiseCases();
    expect(cases.length).toBeGreaterThan(250);
    const fails: string[] = [];
    cases.forEach((c, i) => {
      const s = runDepthwise(simd, c, 20 + 5 * i), t = runDepthwise(sc, c, 20 + 5 * i);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
      if (!sameBits(s.y, t.y)) fails.push(`case ${i}: the scalar build's bits differ from the SIMD build's`);
    });
    expect(fails).toEqual([]);
  });

  // The clamp is pmax / pmin (one instruction each where f32x4.max / min take
  // about eight), and those differ from max / min only on a -0 sum: a -0 bias with every product
  // -0 (zero inputs, negative weights). max(-0, 0) is +0, and with no clamp the -0 stays.
  it('keeps the sign of a zero sum as max / min do: -0 with no clamp, +0 under ReLU and ReLU6', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const fails: string[] = [];
    // 3x3 and 5x5 (their interior rows), M = 4 (the general path); 'same', so borders too.
    for (const [K, M] of [[3, 1], [5, 1], [3, 4]]) {
      const g = { B: 2, H: 7, W: 14, C: 12, KH: K, KW: K, SH: 1, SW: 1, DH: 1, DW: 1, PT: K >> 1, PL: K >> 1, OH: 7, OW: 14 };
      const x = new Float32Array(g.B * g.H * g.W * g.C);
      const w = randomArray(K * K * g.C * M, 5, -2, -0.5), b = new Float32Array(g.C * M).fill(-0);
      for (const [name, lo, hi] of CLAMPS) {
        const want = lo === 0 ? 0 : -0;
        for (const [build, a] of [['simd', simd], ['scalar', sc]] as const) {
          a.reset();
          const n = g.B * g.OH * g.OW * g.C * M;
          const yp = a.alloc(n);
          a.k.depthwise_conv2d_forward_clamp(yp, a.put(x), a.put(w), a.put(b), g.B, g.H, g.W, g.C, M, K, K, 1, 1, 1, 1, g.PT, g.PL, g.OH, g.OW, lo, hi);
          const y = a.read(yp, n);
          const bad = y.findIndex((v) => !Object.is(v, want));
          if (bad >= 0) fails.push(`${build} k${K} M${M} ${name}: y[${bad}] = ${Object.is(y[bad], -0) ? '-0' : y[bad]}, want ${Object.is(want, -0) ? '-0' : want}`);
        }
      }
    }
    expect(fails).toEqual([]);
  });
});

describe('plans with the activation in the convolution epilogue', () => {
  // 3x3 conv (5 channels: direct) -> ReLU6 layer -> depthwise 3x3 -> ReLU layer -> depthwise 5x5
  // stride 2 (own ReLU6) -> 1x1 conv (own ReLU) -> 3x3 conv (9 channels: im2col) -> ReLU layer ->
  // global average pooling: every activation runs in a kernel epilogue.
  const build = () => {
    setSeed(7);
    return sequential([
      layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', inputShape: [9, 7, 5] }) /* direct: 6 filters */, layers.activation('relu6'),
      layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }), layers.activation('relu'),
      layers.depthwiseConv2d({ kernelSize: 5, strides: 2, padding: 'same', activation: 'relu6' }),
      layers.conv2d({ filters: 9, kernelSize: 1, activation: 'relu' }),
      layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid' }), layers.activation('relu'), layers.globalAveragePooling2d(),
    ]);
  };

  it('emits no activation pass in inference and predicts what the layers compute one by one', () => {
    const m = build();
    // Weights large enough that ReLU6 clips at 6 as well as at 0.
    for (const l of m.layers) if (l.weightSpecs.length) l.setWeights(l.getWeights().map((w, i) => w.map((v, j) => (i === 0 ? 4 * v : 0.5 * Math.sin(j + 1)))));
    const ops = m.planInference(2).programs.forward!.ops.map((o) => o.op);
    // The 1x1 and 3x3 im2col convolutions read their kernels packed once (test/prepare-weights.test.ts);
    // the second depthwise (its own ReLU6) runs inside the 1x1 after it (sepconv, test/sepconv.test.ts).
    expect(ops).toEqual(['conv2d_direct', 'depthwise_forward_clamp', 'sepconv', 'conv2d_forward_packed', 'gap_forward']);
    const x = randomArray(2 * 9 * 7 * 5, 99, -2, 2);
    const got = m.predict(tensor(x, [2, 9, 7, 5])).data;
    // The reference: each layer from its definition (f64), activations applied separately.
    const [c1, d1, d2, c2, c3] = m.layers.filter((l) => l.weightSpecs.length).map((l) => l.getWeights());
    const geo = (H: number, W: number, C: number, K: number, S: number, same: boolean): ConvGeometry => {
      const r = conv2dOutputSize(H, K, S, 1, same ? 'same' : 'valid'), c = conv2dOutputSize(W, K, S, 1, same ? 'same' : 'valid');
      return { B: 2, H, W, C, KH: K, KW: K, SH: S, SW: S, DH: 1, DW: 1, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out };
    };
    let h = clamp(conv2dRef(geo(9, 7, 5, 3, 1, true), 6, x, c1[0], c1[1]), 0, 6);
    h = clamp(depthwiseRef(geo(9, 7, 6, 3, 1, true), 1, h, d1[0], d1[1]), 0, Infinity);
    h = clamp(depthwiseRef(geo(9, 7, 6, 5, 2, true), 1, h, d2[0], d2[1]), 0, 6);
    expect(Math.min(...h)).toBe(0);
    expect(Math.max(...h)).toBe(6);
    h = clamp(conv2dRef(geo(5, 4, 6, 1, 1, false), 9, h, c2[0], c2[1]), 0, Infinity);
    const last = clamp(conv2dRef(geo(5, 4, 9, 3, 1, false), 4, h, c3[0], c3[1]), 0, Infinity); // (2, 3, 2, 4)
    const want = Float64Array.from({ length: 8 }, (_, i) => {
      let s = 0;
      for (let p = 0; p < 6; p++) s += last[(Math.floor(i / 4) * 6 + p) * 4 + (i % 4)];
      return s / 6;
    });
    const c = closeness(got, want, 1e-5, 1e-4);
    expect(c.ratio, describeCloseness('fused plan vs layer by layer', c)).toBeLessThanOrEqual(1);
    expect(want.some((v) => v > 0.1)).toBe(true);
  });

  // The clamps in the direct and packed kernels' epilogues are pmax / pmin, which must keep NaN
  // as max / min do: a NaN bias gives its filter NaN everywhere, the other filters stay finite.
  it('a NaN stays NaN through the clamped epilogues (direct and packed kernels, ReLU and ReLU6)', () => {
    for (const activation of ['relu', 'relu6'] as const) {
      for (const [kernelSize, filters, op] of [[3, 6, 'conv2d_direct'], [1, 12, 'conv2d_forward_packed']] as const) {
        setSeed(3);
        const m = sequential([layers.conv2d({ filters, kernelSize, padding: 'same', activation, inputShape: [5, 5, 2] })]);
        expect(m.planInference(1).programs.forward!.ops.map((o) => o.op)).toEqual([op]);
        const [w, b] = m.layers[0].getWeights();
        b[filters - 3] = NaN;
        m.layers[0].setWeights([w.map((v) => 8 * v), b]); // big enough to clip at 0 and at 6
        const y = m.predict(tensor(randomArray(50, 4, -2, 2), [1, 5, 5, 2])).data;
        const what = `${op} ${activation}`;
        for (let i = 0; i < y.length; i++) expect(Number.isNaN(y[i]), `${what} output ${i}`).toBe(i % filters === filters - 3);
        expect(y.some((v) => v === 0), what).toBe(true);
        if (activation === 'relu6') expect(y.some((v) => v === 6), what).toBe(true);
      }
    }
  });

  it('keeps the activation layers when a gradient flows through them (training)', () => {
    const m = build();
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const ops = m.plan.programs.train!.ops.map((o) => o.op);
    expect(ops).toContain('depthwise_backward_input');
    expect(ops.filter((o) => o === 'act_forward' || o === 'relu_forward').length).toBe(3);
  });
});
