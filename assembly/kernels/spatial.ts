// Spatial re-layouts of NHWC maps: zero padding (Keras ZeroPadding2D) and bilinear resizing
// (Keras Resizing, interpolation 'bilinear': TensorFlow's resize_bilinear with half-pixel centers,
// no antialiasing), forward and backward. f32, pointers are byte offsets; `accumulate` 0 writes the
// gradient, 1 adds to it.
import { copy_f32, fill_f32 } from './elementwise';

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

// TensorFlow's half-pixel source coordinate of output index i: (i + 0.5) * scale - 0.5, its
// lower and upper neighbours clamped to [0, size - 1], and the weight of the upper one
// (in - floor(in), also when in < 0, as TensorFlow computes it).
// @ts-ignore: decorator
@inline function source(i: i32, scale: f32): f32 {
  return (<f32>i + 0.5) * scale - 0.5;
}

// y (B, oh, ow, c) = bilinear resize of x (B, h, w, c).
export function resize_bilinear_forward(y: usize, x: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32): void {
  const sy: f32 = <f32>h / <f32>oh;
  const sx: f32 = <f32>w / <f32>ow;
  for (let n = 0; n < batch; n++) {
    const xn = x + (<usize>(n * h * w * c) << 2);
    for (let i = 0; i < oh; i++) {
      const fy = source(i, sy);
      const y0f = Mathf.floor(fy);
      const ly = fy - y0f;
      const y0 = max<i32>(<i32>y0f, 0);
      const y1 = min<i32>(<i32>Mathf.ceil(fy), h - 1);
      for (let j = 0; j < ow; j++) {
        const fx = source(j, sx);
        const x0f = Mathf.floor(fx);
        const lx = fx - x0f;
        const x0 = max<i32>(<i32>x0f, 0);
        const x1 = min<i32>(<i32>Mathf.ceil(fx), w - 1);
        const p00 = xn + (<usize>((y0 * w + x0) * c) << 2);
        const p01 = xn + (<usize>((y0 * w + x1) * c) << 2);
        const p10 = xn + (<usize>((y1 * w + x0) * c) << 2);
        const p11 = xn + (<usize>((y1 * w + x1) * c) << 2);
        const out = y + (<usize>(((n * oh + i) * ow + j) * c) << 2);
        for (let k = 0; k < c; k++) {
          const o = <usize>k << 2;
          const tl = load<f32>(p00 + o);
          const top = tl + (load<f32>(p01 + o) - tl) * lx;
          const bl = load<f32>(p10 + o);
          const bottom = bl + (load<f32>(p11 + o) - bl) * lx;
          store<f32>(out + o, top + (bottom - top) * ly);
        }
      }
    }
  }
}

// dx (B, h, w, c) [+]= the transpose of the resize applied to dy (B, oh, ow, c).
export function resize_bilinear_backward(dx: usize, dy: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32, accumulate: i32): void {
  if (!accumulate) fill_f32(dx, 0, batch * h * w * c);
  const sy: f32 = <f32>h / <f32>oh;
  const sx: f32 = <f32>w / <f32>ow;
  for (let n = 0; n < batch; n++) {
    const dn = dx + (<usize>(n * h * w * c) << 2);
    for (let i = 0; i < oh; i++) {
      const fy = source(i, sy);
      const y0f = Mathf.floor(fy);
      const ly = fy - y0f;
      const y0 = max<i32>(<i32>y0f, 0);
      const y1 = min<i32>(<i32>Mathf.ceil(fy), h - 1);
      for (let j = 0; j < ow; j++) {
        const fx = source(j, sx);
        const x0f = Mathf.floor(fx);
        const lx = fx - x0f;
        const x0 = max<i32>(<i32>x0f, 0);
        const x1 = min<i32>(<i32>Mathf.ceil(fx), w - 1);
        const w00: f32 = (<f32>1 - ly) * (<f32>1 - lx);
        const w01: f32 = (<f32>1 - ly) * lx;
        const w10: f32 = ly * (<f32>1 - lx);
        const w11: f32 = ly * lx;
        const p00 = dn + (<usize>((y0 * w + x0) * c) << 2);
        const p01 = dn + (<usize>((y0 * w + x1) * c) << 2);
        const p10 = dn + (<usize>((y1 * w + x0) * c) << 2);
        const p11 = dn + (<usize>((y1 * w + x1) * c) << 2);
        const g = dy + (<usize>(((n * oh + i) * ow + j) * c) << 2);
        for (let k = 0; k < c; k++) {
          const o = <usize>k << 2;
          const d = load<f32>(g + o);
          store<f32>(p00 + o, load<f32>(p00 + o) + d * w00);
          store<f32>(p01 + o, load<f32>(p01 + o) + d * w01);
          store<f32>(p10 + o, load<f32>(p10 + o) + d * w10);
          store<f32>(p11 + o, load<f32>(p11 + o) + d * w11);
        }
      }
    }
  }
}
