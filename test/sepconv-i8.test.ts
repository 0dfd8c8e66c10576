// sepconv_i8 (issue 14; kernel assembly/kernels/sepconv.ts, lowering host/compile/sepconv.ts): a
// frozen int8 depthwise convolution and the int8 1x1 convolution that alone reads it as one op, the
// depthwise output a band of rows at a time through scratch into the int8 GEMM.
//
// Kernel: the same bits as the two int8 kernels run apart (depthwise_conv2d_forward_i8_wide, then
// the pointwise conv2d_forward_i8_packed) and as their naive twins (test/reference/int8.ts), in the
// SIMD build and the same sources compiled with --disable simd. Sweep: depthwise 3x3 and 5x5;
// strides 1, 2 and (1, 2); 'same', 'valid' and explicit asymmetric paddings; images down to 1x1; C
// over 1, 3, 4, 5, 8, 13, 64 and 130 (the int8 GEMM's rows path for k <= 64, k * n <= 512 and its
// packed-band path past it); F over 1, 7, 8, 9 and 130; batch 1, 2, 3; bands of 1, 2, 3 rows and the
// whole batch; with and without either bias; clamps none, ReLU, ReLU6 on either side. Outputs
// start as NaN; guard words round every buffer must come back unchanged, and the inputs too.
// Plans: which int8 pairs fuse, predictions bit for bit against the unfused plan (the same bits on
// 1, 2 and 3 threads: test/sepconv.test.ts).
import { beforeAll, describe, expect, it } from 'vitest';
import { input, layers, model, setSeed, tensor } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { inputsIntact } from './support/int8';
import { depthwiseI8Twin, gemmI8Twin } from './reference/int8';
import { packedFloats } from '../host/compile/program';
import { gemmScratchBytes } from '../host/compile/gemm-scratch';
import { callSize } from '../host/compile/size-expr';
import { opNames } from './support/plans';
import { sameBits } from './support/close';

const ARENA_BYTES = 32 << 20;
const CLAMPS: [number, number][] = [[-Infinity, Infinity], [0, Infinity], [0, 6]];

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/sepconv.ts', 'assembly/kernels/depthwise-i8.ts', 'assembly/kernels/conv.ts', 'assembly/kernels/gemm-i8-packed.ts'], 'sepconv-i8-scalar.wasm');
}, 120_000);

interface Geometry { B: number; H: number; W: number; C: number; KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; OH: number; OW: number }
interface Case { g: Geometry; F: number; bandRows: number; bd: boolean; b: boolean; dclamp: [number, number]; clamp: [number, number] }

const out = (n: number, k: number, s: number, before: number, after: number) => Math.floor((n + before + after - k) / s) + 1;

function cases(): Case[] {
  const all: Case[] = [];
  // [K, SH, SW]: the wide int8 depthwise shapes (multiplier 1, dilation 1, 3x3 or 5x5).
  const kernels = [[3, 1, 1], [3, 2, 2], [5, 1, 1], [5, 2, 2], [3, 1, 2]];
  const pads = [[1, 1, 1, 1], [0, 0, 0, 0], [2, 0, 0, 1]];
  const images = [[1, 1], [7, 7], [6, 9], [12, 5]];
  const channels = [1, 3, 4, 5, 8, 13, 64, 130];
  const filters = [1, 7, 8, 9, 130];
  let i = 0;
  for (const [K, SH, SW] of kernels) for (const [pt, pb, pl, pr] of pads) for (const [H, W] of images) {
    i++;
    const OH = out(H, K, SH, pt, pb), OW = out(W, K, SW, pl, pr);
    if (OH <= 0 || OW <= 0) continue;
    const B = 1 + (i % 3);
    all.push({
      g: { B, H, W, C: channels[i % channels.length], KH: K, KW: K, SH, SW, PT: pt, PL: pl, OH, OW }, F: filters[(i * 3) % filters.length],
      bandRows: [1, 2, 3, B * OH][i % 4], bd: i % 2 === 0, b: i % 3 !== 0, dclamp: CLAMPS[i % 3], clamp: CLAMPS[(i + 1) % 3],
    });
  }
  // Gender's 16 -> 32 (the GEMM's rows path) and emotion's 29x29 128 -> 128 (its packed-band path), bands of 4 rows.
  all.push({ g: { B: 2, H: 16, W: 16, C: 16, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: 16, OW: 16 }, F: 32, bandRows: 4, bd: true, b: true, dclamp: CLAMPS[0], clamp: CLAMPS[1] });
  all.push({ g: { B: 2, H: 29, W: 29, C: 128, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: 29, OW: 29 }, F: 128, bandRows: 4, bd: false, b: true, dclamp: CLAMPS[0], clamp: CLAMPS[0] });
  // The 1x1's panels widened once per call (at most SEPCONV_I8_WIDE_BYTES): two column blocks
  // (F 136 > NC), two k slices (C 300 > KC), 1-row bands of fewer than 4 positions (m < MR);
  // and past it (136 x 496 widened: 264 KB), widened per band, a block at a time.
  all.push({ g: { B: 2, H: 5, W: 5, C: 130, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: 5, OW: 5 }, F: 136, bandRows: 2, bd: true, b: true, dclamp: CLAMPS[1], clamp: CLAMPS[2] });
  all.push({ g: { B: 1, H: 6, W: 6, C: 300, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: 6, OW: 6 }, F: 9, bandRows: 3, bd: false, b: true, dclamp: CLAMPS[0], clamp: CLAMPS[1] });
  all.push({ g: { B: 2, H: 3, W: 3, C: 40, KH: 3, KW: 3, SH: 2, SW: 2, PT: 1, PL: 1, OH: 2, OW: 2 }, F: 200, bandRows: 1, bd: true, b: false, dclamp: CLAMPS[2], clamp: CLAMPS[0] });
  all.push({ g: { B: 1, H: 4, W: 4, C: 136, KH: 3, KW: 3, SH: 1, SW: 1, PT: 1, PL: 1, OH: 4, OW: 4 }, F: 496, bandRows: 2, bd: true, b: true, dclamp: CLAMPS[0], clamp: CLAMPS[2] });
  return all;
}

const label = ({ g, F, bandRows, bd, b, dclamp, clamp }: Case) =>
  `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH} s${g.SH},${g.SW} pad ${g.PT},${g.PL} -> ${F} band ${bandRows}${bd ? ' +bd' : ''}${b ? ' +b' : ''} [${dclamp}] [${clamp}]`;

const int8s = (n: number, seed: number) => Int8Array.from(randomArray(n, seed, -127.99, 127.99), Math.trunc);

function data({ g, F }: Case, seed: number) {
  return {
    x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), qd: int8s(g.KH * g.KW * g.C, seed + 1), sd: randomArray(g.C, seed + 2, 20, 200),
    bd: randomArray(g.C, seed + 3), q: int8s(g.C * F, seed + 4), sp: randomArray(F, seed + 5, 20, 200), b: randomArray(F, seed + 6),
  };
}

// n int8 values in a buffer of their own (guard words round it).
function putI8(a: Arena, v: Int8Array): number {
  const p = a.alloc(Math.ceil(v.length / 4));
  new Int8Array(a.memory.buffer, p, v.length).set(v);
  return p;
}

// fused: sepconv_i8; else the wide int8 depthwise over the whole batch into z, then the pointwise int8 packed convolution.
function run(a: Arena, c: Case, seed: number, fused: boolean): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const d = data(c, seed);
  const xp = a.put(d.x), qdp = putI8(a, d.qd), sdp = a.put(d.sd), bdp = a.put(d.bd), qt = putI8(a, d.q), spp = a.put(d.sp), bp = a.put(d.b);
  const qp = a.alloc(packedFloats(F, g.C) / 4);
  a.k.gemm_pack_b_i8(qp, qt, F, g.C, F);
  const n = g.B * g.OH * g.OW * F, yp = a.alloc(n);
  const bd = c.bd ? bdp : 0, b = c.b ? bp : 0;
  if (fused) {
    // The plan's sizes (host/compile/size-expr.ts): the guard words past each catch a kernel that
    // writes more.
    const wf = a.alloc(callSize('sepconvI8Wf', [g.KH, g.KW, g.C, F]) / 4);
    const band = a.alloc(c.bandRows * g.OW * g.C), pack = a.alloc(callSize('sepconvI8Pack', [c.bandRows * g.OW, F, g.C]) / 4);
    a.k.sepconv_i8(yp, xp, qdp, sdp, bd, qp, spp, b, g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW,
      c.dclamp[0], c.dclamp[1], c.clamp[0], c.clamp[1], c.bandRows, wf, band, pack);
  } else {
    const wf = a.alloc(g.KH * g.KW * g.C);
    const z = a.alloc(g.B * g.OH * g.OW * g.C), pack = a.alloc(gemmScratchBytes(g.B * g.OH * g.OW, F, g.C) / 4);
    a.k.depthwise_conv2d_forward_i8_wide(z, xp, qdp, sdp, bd, g.B, g.H, g.W, g.C, 1, g.KH, g.KW, g.SH, g.SW, 1, 1, g.PT, g.PL, g.OH, g.OW, c.dclamp[0], c.dclamp[1], wf);
    a.k.conv2d_forward_i8_packed(yp, z, qp, spp, b, g.B, g.OH, g.OW, g.C, F, 1, 1, 1, 1, 1, 1, 0, 0, g.OH, g.OW, 1, 0, pack, c.clamp[0], c.clamp[1]);
  }
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  if (!inputsIntact(a, [[xp, d.x], [sdp, d.sd], [bdp, d.bd], [spp, d.sp], [bp, d.b]], [[qdp, d.qd], [qt, d.q]])) fails.push(`${label(c)}: modified an input`);
  return { y: a.read(yp, n), fails };
}

// The naive twins: the int8 depthwise's bits, then the 1x1 summed as gemm_i8f32 sums it onto the bias, clamped.
function twin(c: Case, seed: number): Float32Array {
  const { g, F } = c;
  const d = data(c, seed);
  const z = depthwiseI8Twin({ ...g, M: 1, DH: 1, DW: 1 }, d.x, d.qd, d.sd, c.bd ? d.bd : null, c.dclamp[0], c.dclamp[1]);
  const N = g.B * g.OH * g.OW;
  const y = new Float32Array(N * F);
  if (c.b) for (let r = 0; r < N; r++) y.set(d.b, r * F);
  gemmI8Twin(y, z, d.q, d.sp, N, F, g.C, g.C, 1, F, F, c.b ? 1 : 0);
  return y.map((v) => Math.min(Math.max(v, c.clamp[0]), c.clamp[1]));
}

describe('sepconv_i8', () => {
  it('gives the bits of the two int8 kernels run apart and of their naive twins, in the SIMD and scalar builds', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(40);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const seed = 90 + 7 * i;
      const s = run(simd, c, seed, true), t = run(sc, c, seed, true), apart = run(simd, c, seed, false);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`), ...apart.fails.map((f) => `unfused: ${f}`));
      if (!sameBits(s.y, apart.y)) fails.push(`${label(c)}: differs from the kernels run apart`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
      if (!sameBits(s.y, twin(c, seed))) fails.push(`${label(c)}: differs from the naive twins`);
    });
    expect(fails).toEqual([]);
  });
});

// Every layer frozen and quantized (as the bench's int8 rows are).
function int8<M extends { layers: { trainable: boolean }[]; quantize: (d: 'int8') => unknown }>(m: M): M {
  for (const l of m.layers) l.trainable = false;
  m.quantize('int8', { activationQuantizer: null });
  return m;
}

// depthwise 3x3 'same' -> 1x1 16 -> 24 (ReLU), then a depthwise 5x5 stride 2 with its own ReLU6
// -> 1x1 24 -> 8, then a depthwise 3x3 -> 1x1 8 -> 8 + batch norm + ReLU (the batch norm folded
// into an f32 kernel, so not fused). `alsoOut`: the depthwise outputs are model outputs as well (so the unfused plan).
function net(alsoOut = false) {
  setSeed(43);
  const inp = input({ shape: [11, 10, 16] });
  const d1 = layers.depthwiseConv2d({ name: 'dw1', kernelSize: 3, padding: 'same', useBias: false }).apply(inp);
  const c1 = layers.conv2d({ name: 'pw1', filters: 24, kernelSize: 1, activation: 'relu' }).apply(d1);
  const d2 = layers.depthwiseConv2d({ name: 'dw2', kernelSize: 5, strides: 2, padding: 'same', activation: 'relu6' }).apply(c1);
  const c2 = layers.conv2d({ name: 'pw2', filters: 8, kernelSize: 1 }).apply(d2);
  const d3 = layers.depthwiseConv2d({ name: 'dw3', kernelSize: 3, padding: 'same' }).apply(c2);
  const bn3 = layers.batchNormalization({ name: 'bn3' }).apply(layers.conv2d({ name: 'pw3', filters: 8, kernelSize: 1 }).apply(d3));
  const c3 = layers.activation('relu').apply(bn3);
  return int8(model({ inputs: inp, outputs: alsoOut ? [c3, d1, d2] : c3 }));
}

describe('int8 depthwise -> 1x1 in plans', () => {
  it('runs each int8 pair as one sepconv_i8 in inference, bit for bit as the unfused plan; a 1x1 with a batch norm folded stays apart', () => {
    const m = net();
    const bn = m.layers.find((l) => l.name === 'bn3')!;
    const [gamma, beta, mean, variance] = bn.getWeights();
    bn.setWeights([gamma.map((_, i) => 0.5 + 0.1 * i), beta.map((_, i) => 0.2 * Math.sin(i)), mean.map((_, i) => 0.3 * Math.cos(i)), variance.map((_, i) => 0.5 + 0.05 * i)]);
    const ops = opNames(m, 3);
    expect(ops.filter((o) => o === 'sepconv_i8').length).toBe(2);
    expect(ops).not.toContain('sepconv');
    expect(ops.filter((o) => o === 'depthwise_forward_i8_wide').length, 'dw3, before the folded 1x1').toBe(1);
    expect(ops).not.toContain('conv2d_forward_i8_packed');
    const u = net(true);
    u.layers.find((l) => l.name === 'bn3')!.setWeights(bn.getWeights());
    const uops = opNames(u, 3);
    expect(uops).not.toContain('sepconv_i8');
    expect(uops.filter((o) => o === 'depthwise_forward_i8_wide').length).toBe(3);
    const x = randomArray(3 * 11 * 10 * 16, 6, -2, 2);
    const got = m.predict(tensor(x, [3, 11, 10, 16])).data;
    const [want] = u.predict(tensor(x, [3, 11, 10, 16])) as unknown as { data: Float32Array }[];
    expect(got.length).toBe(3 * 6 * 5 * 8);
    expect(sameBits(got, want.data)).toBe(true);
  });

});
