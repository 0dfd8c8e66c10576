// Regularizers and constraints (assembly/kernels/regularize.ts) against the f64 twins in
// test/reference/layers.ts. The penalty is summed in f64 from f32 weights, so it must agree with
// the twin to 1e-12 (relative to the sum of its terms); gradients and constraints are a few f32
// operations per element: 1e-6 of the magnitude of their terms. l1 and l2 are f32 arguments, so
// the twins get the same f32 values. The gradient is also checked by central differences of the
// f64 penalty, and the constraints by the norms they leave behind.
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose } from './support/close';
import { numericGradient } from './support/finite-diff';
import { l1l2GradientRef, l1l2PenaltyRef, maxNormRef, nonNegRef, normsRef, unitNormRef } from './reference/layers';

const SIZES = [1, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100];
const SHAPES = [[1, 1], [3, 1], [1, 5], [4, 4], [5, 3], [7, 8], [9, 13], [16, 17], [33, 5], [2, 100]];
const COEFFICIENTS = [[0.01, 0.01], [0.01, 0], [0, 0.01], [0.3, 0.002], [0, 0]].map(([a, b]) => [Math.fround(a), Math.fround(b)]);

// Weights with exact zeros, small and large entries.
function weights(n: number, seed: number): Float32Array {
  return Float32Array.from(randomArray(n, seed, -2, 2), (v, i) => (i % 7 === 3 ? 0 : i % 5 === 1 ? v * 1e-4 : v));
}

// |got - want| <= 1e-6*scale(i) elementwise, scale(i) the magnitude of the terms of element i.
function expectScaled(got: ArrayLike<number>, want: ArrayLike<number>, scale: (i: number) => number, what: string): void {
  expectClose(got, want, 0, Float64Array.from(want, (_, i) => 1e-6 * scale(i) + 1e-30), what);
}

describe('regularizers', () => {
  it('l1l2_penalty = l1*sum|w| + l2*sum w^2', () => {
    const h = harness(16);
    for (const n of SIZES) {
      for (const offset of [0, 1]) {
        const w = weights(n, n);
        const g = h;
        const wp = g.buf(n, w, offset);
        for (const [l1, l2] of COEFFICIENTS) {
          const got = h.k.l1l2_penalty(wp, n, l1, l2);
          const want = l1l2PenaltyRef(w, l1, l2);
          expect(Math.abs(got - want), `n ${n} l1 ${l1} l2 ${l2}`).toBeLessThanOrEqual(1e-12 * (Math.abs(want) + 1e-300));
        }
        expect(g.read(wp, n)).toEqual(w);
      }
    }
    expect(h.k.l1l2_penalty(h.put([3, -4]), 2, 0.5, 0.25)).toBe(0.5 * 7 + 0.25 * 25);
  });

  it('l1l2_gradient adds l1*sign(w) + 2*l2*w, with sign(0) = 0', () => {
    const h = harness(16);
    const g = h;
    for (const n of SIZES) {
      const w = weights(n, n + 1);
      const g0 = randomArray(n, n + 2, -1, 1);
      for (const [l1, l2] of COEFFICIENTS) {
        const gp = g.buf(n, g0, n % 2);
        h.k.l1l2_gradient(gp, g.buf(n, w, 1 - (n % 2)), n, l1, l2);
        const r = l1l2GradientRef(w, l1, l2);
        expectScaled(g.read(gp, n), r.map((v, i) => v + g0[i]), (i) => Math.abs(g0[i]) + Math.abs(l1) + Math.abs(2 * l2 * w[i]), `n ${n} l1 ${l1} l2 ${l2}`);
      }
    }
    expect(g.guardsIntact()).toBe(true);
    const gp = h.put([0, 0, 0]);
    h.k.l1l2_gradient(gp, h.put([0, -0, 1]), 3, 0.5, 0);
    expect(Array.from(h.read(gp, 3))).toEqual([0, 0, 0.5]);
  });

  it('l1l2_gradient matches central differences of the penalty', () => {
    const h = harness(16);
    const n = 40;
    const w = Float64Array.from(randomArray(n, 3, -1, 1), (v) => (Math.abs(v) < 0.01 ? 0.5 : v));
    const [l1, l2] = [Math.fround(0.03), Math.fround(0.2)];
    const gp = h.alloc(n, 0);
    h.k.l1l2_gradient(gp, h.put(w), n, l1, l2);
    const got = h.read(gp, n);
    expectClose(got, numericGradient((v) => l1l2PenaltyRef(v, l1, l2), w, 1e-6), 0, 5e-7, 'l1l2_gradient vs finite differences');
  });
});

describe('constraints', () => {
  it('max_norm over axis 0 (columns) and axis 1 (rows)', () => {
    const h = harness(16);
    const g = h;
    for (const [rows, cols] of SHAPES) {
      for (const axis of [0, 1]) {
        for (const maxValue of [2, 0.5]) {
          const w = weights(rows * cols, rows * 31 + cols);
          const where = `${rows}x${cols} axis ${axis} max ${maxValue}`;
          const wp = g.buf(rows * cols, w, (rows + cols) % 2);
          h.k.max_norm(wp, rows, cols, axis, maxValue);
          const got = g.read(wp, rows * cols);
          expectScaled(got, maxNormRef(w, rows, cols, axis, maxValue), (i) => Math.abs(w[i]), where);
          const before = normsRef(w, rows, cols, axis);
          normsRef(got, rows, cols, axis).forEach((n, k) => {
            expect(n, `${where} norm ${k}`).toBeCloseTo(Math.min(before[k], maxValue), 5);
          });
        }
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('Keras MaxNorm on a Dense kernel [in, out]: each unit\'s incoming weights', () => {
    const h = harness(16);
    // in 2, out 3: columns (3, 4) norm 5, (0, 1) norm 1, (6, 8) norm 10.
    const wp = h.put([3, 0, 6, 4, 1, 8]);
    h.k.max_norm(wp, 2, 3, 0, 2);
    const f = (n: number) => Math.min(n, 2) / (1e-7 + n);
    const want = [3 * f(5), 0, 6 * f(10), 4 * f(5), f(1), 8 * f(10)];
    expectScaled(h.read(wp, 6), want, (i) => Math.abs(want[i]), 'dense kernel');
    const zero = h.put([0, 0, 0, 0]);
    h.k.max_norm(zero, 2, 2, 0, 2);
    expect(Array.from(h.read(zero, 4))).toEqual([0, 0, 0, 0]);
  });

  it('unit_norm over axis 0 and axis 1 leaves unit vectors', () => {
    const h = harness(16);
    const g = h;
    for (const [rows, cols] of SHAPES) {
      for (const axis of [0, 1]) {
        const w = weights(rows * cols, rows * 17 + cols + 1);
        const where = `${rows}x${cols} axis ${axis}`;
        const wp = g.buf(rows * cols, w, 1);
        h.k.unit_norm(wp, rows, cols, axis);
        const got = g.read(wp, rows * cols);
        const want = unitNormRef(w, rows, cols, axis);
        expectScaled(got, want, (i) => Math.abs(want[i]), where);
        const before = normsRef(w, rows, cols, axis);
        normsRef(got, rows, cols, axis).forEach((n, k) => expect(n, where).toBeCloseTo(before[k] / (1e-7 + before[k]), 5));
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('non_neg clamps at zero', () => {
    const h = harness(16);
    const g = h;
    for (const n of SIZES) {
      const w = weights(n, n + 5);
      const wp = g.buf(n, w, n % 2);
      h.k.non_neg(wp, n);
      expect(g.read(wp, n), `n ${n}`).toEqual(Float32Array.from(nonNegRef(w)));
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('an invalid axis traps', () => {
    const h = harness(16);
    expect(() => h.k.max_norm(h.put([1, 2]), 1, 2, 2, 1)).toThrow(WebAssembly.RuntimeError);
  });
});
