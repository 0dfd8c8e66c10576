// Elementwise merges of two same-shape tensors (Keras Subtract, Multiply) and their backward.
// f32, pointers are byte offsets; `accumulate` 0 writes, 1 adds (fan-out in a DAG).
import { elementwise_split, EW_MUL, twoCheapTiles } from './threads-elementwise';

// y (n) [+]= alpha * x (n). Subtract: y = a, then y += -1 * b; its backward: da += dy, db += -dy.
export function axpy_f32(y: usize, x: usize, n: i32, alpha: f32, accumulate: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const a = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = f32x4.mul(v128.load(x + o), a);
      v128.store(y + o, accumulate ? f32x4.add(v128.load(y + o), v) : v);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(x + o) * alpha;
    store<f32>(y + o, accumulate ? load<f32>(y + o) + v : v);
  }
}

// y (n) [+]= a (n) * b (n). Multiply's forward; its backward is da += dy * b, db += dy * a.
// With a thread pool attached, ranges of elements go to the threads (threads-elementwise.ts).
export function mul_f32(y: usize, a: usize, b: usize, n: i32, accumulate: i32): void {
  if (ASC_FEATURE_THREADS && twoCheapTiles(n) && elementwise_split(EW_MUL, y, a, b, 0, n, 0, 0, accumulate)) return;
  mul_range(y, a, b, n, accumulate);
}

// mul_f32 on one thread (a tile of its split: every element takes the path it takes in the whole call).
export function mul_range(y: usize, a: usize, b: usize, n: i32, accumulate: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = f32x4.mul(v128.load(a + o), v128.load(b + o));
      v128.store(y + o, accumulate ? f32x4.add(v128.load(y + o), v) : v);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(a + o) * load<f32>(b + o);
    store<f32>(y + o, accumulate ? load<f32>(y + o) + v : v);
  }
}

// y (rows, c) = x * scale (c) + offset (c): Keras Rescaling with per-channel constants (scalars
// are broadcast by the host). y may equal x.
export function channel_affine_f32(y: usize, x: usize, scale: usize, offset: usize, rows: i32, c: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * c) << 2;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= c; j += 4) {
        const q = <usize>j << 2;
        v128.store(y + o + q, f32x4.add(f32x4.mul(v128.load(x + o + q), v128.load(scale + q)), v128.load(offset + q)));
      }
    }
    for (; j < c; j++) {
      const q = <usize>j << 2;
      store<f32>(y + o + q, load<f32>(x + o + q) * load<f32>(scale + q) + load<f32>(offset + q));
    }
  }
}

// dx (rows, c) [+]= dy * scale (c).
export function channel_scale_backward(dx: usize, dy: usize, scale: usize, rows: i32, c: i32, accumulate: i32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * c) << 2;
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= c; j += 4) {
        const q = <usize>j << 2;
        const g = f32x4.mul(v128.load(dy + o + q), v128.load(scale + q));
        v128.store(dx + o + q, accumulate ? f32x4.add(v128.load(dx + o + q), g) : g);
      }
    }
    for (; j < c; j++) {
      const q = <usize>j << 2;
      const g = load<f32>(dy + o + q) * load<f32>(scale + q);
      store<f32>(dx + o + q, accumulate ? load<f32>(dx + o + q) + g : g);
    }
  }
}
