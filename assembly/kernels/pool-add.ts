// A residual block's max pooling and its add as one op (issue 12; mini-Xception: a 3x3 stride-2
// 'same' pooling of the branch plus the 1x1 stride-2 shortcut, then a ReLU): y = maxpool(x) + s,
// then max(y, 0) with `relu`, image by image, so that each pooled image is still in cache for the
// add instead of three more passes over the whole batch (a copy, an accumulating copy, the ReLU).
// The same bits as max_pool2d_forward, copy_f32 of one input, copy_f32 accumulate of the other
// (f32 addition commutes, so either order of the add's inputs) and relu_forward (f32x4.max /
// max, with their NaN and -0 rules).
import { max_pool2d_forward } from './pool';

// y (B, OH, OW, C) = [relu](maxpool(x (B, H, W, C)) + s (B, OH, OW, C)); pooling geometry as
// max_pool2d_forward's (assembly/kernels/pool.ts).
export function max_pool2d_add(y: usize, x: usize, s: usize, B: i32, H: i32, W: i32, C: i32,
  KH: i32, KW: i32, SH: i32, SW: i32, PT: i32, PL: i32, OH: i32, OW: i32, relu: i32): void {
  const count = OH * OW * C;
  const inBytes = <usize>(H * W * C) << 2, outBytes = <usize>count << 2;
  for (let n = 0; n < B; n++) {
    const yn = y + <usize>n * outBytes;
    max_pool2d_forward(yn, 0, x + <usize>n * inBytes, 1, H, W, C, KH, KW, SH, SW, PT, PL, OH, OW);
    addRelu(yn, s + <usize>n * outBytes, count, relu != 0);
  }
}

// y (n) = [max](y + s, 0).
function addRelu(y: usize, s: usize, n: i32, relu: bool): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      let v = f32x4.add(v128.load(y + o), v128.load(s + o));
      if (relu) v = f32x4.max(v, zero);
      v128.store(y + o, v);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    let v = load<f32>(y + o) + load<f32>(s + o);
    if (relu) v = max<f32>(v, 0);
    store<f32>(y + o, v);
  }
}
