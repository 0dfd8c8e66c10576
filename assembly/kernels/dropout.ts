// Inverted dropout (training only): keep each element with probability 1 - rate and scale the
// kept ones by 1/(1 - rate); rate >= 1 gives zeros, rate <= 0 the identity. f32 data.
//
// The random stream lives here, in wasm, so a run is reproducible on every engine. It is
// counter-based: element i of step `step` with seed `seed` keeps iff
//   h(i) = mix(mix(i*GOLDEN + k1) ^ k2) < (1 - rate)*2^32 (unsigned),
//   k1 = mix(mix(seed + GOLDEN) + step), k2 = mix(k1 ^ K2_SALT),
// with mix the lowbias32 integer hash (a bijection of u32). Each element's bit depends only on
// (seed, step, i), never on how the work is split or on SIMD, and for one seed every step has its
// own k1 (mix is a bijection), so steps never share a stream.
//
// The mask is n bytes (u8), 1 = kept, 0 = dropped.

const GOLDEN: u32 = 0x9e3779b9;
const K2_SALT: u32 = 0x85ebca6b;

// y (n) = x (n) * keep / (1 - rate); mask (n bytes) = keep. mask may be 0 (not wanted); y may equal x.
export function dropout_forward(y: usize, mask: usize, x: usize, n: i32, rate: f32, seed: i32, step: i32): void {
  if (n <= 0) return;
  if (!(rate > 0)) {
    if (y != x) memory.copy(y, x, <usize>n << 2);
    if (mask) memory.fill(mask, 1, <usize>n);
    return;
  }
  if (rate >= 1) {
    memory.fill(y, 0, <usize>n << 2);
    if (mask) memory.fill(mask, 0, <usize>n);
    return;
  }
  const keep = 1 - <f64>rate;
  const threshold = <u32>(keep * 4294967296.0); // < 2^32 since rate > 0
  const scale = <f32>(1 / keep);
  const k1 = mix(mix(<u32>seed + GOLDEN) + <u32>step);
  const k2 = mix(k1 ^ K2_SALT);
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vk1 = i32x4.splat(k1);
    const vk2 = i32x4.splat(k2);
    const vt = i32x4.splat(threshold);
    const vs = f32x4.splat(scale);
    const one = i32x4.splat(1);
    let idx = i32x4(0, 1, 2, 3);
    for (; i + 4 <= n; i += 4) {
      const h = mix_v(v128.xor(mix_v(i32x4.add(i32x4.mul(idx, i32x4.splat(GOLDEN)), vk1)), vk2));
      const kept = i32x4.lt_u(h, vt);
      const o = <usize>i << 2;
      v128.store(y + o, v128.and(f32x4.mul(v128.load(x + o), vs), kept));
      if (mask) {
        const b = v128.and(kept, one);
        v128.store32_lane(mask + <usize>i, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(b, b), b), 0);
      }
      idx = i32x4.add(idx, i32x4.splat(4));
    }
  }
  for (; i < n; i++) {
    const h = mix(mix(<u32>i * GOLDEN + k1) ^ k2);
    const kept = h < threshold;
    const o = <usize>i << 2;
    store<f32>(y + o, kept ? load<f32>(x + o) * scale : 0);
    if (mask) store<u8>(mask + <usize>i, kept ? 1 : 0);
  }
}

// dx (n) [+]= dy (n) * mask / (1 - rate), with the mask (n bytes) written by dropout_forward for the
// same rate. accumulate 0 writes dx, 1 adds to it.
export function dropout_backward(dx: usize, dy: usize, mask: usize, n: i32, rate: f32, accumulate: i32): void {
  if (n <= 0) return;
  const scale: f32 = rate >= 1 ? 0 : !(rate > 0) ? 1 : <f32>(1 / (1 - <f64>rate));
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vs = f32x4.splat(scale);
    const zero = i32x4.splat(0);
    for (; i + 4 <= n; i += 4) {
      const bytes = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(mask + <usize>i)));
      const o = <usize>i << 2;
      const g = v128.and(f32x4.mul(v128.load(dy + o), vs), i32x4.ne(bytes, zero));
      v128.store(dx + o, accumulate ? f32x4.add(v128.load(dx + o), g) : g);
    }
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const g: f32 = load<u8>(mask + <usize>i) ? load<f32>(dy + o) * scale : 0;
    store<f32>(dx + o, accumulate ? load<f32>(dx + o) + g : g);
  }
}

// lowbias32 (Chris Wellons, hash-prospector): xorshift-multiply rounds, a bijection of u32.
// @ts-ignore: decorator
@inline function mix(h: u32): u32 {
  h ^= h >>> 16;
  h *= 0x7feb352d;
  h ^= h >>> 15;
  h *= 0x846ca68b;
  h ^= h >>> 16;
  return h;
}

// @ts-ignore: decorator
@inline function mix_v(h: v128): v128 {
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(0x7feb352d));
  h = v128.xor(h, i32x4.shr_u(h, 15));
  h = i32x4.mul(h, i32x4.splat(0x846ca68b));
  return v128.xor(h, i32x4.shr_u(h, 16));
}
