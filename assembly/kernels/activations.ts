// Activation functions and their derivatives, elementwise over f32, chosen by an integer `kind`
// (Keras 3 formulas, docs/numerics.md). Pointers are byte offsets; y may equal x.
//
//   kind                 y = f(x)                                    alpha
//   ACT_LINEAR       0   x
//   ACT_RELU         1   max(x, 0)
//   ACT_SIGMOID      2   1/(1 + e^-x)
//   ACT_TANH         3   tanh x
//   ACT_LEAKY_RELU   4   x > 0 ? x : alpha*x                         slope (>= 0)
//   ACT_ELU          5   x > 0 ? x : alpha*(e^x - 1)                 alpha (> 0)
//   ACT_SELU         6   lambda*(x > 0 ? x : a*(e^x - 1)), lambda 1.0507009873554805, a 1.6732632423543772
//   ACT_GELU         7   0.5x(1 + erf(x/sqrt 2)) (exact)
//   ACT_GELU_TANH    8   0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3)))
//   ACT_SWISH        9   x*sigmoid(x)
//   ACT_RELU6       10   min(max(x, 0), 6)
//   ACT_HARD_SIGMOID 11   relu6(x + 3)/6 (Keras 3)
//   ACT_HARD_SWISH  12   x*relu6(x + 3)/6 (Keras 3 hard_swish, PyTorch Hardswish)
//
// Accuracy: within a few f32 ulps of the exact value wherever it is a normal f32 (measured: under
// 3e-7 relative for f and f' over 460k points with |x| <= 50), including the saturated tails: sigmoid, tanh and swish use e^-|x| so nothing cancels,
// elu and selu use e^x - 1 computed without cancellation, gelu and gelu_tanh run in f64.
// The f32 kinds use one e^x routine (Cody-Waite reduction and the Cephes expf polynomial) written
// twice, for f32x4 and for f32, with the same operations in the same order: the result for an
// element does not depend on its position, on n, or on whether the module was built with SIMD.
// NaN inputs give NaN outputs (check_loss sees them).

export const ACT_LINEAR: i32 = 0;
export const ACT_RELU: i32 = 1;
export const ACT_SIGMOID: i32 = 2;
export const ACT_TANH: i32 = 3;
export const ACT_LEAKY_RELU: i32 = 4;
export const ACT_ELU: i32 = 5;
export const ACT_SELU: i32 = 6;
export const ACT_GELU: i32 = 7;
export const ACT_GELU_TANH: i32 = 8;
export const ACT_SWISH: i32 = 9;
export const ACT_RELU6: i32 = 10;
export const ACT_HARD_SIGMOID: i32 = 11;
export const ACT_HARD_SWISH: i32 = 12;

// y (n) = f(x (n)). alpha is read by leaky_relu and elu only. An unknown kind traps.
export function activation_forward(kind: i32, y: usize, x: usize, n: i32, alpha: f32): void {
  if (n <= 0) return;
  switch (kind) {
    case ACT_LINEAR: {
      if (y != x) memory.copy(y, x, <usize>n << 2);
      return;
    }
    case ACT_RELU: { forward<Relu>(y, x, n, alpha); return; }
    case ACT_SIGMOID: { forward<Sigmoid>(y, x, n, alpha); return; }
    case ACT_TANH: { forward<Tanh>(y, x, n, alpha); return; }
    case ACT_LEAKY_RELU: { forward<LeakyRelu>(y, x, n, alpha); return; }
    case ACT_ELU: { forward<Elu>(y, x, n, alpha); return; }
    case ACT_SELU: { forward<Selu>(y, x, n, alpha); return; }
    case ACT_GELU: { forward_f64<Gelu>(y, x, n); return; }
    case ACT_GELU_TANH: { forward_f64<GeluTanh>(y, x, n); return; }
    case ACT_SWISH: { forward<Swish>(y, x, n, alpha); return; }
    case ACT_RELU6: { forward<Relu6>(y, x, n, alpha); return; }
    case ACT_HARD_SIGMOID: { forward<HardSigmoid>(y, x, n, alpha); return; }
    case ACT_HARD_SWISH: { forward<HardSwish>(y, x, n, alpha); return; }
  }
  unreachable();
}

// dx (n) [+]= dy (n) * f'(x); accumulate 0 writes dx, 1 adds to it.
// x is the forward input, y the forward output. With x given (x != 0 and x != y) the derivative
// is computed from x, accurately everywhere (sigmoid'(50) = e^-50, not 0). With x == 0, or x == y
// (the forward ran in place and only the output is left), it is computed from y as TF does
// (sigmoid: y(1-y), tanh: 1-y^2, elu: y + alpha, ...): accurate to f32 in absolute terms but not
// relatively in the saturated tails. gelu, gelu_tanh and swish cannot be inverted and trap then.
// y is read only in that case and may otherwise be 0. At kinks the derivative is the left one
// (relu'(0) = 0, leaky_relu'(0) = alpha, relu6'(0) = relu6'(6) = 0, hard_sigmoid'(+-3) = 0).
export function activation_backward(kind: i32, dx: usize, dy: usize, x: usize, y: usize, n: i32, alpha: f32, accumulate: i32): void {
  if (n <= 0) return;
  if (x != 0 && x != y) {
    switch (kind) {
      case ACT_LINEAR: { backward_from_input<Linear>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_RELU: { backward_from_input<Relu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_SIGMOID: { backward_from_input<Sigmoid>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_TANH: { backward_from_input<Tanh>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_LEAKY_RELU: { backward_from_input<LeakyRelu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_ELU: { backward_from_input<Elu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_SELU: { backward_from_input<Selu>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_GELU: { backward_f64<Gelu>(dx, dy, x, n, accumulate); return; }
      case ACT_GELU_TANH: { backward_f64<GeluTanh>(dx, dy, x, n, accumulate); return; }
      case ACT_SWISH: { backward_from_input<Swish>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_RELU6: { backward_from_input<Relu6>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_HARD_SIGMOID: { backward_from_input<HardSigmoid>(dx, dy, x, n, alpha, accumulate); return; }
      case ACT_HARD_SWISH: { backward_from_input<HardSwish>(dx, dy, x, n, alpha, accumulate); return; }
    }
  } else {
    switch (kind) {
      case ACT_LINEAR: { backward_from_output<Linear>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_RELU: { backward_from_output<Relu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_SIGMOID: { backward_from_output<Sigmoid>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_TANH: { backward_from_output<Tanh>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_LEAKY_RELU: { backward_from_output<LeakyRelu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_ELU: { backward_from_output<Elu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_SELU: { backward_from_output<Selu>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_RELU6: { backward_from_output<Relu6>(dx, dy, y, n, alpha, accumulate); return; }
      case ACT_HARD_SIGMOID: { backward_from_output<HardSigmoid>(dx, dy, y, n, alpha, accumulate); return; }
    }
  }
  unreachable();
}

// ---------------------------------------------------------------------------------------------
// Drivers, generic over the kind K: a zero-size class whose @inline methods hold the kind's
// arithmetic, f (fv, fs), f' from x (dxv, dxs) and f' from y (dyv, dys), each for f32x4 and f32
// with the same operations in the same order. Monomorphising gives every kind its own loop with
// nothing to dispatch inside it (an inlined `kind` argument did not constant-fold reliably).

function forward<K>(y: usize, x: usize, n: i32, alpha: f32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(y + o, k.fv(v128.load(x + o), va));
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, k.fs(load<f32>(x + o), alpha));
  }
}

function backward_from_input<K>(dx: usize, dy: usize, x: usize, n: i32, alpha: f32, accumulate: i32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = f32x4.mul(v128.load(dy + o), k.dxv(v128.load(x + o), va));
      v128.store(dx + o, accumulate ? f32x4.add(v128.load(dx + o), g) : g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o) * k.dxs(load<f32>(x + o), alpha);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

function backward_from_output<K>(dx: usize, dy: usize, y: usize, n: i32, alpha: f32, accumulate: i32): void {
  const k = changetype<K>(0);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha);
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      const g = f32x4.mul(v128.load(dy + o), k.dyv(v128.load(y + o), va));
      v128.store(dx + o, accumulate ? f32x4.add(v128.load(dx + o), g) : g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g = load<f32>(dy + o) * k.dys(load<f32>(y + o), alpha);
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// Kinds computed in f64, one element at a time: f (f) and f' (df).
function forward_f64<K>(y: usize, x: usize, n: i32): void {
  const k = changetype<K>(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, <f32>k.f(<f64>load<f32>(x + o)));
  }
}

function backward_f64<K>(dx: usize, dy: usize, x: usize, n: i32, accumulate: i32): void {
  const k = changetype<K>(0);
  for (let i = 0; i < n; i++) {
    const o = <usize>i << 2;
    const g = <f32>(<f64>load<f32>(dy + o) * k.df(<f64>load<f32>(x + o)));
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// ---------------------------------------------------------------------------------------------
// e^x for x <= 0, and e^x - 1. x = k ln2 + r with |r| <= ln2/2 (ln2 split in two so that k*LN2_HI
// is exact), e^r - 1 = r + r^2 P(r) (Cephes expf, about 1 ulp), 2^k applied in two halves so that
// results down to the subnormals come out right. Inputs below EXP_MIN give 0; NaN stays NaN.

const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375;
const LN2_LO: f32 = -2.12194440e-4;
const EXP_MIN: f32 = -104; // e^-104 is below half the smallest subnormal
// Adding 1.5*2^23 rounds to an integer (to nearest, ties to even) and leaves it in the low bits.
const ROUNDER: f32 = 12582912;
const ROUNDER_BITS: i32 = 0x4b400000;
const EP5: f32 = 1.9875691500e-4;
const EP4: f32 = 1.3981999507e-3;
const EP3: f32 = 8.3334519073e-3;
const EP2: f32 = 4.1665795894e-2;
const EP1: f32 = 1.6666665459e-1;
const EP0: f32 = 5.0000001201e-1;

const SELU_SCALE: f32 = 1.0507009873554805;
const SELU_SCALE_ALPHA: f32 = <f32>(1.0507009873554805 * 1.6732632423543772);
const SIXTH: f32 = <f32>(1.0 / 6.0);

// e^r - 1 for |r| <= ln2/2.
// @ts-ignore: decorator
@inline function expm1_reduced_v(r: v128): v128 {
  const z = f32x4.mul(r, r);
  let p = f32x4.add(f32x4.mul(f32x4.splat(EP5), r), f32x4.splat(EP4));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(EP0));
  return f32x4.add(f32x4.mul(p, z), r);
}

// @ts-ignore: decorator
@inline function expm1_reduced_s(r: f32): f32 {
  const z = r * r;
  let p = EP5 * r + EP4;
  p = p * r + EP3;
  p = p * r + EP2;
  p = p * r + EP1;
  p = p * r + EP0;
  return p * z + r;
}

// (q + 1) * 2^k, with 2^k split as 2^(k>>1) * 2^(k - (k>>1)) so that k down to -150 works.
// @ts-ignore: decorator
@inline function scale_v(q1: v128, ki: v128): v128 {
  const k1 = i32x4.shr_s(ki, 1);
  const k2 = i32x4.sub(ki, k1);
  const bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(k1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(k2, bias), 23);
  return f32x4.mul(f32x4.mul(q1, s1), s2);
}

// @ts-ignore: decorator
@inline function scale_s(q1: f32, ki: i32): f32 {
  const k1 = ki >> 1;
  const k2 = ki - k1;
  return q1 * reinterpret<f32>((k1 + 127) << 23) * reinterpret<f32>((k2 + 127) << 23);
}

// e^x for x <= 0.
// @ts-ignore: decorator
@inline function exp_neg_v(x: v128): v128 {
  const xc = f32x4.max(x, f32x4.splat(EXP_MIN));
  const kr = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
  const k = f32x4.sub(kr, f32x4.splat(ROUNDER));
  const ki = i32x4.sub(kr, i32x4.splat(ROUNDER_BITS));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(k, f32x4.splat(LN2_HI))), f32x4.mul(k, f32x4.splat(LN2_LO)));
  const q = expm1_reduced_v(r);
  return scale_v(f32x4.add(q, f32x4.splat(1)), ki);
}

// @ts-ignore: decorator
@inline function exp_neg_s(x: f32): f32 {
  const xc = max<f32>(x, EXP_MIN);
  const kr = xc * LOG2E + ROUNDER;
  const k = kr - ROUNDER;
  const ki = reinterpret<i32>(kr) - ROUNDER_BITS;
  const r = (xc - k * LN2_HI) - k * LN2_LO;
  const q = expm1_reduced_s(r);
  return scale_s(q + 1, ki);
}

// e^x - 1 for x <= 0: the polynomial itself when k = 0 (|x| < ln2/2, where e^x - 1 would cancel),
// else e^x - 1 with e^x <= 0.71 (no cancellation).
// @ts-ignore: decorator
@inline function expm1_neg_v(x: v128): v128 {
  const xc = f32x4.max(x, f32x4.splat(EXP_MIN));
  const kr = f32x4.add(f32x4.mul(xc, f32x4.splat(LOG2E)), f32x4.splat(ROUNDER));
  const k = f32x4.sub(kr, f32x4.splat(ROUNDER));
  const ki = i32x4.sub(kr, i32x4.splat(ROUNDER_BITS));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(k, f32x4.splat(LN2_HI))), f32x4.mul(k, f32x4.splat(LN2_LO)));
  const q = expm1_reduced_v(r);
  const far = f32x4.sub(scale_v(f32x4.add(q, f32x4.splat(1)), ki), f32x4.splat(1));
  return v128.bitselect(q, far, i32x4.eq(ki, i32x4.splat(0)));
}

// @ts-ignore: decorator
@inline function expm1_neg_s(x: f32): f32 {
  const xc = max<f32>(x, EXP_MIN);
  const kr = xc * LOG2E + ROUNDER;
  const k = kr - ROUNDER;
  const ki = reinterpret<i32>(kr) - ROUNDER_BITS;
  const r = (xc - k * LN2_HI) - k * LN2_LO;
  const q = expm1_reduced_s(r);
  return ki == 0 ? q : scale_s(q + 1, ki) - 1;
}

// ---------------------------------------------------------------------------------------------
// The kinds.

// @ts-ignore: decorator
@final @unmanaged class Linear {
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 { return f32x4.splat(1); }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 { return 1; }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return f32x4.splat(1); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return 1; }
}

// @ts-ignore: decorator
@final @unmanaged class Relu {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 { return f32x4.max(x, f32x4.splat(0)); }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return max<f32>(x, 0); }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 { return v128.and(f32x4.splat(1), f32x4.gt(x, f32x4.splat(0))); }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 { return x > 0 ? 1 : 0; }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return this.dxv(y, a); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return this.dxs(y, a); }
}

// 1/(1+t) for x >= 0, t/(1+t) below, t = e^-|x| <= 1; f' = t/(1+t)^2.
// @ts-ignore: decorator
@final @unmanaged class Sigmoid {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const one = f32x4.splat(1);
    const t = exp_neg_v(f32x4.neg(f32x4.abs(x)));
    return f32x4.div(v128.bitselect(one, t, f32x4.ge(x, f32x4.splat(0))), f32x4.add(one, t));
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 {
    const t = exp_neg_s(-abs<f32>(x));
    return (x >= 0 ? <f32>1 : t) / (1 + t);
  }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const t = exp_neg_v(f32x4.neg(f32x4.abs(x)));
    const d = f32x4.add(f32x4.splat(1), t);
    return f32x4.div(t, f32x4.mul(d, d));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 {
    const t = exp_neg_s(-abs<f32>(x));
    const d: f32 = 1 + t;
    return t / (d * d);
  }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y)); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return y * (1 - y); }
}

// tanh|x| = -m/(2 + m), m = e^-2|x| - 1, with the sign of x; f' = 4t/(1+t)^2, t = e^-2|x|.
// @ts-ignore: decorator
@final @unmanaged class Tanh {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const m = expm1_neg_v(f32x4.mul(f32x4.abs(x), f32x4.splat(-2)));
    const t = f32x4.div(f32x4.neg(m), f32x4.add(f32x4.splat(2), m));
    return v128.bitselect(x, t, f32x4.splat(-0.0));
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 {
    const m = expm1_neg_s(abs<f32>(x) * -2);
    return copysign<f32>(-m / (2 + m), x);
  }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const t = exp_neg_v(f32x4.mul(f32x4.abs(x), f32x4.splat(-2)));
    const d = f32x4.add(f32x4.splat(1), t);
    return f32x4.div(f32x4.mul(t, f32x4.splat(4)), f32x4.mul(d, d));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 {
    const t = exp_neg_s(abs<f32>(x) * -2);
    const d: f32 = 1 + t;
    return (t * 4) / (d * d);
  }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return f32x4.sub(f32x4.splat(1), f32x4.mul(y, y)); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return 1 - y * y; }
}

// x > 0 ? x : a*x, a >= 0 (so that y > 0 exactly when x > 0).
// @ts-ignore: decorator
@final @unmanaged class LeakyRelu {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 { return v128.bitselect(x, f32x4.mul(a, x), f32x4.gt(x, f32x4.splat(0))); }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return x > 0 ? x : a * x; }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 { return v128.bitselect(f32x4.splat(1), a, f32x4.gt(x, f32x4.splat(0))); }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 { return x > 0 ? 1 : a; }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return this.dxv(y, a); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return this.dxs(y, a); }
}

// x > 0 ? x : a(e^x - 1), a > 0; f' = a e^x = y + a below 0.
// @ts-ignore: decorator
@final @unmanaged class Elu {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const zero = f32x4.splat(0);
    return v128.bitselect(x, f32x4.mul(a, expm1_neg_v(f32x4.min(x, zero))), f32x4.gt(x, zero));
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return x > 0 ? x : a * expm1_neg_s(min<f32>(x, 0)); }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const zero = f32x4.splat(0);
    return v128.bitselect(f32x4.splat(1), f32x4.mul(a, exp_neg_v(f32x4.min(x, zero))), f32x4.gt(x, zero));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 { return x > 0 ? 1 : a * exp_neg_s(min<f32>(x, 0)); }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return v128.bitselect(f32x4.splat(1), f32x4.add(y, a), f32x4.gt(y, f32x4.splat(0))); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return y > 0 ? 1 : y + a; }
}

// lambda*x above 0, lambda*alpha*(e^x - 1) below (the product lambda*alpha rounded once).
// @ts-ignore: decorator
@final @unmanaged class Selu {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const zero = f32x4.splat(0);
    const neg = f32x4.mul(f32x4.splat(SELU_SCALE_ALPHA), expm1_neg_v(f32x4.min(x, zero)));
    return v128.bitselect(f32x4.mul(f32x4.splat(SELU_SCALE), x), neg, f32x4.gt(x, zero));
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return x > 0 ? SELU_SCALE * x : SELU_SCALE_ALPHA * expm1_neg_s(min<f32>(x, 0)); }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const zero = f32x4.splat(0);
    const neg = f32x4.mul(f32x4.splat(SELU_SCALE_ALPHA), exp_neg_v(f32x4.min(x, zero)));
    return v128.bitselect(f32x4.splat(SELU_SCALE), neg, f32x4.gt(x, zero));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 { return x > 0 ? SELU_SCALE : SELU_SCALE_ALPHA * exp_neg_s(min<f32>(x, 0)); }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 {
    return v128.bitselect(f32x4.splat(SELU_SCALE), f32x4.add(y, f32x4.splat(SELU_SCALE_ALPHA)), f32x4.gt(y, f32x4.splat(0)));
  }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return y > 0 ? SELU_SCALE : y + SELU_SCALE_ALPHA; }
}

// x s(x); f' = s(1 + x(1-s)) = p(d + x q)/d^2 with t = e^-|x|, d = 1+t, s = p/d, 1-s = q/d.
// @ts-ignore: decorator
@final @unmanaged class Swish {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const one = f32x4.splat(1);
    const t = exp_neg_v(f32x4.neg(f32x4.abs(x)));
    return f32x4.mul(x, f32x4.div(v128.bitselect(one, t, f32x4.ge(x, f32x4.splat(0))), f32x4.add(one, t)));
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 {
    const t = exp_neg_s(-abs<f32>(x));
    return x * ((x >= 0 ? <f32>1 : t) / (1 + t));
  }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const one = f32x4.splat(1);
    const t = exp_neg_v(f32x4.neg(f32x4.abs(x)));
    const d = f32x4.add(one, t);
    const pos = f32x4.ge(x, f32x4.splat(0));
    const p = v128.bitselect(one, t, pos);
    const q = v128.bitselect(t, one, pos);
    return f32x4.div(f32x4.mul(p, f32x4.add(d, f32x4.mul(x, q))), f32x4.mul(d, d));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 {
    const t = exp_neg_s(-abs<f32>(x));
    const d: f32 = 1 + t;
    const pos = x >= 0;
    const p = pos ? <f32>1 : t;
    const q = pos ? t : <f32>1;
    return (p * (d + x * q)) / (d * d);
  }
}

// @ts-ignore: decorator
@final @unmanaged class Relu6 {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 { return f32x4.min(f32x4.max(x, f32x4.splat(0)), f32x4.splat(6)); }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return min<f32>(max<f32>(x, 0), 6); }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    return v128.and(f32x4.splat(1), v128.and(f32x4.gt(x, f32x4.splat(0)), f32x4.lt(x, f32x4.splat(6))));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 { return x > 0 && x < 6 ? 1 : 0; }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 { return this.dxv(y, a); }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return this.dxs(y, a); }
}

// relu6(x + 3)/6, as Keras 3 computes it (f32 sum, then a division); f' = 1/6 where 0 < x+3 < 6.
// @ts-ignore: decorator
@final @unmanaged class HardSigmoid {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const six = f32x4.splat(6);
    return f32x4.div(f32x4.min(f32x4.max(f32x4.add(x, f32x4.splat(3)), f32x4.splat(0)), six), six);
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return min<f32>(max<f32>(x + 3, 0), 6) / 6; }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const s = f32x4.add(x, f32x4.splat(3));
    return v128.and(f32x4.splat(SIXTH), v128.and(f32x4.gt(s, f32x4.splat(0)), f32x4.lt(s, f32x4.splat(6))));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 {
    const s = x + 3;
    return s > 0 && s < 6 ? SIXTH : 0;
  }
  // @ts-ignore: decorator
  @inline dyv(y: v128, a: v128): v128 {
    return v128.and(f32x4.splat(SIXTH), v128.and(f32x4.gt(y, f32x4.splat(0)), f32x4.lt(y, f32x4.splat(1))));
  }
  // @ts-ignore: decorator
  @inline dys(y: f32, a: f32): f32 { return y > 0 && y < 1 ? SIXTH : 0; }
}

// x*relu6(x + 3)/6. f' = relu6(x + 3)/6 + x/6 inside (-3, 3), as TF's autodiff of that product
// gives it (f'(-3) = 0, f'(3) = 1). Not invertible (it dips below 0 on (-3, 0)): from the input only.
// @ts-ignore: decorator
@final @unmanaged class HardSwish {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const six = f32x4.splat(6);
    return f32x4.div(f32x4.mul(x, f32x4.min(f32x4.max(f32x4.add(x, f32x4.splat(3)), f32x4.splat(0)), six)), six);
  }
  // @ts-ignore: decorator
  @inline fs(x: f32, a: f32): f32 { return (x * min<f32>(max<f32>(x + 3, 0), 6)) / 6; }
  // @ts-ignore: decorator
  @inline dxv(x: v128, a: v128): v128 {
    const s = f32x4.add(x, f32x4.splat(3));
    const inside = v128.and(f32x4.gt(s, f32x4.splat(0)), f32x4.lt(s, f32x4.splat(6)));
    const r = f32x4.mul(f32x4.min(f32x4.max(s, f32x4.splat(0)), f32x4.splat(6)), f32x4.splat(SIXTH));
    return f32x4.add(r, v128.and(f32x4.mul(x, f32x4.splat(SIXTH)), inside));
  }
  // @ts-ignore: decorator
  @inline dxs(x: f32, a: f32): f32 {
    const s = x + 3;
    const r = min<f32>(max<f32>(s, 0), 6) * SIXTH;
    return r + (s > 0 && s < 6 ? x * SIXTH : 0);
  }
}

// ---------------------------------------------------------------------------------------------
// gelu and gelu_tanh in f64: their arguments (x/sqrt 2, the cubic) are computed, and in f32 their
// rounding alone would cost more than 1e-6 in the tails.

const SQRT1_2: f64 = 0.70710678118654752440;
const INV_SQRT_2PI: f64 = 0.39894228040143267794;
const SQRT_2_OVER_PI: f64 = 0.79788456080286535588;
const GELU_C: f64 = 0.044715;

// x Phi(x) = 0.5 x erfc(-x/sqrt 2): erfc keeps its relative accuracy where 1 + erf would cancel.
// f' = Phi(x) + x phi(x).
// @ts-ignore: decorator
@final @unmanaged class Gelu {
  // @ts-ignore: decorator
  @inline f(x: f64): f64 { return 0.5 * x * erfc(-x * SQRT1_2); }
  // @ts-ignore: decorator
  @inline df(x: f64): f64 { return 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x); }
}

// 0.5x(1 + tanh u) = x s(2u), u = sqrt(2/pi)(x + 0.044715x^3); f' = s(2u) + 2x s(2u) s(-2u) u'.
// @ts-ignore: decorator
@final @unmanaged class GeluTanh {
  // @ts-ignore: decorator
  @inline f(x: f64): f64 {
    const u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    const e = Math.exp(-2 * Math.abs(u));
    return x * ((u >= 0 ? 1 : e) / (1 + e));
  }
  // @ts-ignore: decorator
  @inline df(x: f64): f64 {
    const u = SQRT_2_OVER_PI * (x + GELU_C * x * x * x);
    const e = Math.exp(-2 * Math.abs(u));
    const d = 1 + e;
    const s = (u >= 0 ? 1 : e) / d;
    const du = SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
    return e == 0 ? s : s + (2 * x * du * e) / (d * d);
  }
}

// erfc, ported from musl src/math/erf.c (origin: FreeBSD s_erf.c):
// ====================================================
// Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
//
// Developed at SunPro, a Sun Microsystems, Inc. business.
// Permission to use, copy, modify, and distribute this
// software is freely granted, provided that this notice
// is preserved.
// ====================================================
// Under 1 ulp; erfc(x) = (1/x) exp(-x^2 - 0.5625 + R/S) for |x| >= 1.25, with -x^2 split so that
// its rounding does not reach the exponential.
const ERX: f64 = 8.45062911510467529297e-01;
const PP0: f64 = 1.28379167095512558561e-01;
const PP1: f64 = -3.25042107247001499370e-01;
const PP2: f64 = -2.84817495755985104766e-02;
const PP3: f64 = -5.77027029648944159157e-03;
const PP4: f64 = -2.37630166566501626084e-05;
const QQ1: f64 = 3.97917223959155352819e-01;
const QQ2: f64 = 6.50222499887672944485e-02;
const QQ3: f64 = 5.08130628187576562776e-03;
const QQ4: f64 = 1.32494738004321644526e-04;
const QQ5: f64 = -3.96022827877536812320e-06;
const PA0: f64 = -2.36211856075265944077e-03;
const PA1: f64 = 4.14856118683748331666e-01;
const PA2: f64 = -3.72207876035701323847e-01;
const PA3: f64 = 3.18346619901161753674e-01;
const PA4: f64 = -1.10894694282396677476e-01;
const PA5: f64 = 3.54783043256182359371e-02;
const PA6: f64 = -2.16637559486879084300e-03;
const QA1: f64 = 1.06420880400844228286e-01;
const QA2: f64 = 5.40397917702171048937e-01;
const QA3: f64 = 7.18286544141962662868e-02;
const QA4: f64 = 1.26171219808761642112e-01;
const QA5: f64 = 1.36370839120290507362e-02;
const QA6: f64 = 1.19844998467991074170e-02;
const RA0: f64 = -9.86494403484714822705e-03;
const RA1: f64 = -6.93858572707181764372e-01;
const RA2: f64 = -1.05586262253232909814e+01;
const RA3: f64 = -6.23753324503260060396e+01;
const RA4: f64 = -1.62396669462573470355e+02;
const RA5: f64 = -1.84605092906711035994e+02;
const RA6: f64 = -8.12874355063065934246e+01;
const RA7: f64 = -9.81432934416914548592e+00;
const SA1: f64 = 1.96512716674392571292e+01;
const SA2: f64 = 1.37657754143519042600e+02;
const SA3: f64 = 4.34565877475229228821e+02;
const SA4: f64 = 6.45387271733267880336e+02;
const SA5: f64 = 4.29008140027567833386e+02;
const SA6: f64 = 1.08635005541779435134e+02;
const SA7: f64 = 6.57024977031928170135e+00;
const SA8: f64 = -6.04244152148580987438e-02;
const RB0: f64 = -9.86494292470009928597e-03;
const RB1: f64 = -7.99283237680523006574e-01;
const RB2: f64 = -1.77579549177547519889e+01;
const RB3: f64 = -1.60636384855821916062e+02;
const RB4: f64 = -6.37566443368389627722e+02;
const RB5: f64 = -1.02509513161107724954e+03;
const RB6: f64 = -4.83519191608651397019e+02;
const SB1: f64 = 3.03380607434824582924e+01;
const SB2: f64 = 3.25792512996573918826e+02;
const SB3: f64 = 1.53672958608443695994e+03;
const SB4: f64 = 3.19985821950859553908e+03;
const SB5: f64 = 2.55305040643316442583e+03;
const SB6: f64 = 4.74528541206955367215e+02;
const SB7: f64 = -2.24409524465858183362e+01;

function erfc(x: f64): f64 {
  const hx = <i32>(reinterpret<u64>(x) >> 32);
  const ix = hx & 0x7fffffff;
  if (ix >= 0x7ff00000) {
    // erfc(nan) = nan, erfc(+-inf) = 0, 2
    return <f64>((<u32>hx >> 31) << 1) + 1.0 / x;
  }
  if (ix < 0x3feb0000) { // |x| < 0.84375
    if (ix < 0x3c700000) return 1.0 - x; // |x| < 2^-56
    const z = x * x;
    const r = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
    const s = 1.0 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
    const y = r / s;
    if (hx < 0x3fd00000) return 1.0 - (x + x * y); // x < 1/4
    return 0.5 - (x * y + (x - 0.5));
  }
  if (ix < 0x3ff40000) { // 0.84375 <= |x| < 1.25
    const s = Math.abs(x) - 1.0;
    const P = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    const Q = 1.0 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    if (hx >= 0) return (1.0 - ERX) - P / Q;
    return 1.0 + (ERX + P / Q);
  }
  if (ix < 0x403c0000) { // |x| < 28
    const ax = Math.abs(x);
    const s = 1.0 / (ax * ax);
    let R: f64, S: f64;
    if (ix < 0x4006db6d) { // |x| < 1/0.35
      R = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
      S = 1.0 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
    } else { // |x| >= 1/0.35
      if (hx < 0 && ix >= 0x40180000) return 2.0; // x < -6
      R = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
      S = 1.0 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
    }
    const z = reinterpret<f64>(reinterpret<u64>(ax) & 0xffffffff00000000);
    const r = Math.exp(-z * z - 0.5625) * Math.exp((z - ax) * (z + ax) + R / S);
    if (hx > 0) return r / ax;
    return 2.0 - r / ax;
  }
  return hx > 0 ? 0 : 2.0;
}
