// Winograd F(2x2, 3x3) on an int8 kernel (assembly/kernels/winograd-i8.ts, conv2d_winograd_i8: q
// transformed per call, a block of fb filters at a time, the scale in the output transform) against
// its naive twin (test/reference/winograd.ts on q with the scales, whose bits it must give), in the
// SIMD build and compiled with --disable simd (the same bits), and against the f64 direct
// convolution of the dequantized kernel q / scale within the twin's rounding bound.
//
// Sweep: 'same', 'valid' and explicit paddings; odd and even H and W; C over 4, 5, 8, 13, 16, 33 and
// 300 (two k slices); F over 4, 5, 9, 24, 130; batch 1, 2, 8; blocks of 1, 3, 16 and all tiles;
// blocks of 8, 16 and 128 filters, so that the last block is full, short or shorter than 4 (moved
// back to end at F), and of 4 (taken as 8), 8, 16, 64 and 300 channels (M summed over them), so
// that U is made once or per block of tiles; q's extremes -127 and 127; with and
// without bias, no clamp, ReLU and ReLU6. Outputs start as NaN; guard words round every buffer.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, conv2dRef } from './reference/conv';
import { winogradErrorBound, winogradF23Ref } from './reference/winograd';
import { winogradI8ScratchBytes } from '../host/compile/conv-lowering';

const ARENA_BYTES = 32 << 20;

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/winograd-i8.ts', 'assembly/kernels/gemm-packed.ts', 'assembly/kernels/elementwise.ts'], 'winograd-i8-scalar.wasm');
}, 120_000);

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => Object.is(Math.fround(v), Math.fround(b[i])));

interface Case { g: ConvGeometry; F: number; bias: boolean; clamp: [number, number]; tiles: number; fb: number; cb: number }

// The kernel's blocks of channels for cb (winograd-i8.ts channelBlocks): ceil(C / cb) blocks, cb
// taken from 8 to 256, the first C % blocks one channel longer.
function channelBlocks(C: number, cb: number): number[] {
  const n = Math.ceil(C / Math.min(Math.max(cb, 8), 256));
  return Array.from({ length: n }, (_, i) => Math.floor(C / n) + (i < C % n ? 1 : 0));
}

const CLAMPS: [number, number][] = [[-Infinity, Infinity], [0, Infinity], [0, 6]];

function cases(): Case[] {
  const out: Case[] = [];
  // [top, bottom, left, right]
  const pads = [[1, 1, 1, 1], [0, 0, 0, 0], [2, 0, 0, 1], [1, 2, 3, 0], [0, 1, 1, 0]];
  const images = [[1, 1], [2, 3], [5, 7], [9, 10], [14, 14]];
  const channels = [4, 5, 8, 13, 16, 33];
  const filters = [4, 5, 9, 24, 130];
  let i = 0;
  for (const [pt, pb, pl, pr] of pads) for (const [H, W] of images) {
    i++;
    const OH = H + pt + pb - 2, OW = W + pl + pr - 2;
    if (OH <= 0 || OW <= 0) continue;
    const C = channels[i % channels.length];
    const F = filters[(i * 3) % filters.length];
    const B = [1, 2, 8][i % 3];
    const T = B * Math.ceil(OH / 2) * Math.ceil(OW / 2);
    const tiles = [1, 3, 16, T][i % 4];
    const fb = [8, 16, 128][(i >> 1) % 3];
    const cb = [64, 8, 16, 4][(i >> 2) % 4];
    out.push({ g: { B, H, W, C, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: pt, PL: pl, OH, OW }, F, bias: i % 2 === 0, clamp: CLAMPS[i % 3], tiles, fb, cb });
  }
  // 300 channels: in blocks of 64 (5 of 60) and 300 (two of 150: cb is at most KC), in blocks of 8
  // filters (the last of 4 moved back); 130 filters in blocks of 128 (the last 2 moved back) over
  // several blocks of tiles; 57 channels in blocks of 8 (8 blocks, one of 8 and seven of 7).
  out.push({ g: { B: 1, H: 6, W: 5, C: 300, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 6, OW: 5 }, F: 20, bias: true, clamp: [0, Infinity], tiles: 5, fb: 8, cb: 64 });
  out.push({ g: { B: 1, H: 6, W: 5, C: 300, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 6, OW: 5 }, F: 12, bias: false, clamp: [0, 6], tiles: 16, fb: 64, cb: 300 });
  out.push({ g: { B: 2, H: 9, W: 9, C: 16, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 9, OW: 9 }, F: 130, bias: false, clamp: [0, 6], tiles: 12, fb: 128, cb: 64 });
  out.push({ g: { B: 1, H: 7, W: 6, C: 57, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 0, OH: 7, OW: 4 }, F: 24, bias: true, clamp: [-Infinity, Infinity], tiles: 4, fb: 16, cb: 8 });
  return out;
}

// q in [-127, 127] with both extremes; scales as Keras's (127 / max |w|) over a range of magnitudes.
function data({ g, F }: Case, seed: number) {
  const q = Float32Array.from(randomArray(9 * g.C * F, seed + 1, -127.99, 127.99), (v) => Math.trunc(v));
  q[0] = 127; q[q.length - 1] = -127;
  return { x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), q, scale: randomArray(F, seed + 3, 20, 400), b: randomArray(F, seed + 2, -3, 3) };
}

function label({ g, F, bias, clamp, tiles, fb, cb }: Case): string {
  return `B${g.B} ${g.H}x${g.W}x${g.C} pad ${g.PT},${g.PL} out ${g.OH}x${g.OW} F${F} tiles ${tiles} fb ${fb} cb ${cb}${bias ? ' +bias' : ''} clamp [${clamp}]`;
}

function runWinogradI8(a: Arena, c: Case, seed: number): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const { x, q, scale, b } = data(c, seed);
  const xp = a.put(x), sp = a.put(scale), bp = a.put(b);
  const qp = a.alloc(Math.ceil(q.length / 4));
  new Int8Array(a.memory.buffer).set(Int8Array.from(q), qp);
  const qBytes = new Uint8Array(a.memory.buffer).slice(qp, qp + q.length);
  const n = g.B * g.OH * g.OW * F;
  const yp = a.alloc(n);
  const bytes = a.k.winograd_i8_scratch(g.C, F, c.tiles, c.fb, c.cb);
  const scratch = a.alloc(bytes / 4);
  a.k.conv2d_winograd_i8(yp, xp, qp, sp, c.bias ? bp : 0, g.B, g.H, g.W, g.C, F, g.PT, g.PL, g.OH, g.OW, c.tiles, c.fb, c.cb, scratch, c.clamp[0], c.clamp[1]);
  const y = a.read(yp, n);
  const fails: string[] = [];
  const planned = winogradI8ScratchBytes(g.C, F, c.tiles, c.fb, c.cb);
  if (bytes > planned || bytes < planned - 64) fails.push(`${label(c)}: scratch ${bytes}, the planner's ${planned}`);
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  const qAfter = new Uint8Array(a.memory.buffer).slice(qp, qp + q.length);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(sp, F), scale) || !sameBits(a.read(bp, F), b) || !qAfter.every((v, i) => v === qBytes[i])) {
    fails.push(`${label(c)}: modified an input`);
  }
  return { y, fails };
}

describe('conv2d_winograd_i8', () => {
  it('gives the bits of its naive twin over paddings, sizes, channels, filters, batches and blocks of tiles and filters, in both builds', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(20);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const s = runWinogradI8(simd, c, 40 + 7 * i), t = runWinogradI8(sc, c, 40 + 7 * i);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
      const { x, q, scale, b } = data(c, 40 + 7 * i);
      const twin = winogradF23Ref(c.g, c.F, x, q, c.bias ? b : undefined, c.clamp[0], c.clamp[1], { scale, blocks: channelBlocks(c.g.C, c.cb) });
      if (!sameBits(s.y, twin)) fails.push(`${label(c)}: SIMD build differs from the twin (${describeCloseness('', closeness(s.y, twin, 0, 1e-30))})`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
    });
    expect(fails).toEqual([]);
  });

  it('is within the rounding bound of the exact (f64) direct convolution with the dequantized kernel q / scale', () => {
    const simd = simdArena(ARENA_BYTES);
    const fails: string[] = [];
    cases().forEach((c, i) => {
      const { y } = runWinogradI8(simd, c, 40 + 7 * i);
      const { x, q, scale, b } = data(c, 40 + 7 * i);
      const w = Float64Array.from(q, (v, e) => v / scale[e % c.F]); // HWIO: the filter is the last axis
      const exact = conv2dRef(c.g, c.F, x, w, c.bias ? b : undefined).map((v) => Math.min(Math.max(v, c.clamp[0]), c.clamp[1]));
      const bound = winogradErrorBound(c.g, c.F, x, q, c.bias ? b : undefined, { scale, blocks: channelBlocks(c.g.C, c.cb) });
      const close = closeness(y, exact, 0, bound);
      if (close.ratio > 1) fails.push(describeCloseness(label(c), close));
    });
    expect(fails).toEqual([]);
  });

  it('writes nothing for fewer than 4 channels or filters, or blocks of fewer than 4 filters', () => {
    const a = simdArena(1 << 20);
    for (const [C, F, fb] of [[3, 8, 8], [8, 3, 8], [8, 8, 3]]) {
      const c: Case = { g: { B: 1, H: 4, W: 4, C, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 4, OW: 4 }, F, bias: true, clamp: [-Infinity, Infinity], tiles: 4, fb, cb: 64 };
      const { y, fails } = runWinogradI8(a, c, 5);
      expect(fails).toEqual([]);
      expect(y.every((v) => Number.isNaN(v))).toBe(true);
    }
  });
});
