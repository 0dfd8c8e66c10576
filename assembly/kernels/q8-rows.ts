// The absmax quantizer's pieces shared by gemm-q8.ts and conv-q8.ts (docs/int8.md "absmax"): the
// scratch row layout, the 4 rows' scales, the rounding of 8 values. Not an entry of its own: a
// module compiled with --disable simd that imports these only from SIMD branches never compiles them.

// i16 per quantized row in the scratch (16-byte rows).
// @ts-ignore: decorator
@inline
export function rowStride(k: i32): i32 {
  return (k + 7) & ~7;
}

// Transposed reduction of 4 rows' partial maxima: lane r of the result is row r's maximum (max is
// exact in any order).
// @ts-ignore: decorator
@inline
export function maxLanes4(m0: v128, m1: v128, m2: v128, m3: v128): v128 {
  const m01 = f32x4.pmax(v128.shuffle<f32>(m0, m1, 0, 1, 4, 5), v128.shuffle<f32>(m0, m1, 2, 3, 6, 7));
  const m23 = f32x4.pmax(v128.shuffle<f32>(m2, m3, 0, 1, 4, 5), v128.shuffle<f32>(m2, m3, 2, 3, 6, 7));
  return f32x4.pmax(v128.shuffle<f32>(m01, m23, 0, 2, 4, 6), v128.shuffle<f32>(m01, m23, 1, 3, 5, 7));
}

// xs (rows <= 4 f32) = 127 / (max + 1e-7) of the 4 row maxima in amax's lanes: one division.
// @ts-ignore: decorator
@inline
export function storeScales4(xs: usize, amax: v128, rows: i32): void {
  const vxs = f32x4.div(f32x4.splat(127), f32x4.add(amax, f32x4.splat(1e-7)));
  store<f32>(xs, f32x4.extract_lane(vxs, 0));
  if (rows > 1) store<f32>(xs, f32x4.extract_lane(vxs, 1), 4);
  if (rows > 2) store<f32>(xs, f32x4.extract_lane(vxs, 2), 8);
  if (rows > 3) store<f32>(xs, f32x4.extract_lane(vxs, 3), 12);
}

// One row's 8 values from x: clipped to +-127 after the scale, then + 1.5 * 2^23, which rounds
// |v| <= 127 to an integer half to even (the sum's ulp is 1) held in its low bits: 4 instructions a
// vector where nearest and trunc_sat take ~8.
// @ts-ignore: decorator
@inline
export function quantize8(lo4: v128, hi4: v128, vs: v128): v128 {
  const magic = f32x4.splat(12582912), bits = i32x4.splat(0x4b400000);
  const vlo = f32x4.splat(-127), vhi = f32x4.splat(127);
  const v0 = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.mul(lo4, vs), vlo), vhi), magic);
  const v1 = f32x4.add(f32x4.pmin(f32x4.pmax(f32x4.mul(hi4, vs), vlo), vhi), magic);
  return i16x8.narrow_i32x4_s(i32x4.sub(v0, bits), i32x4.sub(v1, bits));
}
