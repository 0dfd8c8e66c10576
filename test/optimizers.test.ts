// The optimizer kernels (assembly/kernels/optim.ts) against their float64 twins (test/reference/optimizers.ts,
// written from docs/numerics.md): every update rule, several steps with a changing
// learning rate, each clip mode and weight decay, driven through apply_gradients exactly as the
// interpreter calls it (the clip factors are computed there). Outputs that a kernel must write are
// compared after the steps; slots it must not touch stay NaN; guard words after every buffer must
// survive. The SIMD and the no-SIMD builds must agree bit for bit (assembly/kernels/optim.ts promises it).
// Then the interpreter (`run`) with grad_norm, check_grads, nadam_prep, apply_gradients and
// step_done words: Nadam's U_t across steps, global vs per-tensor clipnorm over two tensors; the
// clipping example of docs/numerics.md, g = [0.9, 100.0] (kernel and real model); and the compile-time errors.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, layers, optimizers, sequential, tensor } from '../dist/node.js';
import { randomArray, simdArena } from './support/harness';
import { closeness, expectClose } from './support/close';
import { Arena, scalarArena, scalarModule } from './support/arena';
import { type ReferenceSpec, ReferenceOptimizer, clipRef, l2norm, nadamU } from './reference/optimizers';

// Constants from assembly/interp/opcodes.ts (generated from host/compile/op-table.ts), so the words below are what the kernels read.
const opcodes = readFileSync(new URL('../assembly/interp/opcodes.ts', import.meta.url), 'utf8');
const C: Record<string, number> = {};
for (const m of opcodes.matchAll(/export const (\w+): (?:i32|usize) = (\d+);/g)) C[m[1]] = Number(m[2]);

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100];
const STEPS = 12;
const f = Math.fround;

// One optimizer as apply_gradients sees it: kind, which reference slot fills s1..s3, h1 (rho or
// beta_2), h2 (epsilon), flags (nesterov), and the header momentum (momentum or beta_1).
interface Optim {
  name: string;
  spec: ReferenceSpec;
  kind: number;
  slots: (string | null)[];
  h1: number;
  h2: number;
  flags: number;
  mu: number;
  lr: number;
}

const EPS = f(1e-7);
const B1 = f(0.9);
const B2 = f(0.999);
const OPTIMS: Optim[] = [
  { name: 'sgd', spec: { kind: 'sgd', momentum: 0, nesterov: false }, kind: 0, slots: [null, null, null], h1: 0, h2: 0, flags: 0, mu: 0, lr: 0.05 },
  { name: 'sgd momentum 0.9', spec: { kind: 'sgd', momentum: B1, nesterov: false }, kind: 0, slots: ['velocity', null, null], h1: 0, h2: 0, flags: 0, mu: B1, lr: 0.05 },
  { name: 'sgd nesterov', spec: { kind: 'sgd', momentum: B1, nesterov: true }, kind: 0, slots: ['velocity', null, null], h1: 0, h2: 0, flags: 1, mu: B1, lr: 0.05 },
  { name: 'adagrad', spec: { kind: 'adagrad', initialAccumulatorValue: f(0.1), epsilon: EPS }, kind: 1, slots: ['accumulator', null, null], h1: 0, h2: EPS, flags: 0, mu: 0, lr: 0.01 },
  { name: 'rmsprop', spec: { kind: 'rmsprop', rho: B1, momentum: 0, epsilon: EPS, centered: false }, kind: 2, slots: ['velocity', null, null], h1: B1, h2: EPS, flags: 0, mu: 0, lr: 1e-3 },
  { name: 'rmsprop momentum 0.5', spec: { kind: 'rmsprop', rho: B1, momentum: 0.5, epsilon: EPS, centered: false }, kind: 2, slots: ['velocity', 'momentum', null], h1: B1, h2: EPS, flags: 0, mu: 0.5, lr: 1e-3 },
  { name: 'rmsprop centered', spec: { kind: 'rmsprop', rho: B1, momentum: 0, epsilon: EPS, centered: true }, kind: 2, slots: ['velocity', null, 'averageGradient'], h1: B1, h2: EPS, flags: 0, mu: 0, lr: 1e-3 },
  { name: 'rmsprop centered momentum 0.5', spec: { kind: 'rmsprop', rho: B1, momentum: 0.5, epsilon: EPS, centered: true }, kind: 2, slots: ['velocity', 'momentum', 'averageGradient'], h1: B1, h2: EPS, flags: 0, mu: 0.5, lr: 1e-3 },
  { name: 'adam', spec: { kind: 'adam', beta1: B1, beta2: B2, epsilon: EPS, amsgrad: false }, kind: 3, slots: ['m', 'v', null], h1: B2, h2: EPS, flags: 0, mu: B1, lr: 1e-3 },
  { name: 'adam amsgrad', spec: { kind: 'adam', beta1: B1, beta2: B2, epsilon: EPS, amsgrad: true }, kind: 3, slots: ['m', 'v', 'vhat'], h1: B2, h2: EPS, flags: 0, mu: B1, lr: 1e-3 },
  { name: 'nadam', spec: { kind: 'nadam', beta1: B1, beta2: B2, epsilon: EPS }, kind: 4, slots: ['m', 'v', null], h1: B2, h2: EPS, flags: 0, mu: B1, lr: 1e-3 },
  { name: 'adamax', spec: { kind: 'adamax', beta1: B1, beta2: B2, epsilon: EPS }, kind: 5, slots: ['m', 'u', null], h1: B2, h2: EPS, flags: 0, mu: B1, lr: 1e-3 },
];

type ClipName = 'none' | 'clipvalue' | 'clipnorm' | 'globalClipnorm';
const CLIPS: ClipName[] = ['none', 'clipvalue', 'clipnorm', 'globalClipnorm'];
const clipMode = (c: ClipName) => ({ none: C.CLIP_NONE, clipvalue: C.CLIP_VALUE, clipnorm: C.CLIP_NORM, globalClipnorm: C.CLIP_GLOBAL_NORM })[c];
// Thresholds that bite on some steps and not on others: gradients are uniform in +-scale with
// scale 0.3..2, so |g| > 0.5 is common, and ||g|| ~ scale*sqrt(n/3) against 0.6*sqrt(n/3).
const clipValueFor = (c: ClipName, n: number) => (c === 'clipvalue' ? 0.5 : c === 'none' ? 0 : f(0.6 * Math.sqrt(Math.max(n, 1) / 3)));

// Gradient of step s: uniform in +-scale (scale varies by step), with some exact zeros.
const gradient = (n: number, s: number) => {
  const scale = 0.3 + 1.7 * ((s * 5) % 7) / 6;
  return randomArray(n, 7919 * s + 31 * n + 1, -scale, scale).map((v, i) => ((i + s) % 7 === 3 ? 0 : v));
};
// The learning rate of step s (a schedule would change it the same way).
const lrAt = (base: number, s: number) => f(base * (1 + 0.5 * Math.sin(s)));

const HEADER_FLOATS = 32; // C.HEADER_BYTES / 4

function header(a: Arena): { ptr: number; view: DataView } {
  const ptr = a.alloc(HEADER_FLOATS, 0);
  return { ptr, get view() { return new DataView((a as unknown as { memory: WebAssembly.Memory }).memory.buffer, ptr, C.HEADER_BYTES); } };
}

interface Run { w: Float32Array; slots: Record<string, Float32Array>; untouched: boolean }

// STEPS updates of one tensor of n through apply_gradients, in arena `a`.
function runKernel(a: Arena, o: Optim, clip: ClipName, wd: number, n: number): Run {
  a.reset();
  const w0 = randomArray(n, 163 * n + 5, -2, 2);
  const w = a.put(w0);
  const g = a.alloc(n);
  const slotPtr: Record<string, number> = {};
  for (const s of o.slots) {
    if (s) slotPtr[s] = a.put(new Float32Array(n).fill(s === 'accumulator' ? (o.spec as { initialAccumulatorValue: number }).initialAccumulatorValue : 0));
  }
  // Slots this configuration does not use, allocated anyway: they must stay NaN.
  const unused = a.alloc(n);
  const h = header(a);
  a.k.optimizer_init(h.ptr, o.lr, o.mu);
  const cv = clipValueFor(clip, n);
  for (let s = 0; s < STEPS; s++) {
    const grad = gradient(n, s);
    a.write(g, grad);
    h.view.setFloat32(C.S_LR, lrAt(o.lr, s), true);
    if (clip === 'globalClipnorm') h.view.setFloat64(C.S_GRAD_NORM_SQ, l2norm(grad) ** 2, true);
    if (o.kind === C.OPT_NADAM) a.k.nadam_prep(h.ptr);
    a.k.apply_gradients(h.ptr, o.kind, w, g, ...o.slots.map((s) => (s ? slotPtr[s] : 0)), n, clipMode(clip), cv, wd, o.h1, o.h2, o.flags);
    h.view.setInt32(C.S_ITER, s + 1, true); // what step_done does
  }
  const slots: Record<string, Float32Array> = {};
  for (const [k, p] of Object.entries(slotPtr)) slots[k] = a.read(p, n);
  const untouched = a.read(unused, n).every(Number.isNaN) && a.read(g, n).every((v, i) => Object.is(v, gradient(n, STEPS - 1)[i]));
  expect(a.guardsIntact(), 'guard words after every buffer').toBe(true);
  return { w: a.read(w, n), slots, untouched };
}

function runReference(o: Optim, clip: ClipName, wd: number, n: number) {
  const spec = { ...o.spec, weightDecay: wd, ...(clip === 'none' ? {} : { [clip]: clipValueFor(clip, n) }) } as ReferenceSpec;
  const ref = new ReferenceOptimizer(spec, [n]);
  const w = [Float64Array.from(randomArray(n, 163 * n + 5, -2, 2))];
  for (let s = 0; s < STEPS; s++) ref.step(w, [Float32Array.from(gradient(n, s))], lrAt(o.lr, s));
  return { w: w[0], slots: ref.slots[0], ref };
}

let scalar: WebAssembly.Module;
beforeAll(async () => {
  scalar = await scalarModule(['assembly/kernels/optim.ts'], 'optim-scalar.wasm');
});

describe('apply_gradients against the float64 reference', () => {
  for (const o of OPTIMS) {
    it(`${o.name}: ${STEPS} steps, changing lr, every clip mode, with and without weight decay; SIMD = scalar build bit for bit`, () => {
      const simd = simdArena(1 << 16);
      const plain = scalarArena(scalar, 4, 1 << 16);
      for (const clip of CLIPS) {
        for (const wd of [0, f(0.05)]) {
          for (const n of SIZES) {
            const what = `${o.name} ${clip} wd=${wd} n=${n}`;
            const got = runKernel(simd, o, clip, wd, n);
            const want = runReference(o, clip, wd, n);
            // The weights move by up to ~lr per step over 12 steps: 1e-5 relative on w plus an
            // absolute 1e-6 (f32 rounding of |w| ~ 2 is 1.2e-7 per step).
            expectClose(got.w, want.w, 1e-5, 1e-6, `${what}: w`);
            for (const [k, v] of Object.entries(got.slots)) expectClose(v, want.slots[k], 1e-5, 1e-7, `${what}: slot ${k}`);
            expect(got.untouched, `${what}: gradient and unused slots untouched`).toBe(true);
            const other = runKernel(plain, o, clip, wd, n);
            expect(Buffer.from(other.w.buffer).equals(Buffer.from(got.w.buffer)), `${what}: scalar build = SIMD build`).toBe(true);
          }
        }
      }
    });
  }

  it('each clip mode and weight decay really changes the result (the cases above are not vacuous)', () => {
    const a = simdArena(1 << 16);
    const n = 33;
    for (const o of OPTIMS) {
      const base = runKernel(a, o, 'none', 0, n).w;
      for (const clip of ['clipvalue', 'clipnorm', 'globalClipnorm'] as const) {
        expect(closeness(runKernel(a, o, clip, 0, n).w, base, 1e-4, 1e-6).ratio, `${o.name} ${clip}`).toBeGreaterThan(1);
      }
      expect(closeness(runKernel(a, o, 'none', f(0.05), n).w, base, 1e-4, 1e-6).ratio, `${o.name} weight decay`).toBeGreaterThan(1);
    }
  });

  it('amsgrad keeps vhat = max over steps of v (and it exceeds v where gradients shrank)', () => {
    const a = simdArena(1 << 16);
    const o = OPTIMS.find((x) => x.name === 'adam amsgrad')!;
    const r = runKernel(a, o, 'none', 0, 17);
    const v = r.slots.v;
    expect(r.slots.vhat.every((x, i) => x >= v[i])).toBe(true);
    expect(Array.from(r.slots.vhat).filter((x, i) => x > v[i]).length).toBeGreaterThan(0);
  });
});

describe('the clipping example of docs/numerics.md: g = [0.9, 100.0]', () => {
  // SGD, lr 1, w = 0: the new weights are minus the clipped gradient.
  const clipped = (mode: number, c: number) => {
    const a = simdArena(1 << 12);
    const w = a.put([0, 0]);
    const g = a.put([0.9, 100]);
    const h = header(a);
    a.k.optimizer_init(h.ptr, 1, 0);
    h.view.setFloat64(C.S_GRAD_NORM_SQ, f(0.9) ** 2 + 100 ** 2, true);
    a.k.apply_gradients(h.ptr, C.OPT_SGD, w, g, 0, 0, 0, 2, mode, c, 0, 0, 0, 0);
    return Array.from(a.read(w, 2), (x) => -x);
  };
  it('clipvalue 1 gives [0.9, 1.0]', () => {
    expect(clipped(C.CLIP_VALUE, 1)).toEqual([f(0.9), 1]);
  });
  it('clipnorm 1 gives [0.00899964, 0.9999595] (and globalClipnorm, with one tensor, the same)', () => {
    for (const mode of [C.CLIP_NORM, C.CLIP_GLOBAL_NORM]) {
      const got = clipped(mode, 1);
      // Within the digits the example states (f32 0.9 is 0.89999998).
      expect(Math.abs(got[0] - 0.00899964)).toBeLessThan(1e-8);
      expect(Math.abs(got[1] - 0.9999595)).toBeLessThan(1e-7);
    }
    const ref = clipRef([[0.9, 100]], { clipnorm: 1 })[0];
    expect(Math.abs(ref[0] - 0.00899964)).toBeLessThan(5e-9);
    expect(Math.abs(ref[1] - 0.9999595)).toBeLessThan(5e-8);
  });
  it('a clip threshold above the norm leaves the gradient as it is', () => {
    expect(clipped(C.CLIP_NORM, 1000)).toEqual([f(0.9), 100]);
    expect(clipped(C.CLIP_VALUE, 1000)).toEqual([f(0.9), 100]);
  });
});

// ---------------------------------------------------------------------------------------------
// The interpreter: op words [opcode, nargs, args...] as in host/compile/ops.ts OP_SPECS.
type Word = number | { f32: number };
function encode(ops: Word[][]): Int32Array {
  const words: number[] = [];
  const d = new DataView(new ArrayBuffer(4));
  for (const [code, ...args] of ops) {
    words.push(code as number, args.length);
    for (const x of args) {
      if (typeof x === 'number') words.push(x);
      else { d.setFloat32(0, x.f32, true); words.push(d.getInt32(0, true)); }
    }
  }
  return Int32Array.from(words);
}

describe('run: a whole optimizer step over two tensors', () => {
  const n1 = 13;
  const n2 = 6;
  const N = n1 + n2;
  const steps = 15;
  const grads = (s: number) => {
    const g = gradient(N, s);
    for (let i = n1; i < N; i++) g[i] *= 4; // the second tensor's gradients are larger
    return g;
  };

  function stepRun(o: Optim, clip: ClipName, c: number, wd: number) {
    const a = simdArena(1 << 16);
    const w0 = randomArray(N, 977, -1, 1);
    const w = a.put(w0);
    const g = a.alloc(N);
    const slots = o.slots.map((s) => (s ? a.put(new Float32Array(N).fill(s === 'accumulator' ? f(0.1) : 0)) : 0));
    const h = header(a);
    const update = (off: number, count: number): Word[] => [
      C.OP_APPLY_GRADIENTS, o.kind, w + 4 * off, g + 4 * off, ...slots.map((s) => (s ? s + 4 * off : 0)), count,
      clipMode(clip), { f32: c }, { f32: wd }, { f32: o.h1 }, { f32: o.h2 }, o.flags,
    ];
    const program = encode([
      [C.OP_SCHEDULE, 0], // constant: the lr is the header's base lr
      [C.OP_GRAD_NORM, g, n1],
      [C.OP_GRAD_NORM, g + 4 * n1, n2],
      [C.OP_CHECK_GRADS],
      ...(o.kind === C.OPT_NADAM ? [[C.OP_NADAM_PREP]] : []),
      ...(clip === 'clipnorm' ? [update(0, n1), update(n1, n2)] : [update(0, N)]),
      [C.OP_STEP_DONE],
    ]);
    const ops = a.putI32(program);
    const init = a.putI32(encode([[C.OP_OPTIMIZER_INIT, { f32: o.lr }, { f32: o.mu }]]));
    h.view.setInt32(C.S_BATCH, 1, true);
    expect(a.k.run(init, 1, h.ptr)).toBe(0);
    const spec = { ...o.spec, weightDecay: wd, ...(clip === 'none' ? {} : { [clip]: c }) } as ReferenceSpec;
    const ref = new ReferenceOptimizer(spec, [n1, n2]);
    const rw = [Float64Array.from(w0.subarray(0, n1)), Float64Array.from(w0.subarray(n1))];
    const uProducts: number[] = [];
    for (let s = 0; s < steps; s++) {
      const gs = grads(s);
      a.write(g, gs);
      const lr = lrAt(o.lr, s);
      h.view.setFloat32(C.S_BASE_LR, lr, true);
      h.view.setFloat64(C.S_GRAD_NORM_SQ, 0, true); // the driver clears the accumulators
      expect(a.k.run(ops, countOps(program), h.ptr)).toBe(0);
      ref.step(rw, [gs.subarray(0, n1), gs.subarray(n1)], lr);
      expect(h.view.getFloat32(C.S_LR, true)).toBe(lr);
      uProducts.push(h.view.getFloat64(C.S_NADAM_U, true));
      expect(h.view.getInt32(C.S_ITER, true)).toBe(s + 1);
      expectClose(a.read(w, N), [...rw[0], ...rw[1]], 1e-5, 1e-6, `${o.name} ${clip} step ${s}`);
    }
    expect(a.guardsIntact()).toBe(true);
    return { w: a.read(w, N), uProducts, ref };
  }

  it('nadam: U_t is the product of u_1..u_t across steps (nadam_prep once per step), weights as the reference', () => {
    const o = OPTIMS.find((x) => x.name === 'nadam')!;
    const { uProducts } = stepRun(o, 'none', 0, 0);
    let U = 1;
    uProducts.forEach((got, s) => {
      U *= nadamU(B1, s + 1);
      expect(Math.abs(got - U) / U, `U_${s + 1}`).toBeLessThan(1e-12);
    });
    // U_t falls well below u_t: a kernel using u_t alone (or U_{t-1}) would be caught above.
    expect(U).toBeLessThan(0.2);
  });

  for (const o of OPTIMS.filter((x) => ['sgd momentum 0.9', 'adam', 'nadam', 'rmsprop centered momentum 0.5', 'adamax', 'adagrad'].includes(x.name))) {
    it(`${o.name}: globalClipnorm scales both tensors by c/max(N, c) of their joint norm; clipnorm each by its own`, () => {
      const c = 1.5;
      const wd = f(0.01);
      const global = stepRun(o, 'globalClipnorm', c, wd).w;
      const perTensor = stepRun(o, 'clipnorm', c, wd).w;
      // The two must differ (so the reference's distinction was really tested).
      expect(closeness(global, perTensor, 1e-4, 1e-6).ratio).toBeGreaterThan(1);
    });
  }

  it('the clip threshold is active in these runs: both tensors and the joint norm exceed it on most steps', () => {
    let over = 0;
    for (let s = 0; s < steps; s++) {
      const gs = grads(s);
      const a = l2norm(gs.subarray(0, n1));
      const b = l2norm(gs.subarray(n1));
      if (a > 1.5 && b > 1.5 && Math.hypot(a, b) > 1.5) over++;
    }
    expect(over).toBeGreaterThan(steps / 2);
  });
});

function countOps(words: Int32Array): number {
  let n = 0;
  for (let i = 0; i < words.length; i += 2 + words[i + 1]) n++;
  return n;
}

// ---------------------------------------------------------------------------------------------
describe('clipping through a real model', () => {
  // Dense(2) + softmax on one sample x = [1.8, 200], kernel and bias zero, label 0: the logits are
  // 0, p = [0.5, 0.5], dlogits = [-0.5, 0.5], so the kernel gradient is [[-0.9, 0.9], [-100, 100]]
  // and the bias gradient [-0.5, 0.5]. SGD with lr 1 moves the weights by minus the clipped
  // gradient.
  const x = tensor(Float32Array.from([1.8, 200]), [1, 2]);
  const y = tensor(Int32Array.from([0]), [1]);
  function run(clip: Record<string, number>) {
    const m = sequential([layers.dense(2, { activation: 'softmax', inputShape: [2] })]);
    m.layers[0].setWeights([new Float32Array(4), new Float32Array(2)]);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1, ...clip }), loss: 'sparseCategoricalCrossentropy', batchSize: 1 });
    const g = m.computeGradients(x, y).weights;
    m.trainOnBatch(x, y);
    const [k, b] = m.layers[0].getWeights();
    return { g, k: Array.from(k, (v) => -v), b: Array.from(b, (v) => -v) };
  }

  it('computeGradients gives the analytic gradient', () => {
    const { g } = run({});
    const [kname, bname] = [...g.keys()];
    expect(Array.from(g.get(kname)!)).toEqual([-f(0.9), f(0.9), -100, 100]);
    expect(Array.from(g.get(bname)!)).toEqual([-0.5, 0.5]);
  });

  it('clipvalue 1: the kernel moves by [[-0.9, 0.9], [-1, 1]], the bias by its gradient', () => {
    const r = run({ clipvalue: 1 });
    expect(r.k).toEqual([-f(0.9), f(0.9), -1, 1]);
    expect(r.b).toEqual([-0.5, 0.5]);
  });

  it('clipnorm 1: the kernel by the clipping example / sqrt 2 (its own norm), the bias (norm 0.71 < 1) not at all', () => {
    const r = run({ clipnorm: 1 });
    const s = Math.SQRT1_2;
    expectClose(r.k, [-0.00899964 * s, 0.00899964 * s, -0.9999595 * s, 0.9999595 * s], 1e-6, 1e-9, 'kernel');
    expect(r.b).toEqual([-0.5, 0.5]);
  });

  it('globalClipnorm 1: every tensor scaled by 1/N, N the norm over kernel and bias together', () => {
    const r = run({ globalClipnorm: 1 });
    const N = Math.sqrt(2 * f(0.9) ** 2 + 2 * 100 ** 2 + 2 * 0.25);
    expectClose(r.k, [-f(0.9) / N, f(0.9) / N, -100 / N, 100 / N], 1e-6, 1e-9, 'kernel');
    expectClose(r.b, [-0.5 / N, 0.5 / N], 1e-6, 1e-9, 'bias');
  });

  it('fit reports the global gradient norm before clipping per step (recordGradNorm)', async () => {
    const m = sequential([layers.dense(2, { activation: 'softmax', inputShape: [2] })]);
    m.layers[0].setWeights([new Float32Array(4), new Float32Array(2)]);
    m.compile({ optimizer: optimizers.sgd({ learningRate: 1, globalClipnorm: 1 }), loss: 'sparseCategoricalCrossentropy', batchSize: 1 });
    const h = await m.fit(x, y, { epochs: 1, batchSize: 1, recordGradNorm: true });
    expect(h.steps.gradNorm).toHaveLength(1);
    expectClose(h.steps.gradNorm!, [Math.sqrt(2 * f(0.9) ** 2 + 2 * 100 ** 2 + 2 * 0.25)], 1e-6, 0, 'gradNorm');
  });
});

// ---------------------------------------------------------------------------------------------
describe('bad optimizer configurations fail at compile time', () => {
  const model = () => sequential([layers.dense(2, { activation: 'softmax', inputShape: [3] })]);
  const compileWith = (optimizer: unknown) => () => model().compile({ optimizer: optimizer as 'adam', loss: 'sparseCategoricalCrossentropy' });

  it('two clip options', () => {
    expect(compileWith({ className: 'adam', clipnorm: 1, clipvalue: 0.5 })).toThrow(InvalidArgumentError);
    expect(() => optimizers.sgd({ clipnorm: 1, globalClipnorm: 2 })).toThrow(/only one of clipvalue, clipnorm and globalClipnorm can be set \(got clipnorm and globalClipnorm\)/);
    expect(() => optimizers.rmsprop({ clipvalue: 1, globalClipnorm: 2 })).toThrow(/only one of/);
  });

  it('negative or NaN hyperparameters name the optimizer and the parameter', () => {
    const bad: [() => unknown, RegExp][] = [
      [() => optimizers.sgd({ learningRate: -0.1 }), /sgd learningRate must be a positive number, got -0.1/],
      [() => optimizers.sgd({ momentum: -0.5 }), /sgd momentum must be in \[0, 1\), got -0.5/],
      [() => optimizers.adam({ beta1: NaN }), /adam beta1 must be in \[0, 1\), got NaN/],
      [() => optimizers.adam({ beta2: 1 }), /adam beta2 must be in \[0, 1\), got 1/],
      [() => optimizers.adamw({ weightDecay: -1 }), /adamw weightDecay must be a non-negative number, got -1/],
      [() => optimizers.rmsprop({ rho: 1.5 }), /rmsprop rho must be in \[0, 1\)/],
      [() => optimizers.adagrad({ initialAccumulatorValue: -0.1 }), /adagrad initialAccumulatorValue must be a non-negative number/],
      [() => optimizers.nadam({ epsilon: 0 }), /nadam epsilon must be a positive number, got 0/],
      [() => optimizers.adamax({ learningRate: NaN }), /adamax learningRate must be a positive number, got NaN/],
      [() => optimizers.sgd({ clipnorm: -1 }), /sgd clipnorm must be a positive number, got -1/],
      [() => optimizers.adam({ clipvalue: NaN }), /adam clipvalue must be a positive number, got NaN/],
      [() => optimizers.adam({ globalClipnorm: Infinity }), /adam globalClipnorm must be a positive number, got Infinity/],
    ];
    for (const [make, msg] of bad) expect(make).toThrow(msg);
    // Records passed straight to compile go through the same checks.
    expect(compileWith({ className: 'adam', learningRate: -1 })).toThrow(/adam learningRate must be a positive number/);
    expect(compileWith({ className: 'rmsprop', momentum: NaN })).toThrow(/rmsprop momentum must be in \[0, 1\), got NaN/);
  });

  it('unknown optimizer names list the known ones; names are case-insensitive', () => {
    expect(compileWith('adamx')).toThrow(/unknown optimizer 'adamx' \(known: sgd, adagrad, rmsprop, adam, adamw, nadam, adamax\)/);
    expect(compileWith({ className: 'lion' })).toThrow(InvalidArgumentError);
    for (const name of ['sgd', 'Adagrad', 'RMSprop', 'adam', 'AdamW', 'Nadam', 'adamax']) {
      const m = model();
      m.compile({ optimizer: name, loss: 'sparseCategoricalCrossentropy' });
      expect(m.compileConfig!.optimizer.className).toBe(name.toLowerCase());
    }
  });
});
