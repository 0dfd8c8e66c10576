// accuracy_count: rows whose first argmax matches the label (sparse) or the target row's argmax
// (dense), added to the f64 slot; against accuracyCountRef in test/reference/kernels.ts.
// Outputs start as NaN (an element a kernel forgets stays NaN and fails) and every buffer has guard
// words on both sides that must survive (test/support/arena.ts).
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { SIZES, ROWS, labelsFor } from './support/kernel-cases';
import { accuracyCountRef, argmaxRef } from './reference/kernels';

describe('accuracy_count', () => {
  it('counts rows whose first argmax matches, sparse and dense, adding to the slot', () => {
    const t = harness(64);
    for (const m of ROWS) {
      for (const n of SIZES) {
        // Small integers: ties are frequent, and must resolve to the first maximum.
        const x = randomArray(m * n, 151 * n + m, 0, 3).map(Math.floor);
        const target = randomArray(m * n, 157 * n + m, 0, 3).map(Math.floor);
        const labels = Int32Array.from({ length: m }, (_, i) => (i % 2 ? labelsFor(m, n)[i] : argmaxRef(x, i, n)));
        for (const sparse of [1, 0]) {
          const slot = t.slot(2);
          const y = sparse ? labels : target;
          t.k.accuracy_count(slot, t.buf(m * n, x), sparse ? t.putI32(labels) : t.buf(m * n, target), sparse, m, n);
          expect(t.readF64(slot), `m=${m} n=${n} sparse=${sparse}`).toBe(2 + accuracyCountRef(x, y, !!sparse, m, n));
        }
      }
    }
    expect(t.brokenGuards()).toEqual([]);
  });

  it('ties take the first maximum, in x and in dense targets', () => {
    const t = harness(64);
    const n = 4;
    const x = Float32Array.from([1, 3, 3, 0, 1, 3, 3, 0, 5, 5, 5, 5, 5, 5, 5, 5, -1, -1, -2, -1]);
    const m = 5;
    const labels = Int32Array.from([1, 2, 0, 3, 0]);
    const slot = t.slot(0);
    t.k.accuracy_count(slot, t.buf(m * n, x), t.putI32(labels), 1, m, n);
    expect(t.readF64(slot)).toBe(3); // rows 0, 2, 4
    const target = Float32Array.from([0, 0.5, 0.5, 0, 0, 0, 1, 0, 0.5, 0.5, 0, 0, 0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0]);
    const slot2 = t.slot(10);
    t.k.accuracy_count(slot2, t.buf(m * n, x), t.buf(m * n, target), 0, m, n);
    expect(t.readF64(slot2)).toBe(10 + 4); // rows 0, 2, 3 (a flat target row's argmax is 0), 4
    expect(accuracyCountRef(x, target, false, m, n)).toBe(4);
  });
});
