// The e^x routine of the f32 activation kinds (activation-kinds.ts), written for f32x4 and for f32
// with the same operations in the same order, so that SIMD and scalar give the same bits.
//
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

// The f32x4 routines' constants, four lanes each, read from memory rather than written as
// v128.const: V8 builds a v128.const inside a loop afresh, from general-purpose registers, and
// these routines have a dozen; a load is one instruction, and binaryen cannot fold it back into a
// constant (the memory is imported). With pmax for the clamp below (one maxps; f32x4.max's NaN
// and -0 rules take about seven instructions), sigmoid, swish, tanh and elu run 1.3-1.4x faster,
// kernel against kernel in one process (1.08x of it from the loads). Same values, same bits.
const VF: usize = memory.data<f32>([
  EP5, EP5, EP5, EP5, EP4, EP4, EP4, EP4, EP3, EP3, EP3, EP3, EP2, EP2, EP2, EP2,
  EP1, EP1, EP1, EP1, EP0, EP0, EP0, EP0, EXP_MIN, EXP_MIN, EXP_MIN, EXP_MIN, LOG2E, LOG2E, LOG2E, LOG2E,
  ROUNDER, ROUNDER, ROUNDER, ROUNDER, LN2_HI, LN2_HI, LN2_HI, LN2_HI, LN2_LO, LN2_LO, LN2_LO, LN2_LO, 1, 1, 1, 1,
], 16);
const VI: usize = memory.data<i32>([ROUNDER_BITS, ROUNDER_BITS, ROUNDER_BITS, ROUNDER_BITS, 127, 127, 127, 127], 16);
const V_EP5 = 0, V_EP4 = 1, V_EP3 = 2, V_EP2 = 3, V_EP1 = 4, V_EP0 = 5, V_EXP_MIN = 6, V_LOG2E = 7, V_ROUNDER = 8, V_LN2_HI = 9, V_LN2_LO = 10, V_ONE = 11;
const V_ROUNDER_BITS = 0, V_BIAS = 1;

// @ts-ignore: decorator
@inline function vf(i: i32): v128 {
  return v128.load(VF + (<usize>i << 4));
}

// @ts-ignore: decorator
@inline function vi(i: i32): v128 {
  return v128.load(VI + (<usize>i << 4));
}

// e^r - 1 for |r| <= ln2/2.
// @ts-ignore: decorator
@inline export function expm1_reduced_v(r: v128): v128 {
  const z = f32x4.mul(r, r);
  let p = f32x4.add(f32x4.mul(vf(V_EP5), r), vf(V_EP4));
  p = f32x4.add(f32x4.mul(p, r), vf(V_EP3));
  p = f32x4.add(f32x4.mul(p, r), vf(V_EP2));
  p = f32x4.add(f32x4.mul(p, r), vf(V_EP1));
  p = f32x4.add(f32x4.mul(p, r), vf(V_EP0));
  return f32x4.add(f32x4.mul(p, z), r);
}

// @ts-ignore: decorator
@inline export function expm1_reduced_s(r: f32): f32 {
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
@inline export function scale_v(q1: v128, ki: v128): v128 {
  const k1 = i32x4.shr_s(ki, 1);
  const k2 = i32x4.sub(ki, k1);
  const bias = vi(V_BIAS);
  const s1 = i32x4.shl(i32x4.add(k1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(k2, bias), 23);
  return f32x4.mul(f32x4.mul(q1, s1), s2);
}

// @ts-ignore: decorator
@inline export function scale_s(q1: f32, ki: i32): f32 {
  const k1 = ki >> 1;
  const k2 = ki - k1;
  return q1 * reinterpret<f32>((k1 + 127) << 23) * reinterpret<f32>((k2 + 127) << 23);
}

// e^x for x <= 0.
// @ts-ignore: decorator
@inline export function exp_neg_v(x: v128): v128 {
  // pmax(x, m) = x < m ? m : x: the same as max here (m is not 0, and NaN stays NaN).
  const xc = f32x4.pmax(x, vf(V_EXP_MIN));
  const kr = f32x4.add(f32x4.mul(xc, vf(V_LOG2E)), vf(V_ROUNDER));
  const k = f32x4.sub(kr, vf(V_ROUNDER));
  const ki = i32x4.sub(kr, vi(V_ROUNDER_BITS));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(k, vf(V_LN2_HI))), f32x4.mul(k, vf(V_LN2_LO)));
  const q = expm1_reduced_v(r);
  return scale_v(f32x4.add(q, vf(V_ONE)), ki);
}

// @ts-ignore: decorator
@inline export function exp_neg_s(x: f32): f32 {
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
@inline export function expm1_neg_v(x: v128): v128 {
  const xc = f32x4.pmax(x, vf(V_EXP_MIN));
  const kr = f32x4.add(f32x4.mul(xc, vf(V_LOG2E)), vf(V_ROUNDER));
  const k = f32x4.sub(kr, vf(V_ROUNDER));
  const ki = i32x4.sub(kr, vi(V_ROUNDER_BITS));
  const r = f32x4.sub(f32x4.sub(xc, f32x4.mul(k, vf(V_LN2_HI))), f32x4.mul(k, vf(V_LN2_LO)));
  const q = expm1_reduced_v(r);
  const far = f32x4.sub(scale_v(f32x4.add(q, vf(V_ONE)), ki), vf(V_ONE));
  return v128.bitselect(q, far, i32x4.eq(ki, i32x4.splat(0)));
}

// @ts-ignore: decorator
@inline export function expm1_neg_s(x: f32): f32 {
  const xc = max<f32>(x, EXP_MIN);
  const kr = xc * LOG2E + ROUNDER;
  const k = kr - ROUNDER;
  const ki = reinterpret<i32>(kr) - ROUNDER_BITS;
  const r = (xc - k * LN2_HI) - k * LN2_LO;
  const q = expm1_reduced_s(r);
  return ki == 0 ? q : scale_s(q + 1, ki) - 1;
}
