// PReLU (Keras PReLU, ONNX PRelu, TF.js prelu): y = x > 0 ? x : alpha*x, with alpha broadcast over
// the shared axes. The per-sample shape is collapsed (host/layers/prelu.ts) to four dimensions
// d0..d3; bit k of `shared` set means alpha has extent 1 along dk. f32, pointers are byte offsets.

// @ts-ignore: decorator
@inline function extent(d: i32, shared: i32, bit: i32): i32 {
  return (shared >> bit) & 1 ? 1 : d;
}

// y (B, d0, d1, d2, d3) = prelu(x (B, d0, d1, d2, d3), alpha (e0, e1, e2, e3)).
export function prelu_forward(y: usize, x: usize, alpha: usize, batch: i32, d0: i32, d1: i32, d2: i32, d3: i32, shared: i32): void {
  const e1 = extent(d1, shared, 1), e2 = extent(d2, shared, 2), e3 = extent(d3, shared, 3);
  const s3: i32 = (shared >> 3) & 1 ? 0 : 1;
  let at: usize = 0;
  for (let n = 0; n < batch; n++) {
    for (let i0 = 0; i0 < d0; i0++) {
      const a0 = (shared & 1 ? 0 : i0) * e1;
      for (let i1 = 0; i1 < d1; i1++) {
        const a1 = (a0 + ((shared >> 1) & 1 ? 0 : i1)) * e2;
        for (let i2 = 0; i2 < d2; i2++) {
          const row = alpha + (<usize>((a1 + ((shared >> 2) & 1 ? 0 : i2)) * e3) << 2);
          for (let i3 = 0; i3 < d3; i3++) {
            const v = load<f32>(x + at);
            store<f32>(y + at, v > 0 ? v : v * load<f32>(row + (<usize>(i3 * s3) << 2)));
            at += 4;
          }
        }
      }
    }
  }
}

// dx [+]= x > 0 ? dy : alpha*dy (as PyTorch and TF.js: alpha*dy at x = 0); dalpha [+]= the sum over
// the batch and the shared axes of (x > 0 ? 0 : x*dy). A pointer of 0 skips that gradient;
// accumulate is dx's flag, accumulateAlpha dalpha's.
export function prelu_backward(dx: usize, dalpha: usize, dy: usize, x: usize, alpha: usize, batch: i32, d0: i32, d1: i32, d2: i32, d3: i32, shared: i32, accumulate: i32, accumulateAlpha: i32): void {
  const e0 = extent(d0, shared, 0), e1 = extent(d1, shared, 1), e2 = extent(d2, shared, 2), e3 = extent(d3, shared, 3);
  if (dalpha != 0 && !accumulateAlpha) fill_zero(dalpha, e0 * e1 * e2 * e3);
  const s3: i32 = (shared >> 3) & 1 ? 0 : 1;
  let at: usize = 0;
  for (let n = 0; n < batch; n++) {
    for (let i0 = 0; i0 < d0; i0++) {
      const a0 = (shared & 1 ? 0 : i0) * e1;
      for (let i1 = 0; i1 < d1; i1++) {
        const a1 = (a0 + ((shared >> 1) & 1 ? 0 : i1)) * e2;
        for (let i2 = 0; i2 < d2; i2++) {
          const row = <usize>((a1 + ((shared >> 2) & 1 ? 0 : i2)) * e3) << 2;
          for (let i3 = 0; i3 < d3; i3++) {
            const v = load<f32>(x + at);
            const g = load<f32>(dy + at);
            const ai = row + (<usize>(i3 * s3) << 2);
            if (dx != 0) {
              const d = v > 0 ? g : g * load<f32>(alpha + ai);
              store<f32>(dx + at, accumulate ? load<f32>(dx + at) + d : d);
            }
            if (dalpha != 0 && !(v > 0)) store<f32>(dalpha + ai, load<f32>(dalpha + ai) + v * g);
            at += 4;
          }
        }
      }
    }
  }
}

function fill_zero(p: usize, n: i32): void {
  memory.fill(p, 0, <usize>n << 2);
}
