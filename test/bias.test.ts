// bias_fill and bias_backward (the bias of dense and conv layers) against their naive f64 twins in
// test/reference/kernels.ts, over every row count and tail length of the 4-wide SIMD loop.
// Outputs start as NaN (an element a kernel forgets stays NaN and fails) and every buffer has guard
// words on both sides that must survive (test/support/arena.ts).
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose, expectSame } from './support/close';
import { SIZES, ROWS } from './support/kernel-cases';
import { biasBackwardRef, biasFillRef } from './reference/kernels';

describe('bias_fill', () => {
  it('broadcasts b over every row, for every row count and tail length', () => {
    const t = harness(64);
    for (const m of ROWS) {
      for (const n of SIZES) {
        const b = randomArray(n, 11 * n + m);
        const y = t.buf(m * n);
        const bp = t.buf(n, b);
        t.k.bias_fill(y, bp, m, n);
        expectSame(t.read(y, m * n), biasFillRef(b, m, n), `bias_fill m=${m} n=${n}`);
        expectSame(t.read(bp, n), b, 'b unchanged');
      }
    }
    expect(t.brokenGuards()).toEqual([]);
  });
});

describe('bias_backward', () => {
  for (const accumulate of [0, 1]) {
    it(`db ${accumulate ? '+=' : '='} column sums of dy`, () => {
      const t = harness(64);
      for (const m of ROWS) {
        for (const n of SIZES) {
          const dy = randomArray(m * n, 3 * n + m);
          const db0 = randomArray(n, 5 * n + m, -2, 2);
          const db = t.buf(n, accumulate ? db0 : undefined);
          t.k.bias_backward(db, t.buf(m * n, dy), m, n, accumulate);
          const want = biasBackwardRef(dy, m, n, accumulate ? db0 : undefined);
          expectClose(t.read(db, n), want, 1e-6, 1e-6, `bias_backward m=${m} n=${n} acc=${accumulate}`);
        }
      }
      expect(t.brokenGuards()).toEqual([]);
    });
  }
});
