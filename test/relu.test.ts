// relu_forward and relu_backward against their naive twins in test/reference/kernels.ts: out of
// place and in place, NaN propagation, write and accumulate.
// Outputs start as NaN (an element a kernel forgets stays NaN and fails) and every buffer has guard
// words on both sides that must survive (test/support/arena.ts).
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectSame } from './support/close';
import { SIZES } from './support/kernel-cases';
import { reluBackwardRef, reluRef } from './reference/kernels';

describe('relu_forward', () => {
  // Negative, positive, exact zeros and -0 in every lane position.
  const input = (n: number) => {
    const x = randomArray(n, 17 * n);
    for (let i = 0; i < n; i += 5) x[i] = i % 2 ? -0 : 0;
    return x;
  };

  it('y = max(x, 0), out of place', () => {
    const t = harness(64);
    for (const n of SIZES) {
      const x = input(n);
      const y = t.buf(n);
      const xp = t.buf(n, x);
      t.k.relu_forward(y, xp, n);
      expectSame(t.read(y, n), reluRef(x), `relu n=${n}`);
      expectSame(t.read(xp, n), x, 'x unchanged');
    }
    expect(t.brokenGuards()).toEqual([]);
  });

  it('in place (y == x)', () => {
    const t = harness(64);
    for (const n of SIZES) {
      const x = input(n);
      const p = t.buf(n, x);
      t.k.relu_forward(p, p, n);
      expectSame(t.read(p, n), reluRef(x), `relu in place n=${n}`);
    }
    expect(t.brokenGuards()).toEqual([]);
  });

  // relu(NaN) is NaN in Keras (TF, JAX): a NaN must reach the loss so that check_loss stops the step.
  // The 4-wide body (f32x4.max) propagates it; the result must not depend on the element's position.
  it('propagates NaN from every position, body and tail alike', () => {
    const t = harness(64);
    const n = 7;
    const positions: number[] = [];
    for (let i = 0; i < n; i++) {
      const x = new Float32Array(n).fill(1);
      x[i] = NaN;
      const y = t.buf(n);
      t.k.relu_forward(y, t.buf(n, x), n);
      if (!Number.isNaN(t.read(y, n)[i])) positions.push(i);
    }
    expect(positions, 'positions where relu_forward(NaN) did not give NaN').toEqual([]);
  });
});

describe('relu_backward', () => {
  for (const accumulate of [0, 1]) {
    it(`dx ${accumulate ? '+=' : '='} dy * (y > 0)`, () => {
      const t = harness(64);
      for (const n of SIZES) {
        const y = Float32Array.from(reluRef(randomArray(n, 23 * n)));
        const dy = randomArray(n, 29 * n);
        const dx0 = randomArray(n, 31 * n, -3, 3);
        const dx = t.buf(n, accumulate ? dx0 : undefined);
        t.k.relu_backward(dx, t.buf(n, dy), t.buf(n, y), n, accumulate);
        // One f32 addition per element: the rounded f64 result is exact.
        expectSame(t.read(dx, n), reluBackwardRef(dy, y, accumulate ? dx0 : undefined), `relu_backward n=${n}`);
      }
      expect(t.brokenGuards()).toEqual([]);
    });
  }
});
