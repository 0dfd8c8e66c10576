// Losses and metrics over a batch of rows. Loss kernels add the batch's summed loss to an f64
// accumulator (the mean is taken by whoever knows the sample count) and, when dx != 0, write the
// gradient of (summed loss * scale) with respect to their input: scale = 1/batch gives the mean.

// Log-sum-exp of row x (n), max-subtracted so that large logits do not overflow.
// @ts-ignore: decorator
@inline function row_lse(x: usize, n: i32): f32 {
  let mx = load<f32>(x);
  for (let j = 1; j < n; j++) mx = max(mx, load<f32>(x + (<usize>j << 2)));
  let s: f32 = 0;
  for (let j = 0; j < n; j++) s += Mathf.exp(load<f32>(x + (<usize>j << 2)) - mx);
  return mx + Mathf.log(s);
}

// Cross-entropy from logits x (M,N) with integer labels (M): loss_i = lse(x_i) - x_i[label_i].
// dx (M,N) = (softmax(x) - onehot(label)) * scale.
export function softmax_xent_sparse(loss_sum: usize, dx: usize, x: usize, labels: usize, m: i32, n: i32, scale: f32): void {
  let total: f64 = 0;
  for (let i = 0; i < m; i++) {
    const xr = x + (<usize>(i * n) << 2);
    const label = load<i32>(labels + (<usize>i << 2));
    const lse = row_lse(xr, n);
    total += <f64>(lse - load<f32>(xr + (<usize>label << 2)));
    if (dx) {
      const dr = dx + (<usize>(i * n) << 2);
      for (let j = 0; j < n; j++) {
        const p = Mathf.exp(load<f32>(xr + (<usize>j << 2)) - lse);
        store<f32>(dr + (<usize>j << 2), (j == label ? p - 1 : p) * scale);
      }
    }
  }
  store<f64>(loss_sum, load<f64>(loss_sum) + total);
}

// Cross-entropy from logits x (M,N) with target distributions y (M,N) (one-hot or soft):
// loss_i = sum_j y_ij * (lse_i - x_ij); dx = (softmax(x) * sum_j y_ij - y) * scale.
export function softmax_xent_dense(loss_sum: usize, dx: usize, x: usize, y: usize, m: i32, n: i32, scale: f32): void {
  let total: f64 = 0;
  for (let i = 0; i < m; i++) {
    const o = <usize>(i * n) << 2;
    const lse = row_lse(x + o, n);
    let ysum: f32 = 0;
    let row: f32 = 0;
    for (let j = 0; j < n; j++) {
      const yj = load<f32>(y + o + (<usize>j << 2));
      ysum += yj;
      row += yj * (lse - load<f32>(x + o + (<usize>j << 2)));
    }
    total += <f64>row;
    if (dx) {
      for (let j = 0; j < n; j++) {
        const p = Mathf.exp(load<f32>(x + o + (<usize>j << 2)) - lse);
        store<f32>(dx + o + (<usize>j << 2), (p * ysum - load<f32>(y + o + (<usize>j << 2))) * scale);
      }
    }
  }
  store<f64>(loss_sum, load<f64>(loss_sum) + total);
}

const P_MIN: f32 = 1e-7;
const P_MAX: f32 = 1 - 1e-7;

// Cross-entropy from probabilities p (M,N) (an output that is not a softmax we can fuse with):
// Keras clips p to [1e-7, 1 - 1e-7]: loss_i = -sum_j y_ij * log(clip(p_ij)); the gradient is
// -y/p inside the clip range and 0 where the clip is active. labels: integer (sparse != 0) or (M,N).
export function xent_probs(loss_sum: usize, dx: usize, p: usize, y: usize, sparse: i32, m: i32, n: i32, scale: f32): void {
  let total: f64 = 0;
  for (let i = 0; i < m; i++) {
    const o = <usize>(i * n) << 2;
    const label = sparse ? load<i32>(y + (<usize>i << 2)) : -1;
    for (let j = 0; j < n; j++) {
      const yj: f32 = sparse ? (j == label ? 1 : 0) : load<f32>(y + o + (<usize>j << 2));
      const pj = load<f32>(p + o + (<usize>j << 2));
      const pc = min(max(pj, P_MIN), P_MAX);
      total -= <f64>(yj * Mathf.log(pc));
      if (dx) store<f32>(dx + o + (<usize>j << 2), pj > P_MIN && pj < P_MAX ? -yj / pj * scale : 0);
    }
  }
  store<f64>(loss_sum, load<f64>(loss_sum) + total);
}

// Index of the first maximum of row x (n).
// @ts-ignore: decorator
@inline function row_argmax(x: usize, n: i32): i32 {
  let best = 0;
  let mx = load<f32>(x);
  for (let j = 1; j < n; j++) {
    const v = load<f32>(x + (<usize>j << 2));
    if (v > mx) { mx = v; best = j; }
  }
  return best;
}

// correct (f64) += number of rows of x (M,N) whose argmax equals the label: integer labels (M)
// when sparse != 0, else the argmax of target rows y (M,N).
export function accuracy_count(correct: usize, x: usize, y: usize, sparse: i32, m: i32, n: i32): void {
  let hits = 0;
  for (let i = 0; i < m; i++) {
    const o = <usize>(i * n) << 2;
    const label = sparse ? load<i32>(y + (<usize>i << 2)) : row_argmax(y + o, n);
    if (row_argmax(x + o, n) == label) hits++;
  }
  store<f64>(correct, load<f64>(correct) + <f64>hits);
}

// Regression and binary losses, reduced as Keras reduces them: the mean over the last axis, then
// over every other axis and the batch. `norm` is n * (rows per sample): the caller's scale
// (1/batch) then turns the summed loss into that mean; loss_sum gets sum over rows / (rows per sample).

// Mean squared error: loss = sum_ij (p - y)^2 / norm; dx = 2 (p - y) / norm * scale.
export function mse_loss(loss_sum: usize, dx: usize, p: usize, y: usize, m: i32, n: i32, norm: i32, scale: f32): void {
  let total: f64 = 0;
  const inv: f32 = 1 / <f32>norm;
  const count = m * n;
  for (let i = 0; i < count; i++) {
    const o = <usize>i << 2;
    const e = load<f32>(p + o) - load<f32>(y + o);
    total += <f64>(e * e);
    if (dx) store<f32>(dx + o, 2 * e * inv * scale);
  }
  store<f64>(loss_sum, load<f64>(loss_sum) + total / <f64>norm);
}

// Binary cross-entropy from logits x with targets z, the stable form:
// max(x, 0) - x z + log(1 + e^-|x|); dx = (sigmoid(x) - z) / norm * scale.
export function bce_logits_loss(loss_sum: usize, dx: usize, x: usize, z: usize, m: i32, n: i32, norm: i32, scale: f32): void {
  let total: f64 = 0;
  const inv: f32 = 1 / <f32>norm;
  const count = m * n;
  for (let i = 0; i < count; i++) {
    const o = <usize>i << 2;
    const xv = load<f32>(x + o);
    const zv = load<f32>(z + o);
    const e = Mathf.exp(-Mathf.abs(xv));
    total += <f64>(max(xv, 0) - xv * zv + Mathf.log(1 + e));
    if (dx) {
      const s: f32 = xv >= 0 ? 1 / (1 + e) : e / (1 + e);
      store<f32>(dx + o, (s - zv) * inv * scale);
    }
  }
  store<f64>(loss_sum, load<f64>(loss_sum) + total / <f64>norm);
}

// Binary cross-entropy from probabilities: p clipped to [1e-7, 1 - 1e-7] (Keras's epsilon),
// -(z log p + (1 - z) log(1 - p)); the gradient is 0 where the clip is active.
export function bce_probs_loss(loss_sum: usize, dx: usize, p: usize, z: usize, m: i32, n: i32, norm: i32, scale: f32): void {
  let total: f64 = 0;
  const inv: f32 = 1 / <f32>norm;
  const count = m * n;
  for (let i = 0; i < count; i++) {
    const o = <usize>i << 2;
    const pv = load<f32>(p + o);
    const zv = load<f32>(z + o);
    const pc = min(max(pv, P_MIN), P_MAX);
    total -= <f64>(zv * Mathf.log(pc) + (1 - zv) * Mathf.log(1 - pc));
    if (dx) store<f32>(dx + o, pv > P_MIN && pv < P_MAX ? (-zv / pv + (1 - zv) / (1 - pv)) * inv * scale : 0);
  }
  store<f64>(loss_sum, load<f64>(loss_sum) + total / <f64>norm);
}

// The losses loss_sample_weighted runs (host/compile/loss-ops.ts WEIGHTED_LOSS_KIND).
const KIND_XENT_SPARSE = 0;
const KIND_XENT_DENSE = 1;
const KIND_XENT_PROBS = 2;
const KIND_MSE = 3;
const KIND_BCE_LOGITS = 4;

// Keras sample weights: sample b's loss (its `rows` rows of x (B*rows, N)) times sw[b] (B), still
// reduced over the batch size, not over the weights' sum; its gradient is scaled the same. Runs
// the unweighted kernel one sample at a time with scale = sw[b] / batch, using loss_sum itself
// as the sample's accumulator. Labels y: integer (sparse != 0, B*rows) or (B*rows, N).
export function loss_sample_weighted(loss_sum: usize, kind: i32, dx: usize, x: usize, y: usize, sw: usize, sparse: i32,
  rows: i32, n: i32, batch: i32, scale: f32): void {
  let total = load<f64>(loss_sum);
  const xStep = <usize>(rows * n) << 2;
  const yStep = sparse ? <usize>rows << 2 : xStep;
  for (let b = 0; b < batch; b++) {
    const w = load<f32>(sw + (<usize>b << 2));
    const xb = x + <usize>b * xStep;
    const yb = y + <usize>b * yStep;
    const db = dx ? dx + <usize>b * xStep : 0;
    const s = w * scale;
    store<f64>(loss_sum, 0);
    if (kind == KIND_XENT_SPARSE) softmax_xent_sparse(loss_sum, db, xb, yb, rows, n, s);
    else if (kind == KIND_XENT_DENSE) softmax_xent_dense(loss_sum, db, xb, yb, rows, n, s);
    else if (kind == KIND_XENT_PROBS) xent_probs(loss_sum, db, xb, yb, sparse, rows, n, s);
    else if (kind == KIND_MSE) mse_loss(loss_sum, db, xb, yb, rows, n, rows * n, s);
    else if (kind == KIND_BCE_LOGITS) bce_logits_loss(loss_sum, db, xb, yb, rows, n, rows * n, s);
    else bce_probs_loss(loss_sum, db, xb, yb, rows, n, rows * n, s);
    total += <f64>w * load<f64>(loss_sum);
  }
  store<f64>(loss_sum, total);
}

// A multi-output model's per-output metrics. m (f64): [weighted total, loss 0, correct 0, loss 1,
// correct 1, ...]. Moves the loss and correct sums (f64) that output `output`'s ops just added
// into its slots, adds weight * loss to the total (output 0 starts it) and clears both sums; with
// `last`, the loss sum becomes the weighted total.
export function output_metrics(loss_sum: usize, correct: usize, m: usize, output: i32, weight: f32, last: i32): void {
  const loss = load<f64>(loss_sum);
  const slot = m + 8 + (<usize>output << 4);
  store<f64>(slot, loss);
  store<f64>(slot + 8, load<f64>(correct));
  const total = (output == 0 ? 0 : load<f64>(m)) + <f64>weight * loss;
  store<f64>(m, total);
  store<f64>(loss_sum, last ? total : 0);
  store<f64>(correct, 0);
}
