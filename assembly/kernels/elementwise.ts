// Elementwise and broadcast kernels: bias, activations, fills. f32, pointers are byte offsets.
// Backward kernels take `accumulate`: 0 writes the gradient, 1 adds to it (fan-out in a DAG).
// The vector loop is compiled only with SIMD; the scalar loop finishes the tail (or does all of it).
import { elementwise_split, EW_COPY, EW_RELU_BACKWARD, EW_RELU_FORWARD, twoCheapTiles } from './threads-elementwise';

// y (M,N) = broadcast b (N) over rows.
export function bias_fill(y: usize, b: usize, m: i32, n: i32): void {
  for (let i = 0; i < m; i++) {
    const row = y + (<usize>(i * n) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= n; j += 4) v128.store(row + (<usize>j << 2), v128.load(b + (<usize>j << 2)));
    }
    for (; j < n; j++) store<f32>(row + (<usize>j << 2), load<f32>(b + (<usize>j << 2)));
  }
}

// db (N) [+]= sum over rows of dy (M,N).
export function bias_backward(db: usize, dy: usize, m: i32, n: i32, accumulate: i32): void {
  bias_backward_columns(db, dy, m, n, 0, n, accumulate);
}

// bias_backward of columns j0 .. j1-1 only (each column's sum is the whole call's: a split by
// column ranges, assembly/kernels/threads-train.ts).
export function bias_backward_columns(db: usize, dy: usize, m: i32, n: i32, j0: i32, j1: i32, accumulate: i32): void {
  if (!accumulate) fill_f32(db + (<usize>j0 << 2), 0, j1 - j0);
  for (let i = 0; i < m; i++) {
    const row = dy + (<usize>(i * n) << 2);
    let j = j0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= j1; j += 4) {
        const p = db + (<usize>j << 2);
        v128.store(p, f32x4.add(v128.load(p), v128.load(row + (<usize>j << 2))));
      }
    }
    for (; j < j1; j++) {
      const p = db + (<usize>j << 2);
      store<f32>(p, load<f32>(p) + load<f32>(row + (<usize>j << 2)));
    }
  }
}

// y (n) = max(x, 0). y may equal x (in place).
export function relu_forward(y: usize, x: usize, n: i32): void {
  // With a thread pool attached, ranges go to the threads (threads.ts).
  if (ASC_FEATURE_THREADS && elementwise_split(EW_RELU_FORWARD, y, x, 0, 0, n, 0, 0, 0)) return;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.max(v128.load(x + o), zero));
    }
  }
  // f32.max, like f32x4.max above, keeps a NaN so that check_loss sees it.
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, max<f32>(load<f32>(x + o), 0));
  }
}

// dx (n) [+]= dy * (y > 0), with y the forward output.
export function relu_backward(dx: usize, dy: usize, y: usize, n: i32, accumulate: i32): void {
  if (ASC_FEATURE_THREADS && elementwise_split(EW_RELU_BACKWARD, dx, dy, y, 0, n, 0, 0, accumulate)) return;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = v128.and(v128.load(dy + o), f32x4.gt(v128.load(y + o), zero));
      v128.store(dx + o, accumulate ? f32x4.add(v128.load(dx + o), g) : g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g: f32 = load<f32>(y + o) > 0 ? load<f32>(dy + o) : 0;
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// y (M,N) = softmax of each row of x (M,N), max-subtracted. y may equal x.
export function softmax_forward(y: usize, x: usize, m: i32, n: i32): void {
  for (let i = 0; i < m; i++) {
    const xr = x + (<usize>(i * n) << 2);
    const yr = y + (<usize>(i * n) << 2);
    let mx = load<f32>(xr);
    for (let j = 1; j < n; j++) mx = max(mx, load<f32>(xr + (<usize>j << 2)));
    let s: f32 = 0;
    for (let j = 0; j < n; j++) {
      const e = Mathf.exp(load<f32>(xr + (<usize>j << 2)) - mx);
      store<f32>(yr + (<usize>j << 2), e);
      s += e;
    }
    const inv: f32 = 1 / s;
    for (let j = 0; j < n; j++) store<f32>(yr + (<usize>j << 2), load<f32>(yr + (<usize>j << 2)) * inv);
  }
}

// dx (M,N) [+]= y * (dy - sum_j dy*y), per row; y is the forward softmax output.
export function softmax_backward(dx: usize, dy: usize, y: usize, m: i32, n: i32, accumulate: i32): void {
  for (let i = 0; i < m; i++) {
    const o = <usize>(i * n) << 2;
    let dot: f32 = 0;
    for (let j = 0; j < n; j++) dot += load<f32>(dy + o + (<usize>j << 2)) * load<f32>(y + o + (<usize>j << 2));
    for (let j = 0; j < n; j++) {
      const p = o + (<usize>j << 2);
      const g = load<f32>(y + p) * (load<f32>(dy + p) - dot);
      store<f32>(dx + p, accumulate ? load<f32>(dx + p) + g : g);
    }
  }
}

// y (n) = value.
export function fill_f32(y: usize, value: f32, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f32x4.splat(value);
    for (; i + 4 <= n; i += 4) v128.store(y + (<usize>i << 2), v);
  }
  for (; i < n; i++) store<f32>(y + (<usize>i << 2), value);
}

// y (n) [+]= x (n).
export function copy_f32(y: usize, x: usize, n: i32, accumulate: i32): void {
  // With a thread pool attached, ranges of a large copy go to the threads (threads-elementwise.ts):
  // each core then keeps its half of a residual block's sum in its cache for the ops around it.
  if (ASC_FEATURE_THREADS && twoCheapTiles(n) && elementwise_split(EW_COPY, y, x, 0, 0, n, 0, 0, accumulate)) return;
  if (!accumulate) {
    memory.copy(y, x, <usize>n << 2);
    return;
  }
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o));
  }
}

// y (rows, cols; row stride ldy) [+]= x (rows, cols; row stride ldx): a column slice of a wider
// matrix, for concatenation on the last axis and its backward.
export function copy_strided_f32(y: usize, ldy: i32, x: usize, ldx: i32, rows: i32, cols: i32, accumulate: i32): void {
  for (let i = 0; i < rows; i++) copy_f32(y + (<usize>(i * ldy) << 2), x + (<usize>(i * ldx) << 2), cols, accumulate);
}
