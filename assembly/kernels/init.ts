// Weight initialisation in wasm: the host's seeded generator (host/core/random.ts, mulberry32)
// and draws (host/layers/initializers.ts), operation for operation in f64, so that every value is
// bit-for-bit the one the JavaScript code gives. Each call fills n floats and returns the
// generator's state after them; the host continues the stream with it chunk by chunk.

// @ts-ignore: decorator
@inline function next_u32(state: u32): u32 {
  let t = state;
  t = (t ^ (t >>> 15)) * (t | 1);
  t ^= t + (t ^ (t >>> 7)) * (t | 61);
  return t ^ (t >>> 14);
}

// Uniform in [0, 1) with 24 bits (Random.uniform).
// @ts-ignore: decorator
@inline function uniform01(bits: u32): f64 {
  return <f64>(bits >>> 8) / 16777216.0;
}

// y[i] = f32((2u - 1) * limit), u the stream's next uniform (Random.fillUniform).
// y (n). Returns the state after n draws.
export function init_uniform(y: usize, n: i32, state: u32, limit: f64): u32 {
  for (let i = 0; i < n; i++) {
    state += 0x6d2b79f5;
    store<f32>(y + (<usize>i << 2), <f32>((2.0 * uniform01(next_u32(state)) - 1.0) * limit));
  }
  return state;
}

const LN2: f64 = 0.6931471805599453;
const SQRT1_2: f64 = 0.7071067811865476;

// Natural log of a positive finite x from + - * / only (initializers.ts exactLog, same steps).
function exact_log(x: f64): f64 {
  const bits = reinterpret<u64>(x);
  const hi = <u32>(bits >>> 32);
  let k = <i32>((hi >>> 20) & 0x7ff) - 1023;
  if (k == -1023) return exact_log(x * 4503599627370496.0) - 52.0 * LN2; // subnormal: scale by 2^52
  let m = reinterpret<f64>((bits & 0x800fffffffffffff) | (<u64>1023 << 52));
  if (m >= 2.0 * SQRT1_2) { m /= 2.0; k += 1; }
  if (m < SQRT1_2) { m *= 2.0; k -= 1; }
  const s = (m - 1.0) / (m + 1.0);
  const s2 = s * s;
  let series: f64 = 1.0 / 21.0;
  for (let d = 19; d >= 1; d -= 2) series = 1.0 / <f64>d + s2 * series;
  return <f64>k * LN2 + 2.0 * s * series;
}

let normalState: u32 = 0;

// Marsaglia's polar method (initializers.ts standardNormal); advances normalState.
function standard_normal(): f64 {
  let u: f64, s: f64;
  do {
    normalState += 0x6d2b79f5;
    u = 2.0 * uniform01(next_u32(normalState)) - 1.0;
    normalState += 0x6d2b79f5;
    const v = 2.0 * uniform01(next_u32(normalState)) - 1.0;
    s = u * u + v * v;
  } while (!(s > 0 && s < 1));
  return u * Math.sqrt((-2.0 * exact_log(s)) / s);
}

// y[i] = f32(z * stddev), z a standard normal redrawn while |z| > 2 (Keras truncated_normal).
// y (n). Returns the state after the draws.
export function init_truncated_normal(y: usize, n: i32, state: u32, stddev: f64): u32 {
  normalState = state;
  for (let i = 0; i < n; i++) {
    let z: f64;
    do z = standard_normal(); while (z < -2.0 || z > 2.0);
    store<f32>(y + (<usize>i << 2), <f32>(z * stddev));
  }
  return normalState;
}
