// Naive twins of the elementwise, loss and optimizer kernels (assembly/kernels/elementwise.ts, loss.ts,
// optim.ts), written from the formulas in docs/numerics.md and the kernels' header
// comments, not from their code. Everything is computed in f64 on plain arrays; inputs are the
// f32 values the kernels see, so the only differences left are the kernels' own f32 roundings.
// Matrices are row-major (M,N) flat arrays.

// Keras clips probabilities to [eps, 1 - eps] in the model's float32: these are the f32 bounds.
export const PROB_MIN = Math.fround(1e-7);
export const PROB_MAX = Math.fround(1 - 1e-7);

// y (M,N) = b (N) on every row.
export function biasFillRef(b: ArrayLike<number>, m: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) y[i * n + j] = b[j];
  return y;
}

// db (N) = [db0 +] column sums of dy (M,N).
export function biasBackwardRef(dy: ArrayLike<number>, m: number, n: number, db0?: ArrayLike<number>): Float64Array {
  const db = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    let s = db0 ? db0[j] : 0;
    for (let i = 0; i < m; i++) s += dy[i * n + j];
    db[j] = s;
  }
  return db;
}

export function reluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => Math.max(v, 0));
}

// dx = [dx0 +] dy where the forward output y is positive (relu'(0) = 0, as in Keras).
export function reluBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>, dx0?: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(dy.length);
  for (let i = 0; i < dy.length; i++) dx[i] = (dx0 ? dx0[i] : 0) + (y[i] > 0 ? dy[i] : 0);
  return dx;
}

// Row-wise softmax, exp(x - max)/sum.
export function softmaxRef(x: ArrayLike<number>, m: number, n: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    let mx = -Infinity;
    for (let j = 0; j < n; j++) mx = Math.max(mx, x[i * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[i * n + j] - mx);
    for (let j = 0; j < n; j++) y[i * n + j] = Math.exp(x[i * n + j] - mx) / s;
  }
  return y;
}

// Row-wise log-sum-exp.
export function logSumExpRef(x: ArrayLike<number>, m: number, n: number): Float64Array {
  const out = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let mx = -Infinity;
    for (let j = 0; j < n; j++) mx = Math.max(mx, x[i * n + j]);
    let s = 0;
    for (let j = 0; j < n; j++) s += Math.exp(x[i * n + j] - mx);
    out[i] = mx + Math.log(s);
  }
  return out;
}

// dx = [dx0 +] J^T dy per row, with the softmax Jacobian J_kj = dy_k/dx_j = y_k (delta_kj - y_j)
// written out as the full (N,N) product (deliberately not the fused dot-product form).
export function softmaxBackwardRef(dy: ArrayLike<number>, y: ArrayLike<number>, m: number, n: number, dx0?: ArrayLike<number>): Float64Array {
  const dx = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = dx0 ? dx0[i * n + j] : 0;
      for (let k = 0; k < n; k++) s += dy[i * n + k] * y[i * n + k] * ((k === j ? 1 : 0) - y[i * n + j]);
      dx[i * n + j] = s;
    }
  }
  return dx;
}

export interface LossRef {
  // Summed (not averaged) loss over the rows.
  loss: number;
  // Gradient of (loss * scale) with respect to the kernel's input.
  dx: Float64Array;
}

// Cross-entropy from logits with targets t (M,N): loss_i = -sum_j t_ij * log softmax(x_i)_j.
// d loss_i / d x_ij = softmax_ij * sum_k t_ik - t_ij.
export function softmaxXentDenseRef(x: ArrayLike<number>, t: ArrayLike<number>, m: number, n: number, scale: number): LossRef {
  const p = softmaxRef(x, m, n);
  const lse = logSumExpRef(x, m, n);
  const dx = new Float64Array(m * n);
  let loss = 0;
  for (let i = 0; i < m; i++) {
    let tsum = 0;
    for (let j = 0; j < n; j++) {
      const tij = t[i * n + j];
      tsum += tij;
      loss -= tij * (x[i * n + j] - lse[i]);
    }
    for (let j = 0; j < n; j++) dx[i * n + j] = (p[i * n + j] * tsum - t[i * n + j]) * scale;
  }
  return { loss, dx };
}

export function oneHot(labels: ArrayLike<number>, n: number): Float64Array {
  const t = new Float64Array(labels.length * n);
  for (let i = 0; i < labels.length; i++) t[i * n + labels[i]] = 1;
  return t;
}

// Sparse cross-entropy from logits: the dense form with one-hot targets.
export function softmaxXentSparseRef(x: ArrayLike<number>, labels: ArrayLike<number>, m: number, n: number, scale: number): LossRef {
  return softmaxXentDenseRef(x, oneHot(labels, n), m, n, scale);
}

// Cross-entropy from probabilities (Keras): clip p to [PROB_MIN, PROB_MAX], loss = -sum t*log(clip p).
// The clip's gradient is 0 where it is active (at or beyond a bound), else d/dp = -t/p.
export function xentProbsRef(p: ArrayLike<number>, t: ArrayLike<number>, m: number, n: number, scale: number): LossRef {
  const dx = new Float64Array(m * n);
  let loss = 0;
  for (let q = 0; q < m * n; q++) {
    const pc = Math.min(Math.max(p[q], PROB_MIN), PROB_MAX);
    loss -= t[q] * Math.log(pc);
    dx[q] = p[q] > PROB_MIN && p[q] < PROB_MAX ? (-t[q] / p[q]) * scale : 0;
  }
  return { loss, dx };
}

// Index of the first maximum of row i, as argmax does.
export function argmaxRef(x: ArrayLike<number>, i: number, n: number): number {
  let best = 0;
  for (let j = 1; j < n; j++) if (x[i * n + j] > x[i * n + best]) best = j;
  return best;
}

// Rows whose argmax equals the label (sparse) or the target row's argmax (dense).
export function accuracyCountRef(x: ArrayLike<number>, y: ArrayLike<number>, sparse: boolean, m: number, n: number): number {
  let hits = 0;
  for (let i = 0; i < m; i++) if (argmaxRef(x, i, n) === (sparse ? y[i] : argmaxRef(y, i, n))) hits++;
  return hits;
}

export function sumsqRef(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return s;
}
