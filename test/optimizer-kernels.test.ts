// The optimizer update kernels called directly (sgd_update, adam_update; apply_gradients, which
// dispatches to them, is in test/optimizers.test.ts) against the float64 twins of
// test/reference/optimizers.ts, and sumsq_f32, the sum of squares behind the gradient norm.
// Outputs start as NaN and every buffer has guard words on both sides that must survive.
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose, expectNear } from './support/close';
import { SIZES, NO_CLIP } from './support/kernel-cases';
import { sumsqRef } from './reference/kernels';
import { adamRef, sgdRef, type AdamSlots } from './reference/optimizers';

describe('sgd_update', () => {
  const STEPS = 20;
  const configs = [
    { momentum: 0, nesterov: 0 },
    { momentum: 0.9, nesterov: 0 },
    { momentum: 0.9, nesterov: 1 },
  ];
  for (const { momentum, nesterov } of configs) {
    it(`momentum ${momentum}${nesterov ? ' nesterov' : ''}: ${STEPS} steps with a changing lr follow the Keras formulas`, () => {
      const t = harness(64);
      for (const n of SIZES) {
        const w0 = randomArray(n, 163 * n, -2, 2);
        const ref = { w: Float64Array.from(w0), v: new Float64Array(n) };
        const w = t.buf(n, w0);
        // With momentum 0 the velocity is never read nor written: its NaNs must stay.
        const v = t.buf(n, momentum ? new Float32Array(n) : undefined);
        const g = t.buf(n);
        const mu = Math.fround(momentum);
        for (let step = 0; step < STEPS; step++) {
          const grad = randomArray(n, 1000 * step + n, -1, 1);
          new Float32Array(t.memory.buffer, g, n).set(grad);
          const lr = Math.fround(0.05 / (1 + 0.1 * step));
          t.k.sgd_update(w, g, v, n, lr, mu, nesterov, ...NO_CLIP);
          sgdRef(ref.w, grad, ref.v, lr, mu, !!nesterov);
        }
        expectClose(t.read(w, n), ref.w, 1e-5, 1e-6, `w n=${n}`);
        if (momentum) expectClose(t.read(v, n), ref.v, 1e-5, 1e-7, `v n=${n}`);
        else expect(t.read(v, n).every(Number.isNaN), 'v untouched').toBe(true);
      }
      expect(t.brokenGuards()).toEqual([]);
    });
  }
});

describe('adam_update', () => {
  const STEPS = 20;
  const lr = Math.fround(1e-3);
  const beta1 = Math.fround(0.9);
  const beta2 = Math.fround(0.999);
  const eps = Math.fround(1e-7);

  // Gradients that shrink over the steps (so that v falls and amsgrad's running max matters),
  // with some exact zeros.
  const gradient = (n: number, step: number) =>
    randomArray(n, 7919 * step + 13 * n, -1, 1).map((v, i) => ((i + step) % 6 === 0 ? 0 : v * 3 * 0.7 ** step));

  for (const amsgrad of [false, true]) {
    for (const t0 of [1, 3, 1000]) {
      it(`${amsgrad ? 'amsgrad' : 'plain'}, t = ${t0}..${t0 + STEPS - 1}: w, m, v${amsgrad ? ', vhat' : ''} follow the Keras formulas`, () => {
        const t = harness(64);
        for (const n of SIZES) {
          const w0 = randomArray(n, 167 * n, -1, 1);
          const ref: AdamSlots & { w: Float64Array } = { w: Float64Array.from(w0), m: new Float64Array(n), v: new Float64Array(n) };
          if (amsgrad) ref.vhat = new Float64Array(n);
          const w = t.buf(n, w0);
          const m = t.buf(n, new Float32Array(n));
          const v = t.buf(n, new Float32Array(n));
          const vhat = amsgrad ? t.buf(n, new Float32Array(n)) : 0;
          const g = t.buf(n);
          for (let step = 0; step < STEPS; step++) {
            const grad = gradient(n, step);
            new Float32Array(t.memory.buffer, g, n).set(grad);
            const lrStep = Math.fround(lr * (1 + 0.05 * step));
            t.k.adam_update(w, g, m, v, vhat, n, lrStep, beta1, beta2, eps, t0 + step, ...NO_CLIP);
            adamRef(ref.w, grad, ref, lrStep, beta1, beta2, eps, t0 + step);
          }
          expectClose(t.read(w, n), ref.w, 1e-5, 1e-6, `w n=${n}`);
          expectClose(t.read(m, n), ref.m, 1e-5, 1e-7, `m n=${n}`);
          expectClose(t.read(v, n), ref.v, 1e-5, 1e-9, `v n=${n}`);
          if (amsgrad) {
            expectClose(t.read(vhat, n), ref.vhat!, 1e-5, 1e-9, `vhat n=${n}`);
            const vk = t.read(v, n);
            if (n >= 4) expect(t.read(vhat, n).some((vh, i) => vh > vk[i]), 'vhat > v somewhere').toBe(true);
          }
        }
        expect(t.brokenGuards()).toEqual([]);
      });
    }
  }

  it('amsgrad and plain Adam differ once v falls (the vhat path is really taken)', () => {
    const t = harness(64);
    const n = 9;
    const run = (amsgrad: boolean) => {
      const w = t.buf(n, new Float32Array(n).fill(0.5));
      const m = t.buf(n, new Float32Array(n));
      const v = t.buf(n, new Float32Array(n));
      const vhat = amsgrad ? t.buf(n, new Float32Array(n)) : 0;
      const g = t.buf(n);
      for (let step = 0; step < 10; step++) {
        new Float32Array(t.memory.buffer, g, n).set(gradient(n, step));
        t.k.adam_update(w, g, m, v, vhat, n, lr, beta1, beta2, eps, step + 1, ...NO_CLIP);
      }
      return t.read(w, n);
    };
    const plain = run(false);
    const ams = run(true);
    expect(Array.from(plain).filter((v, i) => v !== ams[i]).length).toBeGreaterThan(n / 2);
  });

  it('one step at t = 1 moves every weight with a nonzero gradient by about lr (bias correction)', () => {
    const t = harness(64);
    const n = 17;
    const grad = randomArray(n, 173, -1, 1).map((g) => Math.sign(g) * (0.5 + Math.abs(g)));
    const w = t.buf(n, new Float32Array(n));
    t.k.adam_update(w, t.buf(n, grad), t.buf(n, new Float32Array(n)), t.buf(n, new Float32Array(n)), 0, n, lr, beta1, beta2, eps, 1, ...NO_CLIP);
    expectClose(t.read(w, n), Array.from(grad, (gi) => -lr * Math.sign(gi)), 1e-4, 1e-9, 'first step');
  });
});

describe('sumsq_f32', () => {
  it('equals the f64 sum of squares for every tail length', () => {
    const t = harness(64);
    for (const n of [0, ...SIZES, 1000, 1001]) {
      const x = randomArray(n, 179 * n + 1, -3, 3);
      const got = t.k.sumsq_f32(t.buf(n, x), n);
      expectNear(got, sumsqRef(x), 1e-6, 1e-12, `sumsq n=${n}`);
    }
    expect(t.brokenGuards()).toEqual([]);
  });

  // Large but finite gradients (|g| > 1.8e19, whose square overflows f32) must give the same
  // finite f64 sum wherever they sit: an Infinity here makes check_grads abort the step.
  it('forms squares in f64 in the vector body as in the tail (no f32 overflow)', () => {
    const t = harness(64);
    const n = 7;
    const sums: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = new Float32Array(n);
      x[i] = 1e20;
      sums.push(t.k.sumsq_f32(t.buf(n, x), n));
    }
    const want = Math.fround(1e20) ** 2;
    sums.forEach((s, i) => expectNear(s, want, 1e-12, 0, `sumsq with 1e20 at position ${i}`));
  });
});
