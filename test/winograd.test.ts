// Winograd F(2x2, 3x3) (assembly/kernels/winograd.ts: winograd_f23_pack at plan time,
// conv2d_winograd_f23 per call) against its naive f32 twin (test/reference/winograd.ts, whose bits
// it must give), against the f64 direct convolution (test/reference/conv.ts) within the rounding
// bound of the twin's error analysis, and in the SIMD build and the same sources compiled with
// --disable simd (the same bits).
//
// Sweep: 3x3, stride 1; 'same', 'valid' and explicit paddings up to 3 (pad-folded ZeroPadding2D);
// odd and even H and W, 1x1 included; C over 4, 5, 7, 8, 13, 16, 33 and 300 (two k slices of the
// GEMM), F over 4, 5, 7, 9, 24 and 130 (two column blocks; the kernel takes C, F >= 4); batch 1, 2 and 8; blocks of 1, 3, 16
// and all tiles; with and without bias, no clamp, ReLU and ReLU6. Outputs start as NaN; guard
// words round every buffer must come back unchanged.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, conv2dRef } from './reference/conv';
import { winogradErrorBound, winogradF23Ref } from './reference/winograd';
import { packedFloats } from '../host/compile/program';

const ARENA_BYTES = 32 << 20;

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/winograd.ts', 'assembly/kernels/gemm-packed.ts', 'assembly/kernels/elementwise.ts'], 'winograd-scalar.wasm');
}, 120_000);

const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.from(a).every((v, i) => Object.is(Math.fround(v), Math.fround(b[i])));

interface Case { g: ConvGeometry; F: number; bias: boolean; clamp: [number, number]; tiles: number }

const CLAMPS: [number, number][] = [[-Infinity, Infinity], [0, Infinity], [0, 6]];

function cases(): Case[] {
  const out: Case[] = [];
  // [top, bottom, left, right]
  const pads = [[1, 1, 1, 1], [0, 0, 0, 0], [2, 0, 0, 1], [1, 2, 3, 0], [0, 1, 1, 0]];
  const images = [[1, 1], [2, 3], [5, 7], [9, 10], [14, 14]];
  const channels = [4, 5, 7, 8, 13, 16, 33];
  const filters = [4, 5, 7, 9, 24, 130];
  let i = 0;
  for (const [pt, pb, pl, pr] of pads) for (const [H, W] of images) {
    i++;
    const OH = H + pt + pb - 2, OW = W + pl + pr - 2;
    if (OH <= 0 || OW <= 0) continue;
    const C = channels[i % channels.length];
    const F = filters[(i * 5) % filters.length];
    const B = [1, 2, 8][i % 3];
    const T = B * Math.ceil(OH / 2) * Math.ceil(OW / 2);
    const tiles = [1, 3, 16, T][i % 4];
    out.push({ g: { B, H, W, C, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: pt, PL: pl, OH, OW }, F, bias: i % 2 === 0, clamp: CLAMPS[i % 3], tiles });
  }
  // Two k slices (C = 300 > KC) and emotion's 3x3 32 -> 64 at 29x29 in blocks of 40 tiles.
  out.push({ g: { B: 1, H: 6, W: 5, C: 300, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 6, OW: 5 }, F: 20, bias: true, clamp: [0, Infinity], tiles: 5 });
  out.push({ g: { B: 2, H: 29, W: 29, C: 32, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 29, OW: 29 }, F: 64, bias: true, clamp: [0, Infinity], tiles: 40 });
  return out;
}

function data({ g, F }: Case, seed: number) {
  return { x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), w: randomArray(9 * g.C * F, seed + 1), b: randomArray(F, seed + 2, -3, 3) };
}

function label({ g, F, bias, clamp, tiles }: Case): string {
  return `B${g.B} ${g.H}x${g.W}x${g.C} pad ${g.PT},${g.PL} out ${g.OH}x${g.OW} F${F} tiles ${tiles}${bias ? ' +bias' : ''} clamp [${clamp}]`;
}

// The kernel under test (its weights transformed by winograd_f23_pack); its output and what went wrong around it.
function runWinograd(a: Arena, c: Case, seed: number): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const { x, w, b } = data(c, seed);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const u = a.alloc(16 * packedFloats(F, g.C));
  const tmp = a.alloc(g.C * F);
  a.k.winograd_f23_pack(u, wp, g.C, F, tmp);
  const n = g.B * g.OH * g.OW * F;
  const yp = a.alloc(n);
  const scratch = a.alloc(a.k.winograd_f23_scratch(g.C, F, c.tiles) / 4);
  a.k.conv2d_winograd_f23(yp, xp, u, c.bias ? bp : 0, g.B, g.H, g.W, g.C, F, g.PT, g.PL, g.OH, g.OW, c.tiles, scratch, c.clamp[0], c.clamp[1]);
  const y = a.read(yp, n);
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(wp, w.length), w) || !sameBits(a.read(bp, b.length), b)) fails.push(`${label(c)}: modified an input`);
  return { y, fails };
}

describe('conv2d_winograd_f23', () => {
  it('gives the bits of its naive f32 twin over paddings, sizes, channels, filters, batches and blocks, in both builds', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(20);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const s = runWinograd(simd, c, 30 + 7 * i), t = runWinograd(sc, c, 30 + 7 * i);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
      const { x, w, b } = data(c, 30 + 7 * i);
      const twin = winogradF23Ref(c.g, c.F, x, w, c.bias ? b : undefined, c.clamp[0], c.clamp[1]);
      if (!sameBits(s.y, twin)) fails.push(`${label(c)}: SIMD build differs from the twin (${describeCloseness('', closeness(s.y, twin, 0, 1e-30))})`);
      if (!sameBits(t.y, s.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
    });
    expect(fails).toEqual([]);
  });

  it('is within the rounding bound of the exact (f64) direct convolution', () => {
    const simd = simdArena(ARENA_BYTES);
    const fails: string[] = [];
    cases().forEach((c, i) => {
      const { y } = runWinograd(simd, c, 30 + 7 * i);
      const { x, w, b } = data(c, 30 + 7 * i);
      const exact = conv2dRef(c.g, c.F, x, w, c.bias ? b : undefined).map((v) => Math.min(Math.max(v, c.clamp[0]), c.clamp[1]));
      const bound = winogradErrorBound(c.g, c.F, x, w, c.bias ? b : undefined);
      const close = closeness(y, exact, 0, bound);
      if (close.ratio > 1) fails.push(describeCloseness(label(c), close));
    });
    expect(fails).toEqual([]);
  });

  it('writes nothing for fewer than 4 channels or filters (its whole-vector transforms need 4; the planner picks it for 8 and more)', () => {
    const a = simdArena(1 << 20);
    for (const [C, F] of [[3, 8], [8, 3]]) {
      const c: Case = { g: { B: 1, H: 4, W: 4, C, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 4, OW: 4 }, F, bias: true, clamp: [-Infinity, Infinity], tiles: 4 };
      const { y, fails } = runWinograd(a, c, 5);
      expect(fails).toEqual([]);
      expect(y.every((v) => Number.isNaN(v))).toBe(true);
    }
  });
});
