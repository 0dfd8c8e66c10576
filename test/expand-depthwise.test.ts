// A 1x1 expansion convolution and the depthwise convolution that alone reads it as one op (kernel
// assembly/kernels/expand-depthwise.ts, lowering host/compile/expand-depthwise.ts): the expanded
// rows a band at a time through scratch into the depthwise rows that read them.
//
// Kernel: the same bits as the two kernels run apart (the pointwise conv2d_forward_packed, then
// depthwise_conv2d_forward_clamp), in the SIMD build and the same sources compiled with --disable
// simd, and within the f64 twins' tolerance. Sweep: depthwise 3x3, 5x5 and 3x2; strides 1, 2 and
// (2, 1); 'same', 'valid' and explicit asymmetric paddings; images 4x4 to 9x5 and mobilenet_v2's
// 112x112 16 -> 96 stride 2; C over 1, 3, 4, 5, 8, 13, 64 and 96 (the GEMM's in-place path for
// k <= 64 and its packing path past it); E over 1, 5, 8, 13, 24 and 144; batch 1, 2, 3; bands of
// exactly the kernel's rows, a few rows and the whole image; with and without either bias; clamps
// none, ReLU, ReLU6 on either side. Outputs start as NaN; guard words round every buffer must come
// back unchanged, and the inputs too.
// Plans: which pairs fuse (through an absorbed batch norm and ReLU6, a 1x1's own ReLU, a zero pad
// folded into a stride-2 depthwise), predictions bit for bit against the unfused plan, training
// plans left alone, and the same bits on 1, 2 and 3 threads with the workers running tiles.
import { beforeAll, describe, expect, it } from 'vitest';
import { input, layers, model, setSeed, tensor } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness, sameBits } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, depthwiseRef } from './reference/conv';
import { packedFloats, packedScratchBytes } from '../host/compile/program';
import { copyWeights, opNames } from './support/plans';
import { sameBitsWithWorkers } from './support/threads';

const ARENA_BYTES = 48 << 20;
const CLAMPS: [number, number][] = [[-Infinity, Infinity], [0, Infinity], [0, 6]];

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/expand-depthwise.ts', 'assembly/kernels/gemm-packed.ts', 'assembly/kernels/depthwise.ts', 'assembly/kernels/conv.ts'], 'expand-depthwise-scalar.wasm');
}, 120_000);

// g: the depthwise's geometry (its C the expanded channels E); Cin: the 1x1's input channels.
interface Case { g: ConvGeometry; Cin: number; bandRows: number; be: boolean; bd: boolean; eclamp: [number, number]; dclamp: [number, number] }

const out = (n: number, k: number, s: number, before: number, after: number) => Math.floor((n + before + after - k) / s) + 1;

function cases(): Case[] {
  const all: Case[] = [];
  // [KH, KW, SH, SW]
  const kernels = [[3, 3, 1, 1], [3, 3, 2, 2], [5, 5, 1, 1], [3, 2, 2, 1]];
  const pads = [[1, 1, 1, 1], [0, 0, 0, 0], [2, 0, 0, 1], [0, 1, 0, 1]];
  const images = [[4, 4], [7, 7], [6, 9], [9, 5]];
  const channels = [1, 3, 4, 5, 8, 13, 64, 96];
  const expanded = [1, 5, 8, 13, 24];
  let i = 0;
  for (const [KH, KW, SH, SW] of kernels) for (const [pt, pb, pl, pr] of pads) for (const [H, W] of images) {
    i++;
    const OH = out(H, KH, SH, pt, pb), OW = out(W, KW, SW, pl, pr);
    if (OH <= 0 || OW <= 0) continue;
    all.push({
      g: { B: 1 + (i % 3), H, W, C: expanded[(i * 3) % expanded.length], KH, KW, SH, SW, DH: 1, DW: 1, PT: pt, PL: pl, OH, OW },
      Cin: channels[i % channels.length], bandRows: [KH, KH + 1, KH + 3, H][i % 4], be: i % 2 === 0, bd: i % 3 !== 0, eclamp: CLAMPS[i % 3], dclamp: CLAMPS[(i + 1) % 3],
    });
  }
  // mobilenet_v2's first expansion (112x112 16 -> 96, ReLU6, 3x3 stride 2 through a [1, 1] pad)
  // in bands of 6 rows, and its 56x56 24 -> 144 stride 1 in bands of 8.
  all.push({ g: { B: 1, H: 112, W: 112, C: 96, KH: 3, KW: 3, SH: 2, SW: 2, DH: 1, DW: 1, PT: 1, PL: 1, OH: 56, OW: 56 }, Cin: 16, bandRows: 6, be: true, bd: true, eclamp: CLAMPS[2], dclamp: CLAMPS[2] });
  all.push({ g: { B: 2, H: 56, W: 56, C: 144, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 56, OW: 56 }, Cin: 24, bandRows: 8, be: true, bd: true, eclamp: CLAMPS[2], dclamp: CLAMPS[2] });
  return all;
}

const label = ({ g, Cin, bandRows, be, bd, eclamp, dclamp }: Case) =>
  `B${g.B} ${g.H}x${g.W}x${Cin} -> ${g.C} k${g.KH}x${g.KW} s${g.SH},${g.SW} pad ${g.PT},${g.PL} band ${bandRows}${be ? ' +be' : ''}${bd ? ' +bd' : ''} [${eclamp}] [${dclamp}]`;

function data({ g, Cin }: Case, seed: number) {
  return {
    x: randomArray(g.B * g.H * g.W * Cin, seed, -2, 2), w: randomArray(Cin * g.C, seed + 1), be: randomArray(g.C, seed + 2),
    wd: randomArray(g.KH * g.KW * g.C, seed + 3), bd: randomArray(g.C, seed + 4),
  };
}

// fused: expand_depthwise_f32 with a band of bandRows expanded rows; else the pointwise packed
// convolution over the whole batch into z, then the depthwise.
function run(a: Arena, c: Case, seed: number, fused: boolean): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, Cin } = c;
  const E = g.C;
  const d = data(c, seed);
  const xp = a.put(d.x), wt = a.put(d.w), bep = a.put(d.be), wdp = a.put(d.wd), bdp = a.put(d.bd);
  const wp = a.alloc(packedFloats(E, Cin));
  a.k.gemm_pack_b(wp, wt, E, Cin, E, 1);
  const n = g.B * g.OH * g.OW * E, yp = a.alloc(n), pack = a.alloc(packedScratchBytes(Cin) / 4);
  const be = c.be ? bep : 0, bd = c.bd ? bdp : 0;
  if (fused) {
    const bandFloats = 4 + c.bandRows * g.W * E;
    const band = a.alloc(bandFloats);
    a.k.expand_depthwise_f32(yp, xp, wp, be, wdp, bd, g.B, g.H, g.W, Cin, E, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW,
      c.eclamp[0], c.eclamp[1], c.dclamp[0], c.dclamp[1], 4 * bandFloats, band, pack);
  } else {
    const z = a.alloc(g.B * g.H * g.W * E);
    a.k.conv2d_forward_packed(z, xp, wp, be, g.B, g.H, g.W, Cin, E, 1, 1, 1, 1, 1, 1, 0, 0, g.H, g.W, 1, 0, pack, c.eclamp[0], c.eclamp[1]);
    a.k.depthwise_conv2d_forward_clamp(yp, z, wdp, bd, g.B, g.H, g.W, E, 1, g.KH, g.KW, g.SH, g.SW, 1, 1, g.PT, g.PL, g.OH, g.OW, c.dclamp[0], c.dclamp[1]);
  }
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  const inputs: [number, Float32Array][] = [[xp, d.x], [wt, d.w], [bep, d.be], [wdp, d.wd], [bdp, d.bd]];
  if (!inputs.every(([p, v]) => sameBits(a.read(p, v.length), v))) fails.push(`${label(c)}: modified an input`);
  return { y: a.read(yp, n), fails };
}

// f64: clamp(depthwise(clamp(x . w + be)) + bd).
function reference(c: Case, seed: number): Float64Array {
  const { g, Cin } = c;
  const E = g.C;
  const d = data(c, seed);
  const cl = (v: number, [lo, hi]: [number, number]) => Math.min(Math.max(v, lo), hi);
  const P = g.B * g.H * g.W;
  const z = new Float64Array(P * E);
  for (let p = 0; p < P; p++) for (let e = 0; e < E; e++) {
    let s = c.be ? d.be[e] : 0;
    for (let ch = 0; ch < Cin; ch++) s += d.x[p * Cin + ch] * d.w[ch * E + e];
    z[p * E + e] = cl(s, c.eclamp);
  }
  return depthwiseRef(g, 1, z, d.wd, c.bd ? d.bd : undefined).map((v) => cl(v, c.dclamp));
}

describe('expand_depthwise_f32', () => {
  it('gives the bits of the pointwise and the depthwise kernels run apart, in the SIMD and scalar builds, near the f64 twins', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(40);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const seed = 90 + 5 * i;
      const s = run(simd, c, seed, true), t = run(sc, c, seed, true), apart = run(simd, c, seed, false);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`), ...apart.fails.map((f) => `unfused: ${f}`));
      if (!sameBits(s.y, apart.y)) fails.push(`${label(c)}: differs from the kernels run apart`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
      const close = closeness(s.y, reference(c, seed), 1e-5 * (Math.sqrt(c.Cin) + Math.sqrt(c.g.KH * c.g.KW) + 1), 1e-5);
      if (close.ratio > 1) fails.push(describeCloseness(label(c), close));
    });
    expect(fails).toEqual([]);
  });
});

// Two inverted-residual heads on 32x32x8: a 1x1 to 96 + batch norm + ReLU6 layer -> 3x3 'same'
// depthwise + ReLU6 layer (torchvision's export) -> 1x1 to 16; then a 1x1 to 96 with its own ReLU
// -> a [1, 1] zero pad -> 3x3 stride-2 'valid' depthwise with its own ReLU6, the output. (A
// depthwise read only by a 1x1 runs inside that instead: sepconv, test/sepconv.test.ts.)
// `alsoOut`: both expansions are model outputs as well (so the unfused plan).
function net(alsoOut = false) {
  setSeed(23);
  const inp = input({ shape: [32, 32, 8] });
  const e1 = layers.activation('relu6').apply(layers.batchNormalization({ name: 'bn1' }).apply(layers.conv2d({ name: 'ex1', filters: 96, kernelSize: 1 }).apply(inp)));
  const d1 = layers.activation('relu6').apply(layers.depthwiseConv2d({ name: 'dw1', kernelSize: 3, padding: 'same' }).apply(e1));
  const p1 = layers.conv2d({ name: 'pj1', filters: 16, kernelSize: 1 }).apply(d1);
  const e2 = layers.conv2d({ name: 'ex2', filters: 96, kernelSize: 1, activation: 'relu' }).apply(p1);
  const d2 = layers.depthwiseConv2d({ name: 'dw2', kernelSize: 3, strides: 2, activation: 'relu6' }).apply(layers.zeroPadding2d({ padding: [[1, 1], [1, 1]] }).apply(e2));
  return model({ inputs: inp, outputs: alsoOut ? [d2, e1, e2] : d2 });
}

describe('1x1 -> depthwise in plans', () => {
  it('runs each pair as one expand_depthwise in inference, bit for bit as the unfused plan', () => {
    const m = net();
    const bn = m.layers.find((l) => l.name === 'bn1')!;
    const [gamma, beta, mean, variance] = bn.getWeights();
    bn.setWeights([gamma.map((_, i) => 0.5 + 0.01 * i), beta.map((_, i) => 0.2 * Math.sin(i)), mean.map((_, i) => 0.3 * Math.cos(i)), variance.map((_, i) => 0.5 + 0.005 * i)]);
    // 3 x 32 x 32 x 96 floats (1.2 MB) an expansion: both pairs fuse.
    const ops = opNames(m, 3);
    expect(ops).toEqual(['expand_depthwise', 'conv2d_forward_packed', 'expand_depthwise']);
    const u = net(true);
    copyWeights(m, u);
    const uops = opNames(u, 3);
    expect(uops).not.toContain('expand_depthwise');
    expect(uops.filter((o) => o === 'depthwise_forward_clamp').length).toBe(2);
    const x = randomArray(3 * 32 * 32 * 8, 6, -2, 2);
    const got = m.predict(tensor(x, [3, 32, 32, 8])).data;
    const [want] = u.predict(tensor(x, [3, 32, 32, 8])) as unknown as { data: Float32Array }[];
    expect(got.length).toBe(3 * 16 * 16 * 96);
    expect(sameBits(got, want.data)).toBe(true);
  });

  it('keeps the pair apart where the expanded tensor is under 1 MB (one image here) and where a gradient flows', () => {
    const m = net();
    expect(opNames(m, 1)).not.toContain('expand_depthwise');
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 3 });
    const ops = m.plan.programs.train!.ops.map((o: { op: string }) => o.op);
    expect(ops).not.toContain('expand_depthwise');
    expect(ops.filter((o: string) => o.startsWith('depthwise_forward')).length).toBe(2);
  });

  it('gives the same bits on 1, 2 and 3 threads, split by output rows that the workers run', async () => {
    setSeed(9);
    const inp = input({ shape: [40, 40, 24] });
    const e = layers.conv2d({ filters: 144, kernelSize: 1, activation: 'relu6' }).apply(inp);
    const m = model({ inputs: inp, outputs: layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu6' }).apply(e) });
    const x = tensor(randomArray(2 * 40 * 40 * 24, 4, -2, 2), [2, 40, 40, 24]);
    expect(opNames(m, 2, 1)).toEqual(['expand_depthwise']);
    await sameBitsWithWorkers(m, x, 2, 'expand depthwise', 'gemm packed');
  });
});
