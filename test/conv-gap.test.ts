// A linear convolution read only by a global average pooling, as one op (issue 12; kernel
// assembly/kernels/conv-gap.ts, lowering host/compile/conv-gap.ts): the mean over positions of
// conv(x) + b from tap sums of x and one product with the packed kernel.
//
// Kernel: against the f64 twin (test/reference/conv.ts, then the mean) within the rounding bound of
// its summation order, the SIMD build and the same sources compiled with --disable simd giving the
// same bits. Sweep: kernels 1x1, 3x3, 5x3; strides 1, 2, 3; dilation 1 and 2; 'valid', 'same' and
// explicit asymmetric paddings; images down to 1x1; C over 1, 3, 4, 5, 8, 13 and 300 (two k slices
// of the product); F over 1, 7, 8, 9 and 130 (two column blocks); batch 1, 2, 3 (the product's
// one-row path) and 8; with and without bias. Outputs start as NaN; guard words round every buffer
// must come back unchanged, and the inputs too.
// Plans: which convolutions take it (inference, linear, read only by the pooling) and which keep
// their own op, and predictions of the fused plan against the unfused one within the same bound.
// conv_gap_i8 (a frozen int8 kernel, issue 14): the same sweep against w = q / scale, and a frozen
// int8 head's plan.
import { beforeAll, describe, expect, it } from 'vitest';
import { input, layers, model, sequential, setSeed, tensor } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness, sameBits } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, conv2dRef } from './reference/conv';
import { packedFloats, packedScratchBytes } from '../host/compile/program';
import { gemmScratchBytes } from '../host/compile/gemm-scratch';
import { convGapScratchFloats } from '../host/compile/conv-gap';
import { opNames } from './support/plans';

const ARENA_BYTES = 32 << 20;
const U = 2 ** -24;
const gamma = (n: number) => (n * U) / (1 - n * U);

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/conv-gap.ts', 'assembly/kernels/gemm-packed.ts', 'assembly/kernels/gemm-i8-packed.ts'], 'conv-gap-scalar.wasm');
}, 120_000);


// int8: a frozen int8 kernel (conv_gap_i8): w is q / scale per filter, q random in [-127, 127].
interface Case { g: ConvGeometry; F: number; bias: boolean; int8?: boolean }

// Output size of one axis for padding before / after.
const out = (n: number, k: number, s: number, d: number, before: number, after: number) => Math.floor((n + before + after - d * (k - 1) - 1) / s) + 1;

function cases(): Case[] {
  const all: Case[] = [];
  // [KH, KW, SH, SW, DH, DW]
  const kernels = [[1, 1, 1, 1, 1, 1], [3, 3, 1, 1, 1, 1], [3, 3, 2, 2, 1, 1], [5, 3, 1, 3, 1, 1], [3, 3, 1, 1, 2, 2], [1, 1, 2, 2, 1, 1]];
  // [top, bottom, left, right]
  const pads = [[0, 0, 0, 0], [1, 1, 1, 1], [2, 0, 0, 1], [0, 3, 2, 2]];
  const images = [[1, 1], [8, 8], [5, 7], [9, 4]];
  const channels = [1, 3, 4, 5, 8, 13];
  const filters = [1, 7, 8, 9, 130];
  let i = 0;
  for (const [KH, KW, SH, SW, DH, DW] of kernels) for (const [pt, pb, pl, pr] of pads) for (const [H, W] of images) {
    i++;
    const OH = out(H, KH, SH, DH, pt, pb), OW = out(W, KW, SW, DW, pl, pr);
    if (OH <= 0 || OW <= 0) continue;
    const g = { B: [1, 2, 3, 8][i % 4], H, W, C: channels[i % channels.length], KH, KW, SH, SW, DH, DW, PT: pt, PL: pl, OH, OW };
    all.push({ g, F: filters[(i * 3) % filters.length], bias: i % 2 === 0 });
  }
  // Two k slices of the product (k = 2700 > 256) and emotion's head (3x3 'same' 256 -> 7 at 8x8, batch 8).
  all.push({ g: { B: 2, H: 4, W: 3, C: 300, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 4, OW: 3 }, F: 20, bias: true });
  all.push({ g: { B: 8, H: 8, W: 8, C: 256, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 8, OW: 8 }, F: 7, bias: true });
  return all;
}

function data({ g, F }: Case, seed: number) {
  const n = g.KH * g.KW * g.C * F;
  const q = Int8Array.from(randomArray(n, seed + 3, -127.99, 127.99), Math.trunc), scale = randomArray(F, seed + 4, 20, 200);
  return {
    x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), w: randomArray(n, seed + 1), b: randomArray(F, seed + 2, -3, 3),
    q, scale, wq: Float64Array.from(q, (v, i) => v / scale[i % F]),
  };
}

const label = ({ g, F, bias }: Case) =>
  `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH}x${g.KW} s${g.SH},${g.SW} d${g.DH},${g.DW} pad ${g.PT},${g.PL} out ${g.OH}x${g.OW} F${F}${bias ? ' +bias' : ''}`;
const cases8 = () => cases().map((c) => ({ ...c, int8: true }));

function runConvGap(a: Arena, c: Case, seed: number): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const { x, w, b, q, scale } = data(c, seed);
  const k = g.KH * g.KW * g.C;
  const xp = a.put(x), wt = a.put(w), bp = a.put(b), sp = a.put(scale);
  const qt = a.alloc(Math.ceil(q.length / 4));
  new Int8Array(a.memory.buffer, qt, q.length).set(q);
  const wp = a.alloc(packedFloats(F, k) / (c.int8 ? 4 : 1));
  if (c.int8) a.k.gemm_pack_b_i8(wp, qt, F, k, F);
  else a.k.gemm_pack_b(wp, wt, F, k, F, 1);
  const yp = a.alloc(g.B * F);
  const scratch = a.alloc(convGapScratchFloats(g.B, g.C, g.KH, g.KW));
  const pack = a.alloc((c.int8 ? gemmScratchBytes(g.B, F, k) : packedScratchBytes(k)) / 4);
  const geo = [g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];
  if (c.int8) a.k.conv_gap_i8(yp, xp, wp, sp, c.bias ? bp : 0, ...geo, scratch, pack);
  else a.k.conv_gap_f32(yp, xp, wp, c.bias ? bp : 0, ...geo, scratch, pack);
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  const qIntact = new Int8Array(a.memory.buffer, qt, q.length).every((v, i) => v === q[i]);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(wt, w.length), w) || !sameBits(a.read(bp, b.length), b) || !sameBits(a.read(sp, F), scale) || !qIntact) {
    fails.push(`${label(c)}: modified an input`);
  }
  return { y: a.read(yp, g.B * F), fails };
}

// The mean over output positions of an f64 convolution (B, OH, OW, F) -> (B, F).
function meanOverPositions(y: Float64Array, g: ConvGeometry, F: number): Float64Array {
  const P = g.OH * g.OW;
  const m = new Float64Array(g.B * F);
  for (let n = 0; n < g.B; n++) for (let p = 0; p < P; p++) for (let f = 0; f < F; f++) m[n * F + f] += y[(n * P + p) * F + f] / P;
  return m;
}

// Exact conv + mean, and the bound on the kernel's error: every term is rounded at most
// OH + OW (the tap sums), k (the product), and 2 (the division, the bias) times, so
// |computed - exact| <= gamma(OH + OW + k + 2) times the same sums over |x|, |w|, |b|; int8 (w = q /
// scale): one more, each k slice's division by the scale.
function exactAndBound(c: Case, x: Float32Array, w: Float32Array | Float64Array, b: Float32Array): { exact: Float64Array; bound: Float64Array } {
  const { g, F } = c;
  const exact = meanOverPositions(conv2dRef(g, F, x, w, c.bias ? b : undefined), g, F);
  const abs = (v: Float32Array | Float64Array) => v.map(Math.abs);
  const n = g.OH + g.OW + g.KH * g.KW * g.C + (c.int8 ? 3 : 2);
  const bound = meanOverPositions(conv2dRef(g, F, abs(x), abs(w), c.bias ? abs(b) : undefined), g, F).map((v) => gamma(n) * v);
  return { exact, bound };
}

// Every case within its bound, the scalar build's bits the SIMD build's; the largest error uses a
// visible part of the bound (it is not vacuous).
function checkBounds(all: Case[]): void {
  const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
  expect(all.length).toBeGreaterThan(60);
  const fails: string[] = [];
  let worst = 0;
  all.forEach((c, i) => {
    const s = runConvGap(simd, c, 40 + 3 * i), t = runConvGap(sc, c, 40 + 3 * i);
    fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
    if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
    const { x, w, wq, b } = data(c, 40 + 3 * i);
    const { exact, bound } = exactAndBound(c, x, c.int8 ? wq : w, b);
    for (let j = 0; j < exact.length; j++) {
      const err = Math.abs(s.y[j] - exact[j]);
      if (!(err <= bound[j])) { fails.push(`${label(c)}: y[${j}] = ${s.y[j]}, exact ${exact[j]}, bound ${bound[j]}`); break; }
      if (bound[j] > 0) worst = Math.max(worst, err / bound[j]);
    }
  });
  expect(fails).toEqual([]);
  expect(worst).toBeGreaterThan(1e-4);
  expect(worst).toBeLessThan(0.5);
}

describe('conv_gap_f32', () => {
  it('is within the rounding bound of the f64 convolution + mean, and gives the same bits in the SIMD and scalar builds', () => {
    checkBounds(cases());
  });

  it('conv_gap_i8 (a frozen int8 kernel) is within the bound with w = q / scale, and gives the same bits in the SIMD and scalar builds', () => {
    checkBounds(cases8());
  });

  it('host and kernel agree on the scratch size', () => {
    const a = simdArena(1 << 20);
    for (const [B, C, KH, KW] of [[1, 1, 1, 1], [8, 256, 3, 3], [3, 5, 5, 3]]) expect(a.k.conv_gap_scratch_floats(B, C, KH, KW)).toBe(convGapScratchFloats(B, C, KH, KW));
  });
});

// conv (3x3 'same', 12 -> 7) -> global average pooling; with `alsoOut`, the convolution is a model
// output as well (so it must be kept: the unfused plan of the same weights).
function head(alsoOut = false, activation = 'linear') {
  setSeed(23);
  const inp = input({ shape: [6, 5, 12] });
  const c = layers.conv2d({ filters: 7, kernelSize: 3, padding: 'same', activation }).apply(inp);
  const g = layers.globalAveragePooling2d().apply(c);
  return model({ inputs: inp, outputs: alsoOut ? [g, c] : g });
}

describe('conv -> global average pooling in plans', () => {
  it('runs as one conv_gap in inference, within the bound of the unfused plan', () => {
    const m = head();
    expect(opNames(m, 3)).toEqual(['conv_gap']);
    const x = randomArray(3 * 6 * 5 * 12, 9, -2, 2);
    const got = m.predict(tensor(x, [3, 6, 5, 12])).data;
    const u = head(true);
    u.layers.forEach((l, i) => { if (l.weightSpecs.length) l.setWeights(m.layers[i].getWeights()); });
    const uops = opNames(u, 3);
    expect(uops).not.toContain('conv_gap');
    expect(uops).toContain('gap_forward');
    const [want] = u.predict(tensor(x, [3, 6, 5, 12])) as unknown as { data: Float32Array }[];
    expect(got.length).toBe(21);
    const close = closeness(got, want.data, 1e-5, 1e-5);
    expect(close.ratio, describeCloseness('fused vs unfused', close)).toBeLessThanOrEqual(1);
  });

  it('runs a frozen int8 head as one conv_gap_i8, within the bound of the unfused int8 plan', () => {
    const int8 = <M extends ReturnType<typeof head>>(m: M): M => {
      for (const l of m.layers) l.trainable = false;
      m.quantize('int8', { activationQuantizer: null });
      return m;
    };
    const m = int8(head());
    expect(opNames(m, 3)).toEqual(['conv_gap_i8']);
    const u = int8(head(true));
    const uops = opNames(u, 3);
    expect(uops).not.toContain('conv_gap_i8');
    expect(uops).toEqual(['conv2d_forward_i8_packed', 'gap_forward']);
    const x = randomArray(3 * 6 * 5 * 12, 9, -2, 2);
    const got = m.predict(tensor(x, [3, 6, 5, 12])).data;
    const [want] = u.predict(tensor(x, [3, 6, 5, 12])) as unknown as { data: Float32Array }[];
    expect(got.length).toBe(21);
    const close = closeness(got, want.data, 1e-5, 1e-5);
    expect(close.ratio, describeCloseness('fused vs unfused', close)).toBeLessThanOrEqual(1);
  });

  it('keeps the convolution and the pooling where the convolution has an activation or a gradient flows', () => {
    expect(opNames(head(false, 'relu'), 2)).not.toContain('conv_gap');
    const m = sequential([layers.conv2d({ filters: 4, kernelSize: 3, inputShape: [5, 5, 2] }), layers.globalAveragePooling2d()]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const train = m.plan.programs.train!.ops.map((o: { op: string }) => o.op);
    expect(train).not.toContain('conv_gap');
    expect(train).toContain('gap_forward');
    // The same model's inference plan fuses them.
    expect(opNames(m, 2)).toEqual(['conv_gap']);
  });
});
