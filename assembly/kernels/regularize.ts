// Weight regularizers and constraints (Keras 3; docs/numerics.md). f32 weights.
// Penalties are added to the loss unscaled by the batch; their gradients are added to the data
// gradient; constraints project the weights in place after the optimizer update.
import { sumsq_f32 } from './optim';

const NORM_EPSILON: f64 = 1e-7; // Keras backend.epsilon()

// Returns l1*sum|w| + l2*sum w^2 over w (n), summed in f64 (no 1/2 on the L2 term). A zero
// coefficient skips its sum.
export function l1l2_penalty(w: usize, n: i32, l1: f32, l2: f32): f64 {
  let sa: f64 = 0;
  let sq: f64 = 0;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    let alo = f64x2.splat(0);
    let ahi = f64x2.splat(0);
    let qlo = f64x2.splat(0);
    let qhi = f64x2.splat(0);
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(w + (<usize>i << 2));
      const lo = f64x2.promote_low_f32x4(v);
      const hi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
      alo = f64x2.add(alo, f64x2.abs(lo));
      ahi = f64x2.add(ahi, f64x2.abs(hi));
      qlo = f64x2.add(qlo, f64x2.mul(lo, lo));
      qhi = f64x2.add(qhi, f64x2.mul(hi, hi));
    }
    const a = f64x2.add(alo, ahi);
    const q = f64x2.add(qlo, qhi);
    sa = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
    sq = f64x2.extract_lane(q, 0) + f64x2.extract_lane(q, 1);
  }
  for (; i < n; i++) {
    const v = <f64>load<f32>(w + (<usize>i << 2));
    sa += Math.abs(v);
    sq += v * v;
  }
  let penalty: f64 = 0;
  if (l1 != 0) penalty += <f64>l1 * sa;
  if (l2 != 0) penalty += <f64>l2 * sq;
  return penalty;
}

// g (n) += l1*sign(w) + 2*l2*w, sign(0) = 0: the gradient of l1l2_penalty, added to g.
export function l1l2_gradient(g: usize, w: usize, n: i32, l1: f32, l2: f32): void {
  const l2x2 = l2 * 2;
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vl1 = f32x4.splat(l1);
    const vl2 = f32x4.splat(l2x2);
    const zero = f32x4.splat(0);
    const sign = f32x4.splat(-0.0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const v = v128.load(w + o);
      // l1 with the sign of w, where w != 0.
      const s = v128.and(v128.bitselect(v, vl1, sign), f32x4.ne(v, zero));
      v128.store(g + o, f32x4.add(v128.load(g + o), f32x4.add(s, f32x4.mul(vl2, v))));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const v = load<f32>(w + o);
    const s: f32 = v != 0 ? copysign<f32>(l1, v) : 0;
    store<f32>(g + o, load<f32>(g + o) + (s + l2x2 * v));
  }
}

// Keras MaxNorm on w viewed as (rows, cols): n = sqrt(sum over `axis` of w^2), w *= min(n, maxValue)/(1e-7 + n).
// axis 0 takes each column's norm (Dense kernel [in, out]: each unit's incoming weights; a conv
// kernel [KH,KW,C,F] viewed as (KH*KW*C, F) matches Keras axis [0,1,2]); axis 1 each row's.
export function max_norm(w: usize, rows: i32, cols: i32, axis: i32, maxValue: f32): void {
  rescale_by_norm(w, rows, cols, axis, <f64>maxValue, false);
}

// Keras UnitNorm on w viewed as (rows, cols): w /= 1e-7 + sqrt(sum over `axis` of w^2), axes as in max_norm.
export function unit_norm(w: usize, rows: i32, cols: i32, axis: i32): void {
  rescale_by_norm(w, rows, cols, axis, 0, true);
}

// Keras NonNeg: w (n) = max(w, 0).
export function non_neg(w: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(w + o, f32x4.max(v128.load(w + o), zero));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(w + o, max<f32>(load<f32>(w + o), 0));
  }
}

// ---------------------------------------------------------------------------------------------

// The factor for a vector of norm sqrt(ss), rounded once to f32.
// @ts-ignore: decorator
@inline function norm_factor(ss: f64, maxValue: f64, unit: bool): f32 {
  const norm = Math.sqrt(ss);
  return <f32>((unit ? 1 : min<f64>(norm, maxValue)) / (NORM_EPSILON + norm));
}

function rescale_by_norm(w: usize, rows: i32, cols: i32, axis: i32, maxValue: f64, unit: bool): void {
  if (rows <= 0 || cols <= 0) return;
  const stride = <usize>cols << 2;
  if (axis == 1) {
    for (let r = 0; r < rows; r++) scale_span(w + <usize>r * stride, cols, norm_factor(sumsq_f32(w + <usize>r * stride, cols), maxValue, unit));
    return;
  }
  if (axis != 0) unreachable();
  // Column norms, four columns at a time walking down the rows.
  let c = 0;
  if (ASC_FEATURE_SIMD) {
    for (; c + 4 <= cols; c += 4) {
      const col = w + (<usize>c << 2);
      let lo = f64x2.splat(0);
      let hi = f64x2.splat(0);
      let p = col;
      for (let r = 0; r < rows; r++, p += stride) {
        const v = v128.load(p);
        const vlo = f64x2.promote_low_f32x4(v);
        const vhi = f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
        lo = f64x2.add(lo, f64x2.mul(vlo, vlo));
        hi = f64x2.add(hi, f64x2.mul(vhi, vhi));
      }
      let f = f32x4.splat(norm_factor(f64x2.extract_lane(lo, 0), maxValue, unit));
      f = f32x4.replace_lane(f, 1, norm_factor(f64x2.extract_lane(lo, 1), maxValue, unit));
      f = f32x4.replace_lane(f, 2, norm_factor(f64x2.extract_lane(hi, 0), maxValue, unit));
      f = f32x4.replace_lane(f, 3, norm_factor(f64x2.extract_lane(hi, 1), maxValue, unit));
      p = col;
      for (let r = 0; r < rows; r++, p += stride) v128.store(p, f32x4.mul(v128.load(p), f));
    }
  }
  for (; c < cols; c++) {
    const col = w + (<usize>c << 2);
    let ss: f64 = 0;
    let p = col;
    for (let r = 0; r < rows; r++, p += stride) {
      const v = <f64>load<f32>(p);
      ss += v * v;
    }
    const f = norm_factor(ss, maxValue, unit);
    p = col;
    for (let r = 0; r < rows; r++, p += stride) store<f32>(p, load<f32>(p) * f);
  }
}

// x (n) *= f.
function scale_span(x: usize, n: i32, f: f32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vf = f32x4.splat(f);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(x + o, f32x4.mul(v128.load(x + o), vf));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(x + o, load<f32>(x + o) * f);
  }
}
