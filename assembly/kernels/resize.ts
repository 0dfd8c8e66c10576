// Resizing of NHWC maps, nearest or bilinear, with ONNX Resize's coordinate transforms and
// nearest modes (no antialiasing), forward and backward. f32, pointers are byte offsets;
// `accumulate` 0 writes the gradient, 1 adds to it.
//
// The source coordinate of output index i (input size n, output size m, s = n/m in f32):
//   RESIZE_HALF_PIXEL          0   (i + 0.5) s - 0.5
//   RESIZE_ALIGN_CORNERS       1   i (n - 1)/(m - 1), 0 when m = 1
//   RESIZE_ASYMMETRIC          2   i s
//   RESIZE_PYTORCH_HALF_PIXEL  3   (i + 0.5) s - 0.5, 0 when m = 1
// Bilinear: the coordinate clamped to [0, n - 1], its floor and the next index (clamped), weighted
// by the fraction (what TF and PyTorch compute). Nearest rounds it (below) and clamps the index.
//   RESIZE_ROUND_PREFER_FLOOR  0   ceil(v - 0.5)
//   RESIZE_ROUND_PREFER_CEIL   1   floor(v + 0.5)
//   RESIZE_FLOOR               2   floor(v)
//   RESIZE_CEIL                3   ceil(v)
// The arithmetic is f32 in TF's and PyTorch's order (scale first, then the product), so nearest
// picks the same pixel at exact ties.
import { fill_f32 } from './elementwise';

export const RESIZE_NEAREST: i32 = 0;
export const RESIZE_BILINEAR: i32 = 1;
export const RESIZE_HALF_PIXEL: i32 = 0;
export const RESIZE_ALIGN_CORNERS: i32 = 1;
export const RESIZE_ASYMMETRIC: i32 = 2;
export const RESIZE_PYTORCH_HALF_PIXEL: i32 = 3;
export const RESIZE_ROUND_PREFER_FLOOR: i32 = 0;
export const RESIZE_ROUND_PREFER_CEIL: i32 = 1;
export const RESIZE_FLOOR: i32 = 2;
export const RESIZE_CEIL: i32 = 3;

// The taps of the last `taps` call: lower and upper source index, and the upper one's weight
// (0 for nearest, where lower == upper).
let tapLo: i32 = 0;
let tapHi: i32 = 0;
let tapW: f32 = 0;

function coordinate(i: i32, n: i32, m: i32, transform: i32): f32 {
  if (transform == RESIZE_ALIGN_CORNERS) return m > 1 ? <f32>i * (<f32>(n - 1) / <f32>(m - 1)) : 0;
  const s: f32 = <f32>n / <f32>m;
  if (transform == RESIZE_ASYMMETRIC) return <f32>i * s;
  if (transform == RESIZE_PYTORCH_HALF_PIXEL && m == 1) return 0;
  if (transform == RESIZE_HALF_PIXEL || transform == RESIZE_PYTORCH_HALF_PIXEL) return (<f32>i + 0.5) * s - 0.5;
  unreachable();
  return 0;
}

function taps(i: i32, n: i32, m: i32, mode: i32, transform: i32, nearestMode: i32): void {
  const v = coordinate(i, n, m, transform);
  if (mode == RESIZE_NEAREST) {
    let r: f32;
    if (nearestMode == RESIZE_ROUND_PREFER_FLOOR) r = Mathf.ceil(v - 0.5);
    else if (nearestMode == RESIZE_ROUND_PREFER_CEIL) r = Mathf.floor(v + 0.5);
    else if (nearestMode == RESIZE_FLOOR) r = Mathf.floor(v);
    else if (nearestMode == RESIZE_CEIL) r = Mathf.ceil(v);
    else { unreachable(); r = 0; }
    tapLo = tapHi = <i32>min<f32>(max<f32>(r, 0), <f32>(n - 1));
    tapW = 0;
    return;
  }
  if (mode != RESIZE_BILINEAR) unreachable();
  const f = min<f32>(max<f32>(v, 0), <f32>(n - 1));
  const lo = <i32>Mathf.floor(f);
  tapLo = lo;
  tapHi = min<i32>(lo + 1, n - 1);
  tapW = f - <f32>lo;
}

// y (B, oh, ow, c) = x (B, h, w, c) resized.
export function resize2d_forward(y: usize, x: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32, mode: i32, transform: i32, nearestMode: i32): void {
  for (let n = 0; n < batch; n++) {
    const xn = x + (<usize>(n * h * w * c) << 2);
    for (let i = 0; i < oh; i++) {
      taps(i, h, oh, mode, transform, nearestMode);
      const y0 = tapLo, y1 = tapHi, ly = tapW;
      for (let j = 0; j < ow; j++) {
        taps(j, w, ow, mode, transform, nearestMode);
        const x0 = tapLo, x1 = tapHi, lx = tapW;
        const out = y + (<usize>(((n * oh + i) * ow + j) * c) << 2);
        const p00 = xn + (<usize>((y0 * w + x0) * c) << 2);
        if (mode == RESIZE_NEAREST) {
          memory.copy(out, p00, <usize>c << 2);
          continue;
        }
        const p01 = xn + (<usize>((y0 * w + x1) * c) << 2);
        const p10 = xn + (<usize>((y1 * w + x0) * c) << 2);
        const p11 = xn + (<usize>((y1 * w + x1) * c) << 2);
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

// dx (B, h, w, c) [+]= the transpose of the resize applied to dy (B, oh, ow, c): nearest adds each
// dy to its source pixel, bilinear spreads it over its four taps by their weights.
export function resize2d_backward(dx: usize, dy: usize, batch: i32, h: i32, w: i32, c: i32, oh: i32, ow: i32, mode: i32, transform: i32, nearestMode: i32, accumulate: i32): void {
  if (!accumulate) fill_f32(dx, 0, batch * h * w * c);
  for (let n = 0; n < batch; n++) {
    const dn = dx + (<usize>(n * h * w * c) << 2);
    for (let i = 0; i < oh; i++) {
      taps(i, h, oh, mode, transform, nearestMode);
      const y0 = tapLo, y1 = tapHi, ly = tapW;
      for (let j = 0; j < ow; j++) {
        taps(j, w, ow, mode, transform, nearestMode);
        const x0 = tapLo, x1 = tapHi, lx = tapW;
        const g = dy + (<usize>(((n * oh + i) * ow + j) * c) << 2);
        const p00 = dn + (<usize>((y0 * w + x0) * c) << 2);
        if (mode == RESIZE_NEAREST) {
          for (let k = 0; k < c; k++) {
            const o = <usize>k << 2;
            store<f32>(p00 + o, load<f32>(p00 + o) + load<f32>(g + o));
          }
          continue;
        }
        const w00: f32 = (<f32>1 - ly) * (<f32>1 - lx);
        const w01: f32 = (<f32>1 - ly) * lx;
        const w10: f32 = ly * (<f32>1 - lx);
        const w11: f32 = ly * lx;
        const p01 = dn + (<usize>((y0 * w + x1) * c) << 2);
        const p10 = dn + (<usize>((y1 * w + x0) * c) << 2);
        const p11 = dn + (<usize>((y1 * w + x1) * c) << 2);
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
