// The kernels of issue 11's convolution and pooling variants against their direct f64 twins
// (test/reference/conv.ts), for the SIMD build and the same source compiled with --disable simd:
// grouped convolution (forward with and without accumulate, dx and dw/db with and without
// accumulate) over group counts, pointwise and im2col paths, dilation, strides, asymmetric explicit
// pads and chunkings; average pooling with count_include_pad over ceil-mode windows that overhang
// the declared padding. Guard words after every buffer must survive, and the inputs too.
// Also windowAxis, the output-size rule of explicit pads and PyTorch's ceil mode.
import { beforeAll, describe, expect, it } from 'vitest';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness } from './support/close';
import { type Arena, scalarArena, scalarModule } from './support/arena';
import {
  avgPoolBackwardRef, avgPoolRef, type ConvGeometry, groupedConv2dBackwardFilterRef, groupedConv2dBackwardInputRef, groupedConv2dRef,
} from './reference/conv';
import { conv2dPackBytes, convColsBytes, windowAxis } from '../host/compile/conv-scratch';

const ARENA_BYTES = 8 << 20;
let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/conv.ts', 'assembly/kernels/depthwise.ts', 'assembly/kernels/pool.ts'], 'conv-variants-scalar.wasm');
});
const BUILDS: { name: string; arena: () => Arena }[] = [
  { name: 'SIMD build', arena: () => simdArena(ARENA_BYTES) },
  { name: 'scalar build', arena: () => scalarArena(scalar, 160, ARENA_BYTES) },
];

const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);
function compare(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, reduction: number): string {
  const c = closeness(actual, expected, 1e-5, 1e-5 * (Math.sqrt(reduction) + 1));
  return c.ratio <= 1 ? '' : describeCloseness(what, c);
}

// Geometry from explicit pads [t, b, l, r] (floor mode).
function explicitGeometry(B: number, H: number, W: number, C: number, KH: number, KW: number, S: number, D: number, pads: number[]): ConvGeometry | undefined {
  const y = windowAxis(H, KH, S, D, [pads[0], pads[1]]);
  const x = windowAxis(W, KW, S, D, [pads[2], pads[3]]);
  if (y.out <= 0 || x.out <= 0) return undefined;
  return { B, H, W, C, KH, KW, SH: S, SW: S, DH: D, DW: D, PT: pads[0], PL: pads[2], OH: y.out, OW: x.out };
}

interface GroupedCase { g: ConvGeometry; F: number; G: number; chunk: number }

function groupedCases(): GroupedCase[] {
  const cases: GroupedCase[] = [];
  const shapes: [number, number, number, number][] = [[8, 12, 4, 2], [6, 6, 3, 3], [12, 8, 4, 4], [5, 10, 5, 5], [16, 16, 2, 2]]; // C, F, G, (unused)
  const kernels = [[1, 1], [3, 3], [2, 3]];
  const padSets = [[0, 0, 0, 0], [1, 1, 1, 1], [0, 2, 1, 0]];
  let i = 0;
  for (const [C, F, G] of shapes) for (const [KH, KW] of kernels) for (const S of [1, 2]) for (const pads of padSets) {
    const D = i % 4 === 3 ? 2 : 1;
    const g = explicitGeometry(1 + (i % 2), 5 + (i % 3), 6, C, KH, KW, S, D, pads);
    if (g) cases.push({ g, F, G, chunk: [7, 4, 1000][i % 3] });
    i++;
  }
  return cases;
}

function runGrouped(a: Arena, { g, F, G, chunk }: GroupedCase, seed: number): string[] {
  a.reset();
  const k = a.k;
  const { B, H, W, C, KH, KW } = g;
  const N = B * g.OH * g.OW, Kg = KH * KW * (C / G), inCount = B * H * W * C;
  const x = randomArray(inCount, seed), w = randomArray(Kg * F, seed + 1), bias = randomArray(F, seed + 2), dy = randomArray(N * F, seed + 3);
  const xp = a.put(x), wp = a.put(w), bp = a.put(bias), dyp = a.put(dy);
  const rows = Math.min(chunk, N);
  const cols = a.alloc(convColsBytes(rows, KH, KW, C / G) / 4), pack = a.alloc(conv2dPackBytes(rows, KH, KW, C / G, F / G) / 4);
  const geo = [B, H, W, C, F, G, KH, KW, g.SH, g.SW, g.DH, g.DW, g.PT, g.PL, g.OH, g.OW];
  const name = (what: string) => `B${B} ${H}x${W}x${C} F${F} G${G} k${KH}x${KW} s${g.SH} d${g.DH} pads ${g.PT},${g.PL} out ${g.OH}x${g.OW} chunk ${rows} ${what}`;
  const fails: string[] = [];
  const note = (f: string) => { if (f) fails.push(f); };
  const yRef = groupedConv2dRef(g, F, G, x, w, bias);
  const y = a.alloc(N * F);
  k.conv2d_grouped_forward(y, xp, wp, bp, ...geo, rows, cols, pack, 0);
  note(compare(name('forward + bias'), a.read(y, N * F), yRef, Kg));
  const y0 = randomArray(N * F, seed + 7);
  const yAcc = a.put(y0);
  k.conv2d_grouped_forward(yAcc, xp, wp, 0, ...geo, rows, cols, pack, 1);
  note(compare(name('forward, accumulate'), a.read(yAcc, N * F), plus(groupedConv2dRef(g, F, G, x, w), y0), Kg));
  const dxRef = groupedConv2dBackwardInputRef(g, F, G, dy, w);
  const { dw: dwRef, db: dbRef } = groupedConv2dBackwardFilterRef(g, F, G, x, dy);
  for (const acc of [0, 1]) {
    const dx0 = randomArray(inCount, seed + 4), dw0 = randomArray(Kg * F, seed + 5), db0 = randomArray(F, seed + 6);
    const dx = acc ? a.put(dx0) : a.alloc(inCount), dw = acc ? a.put(dw0) : a.alloc(Kg * F), db = acc ? a.put(db0) : a.alloc(F);
    k.conv2d_grouped_backward_input(dx, dyp, wp, ...geo, rows, cols, pack, acc);
    k.conv2d_grouped_backward_filter(dw, db, xp, dyp, ...geo, rows, cols, pack, acc);
    note(compare(name(`dx, accumulate ${acc}`), a.read(dx, inCount), acc ? plus(dxRef, dx0) : dxRef, KH * KW * F));
    note(compare(name(`dw, accumulate ${acc}`), a.read(dw, Kg * F), acc ? plus(dwRef, dw0) : dwRef, N));
    note(compare(name(`db, accumulate ${acc}`), a.read(db, F), acc ? plus(dbRef, db0) : dbRef, N));
  }
  if (!a.guardsIntact()) fails.push(name('wrote past a buffer or its scratch'));
  const same = (p: number, v: Float32Array) => a.read(p, v.length).every((e, i) => Object.is(e, v[i]));
  if (!same(xp, x) || !same(wp, w) || !same(dyp, dy)) fails.push(name('modified an input'));
  return fails;
}

// Ceil-mode windows with explicit pads: [H, W, K, S, pad before, pad after], PyTorch's rule.
const POOLS: [number, number, number, number, number, number][] = [[6, 7, 3, 2, 1, 1], [5, 5, 2, 3, 1, 1], [8, 5, 3, 3, 0, 2], [4, 9, 3, 1, 1, 0]];

function runIncludePad(a: Arena, [H, W, K, S, before, after]: (typeof POOLS)[number], seed: number): string[] {
  a.reset();
  const C = 5, B = 2;
  const y = windowAxis(H, K, S, 1, [before, after], true), x = windowAxis(W, K, S, 1, [before, after], true);
  const g: ConvGeometry = { B, H, W, C, KH: K, KW: K, SH: S, SW: S, DH: 1, DW: 1, PT: before, PL: before, OH: y.out, OW: x.out };
  const n = B * g.OH * g.OW * C, inCount = B * H * W * C;
  const xs = randomArray(inCount, seed), dy = randomArray(n, seed + 1);
  const xp = a.put(xs), dyp = a.put(dy), out = a.alloc(n);
  const args = [B, H, W, C, K, K, S, S, before, before, g.OH, g.OW, after, after];
  const name = (what: string) => `${H}x${W} k${K} s${S} pads ${before}/${after} out ${g.OH}x${g.OW} ${what}`;
  const fails = [compare(name('forward'), (a.k.avg_pool2d_forward_include_pad(out, xp, ...args), a.read(out, n)), avgPoolRef(g, xs, { PB: after, PR: after }), K * K)];
  const dxRef = avgPoolBackwardRef(g, dy, { PB: after, PR: after });
  for (const acc of [0, 1]) {
    const dx0 = randomArray(inCount, seed + 2);
    const dx = acc ? a.put(dx0) : a.alloc(inCount);
    a.k.avg_pool2d_backward_include_pad(dx, dyp, ...args, acc);
    fails.push(compare(name(`backward, accumulate ${acc}`), a.read(dx, inCount), acc ? plus(dxRef, dx0) : dxRef, K * K));
  }
  if (!a.guardsIntact()) fails.push(name('wrote past a buffer'));
  return fails.filter((f) => f !== '');
}

describe.each(BUILDS)('grouped convolution and count_include_pad pooling kernels ($name)', ({ arena }) => {
  it('grouped conv2d forward, dx, dw and db match the direct twin', () => {
    const a = arena();
    const cases = groupedCases();
    expect(cases.length).toBeGreaterThan(60);
    expect(cases.flatMap((c, i) => runGrouped(a, c, 1 + 10 * i))).toEqual([]);
  });
  it('average pooling with count_include_pad over ceil-mode windows matches the twin', () => {
    const a = arena();
    expect(POOLS.flatMap((p, i) => runIncludePad(a, p, 3 + 10 * i))).toEqual([]);
  });
});

describe('windowAxis: explicit pads and ceil mode', () => {
  it('floor mode: floor((I + before + after - span)/S) + 1, the pads as given', () => {
    expect(windowAxis(5, 3, 2, 1, [1, 1])).toEqual({ out: 3, padBefore: 1, padAfter: 1 });
    expect(windowAxis(4, 1, 1, 1, [0, 2])).toEqual({ out: 6, padBefore: 0, padAfter: 2 });
    expect(windowAxis(6, 3, 1, 2, [0, 2])).toEqual({ out: 4, padBefore: 0, padAfter: 2 });
    expect(windowAxis(2, 5, 1, 1, [1, 1]).out).toBeLessThanOrEqual(0);
  });
  it("ceil mode rounds up but drops a last window that would start in the after-padding (PyTorch's rule)", () => {
    expect(windowAxis(8, 3, 2, 1, [1, 1], true).out).toBe(5); // ceil(7/2) + 1; last start 8 - 1 = 7 < 8
    expect(windowAxis(6, 3, 2, 1, [1, 1], true).out).toBe(4); // (6 + 2 - 3)/2 = 2.5 -> 3, + 1
    expect(windowAxis(5, 2, 3, 1, [1, 1], true).out).toBe(2); // 3 by ceil, but (3-1)*3 = 6 >= 5 + 1
    expect(windowAxis(7, 2, 2, 1, [0, 0], true).out).toBe(4); // 'valid' + ceil: 3.5 -> 4 (start 6 < 7)
    expect(windowAxis(7, 2, 2, 1, 'valid', true).out).toBe(4);
  });
  it("'same' keeps TF's split and reports the padding after", () => {
    expect(windowAxis(8, 3, 2, 1, 'same')).toEqual({ out: 4, padBefore: 0, padAfter: 1 });
    expect(windowAxis(7, 3, 2, 1, 'same')).toEqual({ out: 4, padBefore: 1, padAfter: 1 });
  });
});
