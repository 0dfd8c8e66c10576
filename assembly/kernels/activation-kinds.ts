// The activation kinds of activations.ts: one zero-size class per kind whose @inline methods hold its
// arithmetic, f (fv, fs), f' from x (dxv, dxs) and f' from y (dyv, dys), each for f32x4 and f32 with
// the same operations in the same order; gelu and gelu_tanh in f64 (f, df). Formulas: docs/numerics.md.

import { exp_neg_s, exp_neg_v, expm1_neg_s, expm1_neg_v } from './exp-f32';
import { erfc } from './erfc';

const SELU_SCALE: f32 = 1.0507009873554805;
const SELU_SCALE_ALPHA: f32 = <f32>(1.0507009873554805 * 1.6732632423543772);
const SIXTH: f32 = <f32>(1.0 / 6.0);

// @ts-ignore: decorator
@final @unmanaged export class Linear {
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
@final @unmanaged export class Relu {
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
@final @unmanaged export class Sigmoid {
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
@final @unmanaged export class Tanh {
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
@final @unmanaged export class LeakyRelu {
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
@final @unmanaged export class Elu {
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
@final @unmanaged export class Selu {
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
@final @unmanaged export class Swish {
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
@final @unmanaged export class Relu6 {
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

// relu6(x + 3) of hard_sigmoid and hard_swish with pmax and pmin (one maxps / minps each;
// f32x4.max and min cost about seven instructions for their NaN and -0 rules), the same values:
// x + 3 is never -0, and pmax(v, 0) = v < 0 ? 0 : v, pmin(w, 6) = 6 < w ? 6 : w keep NaN.
// @ts-ignore: decorator
@inline function relu6Shifted(x: v128, six: v128): v128 {
  return f32x4.pmin(f32x4.pmax(f32x4.add(x, f32x4.splat(3)), f32x4.splat(0)), six);
}

// relu6(x + 3)/6, as Keras 3 computes it (f32 sum, then a division); f' = 1/6 where 0 < x+3 < 6.
// @ts-ignore: decorator
@final @unmanaged export class HardSigmoid {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const six = f32x4.splat(6);
    return f32x4.div(relu6Shifted(x, six), six);
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
@final @unmanaged export class HardSwish {
  // @ts-ignore: decorator
  @inline fv(x: v128, a: v128): v128 {
    const six = f32x4.splat(6);
    return f32x4.div(f32x4.mul(x, relu6Shifted(x, six)), six);
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
@final @unmanaged export class Gelu {
  // @ts-ignore: decorator
  @inline f(x: f64): f64 { return 0.5 * x * erfc(-x * SQRT1_2); }
  // @ts-ignore: decorator
  @inline df(x: f64): f64 { return 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x); }
}

// 0.5x(1 + tanh u) = x s(2u), u = sqrt(2/pi)(x + 0.044715x^3); f' = s(2u) + 2x s(2u) s(-2u) u'.
// @ts-ignore: decorator
@final @unmanaged export class GeluTanh {
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

// ---------------------------------------------------------------------------------------------
// The pointwise kinds of the `unary` and `clip` layers (activations.ts unary_forward): f64, one
// element at a time, f(x, a, b) and f'(x, a, b) with a and b the kind's two parameters. Where f'
// is 0 almost everywhere (floor, ceil, round, sign) it is 0; at a kink it is the value PyTorch and
// TF give (abs'(0) = 0, clip'(min) = clip'(max) = 1).

const TWO_OVER_SQRT_PI: f64 = 1.12837916709551257390;
const LN2: f64 = 0.69314718055994530942;

// ln x as e ln 2 + log1p(m - 1), x = m 2^e with m in [sqrt(1/2), sqrt 2) (m - 1 is exact): within
// an f64 ulp or two, without the 4 KB of tables of AssemblyScript's Math.log (the kernels' static
// data must stay below host/compile/plan.ts KERNEL_STATIC_BYTES).
function log_f64(x: f64): f64 {
  if (!(x > 0) || x == Infinity) return Math.log1p(x - 1); // -inf at 0, NaN below, inf, NaN
  const bits = reinterpret<u64>(x);
  let e = <i32>((bits >> 52) & 0x7ff) - 1023;
  let m = reinterpret<f64>((bits & 0x000fffffffffffff) | 0x3ff0000000000000);
  if (m > 1.4142135623730951) {
    m *= 0.5;
    e += 1;
  }
  return <f64>e * LN2 + Math.log1p(m - 1);
}

// erf: its Taylor series below 0.5 (1 - erfc would lose the relative accuracy there), else from erfc.
function erf(x: f64): f64 {
  const ax = Math.abs(x);
  if (ax >= 0.5) return x > 0 ? 1 - erfc(x) : erfc(-x) - 1;
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 14; n++) {
    term *= -x2 / <f64>n;
    sum += term / <f64>(2 * n + 1);
  }
  return TWO_OVER_SQRT_PI * sum;
}

// @ts-ignore: decorator
@final @unmanaged export class Abs {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.abs(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return x > 0 ? 1 : x < 0 ? -1 : 0; }
}

// @ts-ignore: decorator
@final @unmanaged export class Neg {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return -x; }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return -1; }
}

// @ts-ignore: decorator
@final @unmanaged export class Square {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return x * x; }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 2 * x; }
}

// sqrt'(0) = +inf, as in PyTorch and TF.
// @ts-ignore: decorator
@final @unmanaged export class Sqrt {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.sqrt(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 0.5 / Math.sqrt(x); }
}

// @ts-ignore: decorator
@final @unmanaged export class Rsqrt {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return 1 / Math.sqrt(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return -0.5 / (x * Math.sqrt(x)); }
}

// @ts-ignore: decorator
@final @unmanaged export class Exp {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.exp(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return Math.exp(x); }
}

// @ts-ignore: decorator
@final @unmanaged export class Log {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return log_f64(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 1 / x; }
}

// @ts-ignore: decorator
@final @unmanaged export class Reciprocal {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return 1 / x; }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return -1 / (x * x); }
}

// @ts-ignore: decorator
@final @unmanaged export class Floor {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.floor(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 0; }
}

// @ts-ignore: decorator
@final @unmanaged export class Ceil {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.ceil(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 0; }
}

// Halves to even (ONNX Round, TF Round, torch.round).
// @ts-ignore: decorator
@final @unmanaged export class Round {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return nearest<f64>(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 0; }
}

// sign(+-0) = +-0, sign(NaN) = NaN.
// @ts-ignore: decorator
@final @unmanaged export class Sign {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return x > 0 ? 1 : x < 0 ? -1 : x; }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return 0; }
}

// @ts-ignore: decorator
@final @unmanaged export class Sin {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.sin(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return Math.cos(x); }
}

// @ts-ignore: decorator
@final @unmanaged export class Cos {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.cos(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return -Math.sin(x); }
}

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|); f' = sigmoid(x).
// @ts-ignore: decorator
@final @unmanaged export class Softplus {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 {
    const t = Math.exp(-Math.abs(x));
    return (x >= 0 ? 1 : t) / (1 + t);
  }
}

// x/(1 + |x|); f' = 1/(1 + |x|)^2.
// @ts-ignore: decorator
@final @unmanaged export class Softsign {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return x / (1 + Math.abs(x)); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 {
    const d = 1 + Math.abs(x);
    return 1 / (d * d);
  }
}

// @ts-ignore: decorator
@final @unmanaged export class Erf {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return erf(x); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return TWO_OVER_SQRT_PI * Math.exp(-x * x); }
}

// ONNX HardSigmoid: clip(a x + b, 0, 1); f' = a strictly inside (PyTorch's and TF's convention at
// the kinks: 0 there).
// @ts-ignore: decorator
@final @unmanaged export class HardSigmoidLinear {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.min(Math.max(a * x + b, 0), 1); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 {
    const v = a * x + b;
    return v > 0 && v < 1 ? a : 0;
  }
}

// min(max(x, a), b), a <= b; f' = 1 on [a, b] including its ends (torch.clamp, TF ClipByValue).
// @ts-ignore: decorator
@final @unmanaged export class Clip {
  // @ts-ignore: decorator
  @inline f(x: f64, a: f64, b: f64): f64 { return Math.min(Math.max(x, a), b); }
  // @ts-ignore: decorator
  @inline df(x: f64, a: f64, b: f64): f64 { return x >= a && x <= b ? 1 : 0; }
}
