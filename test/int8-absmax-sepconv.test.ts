// sepconv_q8 (op 259; kernel assembly/kernels/sepconv.ts, lowering host/compile/sepconv.ts; docs/int8.md
// "absmax"): a frozen int8 depthwise convolution (weight-only, f32 accumulation) and the 1x1
// convolution with Keras's absmax activation quantizer that alone reads it, as one op: the depthwise
// rows a band at a time into scratch, each band's rows (one pixel's C channels) quantized and
// multiplied by gemm_q8's row driver. The formula is the two layers run apart, so:
// - kernel: the bits of depthwise_conv2d_forward_i8_wide then conv2d_q8 (1x1) and of their naive
//   twins (test/reference/int8.ts depthwiseI8Twin, test/reference/q8.ts gemmQ8Twin), SIMD build and
//   --disable simd; gender's geometries (C 8/16/32/64 -> F 16/32/64/128, 3x3 'same', strides 1 and
//   2, batch 1 and 8) and odd ones (C and F off the vectors and panels, 5x5, asymmetric padding, 1x1
//   maps), bands of 1-3 rows, the plan's and the whole batch, clamps on both halves, biases or none,
//   inputs with all-zero pixels (a band row of zeros: xs = 127 / 1e-7);
// - plans: gender-shaped blocks fuse, bit for bit the plan where they cannot (the depthwise outputs
//   also model outputs); 1, 2 and 3 threads (job kind 44, the workers running bands) the same bits;
// - a block against numpy's absmax 1x1 (test/torch/absmax_int8.py) on the naive depthwise twin's output.
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { input, layers, model, setSeed, tensor, verifyPlan, type Layer, type Model } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { expectSame, sameBits } from './support/close';
import { inputsIntact, putQ, randomQ } from './support/int8';
import { depthwiseI8Twin } from './reference/int8';
import { gemmQ8Twin } from './reference/q8';
import { q8PackedBytes, q8ScratchBytes } from '../host/compile/gemm-scratch';
import { opNames } from './support/plans';
import { sameBitsWithWorkers } from './support/threads';

const ARENA_BYTES = 48 << 20;
const CLAMPS: [number, number][] = [[-Infinity, Infinity], [0, Infinity], [0, 6]];

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/sepconv.ts', 'assembly/kernels/depthwise-i8.ts', 'assembly/kernels/conv-q8.ts', 'assembly/kernels/gemm-q8.ts'], 'sepconv-q8-scalar.wasm');
}, 120_000);

interface Geometry { B: number; H: number; W: number; C: number; KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; OH: number; OW: number }
interface Case { g: Geometry; F: number; bandRows: number; bd: boolean; b: boolean; dclamp: [number, number]; clamp: [number, number] }

// Keras 'same' (or 'valid') along one axis: output size and padding before.
function axis(n: number, k: number, s: number, same: boolean): { out: number; before: number } {
  if (!same) return { out: Math.floor((n - k) / s) + 1, before: 0 };
  const out = Math.ceil(n / s);
  return { out, before: Math.floor(Math.max((out - 1) * s + k - n, 0) / 2) };
}

function geometryOf(B: number, H: number, W: number, C: number, K: number, S: number, same = true): Geometry {
  const y = axis(H, K, S, same), x = axis(W, K, S, same);
  return { B, H, W, C, KH: K, KW: K, SH: S, SW: S, PT: y.before, PL: x.before, OH: y.out, OW: x.out };
}

// The plan's band (host/compile/sepconv.ts BAND_BYTES: 64 KB of depthwise rows).
const planBand = (g: Geometry) => Math.max(1, Math.floor((64 << 10) / (4 * g.OW * g.C)));

function cases(): Case[] {
  const all: Case[] = [];
  // gender's pairs: C -> F at strides 1 and 2, batch 1 and 8, on small maps
  const pairs = [[8, 16], [16, 16], [16, 32], [32, 32], [32, 64], [64, 64], [64, 128], [8, 128]];
  let i = 0;
  for (const [C, F] of pairs) for (const S of [1, 2]) for (const B of [1, 8]) {
    i++;
    const g = geometryOf(B, 5 + (i % 4), 6 + (i % 3), C, 3, S);
    all.push({
      g, F, bandRows: [1, 2, 3, B * g.OH, planBand(g)][i % 5], bd: i % 2 === 0, b: i % 3 !== 0,
      dclamp: CLAMPS[i % 3], clamp: CLAMPS[(i + 1) % 3],
    });
  }
  // Off the vectors and panels: C 1, 3, 5, 13 (quantized rows of 8 with zero tails), F 1, 7, 9;
  // 5x5, 'valid', an asymmetric explicit padding, a 1x1 map, a band row count leaving 1-3 positions.
  const odd: [Geometry, number, number][] = [
    [geometryOf(2, 7, 5, 5, 3, 1), 7, 3], [geometryOf(1, 6, 9, 13, 5, 2), 9, 1], [geometryOf(3, 1, 1, 3, 3, 1), 1, 2],
    [geometryOf(1, 9, 7, 1, 5, 1, false), 17, 4], [{ ...geometryOf(2, 6, 7, 12, 3, 1), PT: 2, PL: 0, OH: 6, OW: 5 }, 20, 5],
    [geometryOf(1, 11, 3, 40, 3, 2), 33, 2],
  ];
  odd.forEach(([g, F, bandRows], j) => all.push({ g, F, bandRows, bd: j % 2 === 1, b: j % 3 !== 1, dclamp: CLAMPS[(j + 1) % 3], clamp: CLAMPS[j % 3] }));
  return all;
}

const label = ({ g, F, bandRows, bd, b, dclamp, clamp }: Case) =>
  `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH} s${g.SH} pad ${g.PT},${g.PL} -> ${g.OH}x${g.OW}x${F} band ${bandRows}${bd ? ' +bd' : ''}${b ? ' +b' : ''} [${dclamp}] [${clamp}]`;

function data({ g, F }: Case, seed: number) {
  const x = randomArray(g.B * g.H * g.W * g.C, seed, -2, 2);
  // The first image's first two rows all zero: with no depthwise bias, band rows of zeros.
  x.fill(0, 0, Math.min(x.length, 2 * g.W * g.C));
  // A few large pixels in the last image: rows of very different ranges.
  const last = (g.B - 1) * g.H * g.W * g.C;
  for (let j = 0; j < Math.min(3 * g.C, g.H * g.W * g.C); j++) x[last + j] *= 40;
  return {
    x, qd: randomQ(g.KH * g.KW * g.C, seed + 1), sd: randomArray(g.C, seed + 2, 20, 200), bd: randomArray(g.C, seed + 3),
    q: randomQ(g.C * F, seed + 4), ks: randomArray(F, seed + 5, 20, 300), b: randomArray(F, seed + 6, -2, 2),
  };
}

// fused: sepconv_q8 with the plan's scratch sizes; else the wide int8 depthwise over the whole batch
// into z, then conv2d_q8 as a 1x1 (one gemm_q8 over every pixel), as the unfused plan runs them.
function run(a: Arena, c: Case, seed: number, fused: boolean): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const d = data(c, seed);
  const xp = a.put(d.x), qdp = putQ(a, d.qd), sdp = a.put(d.sd), bdp = a.put(d.bd), qt = putQ(a, d.q), ksp = a.put(d.ks), bp = a.put(d.b);
  const panels = a.alloc(q8PackedBytes(F, g.C) / 4);
  a.k.gemm_pack_b_q8(panels, qt, F, g.C, F);
  const n = g.B * g.OH * g.OW * F, yp = a.alloc(n);
  const bd = c.bd ? bdp : 0, b = c.b ? bp : 0;
  const q8 = a.alloc(q8ScratchBytes(g.C) / 4), wf = a.alloc(g.KH * g.KW * g.C);
  if (fused) {
    const band = a.alloc(c.bandRows * g.OW * g.C);
    a.k.sepconv_q8(yp, xp, qdp, sdp, bd, panels, ksp, b, g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW,
      c.dclamp[0], c.dclamp[1], c.clamp[0], c.clamp[1], c.bandRows, wf, band, q8);
  } else {
    const z = a.alloc(g.B * g.OH * g.OW * g.C);
    a.k.depthwise_conv2d_forward_i8_wide(z, xp, qdp, sdp, bd, g.B, g.H, g.W, g.C, 1, g.KH, g.KW, g.SH, g.SW, 1, 1, g.PT, g.PL, g.OH, g.OW, c.dclamp[0], c.dclamp[1], wf);
    a.k.conv2d_q8(yp, z, panels, ksp, b, g.B, g.OH, g.OW, g.C, F, 1, 1, 1, 1, 1, 1, 0, 0, g.OH, g.OW, 1, 0, q8, c.clamp[0], c.clamp[1]);
  }
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  if (!inputsIntact(a, [[xp, d.x], [sdp, d.sd], [bdp, d.bd], [ksp, d.ks], [bp, d.b]], [[qdp, d.qd], [qt, d.q]])) fails.push(`${label(c)}: modified an input`);
  return { y: a.read(yp, n), fails };
}

// The naive twins: the int8 depthwise's bits, then Keras's absmax product on its rows.
function twin(c: Case, seed: number): Float32Array {
  const { g, F } = c;
  const d = data(c, seed);
  const z = depthwiseI8Twin({ ...g, M: 1, DH: 1, DW: 1 }, d.x, d.qd, d.sd, c.bd ? d.bd : null, c.dclamp[0], c.dclamp[1]);
  const N = g.B * g.OH * g.OW;
  const y = new Float32Array(N * F);
  gemmQ8Twin(y, z, d.q, d.ks, c.b ? d.b : null, N, F, g.C, F, c.clamp[0], c.clamp[1]);
  return y;
}

describe('sepconv_q8', () => {
  it('gives the bits of depthwise_forward_i8_wide then conv2d_q8 and of their naive twins, in the SIMD and scalar builds', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(35);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const seed = 300 + 11 * i;
      const s = run(simd, c, seed, true), t = run(sc, c, seed, true), apart = run(simd, c, seed, false), tApart = run(sc, c, seed, false);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`), ...apart.fails.map((f) => `unfused: ${f}`));
      if (s.y.some(Number.isNaN)) fails.push(`${label(c)}: left outputs unwritten`);
      if (!sameBits(s.y, apart.y)) fails.push(`${label(c)}: differs from the kernels run apart`);
      if (!sameBits(t.y, tApart.y)) fails.push(`${label(c)}: scalar build: differs from the kernels run apart`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
      if (!sameBits(s.y, twin(c, seed))) fails.push(`${label(c)}: differs from the naive twins`);
    });
    expect(fails).toEqual([]);
  });
});

// Every layer frozen, then quantized with absmax inputs on every 1x1 (the default config would
// leave the small ones of these blocks weight-only: docs/int8.md "Which layers"), the depthwise
// layers weight-only (Keras does not quantize their inputs).
function absmax<M extends Model>(m: M): M {
  for (const l of m.layers) l.trainable = false;
  m.quantize('int8', { activationQuantizer: 'absmax' });
  return m;
}

// gender's separable blocks on a smaller map: depthwise 3x3 'same' (no bias) -> 1x1 8 -> 16 ReLU,
// depthwise -> 1x1 16 -> 16 + batch norm (not folded into an absmax kernel: it runs after the fused
// op), then a stride-2 depthwise with bias and ReLU6 -> 1x1 16 -> 32 without bias, then a
// depthwise -> 1x1 32 -> 8 with swish (no clamp: the activation runs after the fused op).
// `alsoOut`: the depthwise outputs are model outputs too, so nothing fuses (the pair run apart).
function genderBlocks(alsoOut = false): Model {
  setSeed(29);
  const inp = input({ shape: [14, 12, 8] });
  const d1 = layers.depthwiseConv2d({ name: 'dw1', kernelSize: 3, padding: 'same', useBias: false }).apply(inp);
  const c1 = layers.conv2d({ name: 'pw1', filters: 16, kernelSize: 1, activation: 'relu' }).apply(d1);
  const d2 = layers.depthwiseConv2d({ name: 'dw2', kernelSize: 3, padding: 'same', useBias: false }).apply(c1);
  const c2 = layers.batchNormalization({ name: 'bn2' }).apply(layers.conv2d({ name: 'pw2', filters: 16, kernelSize: 1, useBias: false }).apply(d2));
  const d3 = layers.depthwiseConv2d({ name: 'dw3', kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }).apply(c2);
  const c3 = layers.conv2d({ name: 'pw3', filters: 32, kernelSize: 1, useBias: false }).apply(d3);
  const d4 = layers.depthwiseConv2d({ name: 'dw4', kernelSize: 3, padding: 'same', useBias: false }).apply(c3);
  const c4 = layers.conv2d({ name: 'pw4', filters: 8, kernelSize: 1, activation: 'swish' }).apply(d4);
  const m = model({ inputs: inp, outputs: alsoOut ? [c4, d1, d2, d3, d4] : c4 });
  // Moving statistics and depthwise biases drawn (the defaults would hide them).
  const bn = m.getLayer('bn2');
  bn.setWeights(bn.getWeights().map((w, k) => w.map((_, i) => [0.5 + 0.1 * i, 0.2 * Math.sin(i), 0.3 * Math.cos(i), 0.5 + 0.05 * i][k])));
  const dw3 = m.getLayer('dw3');
  dw3.setWeights([dw3.getWeights()[0], randomArray(16, 5, -0.5, 0.5)]);
  return absmax(m);
}

describe('int8 depthwise -> absmax 1x1 in plans', () => {
  it('runs each pair as one sepconv_q8, bit for bit the plan that runs them apart (batch 1 and 8)', () => {
    const m = genderBlocks(), u = genderBlocks(true);
    for (const batch of [1, 8]) {
      const plan = m.planInference(batch);
      const ops = plan.programs.forward!.ops.map((o) => o.op);
      expect(ops.filter((o) => o === 'sepconv_q8').length).toBe(4);
      expect(ops.filter((o) => o.startsWith('depthwise_forward') || o === 'conv2d_q8' || o === 'sepconv_i8')).toEqual([]);
      expect(ops).toContain('bn_forward_infer');
      expect(ops.at(-1)).toBe('act_forward');
      expect(verifyPlan(plan)).toEqual([]);
      const uops = opNames(u, batch);
      expect(uops.filter((o) => o === 'depthwise_forward_i8_wide').length).toBe(4);
      expect(uops.filter((o) => o === 'conv2d_q8').length).toBe(4);
      const x = randomArray(batch * 14 * 12 * 8, 40 + batch, -2, 2);
      x.fill(0, 0, 12 * 8); // an all-zero first row
      const got = m.predict(tensor(x, [batch, 14, 12, 8])).data;
      const [want] = u.predict(tensor(x, [batch, 14, 12, 8])) as unknown as { data: Float32Array }[];
      expect(got.length).toBe(batch * 7 * 6 * 8);
      expect(sameBits(got, want.data), `batch ${batch}`).toBe(true);
    }
  });

  it('gives the same bits on 1, 2 and 3 threads, split by whole bands that the workers run (job kind 44)', async () => {
    setSeed(31);
    const inp = input({ shape: [30, 30, 32] });
    const y = layers.conv2d({ filters: 64, kernelSize: 1, activation: 'relu' }).apply(layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(inp));
    const m = absmax(model({ inputs: inp, outputs: y }));
    const x = tensor(randomArray(4 * 30 * 30 * 32, 9, -1, 1), [4, 30, 30, 32]);
    expect(opNames(m, 4, 1)).toEqual(['sepconv_q8']);
    await sameBitsWithWorkers(m, x, 4, 'sepconv q8', 'gemm q8');
  });
});

const SCRIPT = new URL('./torch/absmax_int8.py', import.meta.url).pathname;
const PYTHON = process.env.EDGETUNE_PYTHON ?? '/usr/bin/python3';
const int8Of = (l: Layer) => (l as unknown as { int8: { q: Int8Array; scale: Float32Array; activationQuantizer?: string } }).int8;

describe('an int8 depthwise -> absmax 1x1 block against numpy', () => {
  it('is numpy\'s absmax 1x1 (test/torch/absmax_int8.py) on the naive depthwise twin\'s output, batch 1 and 8', () => {
    const blocks: { m: Model; x: Float32Array; batch: number; z: Float32Array; shape: number[] }[] = [];
    for (const [batch, C, F, S, act] of [[1, 16, 32, 1, 'relu'], [8, 32, 64, 2, 'linear'], [8, 8, 16, 1, 'relu6']] as const) {
      setSeed(50 + C);
      const inp = input({ shape: [11, 10, C] });
      const dw = layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, strides: S, padding: 'same', activation: S === 2 ? 'relu' : 'linear' });
      const pw = layers.conv2d({ name: 'pw', filters: F, kernelSize: 1, activation: act });
      const m = model({ inputs: inp, outputs: pw.apply(dw.apply(inp)) });
      m.getLayer('dw').setWeights([m.getLayer('dw').getWeights()[0], randomArray(C, 3 + C, -0.3, 0.3)]);
      // A kernel large enough for ReLU6 to clip.
      m.getLayer('pw').setWeights([randomArray(C * F, 2 + F, -1.5, 1.5), randomArray(F, 4 + F, -1, 1)]);
      absmax(m);
      expect(opNames(m, batch)).toEqual(['sepconv_q8']);
      const x = randomArray(batch * 11 * 10 * C, 60 + C, -2, 2);
      const g = { ...geometryOf(batch, 11, 10, C, 3, S), M: 1, DH: 1, DW: 1 };
      const d = int8Of(m.getLayer('dw'));
      expect(d.activationQuantizer).toBeUndefined();
      const z = depthwiseI8Twin(g, x, d.q, d.scale, m.getLayer('dw').getWeights()[1], S === 2 ? 0 : -Infinity, Infinity);
      blocks.push({ m, x, batch, z, shape: [batch, g.OH, g.OW, C] });
    }
    const cases = blocks.map(({ m, z, shape }) => {
      const p = int8Of(m.getLayer('pw'));
      expect(p.activationQuantizer).toBe('absmax');
      return {
        kind: 'conv', x: Array.from(z), xShape: shape, q: Array.from(p.q), ks: Array.from(p.scale), b: Array.from(m.getLayer('pw').getWeights()[1]),
        act: String(m.getLayer('pw').config.activation), kh: 1, kw: 1, sh: 1, sw: 1, padding: 'valid',
      };
    });
    const want = JSON.parse(execFileSync(PYTHON, [SCRIPT], { input: JSON.stringify(cases), maxBuffer: 256 << 20, timeout: 300_000 }).toString()) as number[][];
    blocks.forEach(({ m, x, batch }, i) => {
      const got = m.predict(tensor(x, [batch, 11, 10, blocks[i].shape[3]])).data;
      expectSame(got, want[i], `block ${i}`);
      if (i === 2) expect(got.filter((v) => v === 6).length, 'ReLU6 clips some outputs').toBeGreaterThan(0);
    });
  });
});
