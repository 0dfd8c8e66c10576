// fill_f32 and copy_f32: exactly n elements written (write and accumulate), nothing else touched.
// Outputs start as NaN (an element a kernel forgets stays NaN and fails) and every buffer has guard
// words on both sides that must survive (test/support/arena.ts).
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectSame } from './support/close';
import { SIZES } from './support/kernel-cases';

describe('fill_f32 and copy_f32', () => {
  it('fill writes exactly n copies of the f32 value', () => {
    const t = harness(64);
    for (const n of SIZES) {
      for (const value of [0, -0, 2.5, 0.1, -1e30, Infinity]) {
        const y = t.buf(n);
        t.k.fill_f32(y, value, n);
        expectSame(t.read(y, n), new Float64Array(n).fill(value), `fill n=${n} value=${value}`);
      }
    }
    t.k.fill_f32(t.buf(0), 1, 0);
    expect(t.brokenGuards()).toEqual([]);
  });

  for (const accumulate of [0, 1]) {
    it(`copy: y ${accumulate ? '+=' : '='} x`, () => {
      const t = harness(64);
      for (const n of SIZES) {
        const x = randomArray(n, 61 * n);
        const y0 = randomArray(n, 67 * n, -5, 5);
        const y = t.buf(n, accumulate ? y0 : undefined);
        const xp = t.buf(n, x);
        t.k.copy_f32(y, xp, n, accumulate);
        expectSame(t.read(y, n), x.map((v, i) => (accumulate ? Math.fround(v + y0[i]) : v)), `copy n=${n}`);
        expectSame(t.read(xp, n), x, 'x unchanged');
      }
      expect(t.brokenGuards()).toEqual([]);
    });
  }
});
