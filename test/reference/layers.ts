// Naive twins of the activation, batch-normalization, dropout and regularizer kernels
// (assembly/kernels/activations.ts, norm.ts, dropout.ts, regularize.ts), written from the formulas in
// docs/numerics.md, not from the kernels' code. Everything is f64 on plain arrays;
// inputs are the f32 values the kernels see. Matrices are row-major (M,C) flat arrays.
// Where a textbook formula would cancel in f64 too (1 + erf(x) for x << 0, 1 - sigmoid), the twin
// uses a standard identity (erfc, sigmoid(-x), sech^2) so that it stays a trustworthy oracle.

// Activation kinds, as documented in assembly/kernels/activations.ts.
export const ACT = {
  linear: 0, relu: 1, sigmoid: 2, tanh: 3, leakyRelu: 4, elu: 5, selu: 6, gelu: 7, geluTanh: 8, swish: 9, relu6: 10, hardSigmoid: 11, hardSwish: 12,
} as const;
export type ActName = keyof typeof ACT;

export const SELU_LAMBDA = 1.0507009873554805;
export const SELU_ALPHA = 1.6732632423543772;

// erfc in f64, independent of the kernel's rational approximation: for 0 <= x < 2.5 from the
// all-positive series erf(x) = 2/sqrt(pi) e^-x^2 sum 2^n x^(2n+1)/(1*3*...*(2n+1)); beyond, from the
// continued fraction erfc(x) = e^-x^2/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
export function erfcRef(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfcRef(-x);
  if (x < 2.5) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x * x) / (2 * n + 1);
      sum += term;
      if (term < sum * 1e-18) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
  }
  let f = x;
  for (let k = 400; k >= 1; k--) f = x + k / 2 / f;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

export function sigmoidRef(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

// 1 + tanh(u) without cancelling for u << 0: 2e^(2u)/(1 + e^(2u)).
function onePlusTanh(u: number): number {
  if (u >= 0) return 1 + Math.tanh(u);
  const e = Math.exp(2 * u);
  return (2 * e) / (1 + e);
}

function sech2(u: number): number {
  const c = Math.cosh(u);
  return 1 / (c * c);
}

const GELU_C = 0.044715;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export function activationRef(kind: number, x: number, alpha: number): number {
  switch (kind) {
    case ACT.linear: return x;
    case ACT.relu: return Math.max(x, 0);
    case ACT.sigmoid: return sigmoidRef(x);
    case ACT.tanh: return Math.tanh(x);
    case ACT.leakyRelu: return x > 0 ? x : alpha * x;
    case ACT.elu: return x > 0 ? x : alpha * Math.expm1(x);
    case ACT.selu: return SELU_LAMBDA * (x > 0 ? x : SELU_ALPHA * Math.expm1(x));
    case ACT.gelu: return 0.5 * x * erfcRef(-x / Math.SQRT2); // 0.5x(1 + erf(x/sqrt 2))
    case ACT.geluTanh: return 0.5 * x * onePlusTanh(SQRT_2_OVER_PI * (x + GELU_C * x ** 3));
    case ACT.swish: return x * sigmoidRef(x);
    case ACT.relu6: return Math.min(Math.max(x, 0), 6);
    case ACT.hardSigmoid: return Math.min(Math.max(x + 3, 0), 6) / 6;
    case ACT.hardSwish: return (x * Math.min(Math.max(x + 3, 0), 6)) / 6; // Keras 3 hard_swish, PyTorch Hardswish
  }
  throw new Error(`unknown activation kind ${kind}`);
}

export interface Derivative {
  d: number;
  // Sum of the magnitudes of the terms that make up d: an f32 evaluation of d is good to a few
  // ulps of this, not of |d| (swish' and gelu' pass through zero).
  scale: number;
}

// f'(x), taking the left derivative at kinks (relu'(0) = 0, relu6'(6) = 0, hard_sigmoid'(3) = 0).
export function activationGradRef(kind: number, x: number, alpha: number): Derivative {
  const one = (d: number) => ({ d, scale: Math.abs(d) });
  switch (kind) {
    case ACT.linear: return one(1);
    case ACT.relu: return one(x > 0 ? 1 : 0);
    case ACT.sigmoid: return one(sigmoidRef(x) * sigmoidRef(-x));
    case ACT.tanh: return one(sech2(x));
    case ACT.leakyRelu: return one(x > 0 ? 1 : alpha);
    case ACT.elu: return one(x > 0 ? 1 : alpha * Math.exp(x));
    case ACT.selu: return one(SELU_LAMBDA * (x > 0 ? 1 : SELU_ALPHA * Math.exp(x)));
    case ACT.gelu: {
      // Phi(x) + x phi(x)
      const a = 0.5 * erfcRef(-x / Math.SQRT2);
      const b = (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
      return { d: a + b, scale: Math.abs(a) + Math.abs(b) };
    }
    case ACT.geluTanh: {
      const u = SQRT_2_OVER_PI * (x + GELU_C * x ** 3);
      const du = SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
      const a = 0.5 * onePlusTanh(u);
      const b = 0.5 * x * sech2(u) * du;
      return { d: a + b, scale: Math.abs(a) + Math.abs(b) };
    }
    case ACT.swish: {
      const a = sigmoidRef(x);
      const b = x * sigmoidRef(x) * sigmoidRef(-x);
      return { d: a + b, scale: Math.abs(a) + Math.abs(b) };
    }
    case ACT.relu6: return one(x > 0 && x < 6 ? 1 : 0);
    case ACT.hardSigmoid: return one(x + 3 > 0 && x + 3 < 6 ? 1 / 6 : 0);
    case ACT.hardSwish: {
      // relu6(x + 3)/6 + x/6 inside (-3, 3): TF's derivative of the product (f'(-3) = 0, f'(3) = 1)
      const a = Math.min(Math.max(x + 3, 0), 6) / 6;
      const b = x + 3 > 0 && x + 3 < 6 ? x / 6 : 0;
      return { d: a + b, scale: Math.abs(a) + Math.abs(b) };
    }
  }
  throw new Error(`unknown activation kind ${kind}`);
}

// Points where f' jumps, for finite-difference checks to keep away from.
export function activationKinks(kind: number): number[] {
  switch (kind) {
    case ACT.relu: case ACT.leakyRelu: case ACT.elu: case ACT.selu: return [0];
    case ACT.relu6: return [0, 6];
    case ACT.hardSigmoid: case ACT.hardSwish: return [-3, 3];
  }
  return [];
}

// ---------------------------------------------------------------------------------------------
// Batch normalization, channel-last x (M,C).

export interface BatchStats {
  mean: Float64Array;
  variance: Float64Array; // biased: divided by M
}

// Two-pass mean and biased variance of every channel.
export function batchStatsRef(x: ArrayLike<number>, m: number, c: number): BatchStats {
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    let s = 0;
    for (let i = 0; i < m; i++) s += x[i * c + j];
    mean[j] = s / m;
    let q = 0;
    for (let i = 0; i < m; i++) q += (x[i * c + j] - mean[j]) ** 2;
    variance[j] = q / m;
  }
  return { mean, variance };
}

// y = x*inv + (beta - mean*inv), inv = gamma/sqrt(var + eps); gamma null = 1, beta null = 0.
export function normalizeRef(x: ArrayLike<number>, mean: ArrayLike<number>, variance: ArrayLike<number>,
  gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, m: number, c: number, epsilon: number): Float64Array {
  const y = new Float64Array(m * c);
  for (let j = 0; j < c; j++) {
    const inv = (gamma ? gamma[j] : 1) / Math.sqrt(variance[j] + epsilon);
    const shift = (beta ? beta[j] : 0) - mean[j] * inv;
    for (let i = 0; i < m; i++) y[i * c + j] = x[i * c + j] * inv + shift;
  }
  return y;
}

export interface BnTrainForward extends BatchStats {
  y: Float64Array;
  invstd: Float64Array;
  movingMean: Float64Array;
  movingVar: Float64Array;
}

// Training mode: batch statistics, and the moving statistics moved towards them.
export function bnForwardTrainRef(x: ArrayLike<number>, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null,
  movingMean: ArrayLike<number>, movingVar: ArrayLike<number>, m: number, c: number, momentum: number, epsilon: number): BnTrainForward {
  const { mean, variance } = batchStatsRef(x, m, c);
  return {
    mean, variance,
    y: normalizeRef(x, mean, variance, gamma, beta, m, c, epsilon),
    invstd: variance.map((v) => 1 / Math.sqrt(v + epsilon)),
    movingMean: Float64Array.from(movingMean, (mm, j) => mm * momentum + mean[j] * (1 - momentum)),
    movingVar: Float64Array.from(movingVar, (mv, j) => mv * momentum + variance[j] * (1 - momentum)),
  };
}

export interface BnTrainBackward {
  dx: Float64Array;
  dgamma: Float64Array;
  dbeta: Float64Array;
  // Per element, the magnitude of the terms of dx (for tolerances).
  dxScale: Float64Array;
}

// Training-mode gradients with given saved statistics, xhat = (x - mean)*invstd:
// dbeta = sum dy, dgamma = sum dy*xhat, dx = gamma*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)).
export function bnBackwardTrainRef(dy: ArrayLike<number>, x: ArrayLike<number>, mean: ArrayLike<number>, invstd: ArrayLike<number>,
  gamma: ArrayLike<number> | null, m: number, c: number): BnTrainBackward {
  const dx = new Float64Array(m * c);
  const dxScale = new Float64Array(m * c);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    const xhat = (i: number) => (x[i * c + j] - mean[j]) * invstd[j];
    for (let i = 0; i < m; i++) {
      dbeta[j] += dy[i * c + j];
      dgamma[j] += dy[i * c + j] * xhat(i);
    }
    const k = (gamma ? gamma[j] : 1) * invstd[j];
    for (let i = 0; i < m; i++) {
      const g = dy[i * c + j];
      dx[i * c + j] = k * (g - dbeta[j] / m - xhat(i) * (dgamma[j] / m));
      dxScale[i * c + j] = Math.abs(k) * (Math.abs(g) + Math.abs(dbeta[j] / m) + Math.abs(xhat(i) * (dgamma[j] / m)));
    }
  }
  return { dx, dgamma, dbeta, dxScale };
}

// Inference mode: dx = dy*gamma/sqrt(mv + eps); dbeta = sum dy, dgamma = sum dy*(x - mm)/sqrt(mv + eps).
export function bnBackwardInferenceRef(dy: ArrayLike<number>, x: ArrayLike<number>, gamma: ArrayLike<number> | null,
  movingMean: ArrayLike<number>, movingVar: ArrayLike<number>, m: number, c: number, epsilon: number): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const dx = new Float64Array(m * c);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let j = 0; j < c; j++) {
    const s = 1 / Math.sqrt(movingVar[j] + epsilon);
    for (let i = 0; i < m; i++) {
      const g = dy[i * c + j];
      dx[i * c + j] = (g * (gamma ? gamma[j] : 1)) * s;
      dbeta[j] += g;
      dgamma[j] += g * (x[i * c + j] - movingMean[j]) * s;
    }
  }
  return { dx, dgamma, dbeta };
}

// ---------------------------------------------------------------------------------------------
// Dropout, regularizers, constraints.

// dx = dy*mask/(1 - rate) (rate 1: zeros).
export function dropoutBackwardRef(dy: ArrayLike<number>, mask: ArrayLike<number>, rate: number): Float64Array {
  return Float64Array.from(dy, (g, i) => (rate >= 1 || !mask[i] ? 0 : g / (1 - rate)));
}

export function l1l2PenaltyRef(w: ArrayLike<number>, l1: number, l2: number): number {
  let a = 0;
  let q = 0;
  for (let i = 0; i < w.length; i++) {
    a += Math.abs(w[i]);
    q += w[i] * w[i];
  }
  return l1 * a + l2 * q;
}

// d penalty / dw = l1*sign(w) + 2*l2*w, sign(0) = 0.
export function l1l2GradientRef(w: ArrayLike<number>, l1: number, l2: number): Float64Array {
  return Float64Array.from(w, (v) => l1 * Math.sign(v) + 2 * l2 * v);
}

// Norms of w (rows, cols) over `axis`: axis 0 one per column, axis 1 one per row.
export function normsRef(w: ArrayLike<number>, rows: number, cols: number, axis: number): Float64Array {
  const out = new Float64Array(axis === 0 ? cols : rows);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[axis === 0 ? j : i] += w[i * cols + j] ** 2;
  return out.map(Math.sqrt);
}

// Keras MaxNorm: w * clip(n, 0, max)/(1e-7 + n).
export function maxNormRef(w: ArrayLike<number>, rows: number, cols: number, axis: number, maxValue: number): Float64Array {
  const n = normsRef(w, rows, cols, axis);
  return Float64Array.from(w, (v, q) => {
    const k = axis === 0 ? q % cols : Math.floor(q / cols);
    return (v * Math.min(Math.max(n[k], 0), maxValue)) / (1e-7 + n[k]);
  });
}

// Keras UnitNorm: w / (1e-7 + n).
export function unitNormRef(w: ArrayLike<number>, rows: number, cols: number, axis: number): Float64Array {
  const n = normsRef(w, rows, cols, axis);
  return Float64Array.from(w, (v, q) => v / (1e-7 + n[axis === 0 ? q % cols : Math.floor(q / cols)]));
}

export function nonNegRef(w: ArrayLike<number>): Float64Array {
  return Float64Array.from(w, (v) => Math.max(v, 0));
}
