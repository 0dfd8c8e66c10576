// Batch normalization kernels (assembly/kernels/norm.ts, norm-inference.ts) against the f64 twins in test/reference/layers.ts.
//
// Sizes sweep channels C in {1,3,4,5,8,13,16,37} (the sixteen- and four-wide walks and every scalar
// tail) and rows M in
// {1,2,5,16,300} (300: by rows, its sums in eight parts of 37 and 38 rows); channels get offsets up to 100 and spreads down to 1e-2, so a naive sum of squares
// would cancel. Outputs start as NaN and buffers carry guard words.
//
// Tolerances: statistics are summed in f64 and rounded once, so mean, invstd, the moving
// statistics and dgamma/dbeta are held to 1e-6 of the magnitude of their terms. y = x*inv + shift
// and dx = k*((dy - a) - xhat*b) are f32 expressions of a few operations: held to 1e-6 of the sum
// of the magnitudes of their terms. Gradients are also checked against central differences of the
// f64 forward (1e-4 of the largest gradient entry: the f64 difference itself is good to ~1e-9).
import { describe, expect, it } from 'vitest';
import { harness, randomArray, type Harness } from './support/harness';
import { expectClose } from './support/close';
import { centralDifference } from './support/finite-diff';
import {
  batchStatsRef, bnBackwardInferenceRef, bnBackwardTrainRef, bnForwardTrainRef, normalizeRef,
} from './reference/layers';

const CHANNELS = [1, 3, 4, 5, 8, 13, 16, 37];
const bitsOf = (f: Float32Array) => new Uint32Array(Float32Array.from(f).buffer);
const ROWS = [1, 2, 5, 16, 300];
const RTOL = 1e-6;
const MOMENTUM = Math.fround(0.99);
const EPSILON = Math.fround(1e-3);

interface Case {
  x: Float32Array;
  gamma: Float32Array;
  beta: Float32Array;
  movingMean: Float32Array;
  movingVar: Float32Array;
  dy: Float32Array;
}

// Channel j: offset up to +-100, spread from 1e-2 to 3.
function makeCase(m: number, c: number, seed: number): Case {
  const offset = randomArray(c, seed, -100, 100);
  const spread = Float32Array.from(randomArray(c, seed + 1, -2, 0.5), (e) => 10 ** e);
  const u = randomArray(m * c, seed + 2, -1, 1);
  return {
    x: Float32Array.from(u, (v, q) => offset[q % c] * (q % c === 0 ? 0 : 1) + spread[q % c] * v),
    gamma: randomArray(c, seed + 3, 0.5, 2),
    beta: randomArray(c, seed + 4, -1, 1),
    movingMean: randomArray(c, seed + 5, -1, 1),
    movingVar: randomArray(c, seed + 6, 0.5, 2),
    dy: randomArray(m * c, seed + 7, -1, 1),
  };
}

// |got - want| <= RTOL*scale elementwise, scale the magnitude of the terms of each element.
function expectScaled(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number> | number, what: string): void {
  expectClose(got, want, 0, typeof scale === 'number' ? RTOL * scale + 1e-30 : Float64Array.from(scale, (s) => RTOL * s + 1e-30), what);
}

const abs = (a: ArrayLike<number>) => Float64Array.from(a, Math.abs);

// Magnitude of the terms of y = x*inv + (beta - mean*inv), per element.
function yScale(x: ArrayLike<number>, mean: ArrayLike<number>, variance: ArrayLike<number>, gamma: ArrayLike<number> | null,
  beta: ArrayLike<number> | null, m: number, c: number): Float64Array {
  const s = new Float64Array(m * c);
  for (let q = 0; q < m * c; q++) {
    const j = q % c;
    const inv = (gamma ? gamma[j] : 1) / Math.sqrt(variance[j] + EPSILON);
    s[q] = Math.abs(x[q] * inv) + Math.abs(beta ? beta[j] : 0) + Math.abs(mean[j] * inv);
  }
  return s;
}

interface TrainRun { y: number; mean: number; invstd: number; movingMean: number; movingVar: number }

function forwardTrain(h: Harness, g: Harness, t: Case, m: number, c: number, affine: boolean): TrainRun {
  const r = {
    y: g.buf(m * c), mean: g.buf(c), invstd: g.buf(c), movingMean: g.buf(c), movingVar: g.buf(c),
  };
  const x = g.buf(m * c, t.x);
  // The updated statistics go to their own buffers (the training step's pending state).
  const mm = g.buf(c, t.movingMean);
  const mv = g.buf(c, t.movingVar);
  h.k.batchnorm_forward_train(r.y, r.mean, r.invstd, r.movingMean, r.movingVar, x,
    affine ? g.buf(c, t.gamma) : 0, affine ? g.buf(c, t.beta) : 0, mm, mv, m, c, MOMENTUM, EPSILON);
  expect(g.read(x, m * c)).toEqual(t.x);
  expect(g.read(mm, c)).toEqual(t.movingMean);
  expect(g.read(mv, c)).toEqual(t.movingVar);
  return r;
}

describe('batch normalization', () => {
  it('forward (training): batch statistics, y, saved mean/invstd and the moving-statistic update', () => {
    const h = harness(64);
    const g = h;
    for (const c of CHANNELS) {
      for (const m of ROWS) {
        for (const affine of [true, false]) {
          const t = makeCase(m, c, 10 * c + m);
          const where = `M ${m} C ${c} ${affine ? 'gamma/beta' : 'no gamma/beta'}`;
          const r = forwardTrain(h, g, t, m, c, affine);
          const want = bnForwardTrainRef(t.x, affine ? t.gamma : null, affine ? t.beta : null, t.movingMean, t.movingVar, m, c, MOMENTUM, EPSILON);
          const spread = Float64Array.from(want.variance, (v, j) => Math.sqrt(v) + 1e-6 * Math.abs(want.mean[j]));
          expectScaled(g.read(r.mean, c), want.mean, Float64Array.from(want.mean, (v, j) => Math.abs(v) + spread[j]), `${where} mean`);
          expectScaled(g.read(r.invstd, c), want.invstd, abs(want.invstd), `${where} invstd`);
          expectScaled(g.read(r.y, m * c), want.y, yScale(t.x, want.mean, want.variance, affine ? t.gamma : null, affine ? t.beta : null, m, c), `${where} y`);
          expectScaled(g.read(r.movingMean, c), want.movingMean,
            Float64Array.from(t.movingMean, (v, j) => Math.abs(v * MOMENTUM) + Math.abs(want.mean[j] * (1 - MOMENTUM))), `${where} moving mean`);
          expectScaled(g.read(r.movingVar, c), want.movingVar, abs(want.movingVar), `${where} moving variance`);
        }
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('forward (training) in place, and with the optional outputs left out', () => {
    const h = harness(64);
    const g = h;
    const m = 5;
    const c = 13;
    const t = makeCase(m, c, 3);
    const r = forwardTrain(h, g, t, m, c, true);
    const gamma = g.buf(c, t.gamma);
    const beta = g.buf(c, t.beta);
    const inPlace = g.buf(m * c, t.x);
    const mm = g.buf(c, t.movingMean);
    h.k.batchnorm_forward_train(inPlace, 0, 0, mm, 0, inPlace, gamma, beta, mm, 0, m, c, MOMENTUM, EPSILON);
    expect(g.read(inPlace, m * c)).toEqual(g.read(r.y, m * c));
    expect(g.read(mm, c)).toEqual(g.read(r.movingMean, c));
    expect(g.guardsIntact()).toBe(true);
  });

  // From 256 rows, y apart from x and dx apart from dy (not accumulated) go by rows (sums over
  // eight fixed parts of the rows, then the rows); in place they walk channels, summing the same
  // parts in the same order: the same bits.
  it('by rows and in place by channels: the same bits, forward and backward (300 rows, 37 channels)', () => {
    const h = harness(64);
    const m = 300, c = 37;
    const t = makeCase(m, c, 91);
    const r = forwardTrain(h, h, t, m, c, true);
    const gamma = h.buf(c, t.gamma), beta = h.buf(c, t.beta);
    const inPlace = h.buf(m * c, t.x);
    const mean = h.buf(c), invstd = h.buf(c), mm = h.buf(c, t.movingMean), mv = h.buf(c, t.movingVar);
    h.k.batchnorm_forward_train(inPlace, mean, invstd, mm, mv, inPlace, gamma, beta, mm, mv, m, c, MOMENTUM, EPSILON);
    expect(bitsOf(h.read(inPlace, m * c))).toEqual(bitsOf(h.read(r.y, m * c)));
    for (const [a, b] of [[mean, r.mean], [invstd, r.invstd], [mm, r.movingMean], [mv, r.movingVar]]) expect(bitsOf(h.read(a, c))).toEqual(bitsOf(h.read(b, c)));
    const x = h.buf(m * c, t.x), dy = h.buf(m * c, t.dy);
    const dx = h.buf(m * c), dg = h.buf(c), db = h.buf(c);
    h.k.batchnorm_backward_train(dx, dg, db, dy, x, r.mean, r.invstd, gamma, m, c, 0, 0);
    const dxy = h.buf(m * c, t.dy), dg2 = h.buf(c), db2 = h.buf(c);
    h.k.batchnorm_backward_train(dxy, dg2, db2, dxy, x, r.mean, r.invstd, gamma, m, c, 0, 0);
    expect(bitsOf(h.read(dxy, m * c))).toEqual(bitsOf(h.read(dx, m * c)));
    expect(bitsOf(h.read(dg2, c))).toEqual(bitsOf(h.read(dg, c)));
    expect(bitsOf(h.read(db2, c))).toEqual(bitsOf(h.read(db, c)));
    expect(h.guardsIntact()).toBe(true);
  });

  it.each([16, 300])('a channel gets the same bits in a sixteen- or four-channel walk as in the scalar tail (%i rows)', (m) => {
    const h = harness(16);
    // 37 channels: 0-15 and 16-31 in sixteen-wide walks, 32-35 four-wide, 36 alone.
    const c = 37;
    const t = makeCase(m, c, 77);
    const col = (a: Float32Array, j: number, rows: number, cols: number) => Float32Array.from({ length: rows }, (_, i) => a[i * cols + j]);
    const full = {
      y: h.alloc(m * c), mean: h.alloc(c), invstd: h.alloc(c), mm: h.put(t.movingMean), mv: h.put(t.movingVar),
      x: h.put(t.x), gamma: h.put(t.gamma), beta: h.put(t.beta), dy: h.put(t.dy), dx: h.alloc(m * c), dg: h.alloc(c), db: h.alloc(c),
    };
    h.k.batchnorm_forward_train(full.y, full.mean, full.invstd, full.mm, full.mv, full.x, full.gamma, full.beta, full.mm, full.mv, m, c, MOMENTUM, EPSILON);
    h.k.batchnorm_backward_train(full.dx, full.dg, full.db, full.dy, full.x, full.mean, full.invstd, full.gamma, m, c, 0, 0);
    for (const j of [2, 5, 17, 30, 33, 36]) {
      const one = {
        y: h.alloc(m), mean: h.alloc(1), invstd: h.alloc(1), mm: h.put([t.movingMean[j]]), mv: h.put([t.movingVar[j]]),
        x: h.put(col(t.x, j, m, c)), gamma: h.put([t.gamma[j]]), beta: h.put([t.beta[j]]), dy: h.put(col(t.dy, j, m, c)),
        dx: h.alloc(m), dg: h.alloc(1), db: h.alloc(1),
      };
      h.k.batchnorm_forward_train(one.y, one.mean, one.invstd, one.mm, one.mv, one.x, one.gamma, one.beta, one.mm, one.mv, m, 1, MOMENTUM, EPSILON);
      h.k.batchnorm_backward_train(one.dx, one.dg, one.db, one.dy, one.x, one.mean, one.invstd, one.gamma, m, 1, 0, 0);
      expect(h.read(one.y, m)).toEqual(col(h.read(full.y, m * c), j, m, c));
      expect(h.read(one.dx, m)).toEqual(col(h.read(full.dx, m * c), j, m, c));
      for (const k of ['mean', 'invstd', 'mm', 'mv', 'dg', 'db'] as const) expect(h.read(one[k], 1)[0], k).toBe(h.read(full[k], c)[j]);
    }
  });

  it('forward (inference) uses the moving statistics and leaves them untouched', () => {
    const h = harness(64);
    const g = h;
    for (const c of CHANNELS) {
      for (const m of ROWS) {
        for (const affine of [true, false]) {
          const t = makeCase(m, c, 7 * c + m);
          const where = `M ${m} C ${c} ${affine ? 'gamma/beta' : 'no gamma/beta'}`;
          const y = g.buf(m * c);
          const mm = g.buf(c, t.movingMean);
          const mv = g.buf(c, t.movingVar);
          h.k.batchnorm_forward_inference(y, g.buf(m * c, t.x), affine ? g.buf(c, t.gamma) : 0, affine ? g.buf(c, t.beta) : 0, mm, mv, m, c, EPSILON);
          const gamma = affine ? t.gamma : null;
          const beta = affine ? t.beta : null;
          const want = normalizeRef(t.x, t.movingMean, t.movingVar, gamma, beta, m, c, EPSILON);
          expectScaled(g.read(y, m * c), want, yScale(t.x, t.movingMean, t.movingVar, gamma, beta, m, c), where);
          expect(g.read(mm, c), `${where} moving mean`).toEqual(t.movingMean);
          expect(g.read(mv, c), `${where} moving variance`).toEqual(t.movingVar);
        }
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('backward (training): dx, dgamma, dbeta, each optional, with both accumulate flags', () => {
    const h = harness(64);
    const g = h;
    for (const c of CHANNELS) {
      for (const m of ROWS) {
        const t = makeCase(m, c, 5 * c + m);
        const fwd = forwardTrain(h, g, t, m, c, true);
        const mean = g.read(fwd.mean, c);
        const invstd = g.read(fwd.invstd, c);
        const x = g.buf(m * c, t.x);
        const dy = g.buf(m * c, t.dy);
        const dx0 = randomArray(m * c, m + c, -1, 1);
        const p0 = randomArray(c, m * c, -1, 1);
        for (const affine of [true, false]) {
          const want = bnBackwardTrainRef(t.dy, t.x, mean, invstd, affine ? t.gamma : null, m, c);
          for (const [accumulate, accumulateParams] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
            for (const wanted of ['all', 'no dx', 'no dgamma', 'no dbeta']) {
              const where = `M ${m} C ${c} ${affine ? 'gamma' : 'no gamma'} accumulate ${accumulate}/${accumulateParams} ${wanted}`;
              const dx = wanted === 'no dx' ? 0 : g.buf(m * c, accumulate ? dx0 : undefined);
              const dgamma = wanted === 'no dgamma' ? 0 : g.buf(c, accumulateParams ? p0 : undefined);
              const dbeta = wanted === 'no dbeta' ? 0 : g.buf(c, accumulateParams ? p0 : undefined);
              h.k.batchnorm_backward_train(dx, dgamma, dbeta, dy, x, fwd.mean, fwd.invstd, affine ? g.buf(c, t.gamma) : 0, m, c, accumulate, accumulateParams);
              const base = (v: number, i: number, on: number, b: Float32Array) => (on ? b[i] : 0) + v;
              if (dx) {
                expectScaled(g.read(dx, m * c), want.dx.map((v, i) => base(v, i, accumulate, dx0)),
                  want.dxScale.map((s, i) => 2 * s + (accumulate ? Math.abs(dx0[i]) : 0)), `${where} dx`);
              }
              const paramScale = (terms: (i: number, j: number) => number) => Float64Array.from({ length: c }, (_, j) => {
                let s = accumulateParams ? Math.abs(p0[j]) : 0;
                for (let i = 0; i < m; i++) s += Math.abs(terms(i, j));
                return s + 1e-30;
              });
              if (dbeta) expectScaled(g.read(dbeta, c), want.dbeta.map((v, j) => base(v, j, accumulateParams, p0)), paramScale((i, j) => t.dy[i * c + j]), `${where} dbeta`);
              if (dgamma) {
                expectScaled(g.read(dgamma, c), want.dgamma.map((v, j) => base(v, j, accumulateParams, p0)),
                  paramScale((i, j) => t.dy[i * c + j] * (t.x[i * c + j] - mean[j]) * invstd[j]), `${where} dgamma`);
              }
            }
          }
        }
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('backward (inference): dx, with and without gamma, accumulating or not; the moving statistics stay', () => {
    const h = harness(64);
    const g = h;
    for (const c of CHANNELS) {
      for (const m of ROWS) {
        const t = makeCase(m, c, 3 * c + m);
        const dx0 = randomArray(m * c, m * c + 1, -1, 1);
        const mm = g.buf(c, t.movingMean);
        const mv = g.buf(c, t.movingVar);
        const dy = g.buf(m * c, t.dy);
        for (const affine of [true, false]) {
          const want = bnBackwardInferenceRef(t.dy, t.x, affine ? t.gamma : null, t.movingMean, t.movingVar, m, c, EPSILON);
          for (const accumulate of [0, 1]) {
            const where = `M ${m} C ${c} ${affine ? 'gamma' : 'no gamma'} accumulate ${accumulate}`;
            const dx = g.buf(m * c, accumulate ? dx0 : undefined);
            h.k.batchnorm_backward_inference(dx, dy, affine ? g.buf(c, t.gamma) : 0, mv, m, c, EPSILON, accumulate);
            const dxWant = want.dx.map((v, i) => v + (accumulate ? dx0[i] : 0));
            expectScaled(g.read(dx, m * c), dxWant, dxWant.map((v, i) => 2 * Math.abs(want.dx[i]) + (accumulate ? Math.abs(dx0[i]) : 0)), `${where} dx`);
            expect(g.read(mm, c)).toEqual(t.movingMean);
            expect(g.read(mv, c)).toEqual(t.movingVar);
          }
        }
      }
    }
    expect(g.guardsIntact()).toBe(true);
  });

  it('training-mode gradients match central differences of the f64 forward', () => {
    for (const [m, c] of [[5, 3], [4, 5], [16, 4], [2, 1]]) {
      const h = harness(16);
      const t = makeCase(m, c, 100 + m * c);
      // Moderate offsets so that the f64 differences are well conditioned.
      const x = Float64Array.from(randomArray(m * c, m, -2, 2));
      const gamma = Float64Array.from(t.gamma);
      const beta = Float64Array.from(t.beta);
      const w = Float64Array.from(t.dy);
      const loss = (xx: ArrayLike<number>, gg: ArrayLike<number>, bb: ArrayLike<number>) => {
        const { mean, variance } = batchStatsRef(xx, m, c);
        return normalizeRef(xx, mean, variance, gg, bb, m, c, EPSILON).reduce((s, y, q) => s + w[q] * y, 0);
      };
      const fd = (v: Float64Array, i: number, f: () => number) => centralDifference(f, () => v[i], (u) => { v[i] = u; }, 1e-6);
      const f = () => loss(x, gamma, beta);
      const fdX = x.map((_, i) => fd(x, i, f));
      const fdGamma = gamma.map((_, i) => fd(gamma, i, f));
      const fdBeta = beta.map((_, i) => fd(beta, i, f));

      const xp = h.put(x);
      const gp = h.put(gamma);
      const mean = h.alloc(c);
      const invstd = h.alloc(c);
      h.k.batchnorm_forward_train(h.alloc(m * c), mean, invstd, 0, 0, xp, gp, h.put(beta), 0, 0, m, c, MOMENTUM, EPSILON);
      const dx = h.alloc(m * c);
      const dgamma = h.alloc(c);
      const dbeta = h.alloc(c);
      h.k.batchnorm_backward_train(dx, dgamma, dbeta, h.put(w), xp, mean, invstd, gp, m, c, 0, 0);
      const check = (got: Float32Array, want: Float64Array, what: string) => {
        expectClose(got, want, 0, 1e-4 * Math.max(1, ...Array.from(want, Math.abs)), `M ${m} C ${c} ${what} vs finite differences`);
      };
      check(h.read(dx, m * c), fdX, 'dx');
      check(h.read(dgamma, c), fdGamma, 'dgamma');
      check(h.read(dbeta, c), fdBeta, 'dbeta');
    }
  });

  it('inference-mode gradients match central differences of the f64 forward', () => {
    const m = 5;
    const c = 6;
    const h = harness(16);
    const t = makeCase(m, c, 9);
    const x = Float64Array.from(t.x);
    const gamma = Float64Array.from(t.gamma);
    const beta = Float64Array.from(t.beta);
    const loss = () => normalizeRef(x, t.movingMean, t.movingVar, gamma, beta, m, c, EPSILON).reduce((s, y, q) => s + t.dy[q] * y, 0);
    const fd = (v: Float64Array, i: number) => centralDifference(loss, () => v[i], (u) => { v[i] = u; }, 1e-6 * Math.max(1, Math.abs(v[i])));
    const dy = h.put(t.dy);
    const mm = h.put(t.movingMean);
    const mv = h.put(t.movingVar);
    const dx = h.alloc(m * c);
    h.k.batchnorm_backward_inference(dx, dy, h.put(gamma), mv, m, c, EPSILON, 0);
    const got = [h.read(dx, m * c)];
    const want = [x.map((_, i) => fd(x, i))];
    got.forEach((a, k) => a.forEach((v, i) => {
      if (!(Math.abs(v - want[k][i]) <= 1e-5 * Math.max(1, Math.abs(want[k][i])))) expect.fail(`${['dx', 'dgamma', 'dbeta'][k]}[${i}]: ${v} vs ${want[k][i]}`);
    }));
  });

  it('Keras defaults: one training step moves the moving statistics by 1% towards the batch; inference moves nothing', () => {
    const h = harness(16);
    const m = 4;
    const c = 2;
    const x = h.put([1, 10, 2, 20, 3, 30, 6, 60]); // means 3, 30; biased variances 3.5, 350
    const mm = h.put([0, 0]);
    const mv = h.put([1, 1]);
    const y = h.alloc(m * c);
    h.k.batchnorm_forward_train(y, h.alloc(c), h.alloc(c), mm, mv, x, 0, 0, mm, mv, m, c, MOMENTUM, EPSILON);
    const mmAfter = h.read(mm, c);
    expect(mmAfter[0]).toBeCloseTo(0.03, 6);
    expect(mmAfter[1]).toBeCloseTo(0.3, 6);
    const mvAfter = h.read(mv, c);
    expect(mvAfter[0]).toBeCloseTo(0.99 + 3.5 * 0.01, 6);
    expect(mvAfter[1]).toBeCloseTo(0.99 + 350 * 0.01, 5);
    const before = [h.read(mm, c), h.read(mv, c)];
    h.k.batchnorm_forward_inference(y, x, 0, 0, mm, mv, m, c, EPSILON);
    expect([h.read(mm, c), h.read(mv, c)]).toEqual(before);
  });
});
