// dropout_forward / dropout_backward (assembly/kernels/dropout.ts). Masks cannot match another library's
// random stream, so the forward pass is tested by its statistics and its invariants: the kept
// fraction within 5 sigma of 1 - rate (sigma = sqrt(n p (1-p))), the mean preserved, kept values
// exactly f32(x * f32(1/(1-rate))), the mask a function of (seed, step, index) only (the same for
// any n, alignment or split of the work), and different for another step or seed. The backward
// pass is checked against its twin with the forward's mask and by central differences of the
// kernel's own forward, which is linear in x for a fixed (seed, step).
import { describe, expect, it } from 'vitest';
import { harness, randomArray, type Harness } from './support/harness';
import { expectClose } from './support/close';
import { centralDifference } from './support/finite-diff';
import { dropoutBackwardRef } from './reference/layers';

const SIZES = [1, 3, 4, 5, 7, 8, 9, 16, 17, 33, 100];

function forward(h: Harness, x: ArrayLike<number>, rate: number, seed: number, step: number): { y: Float32Array; mask: Uint8Array } {
  const n = x.length;
  const xp = h.put(x);
  const yp = h.alloc(n);
  const mp = h.alloc(Math.ceil(n / 4));
  new Uint8Array(h.memory.buffer, mp, n).fill(0xab); // neither 0 nor 1: an unwritten byte shows
  h.k.dropout_forward(yp, mp, xp, n, rate, seed, step);
  return { y: h.read(yp, n), mask: new Uint8Array(h.memory.buffer, mp, n).slice() };
}

const fraction = (mask: Uint8Array) => mask.reduce((s, b) => s + b, 0) / mask.length;

describe('dropout', () => {
  it('keeps 1 - rate of the elements, scales them by 1/(1 - rate) and preserves the mean', () => {
    const n = 100_000;
    const h = harness(64);
    const x = randomArray(n, 1, 0.5, 1.5);
    const meanX = x.reduce((s, v) => s + v, 0) / n;
    for (const rate of [0.1, 0.25, 0.5, 0.9]) {
      const r = Math.fround(rate);
      const { y, mask } = forward(h, x, r, 42, 7);
      const keep = 1 - r;
      const sigma = Math.sqrt(keep * (1 - keep) / n);
      expect(Math.abs(fraction(mask) - keep), `rate ${rate}`).toBeLessThan(5 * sigma);
      const scale = Math.fround(1 / keep);
      for (let i = 0; i < n; i++) {
        if (mask[i] > 1) expect.fail(`mask[${i}] = ${mask[i]}`);
        const want = mask[i] ? Math.fround(x[i] * scale) : 0;
        if (y[i] !== want) expect.fail(`rate ${rate} y[${i}] = ${y[i]}, want ${want} (mask ${mask[i]})`);
      }
      // E[y] = E[x]; x in [0.5, 1.5) has standard deviation 0.29.
      const meanY = y.reduce((s, v) => s + v, 0) / n;
      const sdY = Math.sqrt((meanX * meanX * (1 - keep)) / keep + 0.29 ** 2 / keep) / Math.sqrt(n);
      expect(Math.abs(meanY - meanX), `rate ${rate} mean`).toBeLessThan(5 * sdY);
    }
  });

  it('looks independent: neighbours, and the same element on consecutive steps, are kept together p^2 of the time', () => {
    const n = 100_000;
    const h = harness(64);
    const x = new Float32Array(n).fill(1);
    const p = 0.5;
    const a = forward(h, x, 0.5, 3, 10).mask;
    const b = forward(h, x, 0.5, 3, 11).mask;
    let pairs = 0;
    let both = 0;
    for (let i = 0; i + 1 < n; i++) pairs += a[i] & a[i + 1];
    for (let i = 0; i < n; i++) both += a[i] & b[i];
    const sigma = Math.sqrt(p * p * (1 - p * p) / n);
    expect(Math.abs(pairs / (n - 1) - p * p)).toBeLessThan(5 * sigma);
    expect(Math.abs(both / n - p * p)).toBeLessThan(5 * sigma);
  });

  it('the mask depends on (seed, step, index) only', () => {
    const h = harness(64);
    const x = randomArray(1000, 2);
    const base = forward(h, x, 0.3, 5, 1);
    expect(forward(h, x, 0.3, 5, 1).mask).toEqual(base.mask);
    expect(forward(h, x, 0.3, 5, 1).y).toEqual(base.y);
    // A prefix, or a call at another alignment, gets the same bits.
    for (const n of SIZES) expect(forward(h, x.subarray(0, n), 0.3, 5, 1).mask, `n ${n}`).toEqual(base.mask.subarray(0, n));
    const g = h;
    const xp = g.buf(1000, x, 1);
    const yp = g.buf(1000, undefined, 3);
    const mp = h.alloc(300) + 3;
    h.k.dropout_forward(yp, mp, xp, 1000, 0.3, 5, 1);
    expect(new Uint8Array(h.memory.buffer, mp, 1000)).toEqual(base.mask);
    expect(g.read(yp, 1000)).toEqual(base.y);
    expect(g.guardsIntact()).toBe(true);
    // Another step or seed gives another mask; the step is not just an offset into one stream.
    const other = [forward(h, x, 0.3, 5, 2).mask, forward(h, x, 0.3, 6, 1).mask, forward(h, x, 0.3, 4, 2).mask];
    for (const m of other) {
      const differ = m.reduce((s, b, i) => s + (b !== base.mask[i] ? 1 : 0), 0) / m.length;
      expect(differ).toBeGreaterThan(0.3); // 2 p (1-p) = 0.42 for independent masks
    }
    const shifted = forward(h, x, 0.3, 5, 2).mask;
    for (let shift = 1; shift < 64; shift++) {
      let same = 0;
      for (let i = 0; i + shift < 1000; i++) same += shifted[i] === base.mask[i + shift] ? 1 : 0;
      expect(same / (1000 - shift), `shift ${shift}`).toBeLessThan(0.7);
    }
    // The mask may be left out; y is the same.
    const yOnly = h.alloc(1000);
    h.k.dropout_forward(yOnly, 0, h.put(x), 1000, 0.3, 5, 1);
    expect(h.read(yOnly, 1000)).toEqual(base.y);
  });

  it('rate 0 is the identity and rate 1 gives zeros, forward and backward', () => {
    const h = harness(16);
    const x = randomArray(37, 9);
    const dy = randomArray(37, 10);
    const id = forward(h, x, 0, 1, 1);
    expect(id.y).toEqual(x);
    expect(Array.from(id.mask)).toEqual(new Array(37).fill(1));
    const zero = forward(h, x, 1, 1, 1);
    expect(Array.from(zero.y)).toEqual(new Array(37).fill(0));
    expect(Array.from(zero.mask)).toEqual(new Array(37).fill(0));
    for (const [rate, mask, want] of [[0, id.mask, dy], [1, zero.mask, new Float32Array(37)]] as const) {
      const mp = h.alloc(10);
      new Uint8Array(h.memory.buffer, mp, 37).set(mask);
      const dx = h.alloc(37);
      h.k.dropout_backward(dx, h.put(dy), mp, 37, rate, 0);
      expect(h.read(dx, 37), `rate ${rate}`).toEqual(want);
    }
    // In place.
    const xp = h.put(x);
    h.k.dropout_forward(xp, 0, xp, 37, 0, 1, 1);
    expect(h.read(xp, 37)).toEqual(x);
  });

  it('backward applies the forward mask and scale, every size, writing or accumulating', () => {
    const h = harness(64);
    const g = h;
    for (const n of SIZES) {
      for (const rate of [0.2, 0.5]) {
        const r = Math.fround(rate);
        const x = randomArray(n, n, -1, 1);
        const { mask } = forward(h, x, r, 11, n);
        const mp = h.alloc(Math.ceil(n / 4) + 1) + 1; // byte-misaligned on purpose
        new Uint8Array(h.memory.buffer, mp, n).set(mask);
        const dy = randomArray(n, n + 1, -1, 1);
        const dx0 = randomArray(n, n + 2, -1, 1);
        const want = dropoutBackwardRef(dy, mask, r);
        for (const accumulate of [0, 1]) {
          const dx = g.buf(n, accumulate ? dx0 : undefined, n % 3);
          h.k.dropout_backward(dx, g.buf(n, dy, 1), mp, n, r, accumulate);
          const got = g.read(dx, n);
          const w = Float64Array.from(want, (v, i) => v + (accumulate ? dx0[i] : 0));
          expectClose(got, w, 1e-6, Float64Array.from(want, (v) => 1e-6 * Math.abs(v)), `n ${n} rate ${rate} accumulate ${accumulate}`);
        }
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('backward matches central differences of the forward with the same (seed, step)', () => {
    const h = harness(16);
    const n = 50;
    const rate = Math.fround(0.4);
    const x = Float64Array.from(randomArray(n, 4, -1, 1));
    const w = randomArray(n, 5, -1, 1);
    const loss = () => forward(h, x, rate, 99, 3).y.reduce((s, y, i) => s + w[i] * y, 0);
    const { mask } = forward(h, x, rate, 99, 3);
    const mp = h.alloc(n);
    new Uint8Array(h.memory.buffer, mp, n).set(mask);
    const dx = h.alloc(n);
    h.k.dropout_backward(dx, h.put(w), mp, n, rate, 0);
    const got = h.read(dx, n);
    const fd = Float64Array.from(x, (_, i) => centralDifference(loss, () => x[i], (v) => { x[i] = v; }, 2 ** -10));
    expectClose(got, fd, 0, 1e-3, 'dx vs finite differences');
    expect(mask.some((b) => b === 0) && mask.some((b) => b === 1)).toBe(true);
  });
});
