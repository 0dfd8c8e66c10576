// A depthwise convolution and the 1x1 convolution that alone reads it as one op (issue 12; kernel
// assembly/kernels/sepconv.ts, lowering host/compile/sepconv.ts): the depthwise output a band of
// rows at a time through scratch into the 1x1 GEMM.
//
// Kernel: the same bits as the two kernels run apart (depthwise_conv2d_forward_clamp, then the
// pointwise conv2d_forward_packed), in the SIMD build and the same sources compiled with --disable
// simd, and within the f64 twins' tolerance. Sweep: depthwise 3x3, 5x5 and 3x2; strides 1 and 2;
// dilation 1 and 2; 'same', 'valid' and explicit asymmetric paddings; images down to 1x1; C over 1,
// 3, 4, 5, 8, 13, 64 and 130 (the GEMM's in-place path for k <= 64 and its packing path past it);
// F over 1, 7, 8, 9 and 130; batch 1, 2, 3; bands of 1, 2, 3 rows and the whole batch; with and
// without either bias; clamps none, ReLU, ReLU6 on either side. Outputs start as NaN; guard words
// round every buffer must come back unchanged, and the inputs too.
// Plans: which pairs fuse, predictions bit for bit against the unfused plan, training plans left
// alone, and the same bits on 1, 2 and 3 threads (f32 and int8).
import { beforeAll, describe, expect, it } from 'vitest';
import { input, layers, model, setSeed, tensor } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness, sameBits } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, depthwiseRef } from './reference/conv';
import { packedFloats, packedScratchBytes } from '../host/compile/program';
import { copyWeights, opNames } from './support/plans';
import { lastJob, sameBitsWithWorkers } from './support/threads';

const ARENA_BYTES = 32 << 20;
const CLAMPS: [number, number][] = [[-Infinity, Infinity], [0, Infinity], [0, 6]];

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/sepconv.ts', 'assembly/kernels/gemm-packed.ts', 'assembly/kernels/depthwise.ts', 'assembly/kernels/conv.ts'], 'sepconv-scalar.wasm');
}, 120_000);

interface Case { g: ConvGeometry; F: number; bandRows: number; bd: boolean; b: boolean; dclamp: [number, number]; clamp: [number, number] }

const out = (n: number, k: number, s: number, d: number, before: number, after: number) => Math.floor((n + before + after - d * (k - 1) - 1) / s) + 1;

function cases(): Case[] {
  const all: Case[] = [];
  // [KH, KW, SH, SW, DH, DW]
  const kernels = [[3, 3, 1, 1, 1, 1], [3, 3, 2, 2, 1, 1], [5, 5, 1, 1, 1, 1], [3, 2, 2, 1, 1, 1], [3, 3, 1, 1, 2, 2]];
  const pads = [[1, 1, 1, 1], [0, 0, 0, 0], [2, 0, 0, 1]];
  const images = [[1, 1], [7, 7], [6, 9]];
  const channels = [1, 3, 4, 5, 8, 13, 64, 130];
  const filters = [1, 7, 8, 9, 130];
  let i = 0;
  for (const [KH, KW, SH, SW, DH, DW] of kernels) for (const [pt, pb, pl, pr] of pads) for (const [H, W] of images) {
    i++;
    const OH = out(H, KH, SH, DH, pt, pb), OW = out(W, KW, SW, DW, pl, pr);
    if (OH <= 0 || OW <= 0) continue;
    const B = 1 + (i % 3);
    all.push({
      g: { B, H, W, C: channels[i % channels.length], KH, KW, SH, SW, DH, DW, PT: pt, PL: pl, OH, OW }, F: filters[(i * 3) % filters.length],
      bandRows: [1, 2, 3, B * OH][i % 4], bd: i % 2 === 0, b: i % 3 !== 0, dclamp: CLAMPS[i % 3], clamp: CLAMPS[(i + 1) % 3],
    });
  }
  // Emotion's 29x29 128 -> 128 in bands of 4 rows, batch 2.
  all.push({ g: { B: 2, H: 29, W: 29, C: 128, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 29, OW: 29 }, F: 128, bandRows: 4, bd: false, b: true, dclamp: CLAMPS[0], clamp: CLAMPS[0] });
  return all;
}

const label = ({ g, F, bandRows, bd, b, dclamp, clamp }: Case) =>
  `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH}x${g.KW} s${g.SH},${g.SW} d${g.DH},${g.DW} pad ${g.PT},${g.PL} -> ${F} band ${bandRows}${bd ? ' +bd' : ''}${b ? ' +b' : ''} [${dclamp}] [${clamp}]`;

function data({ g, F }: Case, seed: number) {
  return {
    x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), wd: randomArray(g.KH * g.KW * g.C, seed + 1), bd: randomArray(g.C, seed + 2),
    w: randomArray(g.C * F, seed + 3), b: randomArray(F, seed + 4),
  };
}

// fused: sepconv_f32; else the depthwise over the whole batch into z, then the pointwise packed convolution.
function run(a: Arena, c: Case, seed: number, fused: boolean): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const d = data(c, seed);
  const xp = a.put(d.x), wdp = a.put(d.wd), bdp = a.put(d.bd), wt = a.put(d.w), bp = a.put(d.b);
  const wp = a.alloc(packedFloats(F, g.C));
  a.k.gemm_pack_b(wp, wt, F, g.C, F, 1);
  const n = g.B * g.OH * g.OW * F, yp = a.alloc(n), pack = a.alloc(packedScratchBytes(g.C) / 4);
  const bd = c.bd ? bdp : 0, b = c.b ? bp : 0;
  if (fused) {
    const band = a.alloc(c.bandRows * g.OW * g.C);
    a.k.sepconv_f32(yp, xp, wdp, bd, wp, b, g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW,
      c.dclamp[0], c.dclamp[1], c.clamp[0], c.clamp[1], c.bandRows, band, pack);
  } else {
    const z = a.alloc(g.B * g.OH * g.OW * g.C);
    a.k.depthwise_conv2d_forward_clamp(z, xp, wdp, bd, g.B, g.H, g.W, g.C, 1, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, c.dclamp[0], c.dclamp[1]);
    a.k.conv2d_forward_packed(yp, z, wp, b, g.B, g.OH, g.OW, g.C, F, 1, 1, 1, 1, 1, 1, 0, 0, g.OH, g.OW, 1, 0, pack, c.clamp[0], c.clamp[1]);
  }
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  const inputs: [number, Float32Array][] = [[xp, d.x], [wdp, d.wd], [bdp, d.bd], [wt, d.w], [bp, d.b]];
  if (!inputs.every(([p, v]) => sameBits(a.read(p, v.length), v))) fails.push(`${label(c)}: modified an input`);
  return { y: a.read(yp, n), fails };
}

// f64: clamp(clamp(depthwise(x) + bd) . w + b).
function reference(c: Case, seed: number): Float64Array {
  const { g, F } = c;
  const d = data(c, seed);
  const cl = (v: number, [lo, hi]: [number, number]) => Math.min(Math.max(v, lo), hi);
  const z = depthwiseRef(g, 1, d.x, d.wd, c.bd ? d.bd : undefined).map((v) => cl(v, c.dclamp));
  const P = g.B * g.OH * g.OW;
  const y = new Float64Array(P * F);
  for (let p = 0; p < P; p++) for (let f = 0; f < F; f++) {
    let s = c.b ? d.b[f] : 0;
    for (let ch = 0; ch < g.C; ch++) s += z[p * g.C + ch] * d.w[ch * F + f];
    y[p * F + f] = cl(s, c.clamp);
  }
  return y;
}

describe('sepconv_f32', () => {
  it('gives the bits of the depthwise and the pointwise kernels run apart, in the SIMD and scalar builds, near the f64 twins', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(30);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const seed = 70 + 3 * i;
      const s = run(simd, c, seed, true), t = run(sc, c, seed, true), apart = run(simd, c, seed, false);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`), ...apart.fails.map((f) => `unfused: ${f}`));
      if (!sameBits(s.y, apart.y)) fails.push(`${label(c)}: differs from the kernels run apart`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
      const close = closeness(s.y, reference(c, seed), 1e-5 * (Math.sqrt(c.g.C * c.g.KH * c.g.KW) + 1), 1e-5);
      if (close.ratio > 1) fails.push(describeCloseness(label(c), close));
    });
    expect(fails).toEqual([]);
  });
});

// depthwise 3x3 'same' -> 1x1 conv 16 -> 24 + batch norm + ReLU, then a depthwise with its own ReLU6
// -> 1x1 conv. `alsoOut`: both depthwise outputs are model outputs as well (so the unfused plan).
function net(alsoOut = false) {
  setSeed(41);
  const inp = input({ shape: [11, 10, 16] });
  const d1 = layers.depthwiseConv2d({ name: 'dw1', kernelSize: 3, padding: 'same', useBias: false }).apply(inp);
  const c1 = layers.conv2d({ name: 'pw1', filters: 24, kernelSize: 1 }).apply(d1);
  const r1 = layers.activation('relu').apply(layers.batchNormalization({ name: 'bn1' }).apply(c1));
  const d2 = layers.depthwiseConv2d({ name: 'dw2', kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6' }).apply(r1);
  const c2 = layers.conv2d({ name: 'pw2', filters: 8, kernelSize: 1 }).apply(d2);
  return model({ inputs: inp, outputs: alsoOut ? [c2, d1, d2] : c2 });
}

describe('depthwise -> 1x1 in plans', () => {
  it('runs each pair as one sepconv in inference, bit for bit as the unfused plan', () => {
    const m = net();
    const bn = m.layers.find((l) => l.name === 'bn1')!;
    const [gamma, beta, mean, variance] = bn.getWeights();
    bn.setWeights([gamma.map((_, i) => 0.5 + 0.1 * i), beta.map((_, i) => 0.2 * Math.sin(i)), mean.map((_, i) => 0.3 * Math.cos(i)), variance.map((_, i) => 0.5 + 0.05 * i)]);
    const ops = opNames(m, 3);
    expect(ops.filter((o) => o === 'sepconv').length).toBe(2);
    for (const gone of ['depthwise_forward', 'depthwise_forward_clamp', 'conv2d_forward_packed']) expect(ops).not.toContain(gone);
    const u = net(true);
    copyWeights(m, u);
    const uops = opNames(u, 3);
    expect(uops).not.toContain('sepconv');
    expect(uops).toEqual(expect.arrayContaining(['depthwise_forward', 'depthwise_forward_clamp']));
    const x = randomArray(3 * 11 * 10 * 16, 6, -2, 2);
    const got = m.predict(tensor(x, [3, 11, 10, 16])).data;
    const [want] = u.predict(tensor(x, [3, 11, 10, 16])) as unknown as { data: Float32Array }[];
    expect(got.length).toBe(3 * 6 * 5 * 8);
    expect(sameBits(got, want.data)).toBe(true);
  });

  it('a 1x1 read only by a global average pooling still runs the depthwise deferred into it (sepconv, then the mean)', () => {
    const build = (alsoOut: boolean) => {
      setSeed(19);
      const inp = input({ shape: [7, 6, 12] });
      const d = layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same' }).apply(inp);
      const o = layers.globalAveragePooling2d().apply(layers.conv2d({ name: 'pw', filters: 5, kernelSize: 1 }).apply(d));
      return model({ inputs: inp, outputs: alsoOut ? [o, d] : o });
    };
    const m = build(false), u = build(true);
    for (const name of ['dw', 'pw']) u.layers.find((l) => l.name === name)!.setWeights(m.layers.find((l) => l.name === name)!.getWeights());
    expect(opNames(m, 2)).toEqual(['sepconv', 'gap_forward']);
    // Unfused: the depthwise on its own, the 1x1 and the mean as conv_gap (another summation order).
    expect(opNames(u, 2)).toEqual(['depthwise_forward', 'conv_gap']);
    const x = randomArray(2 * 7 * 6 * 12, 2, -2, 2);
    const got = m.predict(tensor(x, [2, 7, 6, 12])).data;
    const [want] = u.predict(tensor(x, [2, 7, 6, 12])) as unknown as { data: Float32Array }[];
    const close = closeness(got, want.data, 1e-5, 1e-5);
    expect(close.ratio, describeCloseness('fused vs unfused', close)).toBeLessThanOrEqual(1);
  });

  it('keeps the depthwise and the 1x1 apart where a gradient flows (training)', () => {
    const m = net();
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const ops = m.plan.programs.train!.ops.map((o: { op: string }) => o.op);
    expect(ops).not.toContain('sepconv');
    expect(ops.filter((o: string) => o.startsWith('depthwise_forward')).length).toBe(2);
  });

  // f32, and int8 (every layer frozen and quantized: sepconv_i8, test/sepconv-i8.test.ts).
  it.each([['f32', 'sepconv', 'sepconv'], ['int8', 'sepconv_i8', 'sepconv i8']])('%s: gives the same bits on 1, 2 and 3 threads, split by whole bands that the workers run', async (kind, op, job) => {
    setSeed(8);
    const inp = input({ shape: [30, 30, 64] });
    const y = layers.conv2d({ filters: 128, kernelSize: 1 }).apply(layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(inp));
    const m = model({ inputs: inp, outputs: y });
    if (kind === 'int8') {
      for (const l of m.layers) l.trainable = false;
      m.quantize('int8', { activationQuantizer: null });
    }
    const x = tensor(randomArray(2 * 30 * 30 * 64, 4), [2, 30, 30, 64]);
    expect(opNames(m, 2, 1)).toEqual([op]);
    // Jobs of kind 15 (JOB_SEPCONV) or 16 (JOB_SEPCONV_I8); no GEMM split again inside a band.
    await sameBitsWithWorkers(m, x, 2, job, 'gemm packed');
    // Whole bands (assembly/kernels/sepconv.ts's argument 29: 0).
    expect(lastJob(m).args[29]).toBe(0);
  });

  it('f32 with fewer bands than two a thread: split by output rows, bands starting inside a tile and across images, the same bits on 1, 2 and 3 threads', async () => {
    // 7x7x96: one band of 24 rows holds both images (shufflenet_v2's stage 4), which whole bands
    // left on the driver.
    setSeed(9);
    const inp = input({ shape: [7, 7, 96] });
    const y = layers.conv2d({ filters: 96, kernelSize: 1 }).apply(layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(inp));
    const m = model({ inputs: inp, outputs: y });
    const x = tensor(randomArray(2 * 7 * 7 * 96, 5), [2, 7, 7, 96]);
    expect(opNames(m, 2, 1)).toEqual(['sepconv']);
    await sameBitsWithWorkers(m, x, 2, 'sepconv', 'gemm packed');
    // On 3 threads: 14 rows in 6 tiles of 2 or 3 (argument 29: by rows).
    const job = lastJob(m);
    expect(job.args[29]).toBe(1);
    expect(job.tiles).toBe(6);
  });
});
