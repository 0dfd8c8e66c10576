// conv2d_igemm_f32 (assembly/kernels/conv-igemm.ts): the kxk convolution as a GEMM whose patch
// panels are packed straight from the input, against the f64 twin of test/reference/conv.ts and
// against the chunked im2col + GEMM path it replaces (im2col_f32 + bias_fill + gemm_f32 +
// relu_forward), whose bits it must reproduce exactly; in the SIMD build and the same sources
// compiled with --disable simd (the same bits again).
//
// Sweep: kernels 3x3, 5x5, 2x3, 7x7, 1x1 with stride 2, 3x3 with dilation 2; strides 1 and 2;
// 'same', 'valid' and asymmetric explicit padding; C over 1, 3, 4, 5, 8, 13 and 40 (K = 360, two
// k slices), F over 1, 3, 8, 9, 24 and 130 (two column blocks); batch 1, 2 and 8; several row
// blocks; output counts
// that are and are not multiples of the 4-row tile, fewer than 4 included. With and without bias
// and ReLU. Outputs start as NaN; guard words round every buffer must come back unchanged.
// Tolerance against the f64 twin as test/conv.test.ts: atol 1e-5*(sqrt(L) + 1), rtol 1e-5.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness, sameBits } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import { type ConvGeometry, conv2dRef } from './reference/conv';
import { conv2dOutputSize, conv2dPackBytes } from '../host/compile/conv-scratch';

const ARENA_BYTES = 24 << 20;

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/conv-igemm.ts', 'assembly/kernels/conv.ts', 'assembly/kernels/gemm.ts', 'assembly/kernels/elementwise.ts'],
    'conv-igemm-scalar.wasm');
}, 120_000);

const geoArgs = (g: ConvGeometry, F: number) => [g.B, g.H, g.W, g.C, F, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];

interface Case { g: ConvGeometry; F: number; bias: boolean; relu: boolean }

// One spatial axis: 'same', 'valid' or explicit [before, after] padding -> (out, padBefore).
function axis(I: number, K: number, S: number, D: number, pad: string | [number, number]): { out: number; padBefore: number } {
  if (typeof pad === 'string') return conv2dOutputSize(I, K, S, D, pad as 'same' | 'valid');
  const span = (K - 1) * D + 1;
  const room = I + pad[0] + pad[1] - span;
  return { out: room < 0 ? 0 : Math.floor(room / S) + 1, padBefore: pad[0] };
}

function cases(): Case[] {
  const out: Case[] = [];
  const kernels: [number, number, number, number][] = [[3, 3, 1, 1], [3, 3, 2, 1], [5, 5, 1, 1], [2, 3, 1, 1], [7, 7, 2, 1], [1, 1, 2, 1], [3, 3, 1, 2]];
  const pads: (string | [number, number])[] = ['same', 'valid', [2, 0], [0, 1]];
  const images = [[1, 1], [5, 7], [9, 10], [14, 14]];
  const channels = [1, 3, 4, 5, 8, 13, 40];
  const filters = [1, 3, 8, 9, 24, 130];
  let i = 0;
  for (const [KH, KW, S, D] of kernels) for (const pad of pads) for (const [H, W] of images) {
    i++;
    const r = axis(H, KH, S, D, pad), c = axis(W, KW, S, D, pad);
    if (r.out <= 0 || c.out <= 0) continue;
    const C = channels[i % channels.length];
    const F = filters[(i * 5) % filters.length];
    const B = [1, 2, 8][i % 3];
    if (B === 8 && H * W * C * F > 60000) continue; // keep the f64 twin quick
    out.push({ g: { B, H, W, C, KH, KW, SH: S, SW: S, DH: D, DW: D, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out }, F, bias: i % 2 === 0, relu: i % 3 !== 1 });
  }
  // Several row blocks (a block holds about 32768 / F output rows): F 130 over 392 rows, 7x7 stride 2.
  out.push({ g: { B: 2, H: 14, W: 14, C: 5, KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1, PT: 1, PL: 1, OH: 14, OW: 14 }, F: 130, bias: true, relu: true });
  out.push({ g: { B: 8, H: 20, W: 20, C: 3, KH: 7, KW: 7, SH: 2, SW: 2, DH: 1, DW: 1, PT: 3, PL: 3, OH: 10, OW: 10 }, F: 130, bias: false, relu: true });
  return out;
}

function data({ g, F }: Case, seed: number) {
  return { x: randomArray(g.B * g.H * g.W * g.C, seed, -2, 2), w: randomArray(g.KH * g.KW * g.C * F, seed + 1), b: randomArray(F, seed + 2, -3, 3) };
}

function label({ g, F, bias, relu }: Case): string {
  return `B${g.B} ${g.H}x${g.W}x${g.C} k${g.KH}x${g.KW} s${g.SH} d${g.DH} pad ${g.PT},${g.PL} out ${g.OH}x${g.OW} F${F}${bias ? ' +bias' : ''}${relu ? ' relu' : ''}`;
}

// The kernel under test; returns its output and what went wrong around it.
function runIgemm(a: Arena, c: Case, seed: number): { y: Float32Array; fails: string[] } {
  a.reset();
  const { g, F } = c;
  const { x, w, b } = data(c, seed);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const n = g.B * g.OH * g.OW * F;
  const yp = a.alloc(n);
  const pack = a.alloc(conv2dPackBytes(Math.max(4, g.B * g.OH * g.OW), g.KH, g.KW, g.C, F) / 4);
  a.k.conv2d_igemm_f32(yp, xp, wp, c.bias ? bp : 0, ...geoArgs(g, F), c.relu ? 1 : 0, pack);
  const y = a.read(yp, n);
  const fails: string[] = [];
  if (!a.guardsIntact()) fails.push(`${label(c)}: wrote past a buffer`);
  if (!sameBits(a.read(xp, x.length), x) || !sameBits(a.read(wp, w.length), w) || !sameBits(a.read(bp, b.length), b)) fails.push(`${label(c)}: modified an input`);
  return { y, fails };
}

// The path it replaces: every patch unfolded by im2col_f32, the bias written, one gemm_f32 adding
// onto it, then the ReLU (conv2d_forward_fused with one chunk, spelled out).
function runIm2col(a: Arena, c: Case, seed: number): Float32Array {
  a.reset();
  const { g, F } = c;
  const { x, w, b } = data(c, seed);
  const xp = a.put(x), wp = a.put(w), bp = a.put(b);
  const N = g.B * g.OH * g.OW, K = g.KH * g.KW * g.C;
  const yp = a.alloc(N * F);
  const cols = a.alloc(N * K);
  const pack = a.alloc(conv2dPackBytes(N, g.KH, g.KW, g.C, F) / 4);
  a.k.im2col_f32(cols, xp, g.B, g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW, 0, N);
  if (c.bias) a.k.bias_fill(yp, bp, N, F);
  a.k.gemm_f32(yp, cols, wp, N, F, K, K, 1, F, 1, F, c.bias ? 1 : 0, pack);
  if (c.relu) a.k.relu_forward(yp, yp, N * F);
  return a.read(yp, N * F);
}

describe('conv2d_igemm_f32', () => {
  it('matches the f64 twin over kernels, strides, paddings, channels, filters and batches, in both builds, with the same bits in both', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const all = cases();
    expect(all.length).toBeGreaterThan(60);
    expect(all.some((c) => c.g.B === 8)).toBe(true);
    expect(all.some((c) => c.g.B * c.g.OH * c.g.OW < 4)).toBe(true);
    expect(all.some((c) => c.g.KH * c.g.KW * c.g.C > 256 && c.F > 128)).toBe(true);
    expect(all.some((c) => c.g.B * c.g.OH * c.g.OW * c.F > 2 * 32768)).toBe(true);
    const fails: string[] = [];
    all.forEach((c, i) => {
      const s = runIgemm(simd, c, 20 + 7 * i), t = runIgemm(sc, c, 20 + 7 * i);
      fails.push(...s.fails, ...t.fails.map((f) => `scalar build: ${f}`));
      const { x, w, b } = data(c, 20 + 7 * i);
      let ref = conv2dRef(c.g, c.F, x, w, c.bias ? b : undefined);
      if (c.relu) ref = ref.map((v) => Math.max(v, 0));
      const close = closeness(s.y, ref, 1e-5, 1e-5 * (Math.sqrt(c.g.KH * c.g.KW * c.g.C) + 1));
      if (close.ratio > 1) fails.push(describeCloseness(label(c), close));
      if (!sameBits(s.y, t.y)) fails.push(`${label(c)}: the scalar build's bits differ from the SIMD build's`);
    });
    expect(fails).toEqual([]);
  });

  it('gives the same bits as im2col + GEMM, the path it replaces, in both builds', () => {
    const simd = simdArena(ARENA_BYTES), sc = scalarArena(scalar, 16 + (ARENA_BYTES >> 16), ARENA_BYTES);
    const fails: string[] = [];
    cases().forEach((c, i) => {
      for (const [name, a] of [['SIMD', simd], ['scalar', sc]] as const) {
        if (!sameBits(runIgemm(a, c, 20 + 7 * i).y, runIm2col(a, c, 20 + 7 * i))) fails.push(`${name} build: ${label(c)}`);
      }
    });
    expect(fails).toEqual([]);
  });
});
