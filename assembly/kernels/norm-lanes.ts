// Lane helpers of the batch normalization kernels (norm.ts, norm-inference.ts): two f32
// coefficients of a channel packed in a u64 (the scalar per-channel functions return them so), four
// channels' coefficients as one f32x4, and f32 lanes widened to f64x2 for the f64 sums.

// @ts-ignore: decorator
@inline export function pack(a: f32, b: f32): u64 {
  return (<u64>reinterpret<u32>(b) << 32) | <u64>reinterpret<u32>(a);
}

// @ts-ignore: decorator
@inline export function first(p: u64): f32 {
  return reinterpret<f32>(<u32>p);
}

// @ts-ignore: decorator
@inline export function second(p: u64): f32 {
  return reinterpret<f32>(<u32>(p >> 32));
}

// @ts-ignore: decorator
@inline export function firsts(p0: u64, p1: u64, p2: u64, p3: u64): v128 {
  return lanes(first(p0), first(p1), first(p2), first(p3));
}

// @ts-ignore: decorator
@inline export function seconds(p0: u64, p1: u64, p2: u64, p3: u64): v128 {
  return lanes(second(p0), second(p1), second(p2), second(p3));
}

// @ts-ignore: decorator
@inline export function lanes(a: f32, b: f32, c: f32, d: f32): v128 {
  return f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(f32x4.splat(a), 1, b), 2, c), 3, d);
}

// Lanes 0-1 and 2-3 of an f32x4, widened to f64x2.
// @ts-ignore: decorator
@inline export function lo_f64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

// @ts-ignore: decorator
@inline export function hi_f64(v: v128): v128 {
  return f64x2.promote_low_f32x4(v128.shuffle<f32>(v, v, 2, 3, 2, 3));
}
