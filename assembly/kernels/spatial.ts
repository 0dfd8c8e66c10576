// Spatial re-layouts of NHWC maps: zero padding (Keras ZeroPadding2D) and resizing (Keras
// Resizing and UpSampling2D, ONNX Resize, TF ResizeBilinear / ResizeNearestNeighbor; resize.ts),
// forward and backward. f32, pointers are byte offsets; `accumulate` 0 writes the
// gradient, 1 adds to it.
import { copy_f32, fill_f32 } from './elementwise';
import { resize2d_backward, resize2d_forward, RESIZE_BILINEAR, RESIZE_HALF_PIXEL } from './resize';

// y (B, h+pt+pb, w+pl+pr, c) = x (B, h, w, c) with zero borders.
export function zero_pad2d_forward(y: usize, x: usize, batch: i32, h: i32, w: i32, c: i32, pt: i32, pb: i32, pl: i32, pr: i32): void {
  const ow = w + pl + pr;
  const oh = h + pt + pb;
  const row = w * c;
  const orow = ow * c;
  for (let n = 0; n < batch; n++) {
    const yn = y + (<usize>(n * oh * orow) << 2);
    const xn = x + (<usize>(n * h * row) << 2);
    fill_f32(yn, 0, pt * orow);
    for (let i = 0; i < h; i++) {
      const yr = yn + (<usize>((pt + i) * orow) << 2);
      fill_f32(yr, 0, pl * c);
      copy_f32(yr + (<usize>(pl * c) << 2), xn + (<usize>(i * row) << 2), row, 0);
      fill_f32(yr + (<usize>((pl + w) * c) << 2), 0, pr * c);
    }
    fill_f32(yn + (<usize>((pt + h) * orow) << 2), 0, pb * orow);
  }
}

// dx (B, h, w, c) [+]= the interior of dy (B, h+pt+pb, w+pl+pr, c).
export function zero_pad2d_backward(dx: usize, dy: usize, batch: i32, h: i32, w: i32, c: i32, pt: i32, pb: i32, pl: i32, pr: i32, accumulate: i32): void {
  const ow = w + pl + pr;
  const oh = h + pt + pb;
  const row = w * c;
  const orow = ow * c;
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < h; i++) {
      copy_f32(dx + (<usize>((n * h + i) * row) << 2), dy + (<usize>((n * oh + pt + i) * orow + pl * c) << 2), row, accumulate);
    }
  }
}

// Keras Resizing's bilinear resize (TF half-pixel centers): the general resize below.
export function resize_bilinear_forward(y: usize, x: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32): void {
  resize2d_forward(y, x, batch, h, w, c, oh, ow, RESIZE_BILINEAR, RESIZE_HALF_PIXEL, 0);
}

export function resize_bilinear_backward(dx: usize, dy: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32, accumulate: i32): void {
  resize2d_backward(dx, dy, batch, h, w, c, oh, ow, RESIZE_BILINEAR, RESIZE_HALF_PIXEL, 0, accumulate);
}
