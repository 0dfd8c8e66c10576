// A residual block's max pooling and its add as one op (issue 12; kernel assembly/kernels/pool-add.ts,
// lowering host/compile/pool-add.ts): y = [relu](maxpool(x) + s), image by image.
//
// Kernel: the same bits as the passes it replaces (the SIMD build's max_pool2d_forward, then the f32
// sum with s, then max(v, 0)), in the SIMD build and the same sources compiled with --disable simd.
// Sweep: 3x3 stride 2 'same' (mini-Xception's), 2x2 stride 2 'valid', 3x3 stride 1 padded, 3x2
// stride (2, 1); images down to 1x1; C over 1, 3, 4, 5, 13 and 128; batch 1, 2, 3; with and without
// the ReLU. Outputs start as NaN; guard words must come back unchanged, and the inputs too.
// Plans: which poolings run inside their add, predictions bit for bit against the unfused plan
// (either order of the add's inputs), training plans left alone, and the emotion model's plan.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { importTfjsGraphModel, input, layers, model, setSeed, tensor } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { opNames } from './support/plans';
import { sameBits } from './support/close';

const ARENA_BYTES = 8 << 20;

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/pool-add.ts'], 'pool-add-scalar.wasm');
}, 120_000);

interface Case { B: number; H: number; W: number; C: number; KH: number; KW: number; SH: number; SW: number; PT: number; PL: number; OH: number; OW: number; relu: number }

function cases(): Case[] {
  const all: Case[] = [];
  // [KH, KW, SH, SW, 'same' | 'valid']
  const windows: [number, number, number, number, string][] = [[3, 3, 2, 2, 'same'], [2, 2, 2, 2, 'valid'], [3, 3, 1, 1, 'same'], [3, 2, 2, 1, 'same']];
  const images = [[1, 1], [15, 15], [8, 7], [4, 9]];
  const channels = [1, 3, 4, 5, 13, 128];
  let i = 0;
  for (const [KH, KW, SH, SW, pad] of windows) for (const [H, W] of images) {
    i++;
    const same = pad === 'same';
    const OH = same ? Math.ceil(H / SH) : Math.floor((H - KH) / SH) + 1, OW = same ? Math.ceil(W / SW) : Math.floor((W - KW) / SW) + 1;
    if (OH <= 0 || OW <= 0) continue;
    const PT = same ? Math.floor(Math.max((OH - 1) * SH + KH - H, 0) / 2) : 0, PL = same ? Math.floor(Math.max((OW - 1) * SW + KW - W, 0) / 2) : 0;
    all.push({ B: 1 + (i % 3), H, W, C: channels[i % channels.length], KH, KW, SH, SW, PT, PL, OH, OW, relu: i % 2 });
  }
  return all;
}

const label = (c: Case) => `B${c.B} ${c.H}x${c.W}x${c.C} ${c.KH}x${c.KW}/${c.SH},${c.SW} pad ${c.PT},${c.PL} relu ${c.relu}`;

function runPoolAdd(a: Arena, c: Case, seed: number): { y: Float32Array; fails: string[] } {
  a.reset();
  const x = randomArray(c.B * c.H * c.W * c.C, seed, -2, 2), s = randomArray(c.B * c.OH * c.OW * c.C, seed + 1, -2, 2);
  const xp = a.put(x), sp = a.put(s), n = c.B * c.OH * c.OW * c.C, yp = a.alloc(n);
  a.k.max_pool2d_add(yp, xp, sp, c.B, c.H, c.W, c.C, c.KH, c.KW, c.SH, c.SW, c.PT, c.PL, c.OH, c.OW, c.relu);
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(sp, s.length), s)) fails.push(`${label(c)}: modified an input`);
  return { y: a.read(yp, n), fails };
}

// The passes it replaces: the SIMD build's max pooling, the f32 sum, the ReLU.
function unfused(a: Arena, c: Case, seed: number): Float32Array {
  a.reset();
  const x = randomArray(c.B * c.H * c.W * c.C, seed, -2, 2), s = randomArray(c.B * c.OH * c.OW * c.C, seed + 1, -2, 2);
  const xp = a.put(x), n = c.B * c.OH * c.OW * c.C, yp = a.alloc(n);
  a.k.max_pool2d_forward(yp, 0, xp, c.B, c.H, c.W, c.C, c.KH, c.KW, c.SH, c.SW, c.PT, c.PL, c.OH, c.OW);
  return a.read(yp, n).map((m, i) => { const v = Math.fround(m + s[i]); return c.relu ? Math.max(v, 0) : v; });
}

describe('max_pool2d_add', () => {
  it('gives the bits of the pooling, the add and the ReLU run apart, in the SIMD and scalar builds', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(12);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const s = runPoolAdd(simd, c, 60 + 5 * i), t = runPoolAdd(sc, c, 60 + 5 * i);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
      if (!sameBits(s.y, unfused(simd, c, 60 + 5 * i))) fails.push(`${label(c)}: differs from the unfused passes`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
      if (c.relu && !s.y.some((v) => v === 0)) fails.push(`${label(c)}: the ReLU clamped nothing`);
    });
    expect(fails).toEqual([]);
  });
});

// conv -> 3x3 stride-2 'same' max pooling, plus a 1x1 stride-2 shortcut, added, then a ReLU and a
// global average pooling. `poolOut`: the pooling is a model output too (so the unfused plan);
// `swap`: the add's inputs in the other order.
function block(poolOut = false, swap = false) {
  setSeed(31);
  const inp = input({ shape: [9, 9, 3] });
  const c = layers.conv2d({ name: 'branch', filters: 6, kernelSize: 3, padding: 'same' }).apply(inp);
  const pool = layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }).apply(c);
  const short = layers.conv2d({ name: 'shortcut', filters: 6, kernelSize: 1, strides: 2, padding: 'same' }).apply(inp);
  const sum = layers.add().apply(swap ? [short, pool] : [pool, short]);
  const out = layers.globalAveragePooling2d().apply(layers.activation('relu').apply(sum));
  return model({ inputs: inp, outputs: poolOut ? [out, pool] : out });
}

describe('max pooling + add in plans', () => {
  it('runs the pooling, the add and the ReLU as one maxpool_add, bit for bit as the unfused plan, either input order', () => {
    const x = randomArray(3 * 9 * 9 * 3, 12, -2, 2);
    const u = block(true);
    const uops = opNames(u, 3);
    expect(uops).toEqual(expect.arrayContaining(['maxpool_forward', 'copy', 'relu_forward']));
    expect(uops).not.toContain('maxpool_add');
    const [want] = u.predict(tensor(x, [3, 9, 9, 3])) as unknown as { data: Float32Array }[];
    for (const swap of [false, true]) {
      const m = block(false, swap);
      for (const name of ['branch', 'shortcut']) m.layers.find((l) => l.name === name)!.setWeights(u.layers.find((l) => l.name === name)!.getWeights());
      const ops = opNames(m, 3);
      expect(ops.filter((o) => o === 'maxpool_add').length).toBe(1);
      for (const gone of ['maxpool_forward', 'copy', 'relu_forward']) expect(ops).not.toContain(gone);
      const got = m.predict(tensor(x, [3, 9, 9, 3])).data;
      expect(got.length).toBe(18);
      expect(sameBits(got, want.data)).toBe(true);
    }
  });

  it('keeps the pooling, the add and the ReLU apart where a gradient flows (training)', () => {
    const m = block();
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const ops = m.plan.programs.train!.ops.map((o: { op: string }) => o.op);
    expect(ops).not.toContain('maxpool_add');
    expect(ops).toEqual(expect.arrayContaining(['maxpool_forward', 'copy', 'relu_forward']));
  });

  it("emotion's inference plan: both residual poolings inside their adds, the head as conv_gap", async () => {
    const dir = new URL('./fixtures/models/', import.meta.url);
    const json = JSON.parse(readFileSync(new URL('emotion.json', dir), 'utf8'));
    const m = await importTfjsGraphModel(json, async (p: string) => new Uint8Array(readFileSync(new URL(p, dir))), 'emotion.json');
    const ops = opNames(m, 8);
    expect(ops.filter((o) => o === 'maxpool_add').length).toBe(2);
    expect(ops.filter((o) => o === 'conv_gap').length).toBe(1);
    for (const gone of ['maxpool_forward', 'copy', 'gap_forward']) expect(ops).not.toContain(gone);
    // The first sum is read by the next block's shortcut as well as by its ReLU, so the ReLU stays.
    expect(ops.filter((o) => o === 'relu_forward').length).toBe(1);
  });
});
