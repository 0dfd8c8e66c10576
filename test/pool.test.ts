// Max, average and global average pooling (assembly/kernels/pool.ts), forward and backward, against the direct
// f64 twins in test/reference/conv.ts, for the SIMD build and for the same source with --disable simd.
//
// Sweep: batch 1-3, odd, even and 1x1 images, C in {1, 3, 4, 5, 8, 13} (every tail of the 4-wide
// channel loop), windows 1x1, 2x2, 3x3, 3x2, strides 1, 2, 3, 'same' and 'valid'. Outputs start as
// NaN (accumulate 0) or known values (accumulate 1); guard words after every buffer and the inputs
// must come back unchanged. argmax must equal the reference exactly (first maximum in window order;
// random inputs have no ties, and a separate test checks ties). Tolerance rtol 1e-5 with atol
// 1e-5*(sqrt(L) + 1), L the number of terms summed.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { randomArray, simdArena } from './support/harness';
import { closeness, describeCloseness } from './support/close';
import { Arena, scalarArena, scalarModule } from './support/arena';
import {
  ConvGeometry, avgPoolBackwardRef, avgPoolRef, globalAvgPoolRef, maxPoolBackwardRef, maxPoolRef,
} from './reference/conv';
import { conv2dOutputSize } from '../host/compile/conv-scratch';
import { layers, sequential, setSeed, tensor } from '../dist/node.js';

const ARENA_BYTES = 4 << 20;

const simd = () => simdArena(ARENA_BYTES);
let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/pool.ts'], 'pool-scalar.wasm');
});
const scalarKernels = () => scalarArena(scalar, 128, ARENA_BYTES);

type Padding = 'same' | 'valid';
interface PoolCase { B: number; H: number; W: number; C: number; KH: number; KW: number; S: number; padding: Padding }

function geometry(p: PoolCase): ConvGeometry | undefined {
  const r = conv2dOutputSize(p.H, p.KH, p.S, 1, p.padding);
  const c = conv2dOutputSize(p.W, p.KW, p.S, 1, p.padding);
  if (r.out <= 0 || c.out <= 0) return undefined;
  return { B: p.B, H: p.H, W: p.W, C: p.C, KH: p.KH, KW: p.KW, SH: p.S, SW: p.S, DH: 1, DW: 1, PT: r.padBefore, PL: c.padBefore, OH: r.out, OW: c.out };
}

const poolArgs = (g: ConvGeometry) => [g.B, g.H, g.W, g.C, g.KH, g.KW, g.SH, g.SW, g.PT, g.PL, g.OH, g.OW];
const label = (g: ConvGeometry) => `B${g.B} ${g.H}x${g.W}x${g.C} window ${g.KH}x${g.KW} s${g.SH} pad ${g.PT},${g.PL} out ${g.OH}x${g.OW}`;
const plus = (a: ArrayLike<number>, b: ArrayLike<number>) => Float64Array.from(a, (v, i) => v + b[i]);

function compare(what: string, actual: ArrayLike<number>, expected: ArrayLike<number>, terms: number): string {
  const c = closeness(actual, expected, 1e-5, 1e-5 * (Math.sqrt(terms) + 1));
  return c.ratio <= 1 ? '' : describeCloseness(what, c);
}

function sweepCases(): PoolCase[] {
  const cases: PoolCase[] = [];
  const channels = [1, 3, 4, 5, 8, 13];
  let i = 0;
  for (const [KH, KW] of [[1, 1], [2, 2], [3, 3], [3, 2]]) for (const S of [1, 2, 3]) for (const padding of ['same', 'valid'] as Padding[]) {
    for (const [H, W] of [[5, 7], [8, 8], [1, 1], [6, 3]]) {
      cases.push({ B: 1 + (i % 3), H, W, C: channels[i % 6], KH, KW, S, padding });
      i++;
    }
  }
  return cases;
}

function runPoolCase(a: Arena, p: PoolCase, seed: number): string[] {
  const g = geometry(p);
  if (!g) return [];
  a.reset();
  const k = a.k;
  const inCount = g.B * g.H * g.W * g.C;
  const outCount = g.B * g.OH * g.OW * g.C;
  const window = g.KH * g.KW;
  const x = randomArray(inCount, seed), dy = randomArray(outCount, seed + 1);
  const xp = a.put(x), dyp = a.put(dy);
  const fails: string[] = [];
  const note = (f: string) => { if (f) fails.push(f); };
  const name = (what: string) => `${label(g)} ${what}`;

  const y = a.alloc(outCount), argmax = a.alloc(outCount);
  k.max_pool2d_forward(y, argmax, xp, ...poolArgs(g));
  const max = maxPoolRef(g, x);
  note(compare(name('max forward'), a.read(y, outCount), max.y, 1));
  const arg = a.readI32(argmax, outCount);
  if (!arg.every((v, i) => v === max.argmax[i])) fails.push(name('max argmax'));
  const argp = a.putI32(arg);
  // Without argmax (inference): the same bits, and nothing written at address 0.
  const yNoArg = a.alloc(outCount);
  k.max_pool2d_forward(yNoArg, 0, xp, ...poolArgs(g));
  if (!a.read(yNoArg, outCount).every((v, i) => Object.is(v, a.read(y, outCount)[i]))) fails.push(name('max forward without argmax differs'));

  const avg = a.alloc(outCount);
  k.avg_pool2d_forward(avg, xp, ...poolArgs(g));
  note(compare(name('avg forward'), a.read(avg, outCount), avgPoolRef(g, x), window));

  const maxBack = maxPoolBackwardRef(g, dy, max.argmax);
  const avgBack = avgPoolBackwardRef(g, dy);
  for (const acc of [0, 1]) {
    const dx0 = randomArray(inCount, seed + 2);
    const dxMax = acc ? a.put(dx0) : a.alloc(inCount);
    const dxAvg = acc ? a.put(dx0) : a.alloc(inCount);
    k.max_pool2d_backward(dxMax, dyp, argp, outCount, inCount, acc);
    k.avg_pool2d_backward(dxAvg, dyp, ...poolArgs(g), acc);
    // An input is in at most ceil(K/S) windows per axis.
    note(compare(name(`max backward, accumulate ${acc}`), a.read(dxMax, inCount), acc ? plus(maxBack, dx0) : maxBack, window + acc));
    note(compare(name(`avg backward, accumulate ${acc}`), a.read(dxAvg, inCount), acc ? plus(avgBack, dx0) : avgBack, window + acc));
  }

  if (!a.guardsIntact()) fails.push(name('wrote past a buffer'));
  const same = (ptr: number, v: Float32Array) => a.read(ptr, v.length).every((e, i) => Object.is(e, v[i]));
  if (!same(xp, x) || !same(dyp, dy)) fails.push(name('modified an input'));
  return fails;
}

function runGlobalCase(a: Arena, B: number, HW: number, C: number, seed: number): string[] {
  a.reset();
  const x = randomArray(B * HW * C, seed), dy = randomArray(B * C, seed + 1), dx0 = randomArray(B * HW * C, seed + 2);
  const xp = a.put(x), dyp = a.put(dy);
  const fails: string[] = [];
  const note = (f: string) => { if (f) fails.push(f); };
  const name = `B${B} HW${HW} C${C}`;
  const y = a.alloc(B * C);
  a.k.global_avg_pool_forward(y, xp, B, HW, C);
  note(compare(`${name} forward`, a.read(y, B * C), globalAvgPoolRef(x, B, HW, C), HW));
  const back = new Float64Array(B * HW * C);
  for (let b = 0; b < B; b++) for (let p = 0; p < HW; p++) for (let c = 0; c < C; c++) back[(b * HW + p) * C + c] = dy[b * C + c] / HW;
  for (const acc of [0, 1]) {
    const dx = acc ? a.put(dx0) : a.alloc(B * HW * C);
    a.k.global_avg_pool_backward(dx, dyp, B, HW, C, acc);
    note(compare(`${name} backward, accumulate ${acc}`, a.read(dx, B * HW * C), acc ? plus(back, dx0) : back, 1 + acc));
  }
  if (!a.guardsIntact()) fails.push(`${name}: wrote past a buffer`);
  return fails;
}

for (const [buildName, arena] of [['SIMD build', simd], ['scalar build', scalarKernels]] as const) {
  describe(`pooling (${buildName})`, () => {
    it('max and average pooling, forward and backward, over the geometry sweep', () => {
      const a = arena();
      const cases = sweepCases();
      expect(cases.flatMap((c, i) => runPoolCase(a, c, 1 + 10 * i))).toEqual([]);
      expect(cases.filter((c) => geometry(c)).length).toBeGreaterThan(80);
    });

    it('global average pooling, forward and backward, every channel tail', () => {
      const a = arena();
      const fails: string[] = [];
      let seed = 1;
      for (const B of [1, 2, 3]) for (const HW of [1, 7, 64]) for (const C of [1, 3, 4, 5, 16, 17, 35]) fails.push(...runGlobalCase(a, B, HW, C, seed++));
      expect(fails).toEqual([]);
    });

    it('max pooling: ties go to the first position in window order; padding never wins', () => {
      const a = arena();
      // All inputs equal and negative: with padding read as 0 the pad would win; it must not.
      const g = geometry({ B: 2, H: 5, W: 6, C: 5, KH: 3, KW: 3, S: 2, padding: 'same' })!;
      const inCount = g.B * g.H * g.W * g.C, outCount = g.B * g.OH * g.OW * g.C;
      const x = new Float32Array(inCount).fill(-3);
      const y = a.alloc(outCount), argmax = a.alloc(outCount);
      a.k.max_pool2d_forward(y, argmax, a.put(x), ...poolArgs(g));
      expect(Array.from(a.read(y, outCount))).toEqual(new Array(outCount).fill(-3));
      expect(Array.from(a.readI32(argmax, outCount))).toEqual(Array.from(maxPoolRef(g, x).argmax));
    });

    it('max pooling without argmax: ties, signed zeros and NaN resolve as with argmax (the first wins)', () => {
      const a = arena();
      const g = geometry({ B: 1, H: 4, W: 4, C: 6, KH: 2, KW: 2, S: 2, padding: 'valid' })!;
      const inCount = g.H * g.W * g.C, outCount = g.OH * g.OW * g.C;
      const x = randomArray(inCount, 9, -1, 1);
      // Window (0,0): channel 0 starts with -0 then +0 twice; channel 1 NaN first; channel 2 NaN
      // second (never beats the max); channel 5 all equal.
      const at = (ih: number, iw: number, c: number) => (ih * g.W + iw) * g.C + c;
      [[0, 0], [0, 1], [1, 0], [1, 1]].forEach(([ih, iw], t) => {
        x[at(ih, iw, 0)] = t === 0 ? -0 : 0;
        x[at(ih, iw, 5)] = 0.25;
      });
      x[at(0, 0, 1)] = NaN;
      x[at(0, 1, 2)] = NaN;
      const xp = a.put(x);
      const y = a.alloc(outCount), argmax = a.alloc(outCount), y0 = a.alloc(outCount);
      a.k.max_pool2d_forward(y, argmax, xp, ...poolArgs(g));
      a.k.max_pool2d_forward(y0, 0, xp, ...poolArgs(g));
      const withArg = a.read(y, outCount), without = a.read(y0, outCount);
      expect(Object.is(without[0], -0)).toBe(true);
      expect(Number.isNaN(without[1])).toBe(true);
      expect(Number.isNaN(without[2])).toBe(false);
      expect(without[5]).toBe(0.25);
      expect(Array.from(without, (v, i) => Object.is(v, withArg[i]))).toEqual(new Array(outCount).fill(true));
      expect(a.guardsIntact()).toBe(true);
    });

    it('3x3 max pooling, whole windows unrolled (maxWindow3x3): the explicit pad 1 stride 2 of ShuffleNet and more, against the reference and the argmax path, bit for bit', () => {
      const a = arena();
      const fails: string[] = [];
      let seed = 50;
      for (const C of [1, 3, 4, 7, 8, 24, 25]) for (const [S, P] of [[2, 1], [1, 1], [2, 0], [1, 0]]) for (const [H, W] of [[11, 12], [7, 5]]) {
        const OH = Math.floor((H + 2 * P - 3) / S) + 1, OW = Math.floor((W + 2 * P - 3) / S) + 1;
        const g: ConvGeometry = { B: 2, H, W, C, KH: 3, KW: 3, SH: S, SW: S, DH: 1, DW: 1, PT: P, PL: P, OH, OW };
        a.reset();
        const inCount = g.B * H * W * C, outCount = g.B * OH * OW * C;
        const x = randomArray(inCount, seed++);
        // A NaN, signed zeros and a tie inside whole windows: the first in window order wins.
        x[(W + 1) * C] = NaN;
        x[(2 * W + 2) * C + C - 1] = -0;
        x[(2 * W + 3) * C + C - 1] = 0;
        const xp = a.put(x), y = a.alloc(outCount), y0 = a.alloc(outCount), argmax = a.alloc(outCount);
        a.k.max_pool2d_forward(y, argmax, xp, ...poolArgs(g));
        a.k.max_pool2d_forward(y0, 0, xp, ...poolArgs(g));
        const ref = maxPoolRef(g, x).y, withArg = a.read(y, outCount), without = a.read(y0, outCount);
        const bad = Array.from(without).findIndex((v, i) => !Object.is(v, withArg[i]) || !(Object.is(v, ref[i]) || (v === ref[i] && v !== 0)));
        if (bad >= 0) fails.push(`${label(g)}: element ${bad} is ${without[bad]}, argmax path ${withArg[bad]}, reference ${ref[bad]}`);
        if (!a.guardsIntact()) fails.push(`${label(g)}: wrote past a buffer`);
      }
      expect(fails).toEqual([]);
    });

    it('a 0 output pointer writes nothing', () => {
      const a = arena();
      const g = geometry({ B: 2, H: 5, W: 5, C: 4, KH: 2, KW: 2, S: 2, padding: 'same' })!;
      const inCount = g.B * g.H * g.W * g.C, outCount = g.B * g.OH * g.OW * g.C;
      const dyp = a.put(randomArray(outCount, 3)), argp = a.alloc(outCount, 0);
      const before = a.snapshot();
      a.k.max_pool2d_backward(0, dyp, argp, outCount, inCount, 0);
      a.k.avg_pool2d_backward(0, dyp, ...poolArgs(g), 0);
      a.k.global_avg_pool_backward(0, dyp, g.B, g.H * g.W, g.C, 0);
      expect(a.snapshot().equals(before)).toBe(true);
    });

    it('max pooling backward skips argmax entries outside dx (argmax is data a hostile plan can fill)', () => {
      const a = arena();
      const dx = a.alloc(8, 0);
      const dyp = a.put([1, 2, 4, 8, 16]);
      const argp = a.alloc(5, 0);
      a.write(argp, new Float32Array(Int32Array.from([3, 8, 1 << 20, -1, 0x7fffffff]).buffer));
      const before = a.snapshot();
      a.k.max_pool2d_backward(dx, dyp, argp, 5, 8, 1);
      expect(Array.from(a.read(dx, 8))).toEqual([0, 0, 0, 1, 0, 0, 0, 0]);
      expect(a.guardsIntact()).toBe(true);
      // Nothing but dx[3] changed anywhere in memory.
      const after = a.snapshot();
      let changed = 0;
      for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) changed++;
      expect(changed).toBeGreaterThan(0);
      expect(changed).toBeLessThanOrEqual(4);
    });
  });
}

describe('finite differences (average pooling; max pooling away from ties)', () => {
  it('dx of avg, max and global average pooling', () => {
    const a = simd();
    const g = geometry({ B: 2, H: 5, W: 4, C: 3, KH: 3, KW: 2, S: 2, padding: 'same' })!;
    const inCount = g.B * g.H * g.W * g.C, outCount = g.B * g.OH * g.OW * g.C;
    const xp = a.put(randomArray(inCount, 1));
    const r = randomArray(outCount, 2), rp = a.put(r);
    const rg = randomArray(g.B * g.C, 3), rgp = a.put(rg);
    const y = a.alloc(outCount), argmax = a.alloc(outCount), yg = a.alloc(g.B * g.C);
    const losses = {
      avg: () => { a.k.avg_pool2d_forward(y, xp, ...poolArgs(g)); return dot(a.read(y, outCount), r); },
      max: () => { a.k.max_pool2d_forward(y, argmax, xp, ...poolArgs(g)); return dot(a.read(y, outCount), r); },
      global: () => { a.k.global_avg_pool_forward(yg, xp, g.B, g.H * g.W, g.C); return dot(a.read(yg, g.B * g.C), rg); },
    };
    const dxAvg = a.alloc(inCount), dxMax = a.alloc(inCount), dxGlobal = a.alloc(inCount);
    a.k.avg_pool2d_backward(dxAvg, rp, ...poolArgs(g), 0);
    losses.max();
    a.k.max_pool2d_backward(dxMax, rp, argmax, outCount, inCount, 0);
    a.k.global_avg_pool_backward(dxGlobal, rgp, g.B, g.H * g.W, g.C, 0);
    const grads = { avg: a.read(dxAvg, inCount), max: a.read(dxMax, inCount), global: a.read(dxGlobal, inCount) };
    // h = 1e-4 is far below the gap between the two largest values of every window of this data,
    // so no maximum changes hands.
    const h = 1e-4;
    const fails: string[] = [];
    for (const kind of ['avg', 'max', 'global'] as const) {
      for (let i = 0; i < inCount; i++) {
        const v0 = a.read(xp + 4 * i, 1)[0];
        a.write(xp + 4 * i, [v0 + h]);
        const up = losses[kind]();
        a.write(xp + 4 * i, [v0 - h]);
        const down = losses[kind]();
        a.write(xp + 4 * i, [v0]);
        const fd = (up - down) / (2 * h);
        if (!(Math.abs(fd - grads[kind][i]) <= 2e-2 * (1 + Math.abs(fd)))) fails.push(`${kind} dx[${i}]: finite difference ${fd}, kernel ${grads[kind][i]}`);
      }
    }
    expect(fails).toEqual([]);
  });
});

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe('against TensorFlow.js', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('tf.maxPool and tf.avgPool agree on output size, padding split and the divisor at the edges', () => {
    const a = simd();
    const cases: PoolCase[] = [
      { B: 2, H: 8, W: 7, C: 3, KH: 3, KW: 3, S: 2, padding: 'same' },
      { B: 1, H: 6, W: 6, C: 5, KH: 2, KW: 2, S: 2, padding: 'same' },
      { B: 1, H: 7, W: 5, C: 4, KH: 3, KW: 2, S: 1, padding: 'same' },
      { B: 2, H: 7, W: 9, C: 2, KH: 3, KW: 3, S: 3, padding: 'valid' },
    ];
    for (const [n, p] of cases.entries()) {
      const g = geometry(p)!;
      a.reset();
      const inCount = g.B * g.H * g.W * g.C, outCount = g.B * g.OH * g.OW * g.C;
      const x = randomArray(inCount, 40 + n);
      const xt = tf.tensor4d(x, [g.B, g.H, g.W, g.C]);
      const wantMax = tf.maxPool(xt, [g.KH, g.KW], [g.SH, g.SW], p.padding);
      const wantAvg = tf.avgPool(xt, [g.KH, g.KW], [g.SH, g.SW], p.padding);
      expect(wantMax.shape).toEqual([g.B, g.OH, g.OW, g.C]);
      const xp = a.put(x), y = a.alloc(outCount), argmax = a.alloc(outCount), avg = a.alloc(outCount);
      a.k.max_pool2d_forward(y, argmax, xp, ...poolArgs(g));
      a.k.avg_pool2d_forward(avg, xp, ...poolArgs(g));
      expect(compare(`max ${label(g)}`, a.read(y, outCount), wantMax.dataSync(), 1)).toBe('');
      expect(compare(`avg ${label(g)}`, a.read(avg, outCount), wantAvg.dataSync(), g.KH * g.KW)).toBe('');
    }
  });
});

describe('max pooling in plans', () => {
  it('inference computes no argmax (the kernel gets 0, no region is planned); training keeps it', () => {
    setSeed(5);
    const m = sequential([
      layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', inputShape: [5, 6, 3] }),
      layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      layers.flatten(),
      layers.dense(2),
    ]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', batchSize: 2 });
    const inference = m.planInference(2).programs.forward!.ops.find((o) => o.op === 'maxpool_forward')!;
    expect(inference.args.argmax).toBe(0);
    expect(inference.uses.argmax).toBeUndefined();
    const train = m.plan.programs.train!.ops.find((o) => o.op === 'maxpool_forward')!;
    expect(train.uses.argmax).toBeDefined();
    expect(train.args.argmax).toBeGreaterThan(0);
    expect(m.plan.programs.train!.ops.some((o) => o.op === 'maxpool_backward')).toBe(true);
    // The prediction is still the max pooling of the convolution's output.
    const x = randomArray(2 * 5 * 6 * 3, 31, -1, 1);
    const [w, b] = m.layers[0].getWeights();
    const [dw, db] = m.layers[3].getWeights();
    const conv = new Float64Array(2 * 5 * 6 * 4);
    for (let n = 0; n < 2; n++) for (let oh = 0; oh < 5; oh++) for (let ow = 0; ow < 6; ow++) for (let f = 0; f < 4; f++) {
      let s = b[f];
      for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) for (let c = 0; c < 3; c++) {
        const ih = oh + kh - 1, iw = ow + kw - 1;
        if (ih >= 0 && ih < 5 && iw >= 0 && iw < 6) s += x[((n * 5 + ih) * 6 + iw) * 3 + c] * w[((kh * 3 + kw) * 3 + c) * 4 + f];
      }
      conv[((n * 5 + oh) * 6 + ow) * 4 + f] = s;
    }
    const gp = geometry({ B: 2, H: 5, W: 6, C: 4, KH: 3, KW: 3, S: 2, padding: 'same' })!;
    const pooled = maxPoolRef(gp, conv).y;
    const per = pooled.length / 2;
    const want = Array.from({ length: 4 }, (_, i) => {
      const n = Math.floor(i / 2), o = i % 2;
      let s = db[o];
      for (let j = 0; j < per; j++) s += pooled[n * per + j] * dw[j * 2 + o];
      return s;
    });
    const got = m.predict(tensor(x, [2, 5, 6, 3])).data;
    const c = closeness(got, want, 1e-5, 1e-5);
    expect(c.ratio, describeCloseness('predict vs f64 conv + max pool + dense', c)).toBeLessThanOrEqual(1);
  });
});
