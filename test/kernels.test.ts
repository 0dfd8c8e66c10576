// Every kernel except gemm (test/gemm.test.ts) against its naive f64 twin in test/reference/kernels.ts,
// called through the raw byte-offset exports. Outputs start as NaN (an element a kernel forgets stays
// NaN and fails), every buffer has guard words on both sides that must survive, and sizes sweep the
// 4-wide SIMD body and each scalar tail length. Loss gradients are also checked by central finite
// differences of the twin's f64 loss; the plan interpreter `run` is checked against direct calls.
import { describe, expect, it } from 'vitest';
import { HEADER, OP_SPECS, OPT_KIND, type OpName } from '../host/compile/ops';
import { harness, randomArray, worstError, type Harness } from './harness';
import {
  PROB_MAX, PROB_MIN, accuracyCountRef, argmaxRef, adamStepRef, biasBackwardRef, biasFillRef, oneHot, reluBackwardRef, reluRef,
  sgdStepRef, softmaxBackwardRef, softmaxRef, softmaxXentDenseRef, softmaxXentSparseRef, sumsqRef, xentProbsRef,
  type AdamState,
} from './reference/kernels';

const SIZES = [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 100];
const ROWS = [1, 2, 3, 5, 8];
const GUARD = -31337.25; // exactly representable; no kernel output here can produce it
const GUARD_WORDS = 4;

// A harness whose buffers all carry guard words, and f64 slots for the loss and accuracy sums.
interface Kit {
  h: Harness;
  k: Harness['k'];
  memory: WebAssembly.Memory;
  // n floats between guard words: `init` if given, else NaN.
  buf(n: number, init?: ArrayLike<number>): number;
  bufI32(data: ArrayLike<number>): number;
  read(ptr: number, n: number): Float32Array;
  slot(value: number): number;
  readF64(ptr: number): number;
  writeF64(ptr: number, value: number): void;
  // Every buffer's guard words are intact.
  expectGuards(): void;
}

function kit(pages = 64): Kit {
  const h = harness(pages);
  const memory = h.memory;
  const buffers: Array<[number, number]> = [];
  const buf = (n: number, init?: ArrayLike<number>) => {
    const ptr = h.alloc(n + 2 * GUARD_WORDS, GUARD) + 4 * GUARD_WORDS;
    const view = new Float32Array(memory.buffer, ptr, n);
    if (init) view.set(init);
    else view.fill(NaN);
    buffers.push([ptr, n]);
    return ptr;
  };
  return {
    h,
    k: h.k,
    memory,
    buf,
    bufI32(data) {
      const ptr = buf(data.length);
      new Int32Array(memory.buffer, ptr, data.length).set(data);
      return ptr;
    },
    read: (ptr, n) => h.f32(ptr, n),
    slot(value) {
      const ptr = buf(2);
      new Float64Array(memory.buffer, ptr, 1)[0] = value;
      return ptr;
    },
    readF64: (ptr) => new Float64Array(memory.buffer, ptr, 1)[0],
    writeF64: (ptr, value) => {
      new Float64Array(memory.buffer, ptr, 1)[0] = value;
    },
    expectGuards() {
      for (const [ptr, n] of buffers) {
        const before = Array.from(h.f32(ptr - 4 * GUARD_WORDS, GUARD_WORDS));
        const after = Array.from(h.f32(ptr + 4 * n, GUARD_WORDS));
        expect({ ptr, n, before, after }).toEqual({ ptr, n, before: Array(4).fill(GUARD), after: Array(4).fill(GUARD) });
      }
    },
  };
}

// Elementwise a === e (so +0 equals -0; NaN never matches).
function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== Math.fround(expected[i])) {
      expect.fail(`${what}: element ${i} is ${actual[i]}, expected ${Math.fround(expected[i])}`);
    }
  }
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  if (worstError(actual, expected, rtol, atol) <= 1) return;
  let worst = 0;
  let at = 0;
  for (let i = 0; i < actual.length; i++) {
    const e = Math.abs(actual[i] - expected[i]) / (atol + rtol * Math.abs(expected[i]));
    if (!(e <= worst)) [worst, at] = [Number.isNaN(e) ? Infinity : e, i];
  }
  expect.fail(`${what}: ${worst.toPrecision(3)}x the tolerance at element ${at}: ${actual[at]}, expected ${expected[at]}`);
}

function expectNear(actual: number, expected: number, rtol: number, atol: number, what: string): void {
  expectClose([actual], [expected], rtol, atol, what);
}

// Distinct row labels in [0, n).
const labelsFor = (m: number, n: number, seed = 0) => Int32Array.from({ length: m }, (_, i) => (i * 7 + 3 + seed) % n);

// Soft target rows: positive, summing to 1 (up to f32 rounding).
function softTargets(m: number, n: number, seed: number): Float32Array {
  const t = randomArray(m * n, seed, 0.05, 1);
  for (let i = 0; i < m; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += t[i * n + j];
    for (let j = 0; j < n; j++) t[i * n + j] /= s;
  }
  return t;
}

// Bytes of [0, limit) that differ, ignoring [skipStart, skipEnd).
function changedBytes(before: Uint8Array, after: Uint8Array, skipStart: number, skipEnd: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < before.length; i++) if (before[i] !== after[i] && (i < skipStart || i >= skipEnd)) out.push(i);
  return out;
}

// Central finite differences in f64 of a scalar function of x.
function numericGradient(f: (x: Float64Array) => number, x0: ArrayLike<number>, h: number): Float64Array {
  const x = Float64Array.from(x0);
  const g = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    x[i] = v + h;
    const up = f(x);
    x[i] = v - h;
    const down = f(x);
    x[i] = v;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

describe('bias_fill', () => {
  it('broadcasts b over every row, for every row count and tail length', () => {
    const t = kit();
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
    t.expectGuards();
  });
});

describe('bias_backward', () => {
  for (const accumulate of [0, 1]) {
    it(`db ${accumulate ? '+=' : '='} column sums of dy`, () => {
      const t = kit();
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
      t.expectGuards();
    });
  }
});

describe('relu_forward', () => {
  // Negative, positive, exact zeros and -0 in every lane position.
  const input = (n: number) => {
    const x = randomArray(n, 17 * n);
    for (let i = 0; i < n; i += 5) x[i] = i % 2 ? -0 : 0;
    return x;
  };

  it('y = max(x, 0), out of place', () => {
    const t = kit();
    for (const n of SIZES) {
      const x = input(n);
      const y = t.buf(n);
      const xp = t.buf(n, x);
      t.k.relu_forward(y, xp, n);
      expectSame(t.read(y, n), reluRef(x), `relu n=${n}`);
      expectSame(t.read(xp, n), x, 'x unchanged');
    }
    t.expectGuards();
  });

  it('in place (y == x)', () => {
    const t = kit();
    for (const n of SIZES) {
      const x = input(n);
      const p = t.buf(n, x);
      t.k.relu_forward(p, p, n);
      expectSame(t.read(p, n), reluRef(x), `relu in place n=${n}`);
    }
    t.expectGuards();
  });

  // relu(NaN) is NaN in Keras (TF, JAX): a NaN must reach the loss so that check_loss stops the step.
  // The 4-wide body (f32x4.max) propagates it; the result must not depend on the element's position.
  it('propagates NaN from every position, body and tail alike', () => {
    const t = kit();
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
      const t = kit();
      for (const n of SIZES) {
        const y = Float32Array.from(reluRef(randomArray(n, 23 * n)));
        const dy = randomArray(n, 29 * n);
        const dx0 = randomArray(n, 31 * n, -3, 3);
        const dx = t.buf(n, accumulate ? dx0 : undefined);
        t.k.relu_backward(dx, t.buf(n, dy), t.buf(n, y), n, accumulate);
        // One f32 addition per element: the rounded f64 result is exact.
        expectSame(t.read(dx, n), reluBackwardRef(dy, y, accumulate ? dx0 : undefined), `relu_backward n=${n}`);
      }
      t.expectGuards();
    });
  }
});

describe('softmax_forward', () => {
  it('rows sum to 1 and match exp(x - max)/sum, in and out of place', () => {
    const t = kit();
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
    t.expectGuards();
  });

  it('large logits (+-1000, 1e4, all equal) neither overflow nor give NaN', () => {
    const t = kit();
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
    t.expectGuards();
  });
});

describe('softmax_backward', () => {
  for (const accumulate of [0, 1]) {
    it(`dx ${accumulate ? '+=' : '='} J^T dy, the softmax Jacobian`, () => {
      const t = kit();
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
      t.expectGuards();
    });
  }

  it('is the gradient of sum(dy * softmax(x)) (finite differences)', () => {
    const t = kit();
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

describe('fill_f32 and copy_f32', () => {
  it('fill writes exactly n copies of the f32 value', () => {
    const t = kit();
    for (const n of SIZES) {
      for (const value of [0, -0, 2.5, 0.1, -1e30, Infinity]) {
        const y = t.buf(n);
        t.k.fill_f32(y, value, n);
        expectSame(t.read(y, n), new Float64Array(n).fill(value), `fill n=${n} value=${value}`);
      }
    }
    t.k.fill_f32(t.buf(0), 1, 0);
    t.expectGuards();
  });

  for (const accumulate of [0, 1]) {
    it(`copy: y ${accumulate ? '+=' : '='} x`, () => {
      const t = kit();
      for (const n of SIZES) {
        const x = randomArray(n, 61 * n);
        const y0 = randomArray(n, 67 * n, -5, 5);
        const y = t.buf(n, accumulate ? y0 : undefined);
        const xp = t.buf(n, x);
        t.k.copy_f32(y, xp, n, accumulate);
        expectSame(t.read(y, n), x.map((v, i) => (accumulate ? Math.fround(v + y0[i]) : v)), `copy n=${n}`);
        expectSame(t.read(xp, n), x, 'x unchanged');
      }
      t.expectGuards();
    });
  }
});

describe('softmax_xent_sparse', () => {
  it('adds the summed loss to the slot and writes (softmax - onehot) * scale', () => {
    const t = kit();
    for (const m of ROWS) {
      for (const n of SIZES) {
        const x = randomArray(m * n, 71 * n + m, -4, 4);
        const labels = labelsFor(m, n);
        const scale = Math.fround(1 / m);
        const want = softmaxXentSparseRef(x, labels, m, n, scale);
        const slot = t.slot(0.625);
        const dx = t.buf(m * n);
        t.k.softmax_xent_sparse(slot, dx, t.buf(m * n, x), t.bufI32(labels), m, n, scale);
        expectNear(t.readF64(slot), 0.625 + want.loss, 1e-6, 1e-6 * m, `loss m=${m} n=${n}`);
        expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx m=${m} n=${n}`);
      }
    }
    t.expectGuards();
  });

  it('scale multiplies the gradient only; the loss is the unscaled sum', () => {
    const t = kit();
    const m = 3;
    const n = 9;
    const x = randomArray(m * n, 73, -3, 3);
    const labels = labelsFor(m, n);
    for (const scale of [1, 0.25, -2]) {
      const want = softmaxXentSparseRef(x, labels, m, n, scale);
      const slot = t.slot(0);
      const dx = t.buf(m * n);
      t.k.softmax_xent_sparse(slot, dx, t.buf(m * n, x), t.bufI32(labels), m, n, scale);
      expectNear(t.readF64(slot), want.loss, 1e-6, 1e-6, `loss scale=${scale}`);
      expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx scale=${scale}`);
    }
  });

  it('is stable for logits of magnitude 1e4', () => {
    const t = kit();
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
    t.k.softmax_xent_sparse(slot, dx, t.buf(m * n, x), t.bufI32(labels), m, n, scale);
    // lse is an f32 near 1e4 (ulp 2^-10): the loss is good to a few ulps of the logits.
    expect(Number.isFinite(t.readF64(slot))).toBe(true);
    expectNear(t.readF64(slot), 1.5 + want.loss, 1e-6, m * 4 * 2 ** -10, 'loss at 1e4');
    const got = t.read(dx, m * n);
    expect(got.every(Number.isFinite)).toBe(true);
    expectClose(got, want.dx, 4e-3, 1e-6, 'dx at 1e4');
    t.expectGuards();
  });

  it('dx = 0 writes no gradient and still accumulates the loss', () => {
    const t = kit();
    const m = 5;
    const n = 7;
    const x = randomArray(m * n, 79, -4, 4);
    const labels = labelsFor(m, n);
    const xp = t.buf(m * n, x);
    const lp = t.bufI32(labels);
    const slot = t.slot(-2);
    const before = new Uint8Array(t.memory.buffer).slice();
    t.k.softmax_xent_sparse(slot, 0, xp, lp, m, n, 0.5);
    const after = new Uint8Array(t.memory.buffer);
    expect(changedBytes(before, after, slot, slot + 8)).toEqual([]);
    expectNear(t.readF64(slot), -2 + softmaxXentSparseRef(x, labels, m, n, 1).loss, 1e-6, 1e-6, 'loss');
  });

  it('the gradient is d(loss * scale)/dx (finite differences)', () => {
    const t = kit();
    const m = 3;
    const n = 5;
    const x = randomArray(m * n, 83, -2, 2);
    const labels = labelsFor(m, n);
    const dx = t.buf(m * n);
    t.k.softmax_xent_sparse(t.slot(0), dx, t.buf(m * n, x), t.bufI32(labels), m, n, Math.fround(1 / 3));
    const f = (xs: Float64Array) => softmaxXentSparseRef(xs, labels, m, n, 1).loss * Math.fround(1 / 3);
    expectClose(t.read(dx, m * n), numericGradient(f, x, 1e-4), 1e-4, 1e-7, 'sparse dx vs finite differences');
  });
});

describe('softmax_xent_dense', () => {
  const kinds = ['one-hot', 'soft'] as const;
  for (const kind of kinds) {
    it(`${kind} targets: loss sum added to the slot, dx = (softmax * sum(t) - t) * scale`, () => {
      const t = kit();
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
      t.expectGuards();
    });
  }

  it('one-hot targets give the same loss and gradient as sparse labels', () => {
    const t = kit();
    const m = 5;
    const n = 17;
    const x = randomArray(m * n, 101, -4, 4);
    const labels = labelsFor(m, n);
    const s1 = t.slot(0);
    const s2 = t.slot(0);
    const d1 = t.buf(m * n);
    const d2 = t.buf(m * n);
    t.k.softmax_xent_sparse(s1, d1, t.buf(m * n, x), t.bufI32(labels), m, n, 0.2);
    t.k.softmax_xent_dense(s2, d2, t.buf(m * n, x), t.buf(m * n, oneHot(labels, n)), m, n, 0.2);
    expectNear(t.readF64(s2), t.readF64(s1), 1e-6, 1e-6, 'loss');
    expectClose(t.read(d2, m * n), t.read(d1, m * n), 1e-6, 1e-8, 'dx');
  });

  it('is stable for logits of magnitude 1e4 with soft targets', () => {
    const t = kit();
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
    const t = kit();
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
    const t = kit();
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
      const t = kit();
      for (const m of ROWS) {
        for (const n of SIZES) {
          const p = probs(m, n, 131 * n + m);
          const labels = labelsFor(m, n);
          const target = sparse ? oneHot(labels, n) : softTargets(m, n, 137 * n + m);
          const scale = Math.fround(1 / m);
          const want = xentProbsRef(p, target, m, n, scale);
          const slot = t.slot(-0.5);
          const dx = t.buf(m * n);
          const yp = sparse ? t.bufI32(labels) : t.buf(m * n, target);
          t.k.xent_probs(slot, dx, t.buf(m * n, p), yp, sparse, m, n, scale);
          expectNear(t.readF64(slot), -0.5 + want.loss, 1e-6, 1e-6 * m, `loss m=${m} n=${n}`);
          expectClose(t.read(dx, m * n), want.dx, 1e-5, 1e-7, `dx m=${m} n=${n}`);
        }
      }
      t.expectGuards();
    });

    it(`${sparse ? 'sparse' : 'dense'}: clips to [1e-7, 1 - 1e-7]; the gradient is 0 at and beyond the clip`, () => {
      const t = kit();
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
      t.k.xent_probs(slot, dx, t.buf(m * n, p), sparse ? t.bufI32(labels) : t.buf(m * n, target), sparse, m, n, scale);
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
      t.expectGuards();
    });

    it(`${sparse ? 'sparse' : 'dense'}: dx = 0 writes no gradient; the gradient matches finite differences`, () => {
      const t = kit();
      const m = 3;
      const n = 5;
      const p = probs(m, n, 139);
      const labels = labelsFor(m, n);
      const target = sparse ? oneHot(labels, n) : softTargets(m, n, 149);
      const pp = t.buf(m * n, p);
      const yp = sparse ? t.bufI32(labels) : t.buf(m * n, target);
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

describe('accuracy_count', () => {
  it('counts rows whose first argmax matches, sparse and dense, adding to the slot', () => {
    const t = kit();
    for (const m of ROWS) {
      for (const n of SIZES) {
        // Small integers: ties are frequent, and must resolve to the first maximum.
        const x = randomArray(m * n, 151 * n + m, 0, 3).map(Math.floor);
        const target = randomArray(m * n, 157 * n + m, 0, 3).map(Math.floor);
        const labels = Int32Array.from({ length: m }, (_, i) => (i % 2 ? labelsFor(m, n)[i] : argmaxRef(x, i, n)));
        for (const sparse of [1, 0]) {
          const slot = t.slot(2);
          const y = sparse ? labels : target;
          t.k.accuracy_count(slot, t.buf(m * n, x), sparse ? t.bufI32(labels) : t.buf(m * n, target), sparse, m, n);
          expect(t.readF64(slot), `m=${m} n=${n} sparse=${sparse}`).toBe(2 + accuracyCountRef(x, y, !!sparse, m, n));
        }
      }
    }
    t.expectGuards();
  });

  it('ties take the first maximum, in x and in dense targets', () => {
    const t = kit();
    const n = 4;
    const x = Float32Array.from([1, 3, 3, 0, 1, 3, 3, 0, 5, 5, 5, 5, 5, 5, 5, 5, -1, -1, -2, -1]);
    const m = 5;
    const labels = Int32Array.from([1, 2, 0, 3, 0]);
    const slot = t.slot(0);
    t.k.accuracy_count(slot, t.buf(m * n, x), t.bufI32(labels), 1, m, n);
    expect(t.readF64(slot)).toBe(3); // rows 0, 2, 4
    const target = Float32Array.from([0, 0.5, 0.5, 0, 0, 0, 1, 0, 0.5, 0.5, 0, 0, 0.25, 0.25, 0.25, 0.25, 1, 0, 0, 0]);
    const slot2 = t.slot(10);
    t.k.accuracy_count(slot2, t.buf(m * n, x), t.buf(m * n, target), 0, m, n);
    expect(t.readF64(slot2)).toBe(10 + 4); // rows 0, 2, 3 (a flat target row's argmax is 0), 4
    expect(accuracyCountRef(x, target, false, m, n)).toBe(4);
  });
});

describe('sgd_update', () => {
  const STEPS = 20;
  const configs = [
    { momentum: 0, nesterov: 0 },
    { momentum: 0.9, nesterov: 0 },
    { momentum: 0.9, nesterov: 1 },
  ];
  for (const { momentum, nesterov } of configs) {
    it(`momentum ${momentum}${nesterov ? ' nesterov' : ''}: ${STEPS} steps with a changing lr follow the Keras formulas`, () => {
      const t = kit();
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
          sgdStepRef(ref.w, grad, ref.v, lr, mu, !!nesterov);
        }
        expectClose(t.read(w, n), ref.w, 1e-5, 1e-6, `w n=${n}`);
        if (momentum) expectClose(t.read(v, n), ref.v, 1e-5, 1e-7, `v n=${n}`);
        else expect(t.read(v, n).every(Number.isNaN), 'v untouched').toBe(true);
      }
      t.expectGuards();
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
        const t = kit();
        for (const n of SIZES) {
          const w0 = randomArray(n, 167 * n, -1, 1);
          const ref: AdamState = { w: Float64Array.from(w0), m: new Float64Array(n), v: new Float64Array(n) };
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
            adamStepRef(ref, grad, lrStep, beta1, beta2, eps, t0 + step);
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
        t.expectGuards();
      });
    }
  }

  it('amsgrad and plain Adam differ once v falls (the vhat path is really taken)', () => {
    const t = kit();
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
    const t = kit();
    const n = 17;
    const grad = randomArray(n, 173, -1, 1).map((g) => Math.sign(g) * (0.5 + Math.abs(g)));
    const w = t.buf(n, new Float32Array(n));
    t.k.adam_update(w, t.buf(n, grad), t.buf(n, new Float32Array(n)), t.buf(n, new Float32Array(n)), 0, n, lr, beta1, beta2, eps, 1, ...NO_CLIP);
    expectClose(t.read(w, n), Array.from(grad, (gi) => -lr * Math.sign(gi)), 1e-4, 1e-9, 'first step');
  });
});

describe('sumsq_f32', () => {
  it('equals the f64 sum of squares for every tail length', () => {
    const t = kit();
    for (const n of [0, ...SIZES, 1000, 1001]) {
      const x = randomArray(n, 179 * n + 1, -3, 3);
      const got = t.k.sumsq_f32(t.buf(n, x), n);
      expectNear(got, sumsqRef(x), 1e-6, 1e-12, `sumsq n=${n}`);
    }
    t.expectGuards();
  });

  // Large but finite gradients (|g| > 1.8e19, whose square overflows f32) must give the same
  // finite f64 sum wherever they sit: an Infinity here makes check_grads abort the step.
  it('forms squares in f64 in the vector body as in the tail (no f32 overflow)', () => {
    const t = kit();
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

// ---------------------------------------------------------------------------------------------
// The interpreter: op words [opcode, nargs, args...]; opcodes, argument order and header offsets
// from the op table (host/compile/op-table.ts), which generates assembly/interp/.
const OP = Object.fromEntries(Object.entries(OP_SPECS).map(([name, spec]) => [name.toUpperCase(), spec.code])) as Record<Uppercase<OpName>, number>;
// apply_gradients kinds; no clipping, no weight decay.
const OPT = { SGD: OPT_KIND.sgd, ADAM: OPT_KIND.adam } as const;
const NO_CLIP = [1, 1, -Infinity, Infinity, 0] as const;
const sgdOp = (w: number, g: number, v: number, count: number, nesterov = 0): Word[] =>
  [OP.APPLY_GRADIENTS, OPT.SGD, w, g, v, 0, 0, count, 0, f32arg(0), f32arg(0), f32arg(0), f32arg(0), nesterov];
const S = {
  BATCH: HEADER.batch, ITER: HEADER.iter, LR: HEADER.lr, FAILED_OP: HEADER.failedOp, GRAD_NORM_SQ: HEADER.gradNormSq,
  LOSS_SUM: HEADER.lossSum, CORRECT: HEADER.correct, MOMENTUM: HEADER.momentum, BYTES: HEADER.bytes,
} as const;

// An f32 argument (stored as its bit pattern), as opposed to an i32 word.
interface F32Arg { f32: number }
type Word = number | F32Arg;
const f32arg = (v: number): F32Arg => ({ f32: v });

function encode(ops: Word[][]): Int32Array {
  const words: number[] = [];
  const bits = new DataView(new ArrayBuffer(4));
  for (const [code, ...args] of ops) {
    words.push(code as number, args.length);
    for (const a of args) {
      if (typeof a === 'number') words.push(a);
      else {
        bits.setFloat32(0, a.f32, true);
        words.push(bits.getInt32(0, true));
      }
    }
  }
  return Int32Array.from(words);
}

interface Header { batch: number; step?: number; lr?: number; lossSum?: number; gradNormSq?: number; correct?: number; momentum?: number }

function writeHeader(t: Kit, ptr: number, h: Header): void {
  const d = new DataView(t.memory.buffer, ptr, S.BYTES);
  d.setInt32(S.BATCH, h.batch, true);
  d.setInt32(S.ITER, (h.step ?? 1) - 1, true); // iterations done: this step's t - 1
  d.setFloat32(S.LR, h.lr ?? 0.01, true);
  d.setInt32(S.FAILED_OP, 12345, true);
  d.setFloat64(S.GRAD_NORM_SQ, h.gradNormSq ?? 0, true);
  d.setFloat64(S.LOSS_SUM, h.lossSum ?? 0, true);
  d.setFloat64(S.CORRECT, h.correct ?? 0, true);
  d.setFloat32(S.MOMENTUM, h.momentum ?? 0, true);
}

const failedOp = (t: Kit, header: number) => new DataView(t.memory.buffer).getInt32(header + S.FAILED_OP, true);

describe('run (plan interpreter)', () => {
  it('bias_fill + relu_forward in place, sizes per sample times the header batch', () => {
    const t = kit();
    const planned = 4; // buffers sized for 4 samples; this step runs 3
    const batch = 3;
    const rows = 2; // rows per sample
    const n = 5;
    const b = randomArray(n, 181);
    const bp = t.buf(n, b);
    const y = t.buf(planned * rows * n);
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    writeHeader(t, header, { batch });
    const ops = t.bufI32(encode([[OP.BIAS_FILL, y, bp, rows, n], [OP.RELU_FORWARD, y, y, rows * n]]));
    expect(t.k.run(ops, 2, header)).toBe(0);
    expect(failedOp(t, header)).toBe(-1);

    const got = t.read(y, planned * rows * n);
    const want = reluRef(biasFillRef(b, batch * rows, n));
    expectSame(got.subarray(0, batch * rows * n), want, 'first batch*rows rows');
    expect(Array.from(got.subarray(batch * rows * n)).every(Number.isNaN), 'rows past the batch untouched').toBe(true);

    // The same kernels called directly.
    const y2 = t.buf(batch * rows * n);
    t.k.bias_fill(y2, bp, batch * rows, n);
    t.k.relu_forward(y2, y2, batch * rows * n);
    expectSame(got.subarray(0, batch * rows * n), t.read(y2, batch * rows * n), 'run vs direct calls');
    t.expectGuards();
  });

  // Every opcode, run as a one-op stream in one memory and as the direct kernel call in an identical
  // second memory: the two memories must end up byte for byte equal (outputs, header sums, and
  // everything past the batch that neither may touch).
  describe('each opcode equals its direct kernel call', () => {
    const planned = 4;
    const batch = 3;
    const R = 2; // rows per sample
    const N = 5;
    const K = 3;
    const LR = Math.fround(0.125);
    const STEP = 7;
    const scale = Math.fround(1 / batch);

    interface Bufs { [name: string]: number }
    // Identical buffers (same offsets, same contents) in any kit.
    function buffers(t: Kit): Bufs {
      const rowsMax = planned * R;
      const x = randomArray(rowsMax * N, 191, -2, 2);
      const probsRows = Float32Array.from(softmaxRef(x, rowsMax, N));
      const labels = labelsFor(rowsMax, N);
      const P = 11; // parameter count for the optimizer ops
      return {
        x: t.buf(rowsMax * N, x),
        xk: t.buf(rowsMax * K, randomArray(rowsMax * K, 193)),
        w: t.buf(K * N, randomArray(K * N, 197)),
        b: t.buf(N, randomArray(N, 199)),
        dy: t.buf(rowsMax * N, randomArray(rowsMax * N, 211)),
        yRelu: t.buf(rowsMax * N, reluRef(randomArray(rowsMax * N, 223))),
        ySoft: t.buf(rowsMax * N, probsRows),
        probs: t.buf(rowsMax * N, probsRows),
        soft: t.buf(rowsMax * N, softTargets(rowsMax, N, 227)),
        labels: t.bufI32(labels),
        out: t.buf(rowsMax * N),
        outAcc: t.buf(rowsMax * N, randomArray(rowsMax * N, 229)),
        dW: t.buf(K * N),
        db: t.buf(N),
        dbAcc: t.buf(N, randomArray(N, 233)),
        pack: t.buf(8192),
        pw: t.buf(P, randomArray(P, 239)),
        pg: t.buf(P, randomArray(P, 241)),
        pm: t.buf(P, randomArray(P, 251, 0, 0.1)),
        pv: t.buf(P, randomArray(P, 257, 0, 0.01)),
        pvhat: t.buf(P, randomArray(P, 263, 0, 0.02)),
        P,
        header: t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4)),
        ops: t.buf(64, new Float32Array(64)),
      };
    }

    interface Case {
      name: string;
      momentum?: number; // the header's momentum (or beta_1) for apply_gradients
      words(b: Bufs): Word[];
      direct(t: Kit, b: Bufs): void;
    }
    const L = (b: Bufs) => b.header + S.LOSS_SUM;
    const cases: Case[] = [
      {
        name: 'gemm, m per sample (y = x.W)',
        words: (b) => [OP.GEMM, b.out, b.xk, b.w, R, N, K, K, 1, N, 1, N, 0, b.pack, 1],
        direct: (t, b) => t.k.gemm_f32(b.out, b.xk, b.w, R * batch, N, K, K, 1, N, 1, N, 0, b.pack),
      },
      {
        name: 'gemm, k per sample (dW = x^T.dy), accumulating',
        words: (b) => [OP.GEMM, b.outAcc, b.xk, b.dy, K, N, R, 1, K, N, 1, N, 1, b.pack, 4],
        direct: (t, b) => t.k.gemm_f32(b.outAcc, b.xk, b.dy, K, N, R * batch, 1, K, N, 1, N, 1, b.pack),
      },
      {
        name: 'bias_fill',
        words: (b) => [OP.BIAS_FILL, b.out, b.b, R, N],
        direct: (t, b) => t.k.bias_fill(b.out, b.b, R * batch, N),
      },
      ...[0, 1].map((acc): Case => ({
        name: `bias_backward acc=${acc}`,
        words: (b) => [OP.BIAS_BACKWARD, acc ? b.dbAcc : b.db, b.dy, R, N, acc],
        direct: (t, b) => t.k.bias_backward(acc ? b.dbAcc : b.db, b.dy, R * batch, N, acc),
      })),
      {
        name: 'relu_forward',
        words: (b) => [OP.RELU_FORWARD, b.out, b.x, R * N],
        direct: (t, b) => t.k.relu_forward(b.out, b.x, R * N * batch),
      },
      ...[0, 1].map((acc): Case => ({
        name: `relu_backward acc=${acc}`,
        words: (b) => [OP.RELU_BACKWARD, acc ? b.outAcc : b.out, b.dy, b.yRelu, R * N, acc],
        direct: (t, b) => t.k.relu_backward(acc ? b.outAcc : b.out, b.dy, b.yRelu, R * N * batch, acc),
      })),
      {
        name: 'softmax_forward',
        words: (b) => [OP.SOFTMAX_FORWARD, b.out, b.x, R, N],
        direct: (t, b) => t.k.softmax_forward(b.out, b.x, R * batch, N),
      },
      ...[0, 1].map((acc): Case => ({
        name: `softmax_backward acc=${acc}`,
        words: (b) => [OP.SOFTMAX_BACKWARD, acc ? b.outAcc : b.out, b.dy, b.ySoft, R, N, acc],
        direct: (t, b) => t.k.softmax_backward(acc ? b.outAcc : b.out, b.dy, b.ySoft, R * batch, N, acc),
      })),
      ...[0, 1].map((perSample): Case => ({
        name: `fill perSample=${perSample}`,
        words: (b) => [OP.FILL, b.out, f32arg(-1.75), R * N, perSample],
        direct: (t, b) => t.k.fill_f32(b.out, -1.75, R * N * (perSample ? batch : 1)),
      })),
      ...[0, 1].map((acc): Case => ({
        name: `copy acc=${acc}`,
        words: (b) => [OP.COPY, acc ? b.outAcc : b.out, b.x, R * N, acc],
        direct: (t, b) => t.k.copy_f32(acc ? b.outAcc : b.out, b.x, R * N * batch, acc),
      })),
      {
        name: 'xent_logits_sparse (scale 1/batch, loss into the header)',
        words: (b) => [OP.XENT_LOGITS_SPARSE, b.out, b.x, b.labels, R, N],
        direct: (t, b) => t.k.softmax_xent_sparse(L(b), b.out, b.x, b.labels, R * batch, N, scale),
      },
      {
        name: 'xent_logits_dense',
        words: (b) => [OP.XENT_LOGITS_DENSE, b.out, b.x, b.soft, R, N],
        direct: (t, b) => t.k.softmax_xent_dense(L(b), b.out, b.x, b.soft, R * batch, N, scale),
      },
      ...[0, 1].map((sparse): Case => ({
        name: `xent_probs sparse=${sparse}`,
        words: (b) => [OP.XENT_PROBS, b.out, b.probs, sparse ? b.labels : b.soft, sparse, R, N],
        direct: (t, b) => t.k.xent_probs(L(b), b.out, b.probs, sparse ? b.labels : b.soft, sparse, R * batch, N, scale),
      })),
      ...[0, 1].map((sparse): Case => ({
        name: `accuracy sparse=${sparse}`,
        words: (b) => [OP.ACCURACY, b.x, sparse ? b.labels : b.soft, sparse, R, N],
        direct: (t, b) => t.k.accuracy_count(b.header + S.CORRECT, b.x, sparse ? b.labels : b.soft, sparse, R * batch, N),
      })),
      {
        name: 'grad_norm (count not scaled by the batch)',
        words: (b) => [OP.GRAD_NORM, b.pg, b.P],
        direct: (t, b) => {
          const d = new DataView(t.memory.buffer);
          d.setFloat64(b.header + S.GRAD_NORM_SQ, d.getFloat64(b.header + S.GRAD_NORM_SQ, true) + t.k.sumsq_f32(b.pg, b.P), true);
        },
      },
      { name: 'check_loss (finite: continues)', words: () => [OP.CHECK_LOSS], direct: () => {} },
      { name: 'check_grads (finite: continues)', words: () => [OP.CHECK_GRADS], direct: () => {} },
      ...[[0, 0], [0.9, 0], [0.9, 1]].map(([mu, nesterov]): Case => ({
        name: `sgd momentum=${mu} nesterov=${nesterov} (lr from the header)`,
        momentum: mu,
        words: (b) => sgdOp(b.pw, b.pg, mu ? b.pv : 0, b.P, nesterov),
        direct: (t, b) => t.k.sgd_update(b.pw, b.pg, mu ? b.pv : 0, b.P, LR, mu, nesterov, ...NO_CLIP),
      })),
      ...[false, true].map((amsgrad): Case => ({
        name: `adam amsgrad=${amsgrad} (lr and t from the header)`,
        momentum: 0.9,
        words: (b) => [OP.APPLY_GRADIENTS, OPT.ADAM, b.pw, b.pg, b.pm, b.pv, amsgrad ? b.pvhat : 0, b.P, 0, f32arg(0), f32arg(0), f32arg(0.999), f32arg(1e-7), 0],
        direct: (t, b) => t.k.adam_update(b.pw, b.pg, b.pm, b.pv, amsgrad ? b.pvhat : 0, b.P, LR, 0.9, 0.999, 1e-7, STEP, ...NO_CLIP),
      })),
    ];

    for (const c of cases) {
      it(c.name, () => {
        const viaRun = kit(8);
        const direct = kit(8);
        const br = buffers(viaRun);
        const bd = buffers(direct);
        expect(bd).toEqual(br);
        for (const [t, b] of [[viaRun, br], [direct, bd]] as const) {
          writeHeader(t, b.header, { batch, step: STEP, lr: LR, lossSum: 0.75, gradNormSq: 0.5, correct: 1, momentum: c.momentum });
          new Int32Array(t.memory.buffer, b.ops, 64).set(encode([c.words(b)]));
        }
        expect(viaRun.k.run(br.ops, 1, br.header)).toBe(0);
        c.direct(direct, bd);
        new DataView(direct.memory.buffer).setInt32(bd.header + S.FAILED_OP, -1, true);

        const a = new Uint8Array(viaRun.memory.buffer);
        const d = new Uint8Array(direct.memory.buffer);
        const diff = changedBytes(d, a, 0, 0);
        expect(diff.length, `${diff.length} bytes differ, first at ${diff[0]}`).toBe(0);
        // And the op did something (the comparison is not vacuous).
        const fresh = kit(8);
        const bf = buffers(fresh);
        writeHeader(fresh, bf.header, { batch, step: STEP, lr: LR, lossSum: 0.75, gradNormSq: 0.5, correct: 1, momentum: c.momentum });
        new Int32Array(fresh.memory.buffer, bf.ops, 64).set(encode([c.words(bf)]));
        new DataView(fresh.memory.buffer).setInt32(bf.header + S.FAILED_OP, -1, true);
        const untouched = changedBytes(new Uint8Array(fresh.memory.buffer), a, 0, 0).length === 0;
        expect(untouched).toBe(c.name.startsWith('check_'));
        viaRun.expectGuards();
      });
    }
  });

  it('a stream of several ops advances by each op\'s nargs', () => {
    const t = kit();
    const batch = 2;
    const n = 9;
    const x = randomArray(batch * n, 269, -2, 2);
    const xp = t.buf(batch * n, x);
    const y = t.buf(batch * n);
    const z = t.buf(batch * n);
    const fillTarget = t.buf(3);
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    writeHeader(t, header, { batch });
    const ops = t.bufI32(encode([
      [OP.SOFTMAX_FORWARD, y, xp, 1, n],
      [OP.FILL, fillTarget, f32arg(4.5), 3, 0],
      [OP.COPY, z, y, n, 0],
      [OP.RELU_FORWARD, z, z, n],
    ]));
    expect(t.k.run(ops, 4, header)).toBe(0);
    expectClose(t.read(z, batch * n), softmaxRef(x, batch, n), 1e-5, 1e-8, 'softmax, copied, relu (a no-op on probabilities)');
    expectSame(t.read(fillTarget, 3), [4.5, 4.5, 4.5], 'fill');
    t.expectGuards();
  });

  it('an unknown opcode returns -(1 + index), records the index, and runs nothing after it', () => {
    const codes = Object.values(OP_SPECS).map((spec) => spec.code);
    for (const bad of [0, Math.max(...codes) + 1, 999, -1]) {
      const t = kit();
      const a = t.buf(4);
      const c = t.buf(4);
      const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
      writeHeader(t, header, { batch: 1 });
      const ops = t.bufI32(encode([[OP.FILL, a, f32arg(1), 4, 0], [bad, a, 0], [OP.FILL, c, f32arg(2), 4, 0]]));
      const status = t.k.run(ops, 3, header);
      expect(status, `opcode ${bad}`).toBeLessThan(0);
      expect(status).toBe(-2);
      expect(failedOp(t, header)).toBe(1);
      expectSame(t.read(a, 4), [1, 1, 1, 1], 'the op before ran');
      expect(Array.from(t.read(c, 4)).every(Number.isNaN), 'the op after did not run').toBe(true);
      t.expectGuards();
    }
  });

  it('check_loss returns 1 + its index when the loss sum is NaN or infinite, and nothing after it runs', () => {
    const t = kit();
    const batch = 2;
    const n = 3;
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    // A NaN logit makes the loss NaN through xent_logits_sparse itself.
    const x = t.buf(batch * n, [0.5, NaN, 1, 2, 0, -1]);
    const labels = t.bufI32([1, 0]);
    const dx = t.buf(batch * n);
    const w0 = randomArray(4, 271);
    const w = t.buf(4, w0);
    const g = t.buf(4, [1, 1, 1, 1]);
    const after = t.buf(2);
    const stream = encode([
      [OP.XENT_LOGITS_SPARSE, dx, x, labels, 1, n],
      [OP.CHECK_LOSS],
      sgdOp(w, g, 0, 4),
      [OP.FILL, after, f32arg(3), 2, 0],
    ]);
    const ops = t.bufI32(stream);
    writeHeader(t, header, { batch, lr: 0.5 });
    expect(t.k.run(ops, 4, header)).toBe(2);
    expect(failedOp(t, header)).toBe(1);
    expect(Number.isNaN(new DataView(t.memory.buffer).getFloat64(header + S.LOSS_SUM, true))).toBe(true);
    expectSame(t.read(w, 4), w0, 'sgd after check_loss did not run');
    expect(Array.from(t.read(after, 2)).every(Number.isNaN), 'fill after check_loss did not run').toBe(true);

    // A non-finite sum already in the header (Infinity, NaN) is caught the same way, at any index.
    for (const lossSum of [Infinity, -Infinity, NaN]) {
      writeHeader(t, header, { batch, lossSum });
      const ops2 = t.bufI32(encode([[OP.FILL, after, f32arg(0), 1, 0], [OP.FILL, after, f32arg(0), 1, 0], [OP.CHECK_LOSS], [OP.FILL, after, f32arg(5), 2, 0]]));
      expect(t.k.run(ops2, 4, header), `loss sum ${lossSum}`).toBe(3);
      expect(failedOp(t, header)).toBe(2);
      expectSame(t.read(after, 1), [0], 'ops before check_loss ran');
      expect(Number.isNaN(t.read(after, 2)[1]), 'op 3 did not run').toBe(true);
    }

    // A finite loss: check_loss passes, everything runs, status 0, failed op -1.
    writeHeader(t, header, { batch, lr: 0.5, lossSum: 0 });
    const x2 = t.buf(batch * n, [0.5, 0.25, 1, 2, 0, -1]);
    const ops3 = t.bufI32(encode([[OP.XENT_LOGITS_SPARSE, dx, x2, labels, 1, n], [OP.CHECK_LOSS], sgdOp(w, g, 0, 4), [OP.FILL, after, f32arg(3), 2, 0]]));
    expect(t.k.run(ops3, 4, header)).toBe(0);
    expect(failedOp(t, header)).toBe(-1);
    const want = softmaxXentSparseRef([0.5, 0.25, 1, 2, 0, -1], [1, 0], batch, n, 1).loss;
    expectNear(new DataView(t.memory.buffer).getFloat64(header + S.LOSS_SUM, true), want, 1e-6, 1e-6, 'loss sum');
    expectSame(t.read(w, 4), w0.map((v) => Math.fround(v - 0.5)), 'sgd ran with the header lr');
    expectSame(t.read(after, 2), [3, 3], 'fill ran');
    t.expectGuards();
  });

  it('check_grads returns 1 + its index when grad_norm summed a non-finite gradient', () => {
    const t = kit();
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    const w0 = randomArray(5, 277);
    const w = t.buf(5, w0);
    const gOk = t.buf(5, [1, 2, 3, 4, 5]);
    const gBad = t.buf(5, [1, 2, Infinity, 4, 5]);
    const ops = t.bufI32(encode([[OP.GRAD_NORM, gOk, 5], [OP.GRAD_NORM, gBad, 5], [OP.CHECK_GRADS], sgdOp(w, gOk, 0, 5)]));
    writeHeader(t, header, { batch: 4, lr: 1 });
    expect(t.k.run(ops, 4, header)).toBe(3);
    expect(failedOp(t, header)).toBe(2);
    expectSame(t.read(w, 5), w0, 'no update after check_grads failed');

    const ops2 = t.bufI32(encode([[OP.GRAD_NORM, gOk, 5], [OP.GRAD_NORM, gOk, 3], [OP.CHECK_GRADS], sgdOp(w, gOk, 0, 5)]));
    writeHeader(t, header, { batch: 4, lr: 1, gradNormSq: 0.25 });
    expect(t.k.run(ops2, 4, header)).toBe(0);
    expect(new DataView(t.memory.buffer).getFloat64(header + S.GRAD_NORM_SQ, true)).toBe(0.25 + 55 + 14);
    expectSame(t.read(w, 5), w0.map((v, i) => Math.fround(v - (i + 1))), 'update ran');
    t.expectGuards();
  });

  it('count 0 runs nothing and returns 0', () => {
    const t = kit();
    const header = t.buf(S.BYTES / 4, new Float32Array(S.BYTES / 4));
    writeHeader(t, header, { batch: 1 });
    const a = t.buf(2);
    const ops = t.bufI32(encode([[OP.FILL, a, f32arg(1), 2, 0]]));
    expect(t.k.run(ops, 0, header)).toBe(0);
    expect(failedOp(t, header)).toBe(-1);
    expect(Array.from(t.read(a, 2)).every(Number.isNaN)).toBe(true);
  });
});
