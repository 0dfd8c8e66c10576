// Partial loads and stores of f32x4 vectors for the column tails of the 4x8 microkernels
// (assembly/kernels/gemm.ts, assembly/kernels/conv-direct.ts). Not an entry of its own: a module
// compiled with --disable simd that imports these only from SIMD branches never compiles them.

// The first `count` (0..4) floats at p as a vector, zeros after.
// @ts-ignore: decorator
@inline
export function loadPartial(p: usize, count: i32): v128 {
  if (count == 4) return v128.load(p);
  let v = f32x4.splat(0);
  if (count & 2) {
    v = v128.load64_zero(p);
    if (count & 1) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  } else if (count & 1) {
    v = v128.load32_zero(p);
  }
  return v;
}

// Stores the first nr (< 8) columns of the row (lo, hi) at p.
// @ts-ignore: decorator
@inline
export function storeTail(p: usize, lo: v128, hi: v128, nr: i32): void {
  if (nr & 4) {
    v128.store(p, lo);
    lo = hi;
    p += 16;
  }
  if (nr & 2) {
    v128.store64_lane(p, lo, 0);
    lo = v128.shuffle<f32>(lo, lo, 2, 3, 2, 3);
    p += 8;
  }
  if (nr & 1) {
    v128.store32_lane(p, lo, 0);
  }
}

// Stores the first nr (<= 8) columns of the row (lo, hi) at p: both vectors whole when nr is 8.
// @ts-ignore: decorator
@inline
export function storeRow(p: usize, lo: v128, hi: v128, nr: i32): void {
  if (nr == 8) {
    v128.store(p, lo);
    v128.store(p, hi, 16);
  } else {
    storeTail(p, lo, hi, nr);
  }
}
