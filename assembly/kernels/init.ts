// Weight initialisation in wasm: the host's seeded generator (host/core/random.ts, mulberry32)
// and draws (host/layers/initializers.ts), operation for operation in f64, so that every value is
// bit-for-bit the one the JavaScript code gives. Each call fills n floats and returns the
// generator's state after them; the host continues the stream with it chunk by chunk.

import { kSliceStep, NC, NR } from './gemm';

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

// bp (gemm_pack_b's panels, assembly/kernels/gemm-packed.ts) = the panels gemm_pack_b would make
// of b (k, n), b[p, j] at element p*rsb + j*csb, after init_uniform(b, k * n, state, limit). The
// generator is a counter (draw i uses state + (i + 1) * step), so each panel entry is drawn in its
// place and b is never written: a cold start touches the packed copy alone.
export function init_uniform_packed(bp: usize, n: i32, k: i32, rsb: i32, csb: i32, state: u32, limit: f64): void {
  if (n <= 0 || k <= 0) return;
  const kcStep = kSliceStep(k);
  let d = bp;
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += kcStep) {
      const kc = min(kcStep, k - pc);
      for (let j0 = 0; j0 < nc; j0 += NR) {
        const cols = min(NR, nc - j0);
        for (let p = 0; p < kc; p++) {
          draw_panel_row(d, state + (<u32>((pc + p) * rsb + (jc + j0) * csb) + 1) * 0x6d2b79f5, <u32>csb * 0x6d2b79f5, cols, limit);
          d += NR << 2;
        }
      }
    }
  }
}

// d[j] = the draw from state first + j * step for j < cols, zeros up to NR.
// @ts-ignore: decorator
@inline function draw_panel_row(d: usize, first: u32, step: u32, cols: i32, limit: f64): void {
  let j = 0;
  for (; j < cols; j++) {
    store<f32>(d + (<usize>j << 2), <f32>((2.0 * uniform01(next_u32(first)) - 1.0) * limit));
    first += step;
  }
  for (; j < NR; j++) store<f32>(d + (<usize>j << 2), 0);
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
