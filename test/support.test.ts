// The test kit itself (test/support/): the closeness check fails where it should and names the worst
// element, the arena's guard words catch a write on either side of a buffer, and the finite-difference
// checker gives the gradient of a known function.
import { describe, expect, it } from 'vitest';
import { closeness, expectClose, maxAbsDiff } from './support/close';
import { numericGradient } from './support/finite-diff';
import { harness } from './support/harness';

describe('closeness', () => {
  it('reports the worst element relative to atol + rtol*|expected|, and fails past 1', () => {
    const c = closeness([1, 2.5, 3], [1, 2, 3.1], 0.01, 0.1);
    expect(c.index).toBe(1);
    expect([c.actual, c.expected]).toEqual([2.5, 2]);
    expect(c.ratio).toBeCloseTo(0.5 / 0.12, 12);
    expect(() => expectClose([1, 2.5], [1, 2], 0.01, 0.1, 'x')).toThrow(/x: 4.17x the tolerance at element 1: 2.5, expected 2/);
    expect(() => expectClose([1, 2.05], [1, 2], 0.01, 0.1, 'x')).not.toThrow();
  });

  it('NaN anywhere, a different length, or any difference with zero tolerance fails', () => {
    expect(closeness([0, NaN], [0, 0], 1, 1).ratio).toBe(Infinity);
    expect(closeness([0, 0], [0, NaN], 1, 1).ratio).toBe(Infinity);
    expect(closeness([0], [0, 0], 1, 1).ratio).toBe(Infinity);
    expect(closeness([1e-300], [0], 0, 0).ratio).toBe(Infinity);
    expect(closeness([5, -0], [5, 0], 0, 0).ratio).toBe(0);
    expect(closeness([1, 2], [1, 3], 0, [0, 2]).ratio).toBe(0.5); // per-element tolerance
    expect(maxAbsDiff([1, 2, 3], [1, 2.5, 2])).toBe(1);
    expect(() => maxAbsDiff([1], [1, 2])).toThrow(/length/);
  });
});

describe('arena', () => {
  it('guard words catch a write just before or just past a buffer, aligned or not', () => {
    for (const offset of [0, 1, 3]) {
      for (const at of [-1, 4]) {
        const h = harness(16);
        const p = h.buf(4, [1, 2, 3, 4], offset);
        expect(p % 16).toBe(4 * offset);
        expect(h.read(p, 4)).toEqual(Float32Array.from([1, 2, 3, 4]));
        expect(h.guardsIntact()).toBe(true);
        h.write(p + 4 * at, [0]);
        expect(h.brokenGuards()).toHaveLength(1);
      }
    }
  });

  it('new buffers start as NaN; the arena refuses to run past its memory', () => {
    const h = harness(16);
    expect(Array.from(h.read(h.alloc(5), 5)).every(Number.isNaN)).toBe(true);
    expect(() => h.alloc(1 << 20)).toThrow(/exhausted/);
  });
});

describe('numericGradient', () => {
  it('central differences give the gradient of sum(x^3) as 3x^2', () => {
    const x = [0.5, -1, 2];
    expectClose(numericGradient((v) => v.reduce((s, t) => s + t ** 3, 0), x, 1e-4), x.map((t) => 3 * t * t), 1e-7, 1e-7, 'd sum(x^3)');
  });
});
