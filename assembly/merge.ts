// Elementwise merges of two same-shape tensors (Keras Subtract, Multiply) and their backward.
// f32, pointers are byte offsets; `accumulate` 0 writes, 1 adds (fan-out in a DAG).

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
export function mul_f32(y: usize, a: usize, b: usize, n: i32, accumulate: i32): void {
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
