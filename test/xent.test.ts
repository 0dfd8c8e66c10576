// The cross-entropy loss kernels softmax_xent_sparse, softmax_xent_dense (from logits) and
// xent_probs (from probabilities) against their naive f64 twins in test/reference/kernels.ts: the
// loss sum added to the f64 slot, the scaled gradient, stability for large logits, dx = 0 writing
// no gradient, and the gradient against central finite differences of the twin's f64 loss.
// Outputs start as NaN (an element a kernel forgets stays NaN and fails) and every buffer has guard
// words on both sides that must survive (test/support/arena.ts).
import { describe, expect, it } from 'vitest';
import { harness, randomArray } from './support/harness';
import { expectClose, expectNear } from './support/close';
import { numericGradient } from './support/finite-diff';
import { SIZES, ROWS, labelsFor, softTargets, changedBytes } from './support/kernel-cases';
import { PROB_MAX, PROB_MIN, oneHot, softmaxRef, softmaxXentDenseRef, softmaxXentSparseRef, xentProbsRef } from './reference/kernels';

describe('softmax_xent_sparse', () => {
  it('adds the summed loss to the slot and writes (softmax - onehot) * scale', () => {
    const t = harness(64);
    for (const m of ROWS) {
      for (const n of SIZES) {
        const x = randomArray(m * n, 71 * n + m, -4, 4);
        const labels = labelsFor(m, n);
        const scale = Math.fround(1 / m);
        const want = softmaxXentSparseRef(x, labels, m, n, scale);
        const slot = t.slot(0.625);
        const dx = t.buf(m * n);
        t.k.softmax_xent_sparse(slot, dx, t.buf(m * n, x), t.putI32(labels), m, n, scale);
        expectNear(t.readF64(slot), 0.625 + want.loss, 1e-6, 1e-6 * m, `loss m=${m} n=${n}`);
        expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx m=${m} n=${n}`);
      }
    }
    expect(t.brokenGuards()).toEqual([]);
  });

  it('scale multiplies the gradient only; the loss is the unscaled sum', () => {
    const t = harness(64);
    const m = 3;
    const n = 9;
    const x = randomArray(m * n, 73, -3, 3);
    const labels = labelsFor(m, n);
    for (const scale of [1, 0.25, -2]) {
      const want = softmaxXentSparseRef(x, labels, m, n, scale);
      const slot = t.slot(0);
      const dx = t.buf(m * n);
      t.k.softmax_xent_sparse(slot, dx, t.buf(m * n, x), t.putI32(labels), m, n, scale);
      expectNear(t.readF64(slot), want.loss, 1e-6, 1e-6, `loss scale=${scale}`);
      expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx scale=${scale}`);
    }
  });

  it('is stable for logits of magnitude 1e4', () => {
    const t = harness(64);
    const n = 6;
    const rows = [
      [1e4, -1e4, 0, 5e3, -5e3, 1],
      [1e4, 1e4 - 0.5, -1e4, 0, 0, 0],
      [-1e4, -1e4, -1e4, -1e4, -1e4, -1e4],
      [-1e4, 1e4, 9999, 9998, -1, 2],
    ];
    const m = rows.length;
    const x = Float32Array.from(rows.flat());
    const labels = Int32Array.from([0, 1, 3, 0]); // the last label sits 2e4 below the max
    const scale = Math.fround(1 / m);
    const want = softmaxXentSparseRef(x, labels, m, n, scale);
    const slot = t.slot(1.5);
    const dx = t.buf(m * n);
    t.k.softmax_xent_sparse(slot, dx, t.buf(m * n, x), t.putI32(labels), m, n, scale);
    // lse is an f32 near 1e4 (ulp 2^-10): the loss is good to a few ulps of the logits.
    expect(Number.isFinite(t.readF64(slot))).toBe(true);
    expectNear(t.readF64(slot), 1.5 + want.loss, 1e-6, m * 4 * 2 ** -10, 'loss at 1e4');
    const got = t.read(dx, m * n);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, want.dx, 4e-3, 1e-6, 'dx at 1e4');
    expect(t.brokenGuards()).toEqual([]);
  });

  it('dx = 0 writes no gradient and still accumulates the loss', () => {
    const t = harness(64);
    const m = 5;
    const n = 7;
    const x = randomArray(m * n, 79, -4, 4);
    const labels = labelsFor(m, n);
    const xp = t.buf(m * n, x);
    const lp = t.putI32(labels);
    const slot = t.slot(-2);
    const before = new Uint8Array(t.memory.buffer).slice();
    t.k.softmax_xent_sparse(slot, 0, xp, lp, m, n, 0.5);
    const after = new Uint8Array(t.memory.buffer);
    expect(changedBytes(before, after, slot, slot + 8)).toEqual([]);
    expectNear(t.readF64(slot), -2 + softmaxXentSparseRef(x, labels, m, n, 1).loss, 1e-6, 1e-6, 'loss');
  });

  it('the gradient is d(loss * scale)/dx (finite differences)', () => {
    const t = harness(64);
    const m = 3;
    const n = 5;
    const x = randomArray(m * n, 83, -2, 2);
    const labels = labelsFor(m, n);
    const dx = t.buf(m * n);
    t.k.softmax_xent_sparse(t.slot(0), dx, t.buf(m * n, x), t.putI32(labels), m, n, Math.fround(1 / 3));
    const f = (xs: Float64Array) => softmaxXentSparseRef(xs, labels, m, n, 1).loss * Math.fround(1 / 3);
    expectClose(t.read(dx, m * n), numericGradient(f, x, 1e-4), 1e-4, 1e-7, 'sparse dx vs finite differences');
  });
});

describe('softmax_xent_dense', () => {
  const kinds = ['one-hot', 'soft'] as const;
  for (const kind of kinds) {
    it(`${kind} targets: loss sum added to the slot, dx = (softmax * sum(t) - t) * scale`, () => {
      const t = harness(64);
      for (const m of ROWS) {
        for (const n of SIZES) {
          const x = randomArray(m * n, 89 * n + m, -4, 4);
          const y = kind === 'one-hot' ? Float32Array.from(oneHot(labelsFor(m, n), n)) : softTargets(m, n, 97 * n + m);
          const scale = Math.fround(1 / m);
          const want = softmaxXentDenseRef(x, y, m, n, scale);
          const slot = t.slot(3.25);
          const dx = t.buf(m * n);
          t.k.softmax_xent_dense(slot, dx, t.buf(m * n, x), t.buf(m * n, y), m, n, scale);
          expectNear(t.readF64(slot), 3.25 + want.loss, 1e-6, 1e-6 * m, `loss m=${m} n=${n}`);
          expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx m=${m} n=${n}`);
        }
      }
      expect(t.brokenGuards()).toEqual([]);
    });
  }

  it('one-hot targets give the same loss and gradient as sparse labels', () => {
    const t = harness(64);
    const m = 5;
    const n = 17;
    const x = randomArray(m * n, 101, -4, 4);
    const labels = labelsFor(m, n);
    const s1 = t.slot(0);
    const s2 = t.slot(0);
    const d1 = t.buf(m * n);
    const d2 = t.buf(m * n);
    t.k.softmax_xent_sparse(s1, d1, t.buf(m * n, x), t.putI32(labels), m, n, 0.2);
    t.k.softmax_xent_dense(s2, d2, t.buf(m * n, x), t.buf(m * n, oneHot(labels, n)), m, n, 0.2);
    expectNear(t.readF64(s2), t.readF64(s1), 1e-6, 1e-6, 'loss');
    expectClose(t.read(d2, m * n), t.read(d1, m * n), 1e-6, 1e-8, 'dx');
  });

  it('is stable for logits of magnitude 1e4 with soft targets', () => {
    const t = harness(64);
    const n = 4;
    const x = Float32Array.from([1e4, -1e4, 9999.5, 0, -1e4, -1e4, -1e4, -1e4, 1e4, 1e4, -1e4, 3]);
    const m = 3;
    const y = softTargets(m, n, 103);
    const want = softmaxXentDenseRef(x, y, m, n, 0.5);
    const slot = t.slot(0);
    const dx = t.buf(m * n);
    t.k.softmax_xent_dense(slot, dx, t.buf(m * n, x), t.buf(m * n, y), m, n, 0.5);
    expectNear(t.readF64(slot), want.loss, 1e-6, m * 4 * 2 ** -10 * 2, 'loss at 1e4');
    const got = t.read(dx, m * n);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, want.dx, 4e-3, 1e-6, 'dx at 1e4');
  });

  it('dx = 0 writes no gradient and still accumulates the loss', () => {
    const t = harness(64);
    const m = 3;
    const n = 9;
    const x = randomArray(m * n, 107, -4, 4);
    const y = softTargets(m, n, 109);
    const xp = t.buf(m * n, x);
    const yp = t.buf(m * n, y);
    const slot = t.slot(10);
    const before = new Uint8Array(t.memory.buffer).slice();
    t.k.softmax_xent_dense(slot, 0, xp, yp, m, n, 1);
    expect(changedBytes(before, new Uint8Array(t.memory.buffer), slot, slot + 8)).toEqual([]);
    expectNear(t.readF64(slot), 10 + softmaxXentDenseRef(x, y, m, n, 1).loss, 1e-6, 1e-6, 'loss');
  });

  it('the gradient is d(loss * scale)/dx, also for targets not summing to 1 (finite differences)', () => {
    const t = harness(64);
    const m = 3;
    const n = 5;
    const x = randomArray(m * n, 113, -2, 2);
    const y = randomArray(m * n, 127, 0, 0.6); // row sums near 1.5
    const dx = t.buf(m * n);
    t.k.softmax_xent_dense(t.slot(0), dx, t.buf(m * n, x), t.buf(m * n, y), m, n, 0.5);
    const f = (xs: Float64Array) => softmaxXentDenseRef(xs, y, m, n, 1).loss * 0.5;
    expectClose(t.read(dx, m * n), numericGradient(f, x, 1e-4), 1e-4, 1e-7, 'dense dx vs finite differences');
  });
});

describe('xent_probs', () => {
  // Valid probability rows (softmax of random logits), sparse labels and dense soft targets.
  const probs = (m: number, n: number, seed: number) => Float32Array.from(softmaxRef(randomArray(m * n, seed, -3, 3), m, n));

  for (const sparse of [1, 0]) {
    it(`${sparse ? 'sparse' : 'dense'} targets over the size sweep`, () => {
      const t = harness(64);
      for (const m of ROWS) {
        for (const n of SIZES) {
          const p = probs(m, n, 131 * n + m);
          const labels = labelsFor(m, n);
          const target = sparse ? oneHot(labels, n) : softTargets(m, n, 137 * n + m);
          const scale = Math.fround(1 / m);
          const want = xentProbsRef(p, target, m, n, scale);
          const slot = t.slot(-0.5);
          const dx = t.buf(m * n);
          const yp = sparse ? t.putI32(labels) : t.buf(m * n, target);
          t.k.xent_probs(slot, dx, t.buf(m * n, p), yp, sparse, m, n, scale);
          expectNear(t.readF64(slot), -0.5 + want.loss, 1e-6, 1e-6 * m, `loss m=${m} n=${n}`);
          expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx m=${m} n=${n}`);
        }
      }
      expect(t.brokenGuards()).toEqual([]);
    });

    it(`${sparse ? 'sparse' : 'dense'}: clips to [1e-7, 1 - 1e-7]; the gradient is 0 at and beyond the clip`, () => {
      const t = harness(64);
      const n = 3;
      const above = (v: number) => {
        const f = new Float32Array([v]);
        new Uint32Array(f.buffer)[0] += 1;
        return f[0];
      };
      const below = (v: number) => {
        const f = new Float32Array([v]);
        new Uint32Array(f.buffer)[0] -= 1;
        return f[0];
      };
      // The label's probability: at, below, beyond and just inside each bound.
      const special = [0, 1e-12, PROB_MIN, below(PROB_MIN), above(PROB_MIN), 1e-3, below(PROB_MAX), PROB_MAX, 1, 1.5];
      const m = special.length;
      const p = new Float32Array(m * n).fill(0.25);
      const labels = Int32Array.from({ length: m }, (_, i) => i % n);
      const target = new Float32Array(m * n);
      for (let i = 0; i < m; i++) {
        p[i * n + labels[i]] = special[i];
        if (sparse) target[i * n + labels[i]] = 1;
        else {
          // Mass on the special entry and on one ordinary entry.
          target[i * n + labels[i]] = 0.75;
          target[i * n + ((labels[i] + 1) % n)] = 0.25;
        }
      }
      const scale = Math.fround(1 / m);
      const want = xentProbsRef(p, target, m, n, scale);
      const slot = t.slot(0.125);
      const dx = t.buf(m * n);
      t.k.xent_probs(slot, dx, t.buf(m * n, p), sparse ? t.putI32(labels) : t.buf(m * n, target), sparse, m, n, scale);
      const got = t.read(dx, m * n);
      for (let i = 0; i < m; i++) {
        const at = i * n + labels[i];
        const inside = special[i] > PROB_MIN && special[i] < PROB_MAX;
        expect(got[at] === 0, `gradient at p=${special[i]} is ${got[at]}`).toBe(!inside);
      }
      expectClose(got, want.dx, 1e-5, 1e-7, 'dx');
      // Each clipped-low label costs -log(1e-7) = 16.118 instead of an infinite loss.
      expect(Number.isFinite(t.readF64(slot))).toBe(true);
      expectNear(t.readF64(slot), 0.125 + want.loss, 1e-6, 1e-5, 'loss');
      expect(t.brokenGuards()).toEqual([]);
    });

    it(`${sparse ? 'sparse' : 'dense'}: dx = 0 writes no gradient; the gradient matches finite differences`, () => {
      const t = harness(64);
      const m = 3;
      const n = 5;
      const p = probs(m, n, 139);
      const labels = labelsFor(m, n);
      const target = sparse ? oneHot(labels, n) : softTargets(m, n, 149);
      const pp = t.buf(m * n, p);
      const yp = sparse ? t.putI32(labels) : t.buf(m * n, target);
      const slot = t.slot(1);
      const before = new Uint8Array(t.memory.buffer).slice();
      t.k.xent_probs(slot, 0, pp, yp, sparse, m, n, 1);
      expect(changedBytes(before, new Uint8Array(t.memory.buffer), slot, slot + 8)).toEqual([]);
      expectNear(t.readF64(slot), 1 + xentProbsRef(p, target, m, n, 1).loss, 1e-6, 1e-6, 'loss');

      const dx = t.buf(m * n);
      t.k.xent_probs(t.slot(0), dx, pp, yp, sparse, m, n, 0.5);
      const f = (ps: Float64Array) => xentProbsRef(ps, target, m, n, 1).loss * 0.5;
      expectClose(t.read(dx, m * n), numericGradient(f, p, 1e-6), 1e-4, 1e-6, 'dx vs finite differences');
    });
  }
});
