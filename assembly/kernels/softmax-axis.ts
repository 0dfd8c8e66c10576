// Softmax over an inner axis (Keras Softmax(axis) on any non-batch axis): x and y viewed as
// (outer, n, inner), normalised along n, whose elements are `inner` floats apart. The last-axis case
// (inner = 1) has its own kernels in elementwise.ts; the arithmetic here is theirs, per column.
// f32, pointers are byte offsets.

// y (outer, n, inner) = softmax over n of x.
export function softmax_axis_forward(y: usize, x: usize, outer: i32, n: i32, inner: i32): void {
  const step = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = <usize>(o * n * inner + j) << 2;
      const xr = x + at;
      const yr = y + at;
      let mx = load<f32>(xr);
      for (let k = 1; k < n; k++) mx = max(mx, load<f32>(xr + <usize>k * step));
      let s: f32 = 0;
      for (let k = 0; k < n; k++) {
        const e = Mathf.exp(load<f32>(xr + <usize>k * step) - mx);
        store<f32>(yr + <usize>k * step, e);
        s += e;
      }
      const inv: f32 = 1 / s;
      for (let k = 0; k < n; k++) store<f32>(yr + <usize>k * step, load<f32>(yr + <usize>k * step) * inv);
    }
  }
}

// dx (outer, n, inner) [+]= y * (dy - sum over n of dy * y); y is the forward output.
export function softmax_axis_backward(dx: usize, dy: usize, y: usize, outer: i32, n: i32, inner: i32, accumulate: i32): void {
  const step = <usize>inner << 2;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < inner; j++) {
      const at = <usize>(o * n * inner + j) << 2;
      let dot: f32 = 0;
      for (let k = 0; k < n; k++) dot += load<f32>(dy + at + <usize>k * step) * load<f32>(y + at + <usize>k * step);
      for (let k = 0; k < n; k++) {
        const p = at + <usize>k * step;
        const g = load<f32>(y + p) * (load<f32>(dy + p) - dot);
        store<f32>(dx + p, accumulate ? load<f32>(dx + p) + g : g);
      }
    }
  }
}
