// softmax_forward and softmax_backward against their naive f64 twins in test/reference/kernels.ts;
// large logits stay finite; the backward is also checked by central finite differences.
// Outputs start as NaN (an element a kernel forgets stays NaN and fails) and every buffer has guard
// words on both sides that must survive (test/support/arena.ts).
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose, expectNear } from './support/close';
import { numericGradient } from './support/finite-diff';
import { SIZES, ROWS } from './support/kernel-cases';
import { softmaxBackwardRef, softmaxRef } from './reference/kernels';

describe('softmax_forward', () => {
  it('rows sum to 1 and match exp(x - max)/sum, in and out of place', () => {
    const t = harness(64);
    for (const m of ROWS) {
      for (const n of SIZES) {
        const x = randomArray(m * n, 37 * n + m, -6, 6);
        const want = softmaxRef(x, m, n);
        const y = t.buf(m * n);
        t.k.softmax_forward(y, t.buf(m * n, x), m, n);
        expectClose(t.read(y, m * n), want, 1e-5, 1e-8, `softmax m=${m} n=${n}`);
        const p = t.buf(m * n, x);
        t.k.softmax_forward(p, p, m, n);
        expectClose(t.read(p, m * n), want, 1e-5, 1e-8, `softmax in place m=${m} n=${n}`);
      }
    }
    expect(t.brokenGuards()).toEqual([]);
  });

  it('large logits (+-1000, 1e4, all equal) neither overflow nor give NaN', () => {
    const t = harness(64);
    const n = 5;
    const rows = [
      [1000, -1000, 0, 999, 1000],
      [-1000, -1000, -1000, -1000, -1000],
      [1000, 1000, 1000, 1000, 1000],
      [1e4, -1e4, 9999.5, 0, -3],
      [-1000, -999, -1001, -1000.5, -2000],
    ];
    const x = Float32Array.from(rows.flat());
    const m = rows.length;
    const y = t.buf(m * n);
    t.k.softmax_forward(y, t.buf(m * n, x), m, n);
    const got = t.read(y, m * n);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, softmaxRef(x, m, n), 1e-5, 1e-8, 'softmax of large logits');
    for (let i = 0; i < m; i++) expectNear(got.slice(i * n, i * n + n).reduce((a, b) => a + b, 0), 1, 0, 1e-6, `row ${i} sum`);
    expect(t.brokenGuards()).toEqual([]);
  });
});

describe('softmax_backward', () => {
  for (const accumulate of [0, 1]) {
    it(`dx ${accumulate ? '+=' : '='} J^T dy, the softmax Jacobian`, () => {
      const t = harness(64);
      for (const m of ROWS) {
        for (const n of SIZES) {
          const y = Float32Array.from(softmaxRef(randomArray(m * n, 41 * n + m, -3, 3), m, n));
          const dy = randomArray(m * n, 43 * n + m);
          const dx0 = randomArray(m * n, 47 * n + m);
          const dx = t.buf(m * n, accumulate ? dx0 : undefined);
          t.k.softmax_backward(dx, t.buf(m * n, dy), t.buf(m * n, y), m, n, accumulate);
          const want = softmaxBackwardRef(dy, y, m, n, accumulate ? dx0 : undefined);
          expectClose(t.read(dx, m * n), want, 1e-5, 1e-6, `softmax_backward m=${m} n=${n}`);
        }
      }
      expect(t.brokenGuards()).toEqual([]);
    });
  }

  it('is the gradient of sum(dy * softmax(x)) (finite differences)', () => {
    const t = harness(64);
    const m = 3;
    const n = 7;
    const x = randomArray(m * n, 53, -2, 2);
    const dy = randomArray(m * n, 59);
    const y = t.buf(m * n);
    t.k.softmax_forward(y, t.buf(m * n, x), m, n);
    const dx = t.buf(m * n);
    t.k.softmax_backward(dx, t.buf(m * n, dy), y, m, n, 0);
    const f = (xs: Float64Array) => softmaxRef(xs, m, n).reduce((s, v, i) => s + v * dy[i], 0);
    expectClose(t.read(dx, m * n), numericGradient(f, x, 1e-4), 1e-4, 1e-6, 'softmax_backward vs finite differences');
  });
});
